"""What the mail outbox needs: a durable queue of mails, and a way to hand one to a server."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

from lorafox.domain import Mail, MailState, QueuedMail

__all__ = ["MailStore", "MailTransport"]


class MailStore(Protocol):
    async def enqueue_mails(self, mails: Sequence[Mail], now: int) -> list[int]:
        """Store ``mails`` as pending, due now; their ids."""

    async def due_mails(self, now: int, limit: int, skip: Collection[int] = ()) -> list[QueuedMail]:
        """Pending mails due at ``now``, oldest first, leaving out ``skip``."""

    async def record_mail(
        self,
        mail_id: int,
        state: MailState,
        attempts: int,
        next_attempt_at: int,
        error: str | None,
        sent_at: int | None,
    ) -> None:
        """What an attempt left."""

    async def get_mail(self, mail_id: int) -> QueuedMail | None: ...

    async def purge_mails(self, before: int) -> int:
        """Forget the mails sent or given up before ``before`` (epoch ms); how many."""


class MailTransport(Protocol):
    """Hands one mail to the mail server; ``LorafoxError`` (``MailError``) when it fails."""

    async def send(self, sender: str, mail: QueuedMail) -> None: ...
