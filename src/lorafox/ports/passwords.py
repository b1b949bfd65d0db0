"""Single-use password links: stored as their tokens' SHA-256, never the tokens."""

from __future__ import annotations

from typing import Protocol

__all__ = ["PasswordTokenStore"]


class PasswordTokenStore(Protocol):
    async def add_token(
        self, token_hash: str, user_id: str, purpose: str, expires_at: int, now: int
    ) -> None: ...

    async def peek_token(self, token_hash: str, now: int) -> str | None:
        """The user of a link that still works (unused, not expired), else None."""

    async def use_token(self, token_hash: str, now: int) -> str | None:
        """Like ``peek_token``, and ends the user's every link, in one transaction."""
