"""The web console's sessions (``SessionRepository``): only their ids' hashes."""

from __future__ import annotations

import hmac

from sqlalchemy import delete, insert, or_, select, update

from lorafox.ports.sessions import SessionRow
from lorafox.store.sql.database import Repository
from lorafox.store.sql.tables import console_sessions, users

__all__ = ["SessionRepository"]


class SessionRepository(Repository):
    """Implements ``lorafox.ports.sessions.SessionStore``."""

    async def add_session(self, id_hash: str, user_id: str, *, now: int, expires_at: int) -> None:
        async with self._db.writing() as conn:
            await conn.execute(
                insert(console_sessions).values(
                    id_hash=id_hash,
                    user_id=user_id,
                    created_at=now,
                    seen_at=now,
                    expires_at=expires_at,
                )
            )

    async def find_session(self, id_hash: str, now: int) -> SessionRow | None:
        s = console_sessions.c
        query = (
            select(s.id_hash, s.user_id, users.c.email, s.created_at, s.seen_at, s.expires_at)
            .join(users, users.c.id == s.user_id)
            .where(s.id_hash == id_hash, s.expires_at > now)
        )
        async with self._db.reading() as conn:
            row = (await conn.execute(query)).first()
        if row is None or not hmac.compare_digest(row.id_hash, id_hash):
            return None
        return SessionRow(row.user_id, row.email, row.created_at, row.seen_at, row.expires_at)

    async def touch_session(self, id_hash: str, now: int) -> None:
        async with self._db.writing() as conn:
            await conn.execute(
                update(console_sessions)
                .where(console_sessions.c.id_hash == id_hash)
                .values(seen_at=now)
            )

    async def delete_session(self, id_hash: str) -> None:
        async with self._db.writing() as conn:
            await conn.execute(
                delete(console_sessions).where(console_sessions.c.id_hash == id_hash)
            )

    async def delete_expired_sessions(self, now: int, idle_before: int) -> int:
        s = console_sessions.c
        async with self._db.writing() as conn:
            result = await conn.execute(
                delete(console_sessions).where(or_(s.expires_at <= now, s.seen_at < idle_before))
            )
        return int(result.rowcount or 0)
