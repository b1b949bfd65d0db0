"""Mail lorafox sends: alerts, the messages of CALLBACK-mode device types, EMAIL callbacks,
invitations and password resets."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Mail", "MailState", "QueuedMail"]


class MailState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    """Retried for as long as allowed: given up."""


@dataclass(slots=True, frozen=True)
class Mail:
    """One message to one or more recipients (comma-separated)."""

    recipient: str
    subject: str
    body: str
    kind: str = "mail"
    """What it is (``alert``, ``message``, ``callback``, ``invitation``, ``reset``, ``test``)."""


@dataclass(slots=True, frozen=True)
class QueuedMail:
    """A mail in the outbox."""

    id: int
    recipient: str
    subject: str
    body: str
    kind: str
    state: MailState
    attempts: int
    next_attempt_at: int
    created_at: int
    last_error: str | None = None
    sent_at: int | None = None
