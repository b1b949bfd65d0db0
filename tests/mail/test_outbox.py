"""The mail outbox against a real SMTP server: stored, sent, retried, rate-limited, kept across
a restart; a deployment without a server stores nothing and says so."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import pytest

from lorafox.domain import Mail, MailState
from lorafox.errors import NotificationError
from lorafox.events.log import now_ms
from lorafox.mail import Mailer, Sending, SmtpServer, SmtpTransport
from lorafox.settings import MailSettings
from lorafox.store.sql.store import SqlStore
from tests.conftest import store_url
from tests.smtp_helpers import SmtpSink, body_of, smtp

__all__ = ["smtp"]


def _transport(sink: SmtpSink) -> SmtpTransport:
    return SmtpTransport(SmtpServer("127.0.0.1", sink.port, security="none", timeout=5))


async def _wait_for(sink: SmtpSink, count: int, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while len(sink.received) < count and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)


async def test_mail_is_stored_then_sent(tmp_path: Path, smtp: SmtpSink) -> None:
    store = await SqlStore.open(store_url(tmp_path))
    try:
        mailer = Mailer(store.mail, _transport(smtp), Sending(sender="lf@example.com"), now_ms)
        assert await mailer.send([Mail("ops@example.com", "Hello\r\nBcc: x@y", "body", "test")])
        task = asyncio.create_task(mailer.run())
        await _wait_for(smtp, 1)
        mailer.close()
        await task
        [mail] = smtp.received
        assert mail["From"] == "lf@example.com"
        assert mail["To"] == "ops@example.com"
        assert mail["Subject"] == "Hello Bcc: x@y"  # one line: no header injected
        assert mail["Bcc"] is None
        assert body_of(mail).strip() == "body"
        assert smtp.envelopes == [("lf@example.com", ["ops@example.com"])]
        sent = await store.mail.get_mail(1)
        assert sent is not None and sent.state is MailState.SENT and sent.attempts == 1
    finally:
        await store.close()


async def test_a_refused_mail_is_retried_with_back_off(tmp_path: Path, smtp: SmtpSink) -> None:
    smtp.refuse = 2
    store = await SqlStore.open(store_url(tmp_path))
    try:
        sending = Sending(backoff=0.2, max_backoff=0.3)
        mailer = Mailer(store.mail, _transport(smtp), sending, now_ms, poll_interval=0.05)
        await mailer.send([Mail("ops@example.com", "s", "b")])
        task = asyncio.create_task(mailer.run())
        await _wait_for(smtp, 1)
        mailer.close()
        await task
        assert smtp.refused == 2
        assert len(smtp.received) == 1
        sent = await store.mail.get_mail(1)
        assert sent is not None and sent.state is MailState.SENT and sent.attempts == 3
    finally:
        await store.close()


async def test_a_dead_server_gives_the_mail_up_after_retry_for(tmp_path: Path) -> None:
    store = await SqlStore.open(store_url(tmp_path))
    try:
        dead = SmtpTransport(SmtpServer("127.0.0.1", 9, security="none", timeout=1))
        sending = Sending(retry_for=0.3, backoff=0.1, max_backoff=0.1)
        mailer = Mailer(store.mail, dead, sending, now_ms, poll_interval=0.05)
        await mailer.send([Mail("ops@example.com", "s", "b")])
        task = asyncio.create_task(mailer.run())
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            found = await store.mail.get_mail(1)
            if found is not None and found.state is MailState.FAILED:
                break
            await asyncio.sleep(0.05)
        mailer.close()
        await task
        found = await store.mail.get_mail(1)
        assert found is not None and found.state is MailState.FAILED
        assert found.attempts >= 2 and found.last_error
    finally:
        await store.close()


async def test_the_rate_limit_holds_mails_back(tmp_path: Path, smtp: SmtpSink) -> None:
    store = await SqlStore.open(store_url(tmp_path))
    try:
        mailer = Mailer(store.mail, _transport(smtp), Sending(max_per_minute=3), now_ms)
        await mailer.send([Mail("ops@example.com", f"m{i}", "b") for i in range(5)])
        task = asyncio.create_task(mailer.run())
        await _wait_for(smtp, 3)
        await asyncio.sleep(1.0)  # one more a 20 s: none in this second
        mailer.close()
        await task
        assert [m["Subject"] for m in smtp.received] == ["m0", "m1", "m2"]
        assert len(await store.mail.due_mails(now_ms(), 10)) == 2  # kept for later
    finally:
        await store.close()


async def test_pending_mails_are_sent_after_a_restart(tmp_path: Path, smtp: SmtpSink) -> None:
    store = await SqlStore.open(store_url(tmp_path))
    try:
        first = Mailer(store.mail, _transport(smtp), Sending(), now_ms)
        await first.send([Mail("ops@example.com", "kept", "b")])  # never run: a crash
    finally:
        await store.close()
    store = await SqlStore.open(store_url(tmp_path))
    try:
        second = Mailer(store.mail, _transport(smtp), Sending(), now_ms)
        task = asyncio.create_task(second.run())
        await _wait_for(smtp, 1)
        second.close()
        await task
        assert [m["Subject"] for m in smtp.received] == ["kept"]
    finally:
        await store.close()


async def test_without_a_server_nothing_is_stored_and_it_says_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = await SqlStore.open(store_url(tmp_path))
    try:
        with caplog.at_level(logging.WARNING, "lorafox.mail"):
            mailer = Mailer.create(store.mail, MailSettings(), now_ms)
        assert not mailer.configured
        assert "no SMTP server" in caplog.text
        assert not await mailer.send([Mail("ops@example.com", "s", "b")])
        assert await store.mail.due_mails(now_ms(), 10) == []
    finally:
        await store.close()


async def test_the_password_is_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    settings = MailSettings(host="127.0.0.1", port=9, username="u", password="s3cret-pw")  # type: ignore[arg-type]
    with caplog.at_level(logging.DEBUG):
        server = SmtpServer("127.0.0.1", 9, username="u", password="s3cret-pw", timeout=1)
        transport = SmtpTransport(server)
        from lorafox.domain import QueuedMail

        mail = QueuedMail(1, "a@example.com", "s", "b", "test", MailState.PENDING, 0, 0, 0)
        with pytest.raises(NotificationError) as caught:
            await transport.send("lf@example.com", mail)
    assert "s3cret-pw" not in caplog.text + repr(server) + str(caught.value) + repr(settings)


async def test_mails_done_a_week_ago_are_purged(tmp_path: Path, smtp: SmtpSink) -> None:
    store = await SqlStore.open(store_url(tmp_path))
    try:
        then = now_ms() - 8 * 24 * 3600 * 1000
        mailer = Mailer(store.mail, _transport(smtp), Sending(), lambda: then)
        await mailer.send([Mail("ops@example.com", "old", "b")])
        task = asyncio.create_task(mailer.run())
        await _wait_for(smtp, 1)
        mailer.close()
        await task
        await store.mail.enqueue_mails([Mail("ops@example.com", "pending", "b")], then)
        fresh = Mailer(store.mail, _transport(smtp), Sending(), now_ms)
        task = asyncio.create_task(fresh.run())  # purges first, then sends the pending one
        await _wait_for(smtp, 2)
        fresh.close()
        await task
        assert await store.mail.get_mail(1) is None
        kept = await store.mail.get_mail(2)
        assert kept is not None and kept.state is MailState.SENT
    finally:
        await store.close()
