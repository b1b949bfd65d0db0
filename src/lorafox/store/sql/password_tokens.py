"""Single-use password links (``PasswordTokenRepository``): only their tokens' hashes."""

from __future__ import annotations

import hmac

from sqlalchemy import insert, select, update

from lorafox.store.sql.database import Repository
from lorafox.store.sql.tables import password_tokens

__all__ = ["PasswordTokenRepository"]


class PasswordTokenRepository(Repository):
    """Implements ``lorafox.ports.store.PasswordTokenStore``."""

    async def add_token(
        self, token_hash: str, user_id: str, purpose: str, expires_at: int, now: int
    ) -> None:
        async with self._db.writing() as conn:
            await conn.execute(
                insert(password_tokens).values(
                    token_hash=token_hash,
                    user_id=user_id,
                    purpose=purpose,
                    expires_at=expires_at,
                    created_at=now,
                )
            )

    async def peek_token(self, token_hash: str, now: int) -> str | None:
        t = password_tokens.c
        query = select(t.token_hash, t.user_id).where(
            t.token_hash == token_hash, t.used_at.is_(None), t.expires_at > now
        )
        async with self._db.reading() as conn:
            row = (await conn.execute(query)).first()
        if row is None or not hmac.compare_digest(row.token_hash, token_hash):
            return None
        return str(row.user_id)

    async def use_token(self, token_hash: str, now: int) -> str | None:
        t = password_tokens.c
        async with self._db.writing() as conn:
            row = (
                await conn.execute(
                    select(t.token_hash, t.user_id).where(
                        t.token_hash == token_hash, t.used_at.is_(None), t.expires_at > now
                    )
                )
            ).first()
            if row is None or not hmac.compare_digest(row.token_hash, token_hash):
                return None
            # every link of the user ends here: the one used, and any older one
            await conn.execute(
                update(password_tokens)
                .where(t.user_id == row.user_id, t.used_at.is_(None))
                .values(used_at=now)
            )
        return str(row.user_id)
