"""The mail outbox (``MailRepository``)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Row, delete, insert, select, update

from lorafox.domain import Mail, MailState, QueuedMail
from lorafox.store.sql.database import Repository
from lorafox.store.sql.rows import record
from lorafox.store.sql.tables import mail_outbox

__all__ = ["MailRepository"]


def _mail(row: Row[Any]) -> QueuedMail:
    return record(QueuedMail, row)


class MailRepository(Repository):
    """Implements ``lorafox.ports.mail.MailStore``."""

    async def enqueue_mails(self, mails: Sequence[Mail], now: int) -> list[int]:
        ids: list[int] = []
        async with self._db.writing() as conn:
            for mail in mails:
                result = await conn.execute(
                    insert(mail_outbox)
                    .values(
                        recipient=mail.recipient,
                        subject=mail.subject,
                        body=mail.body,
                        kind=mail.kind,
                        state=MailState.PENDING.value,
                        attempts=0,
                        next_attempt_at=now,
                        created_at=now,
                    )
                    .returning(mail_outbox.c.id)
                )
                ids.append(int(result.scalar_one()))
        return ids

    async def due_mails(self, now: int, limit: int, skip: Collection[int] = ()) -> list[QueuedMail]:
        m = mail_outbox.c
        query = (
            select(mail_outbox)
            .where(m.state == MailState.PENDING.value, m.next_attempt_at <= now)
            .order_by(m.next_attempt_at, m.id)
            .limit(limit + len(skip))
        )
        async with self._db.reading() as conn:
            found = [_mail(row) for row in await conn.execute(query)]
        return [mail for mail in found if mail.id not in skip][:limit]

    async def record_mail(
        self,
        mail_id: int,
        state: MailState,
        attempts: int,
        next_attempt_at: int,
        error: str | None,
        sent_at: int | None,
    ) -> None:
        async with self._db.writing() as conn:
            await conn.execute(
                update(mail_outbox)
                .where(mail_outbox.c.id == mail_id)
                .values(
                    state=state.value,
                    attempts=attempts,
                    next_attempt_at=next_attempt_at,
                    last_error=error,
                    sent_at=sent_at,
                )
            )

    async def get_mail(self, mail_id: int) -> QueuedMail | None:
        return await self._first(select(mail_outbox).where(mail_outbox.c.id == mail_id), _mail)

    async def purge_mails(self, before: int) -> int:
        m = mail_outbox.c
        async with self._db.writing() as conn:
            result = await conn.execute(
                delete(mail_outbox).where(
                    m.state != MailState.PENDING.value, m.next_attempt_at < before
                )
            )
        return int(result.rowcount or 0)
