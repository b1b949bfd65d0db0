"""The web console's sessions: stored as the SHA-256 of their ids, never the ids."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["SessionRow", "SessionStore"]


@dataclass(slots=True, frozen=True)
class SessionRow:
    """A live session: its user's id and login (email, or ``admin``), and its times (epoch ms)."""

    user_id: str
    login: str
    created_at: int
    seen_at: int
    expires_at: int


class SessionStore(Protocol):
    async def add_session(
        self, id_hash: str, user_id: str, *, now: int, expires_at: int
    ) -> None: ...

    async def find_session(self, id_hash: str, now: int) -> SessionRow | None:
        """The session, while ``now`` is before its absolute expiry (else None)."""

    async def touch_session(self, id_hash: str, now: int) -> None:
        """Record activity (the idle expiry counts from the last one)."""

    async def delete_session(self, id_hash: str) -> None: ...

    async def delete_expired_sessions(self, now: int, idle_before: int) -> int:
        """Delete the sessions past their expiry or not seen since ``idle_before``."""
