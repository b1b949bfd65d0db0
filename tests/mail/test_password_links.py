"""Password links in the store: hashed, single-use, expiring."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from lorafox.domain import QueuedMail, User
from lorafox.errors import InvalidInput
from lorafox.identity.password_links import LinkSettings, PasswordLinks
from lorafox.mail import Mailer, Sending
from lorafox.store.sql.store import SqlStore


class _Kept:
    def __init__(self) -> None:
        self.sent: list[QueuedMail] = []

    async def send(self, sender: str, mail: QueuedMail) -> None:
        self.sent.append(mail)


@pytest.mark.sqlite
async def test_links_are_stored_hashed_and_expire(tmp_path: Path) -> None:
    now = [1_800_000_000_000]
    store = await SqlStore.open(f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}")
    try:
        root = await store.identity.root_group()
        user = User("a" * 24, "u@example.com", "U", "V", "UTC", (), 0, password_hash="x")
        await store.identity.create_user(user)
        mailer = Mailer(store.mail, _Kept(), Sending(), lambda: now[0])
        links = PasswordLinks(
            store.password_tokens,
            store.identity,
            mailer,
            LinkSettings("https://lf.example.com", 3600, 3600),
            lambda: now[0],
        )
        assert await links.invite(user)
        [queued] = await store.mail.due_mails(now[0], 10)
        token = queued.body.split("token=", 1)[1].split()[0]
        assert await links.check(token)
        now[0] += 3600_000  # expired
        assert not await links.check(token)
        with pytest.raises(InvalidInput):
            await links.set_password(token, "a-good-password")
    finally:
        await store.close()
    db = sqlite3.connect(tmp_path / "db.sqlite")
    try:
        [(stored,)] = db.execute("SELECT token_hash FROM password_tokens").fetchall()
    finally:
        db.close()
    assert token not in stored and len(stored) == 64
    assert root is not None
