"""Named credentials (the callback credentials, the administrator set from the environment) on
SQLAlchemy Core."""

from __future__ import annotations

from sqlalchemy import select

from lorafox.ports.store import Credential
from lorafox.store.sql.database import Repository
from lorafox.store.sql.rows import record
from lorafox.store.sql.tables import credentials

__all__ = ["CredentialRepository"]


class CredentialRepository(Repository):
    """Implements ``lorafox.ports.store.CredentialStore``."""

    async def get_credential(self, name: str) -> Credential | None:
        query = select(credentials).where(credentials.c.name == name)
        return await self._first(query, lambda row: record(Credential, row))

    async def put_credential(self, credential: Credential) -> None:
        values = {"username": credential.username, "secret": credential.secret}
        stmt = self._db.insert(credentials).values(name=credential.name, **values)
        stmt = stmt.on_conflict_do_update(index_elements=[credentials.c.name], set_=values)
        async with self._db.writing() as conn:
            await conn.execute(stmt)
