"""Which instance runs the periodic jobs: one leader at a time (and, by a lock of its own, which
one feeds the topic rules from a broker without shared subscriptions).

On PostgreSQL the leader holds a session advisory lock on a connection of its own; followers
try to take it every ``retry_seconds``. When the leader stops it releases the lock; when its
connection dies PostgreSQL frees it and a follower takes over within its retry period. On
SQLite the one instance is always the leader.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Protocol

import asyncpg

log = logging.getLogger(__name__)

#: the advisory lock key of the periodic jobs ("lorafox" in ASCII, fits a bigint)
LEADER_LOCK_KEY = 0x6C6F7261666F78
#: the advisory lock key of the rules feeder on a broker without shared subscriptions
RULES_FEED_LOCK_KEY = LEADER_LOCK_KEY + 1


class Leadership(Protocol):
    """Tells the periodic jobs whether this instance should run them now."""

    @property
    def is_leader(self) -> bool: ...

    async def run(self, stopped: asyncio.Event) -> None: ...


class SingleInstance:
    """One instance (SQLite): always the leader."""

    @property
    def is_leader(self) -> bool:
        return True

    async def run(self, stopped: asyncio.Event) -> None:
        await stopped.wait()


class AdvisoryLockLeader:
    """The leader among instances sharing one PostgreSQL database (``pg_try_advisory_lock``)."""

    def __init__(
        self,
        dsn: str,
        *,
        retry_seconds: float = 5.0,
        key: int = LEADER_LOCK_KEY,
        role: str = "leader: it runs the periodic jobs",
    ) -> None:
        self._dsn = dsn
        self._retry = retry_seconds
        self._key = key
        self._role = role
        self._connection: asyncpg.Connection | None = None
        self._leader = False

    @property
    def is_leader(self) -> bool:
        connection = self._connection
        return self._leader and connection is not None and not connection.is_closed()

    async def try_lead(self) -> bool:
        """Take the lock if it is free (or confirm it is still held); True when leader."""
        if self._connection is None or self._connection.is_closed():
            self._leader = False
            self._connection = await asyncpg.connect(self._dsn)
        if self._leader:
            # a query on the connection tells whether it (and the lock) is still alive
            await self._connection.fetchval("SELECT 1")
            return True
        taken = await self._connection.fetchval("SELECT pg_try_advisory_lock($1)", self._key)
        if taken:
            log.info("this instance is now the %s", self._role)
        self._leader = bool(taken)
        return self._leader

    async def run(self, stopped: asyncio.Event) -> None:
        """Try to lead every ``retry_seconds`` until ``stopped``, then release the lock."""
        try:
            while not stopped.is_set():
                was_leader = self._leader
                try:
                    await self.try_lead()
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                    self._leader = False
                    await self._close()
                    log.warning("leader election: database not reachable (%s)", type(exc).__name__)
                if was_leader and not self._leader:
                    log.warning("this instance is no longer the %s", self._role.split(":")[0])
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopped.wait(), self._retry)
        finally:
            await self.release()

    async def release(self) -> None:
        """Give the lock up (closing the connection frees it too)."""
        if self._leader and self._connection is not None and not self._connection.is_closed():
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await self._connection.execute("SELECT pg_advisory_unlock($1)", self._key)
        self._leader = False
        await self._close()

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed():
            with contextlib.suppress(OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
                await connection.close(timeout=2)


def leadership_for(
    database_url: str | None,
    *,
    retry_seconds: float = 5.0,
    key: int = LEADER_LOCK_KEY,
    role: str = "leader: it runs the periodic jobs",
) -> Leadership:
    """The leadership of an instance on ``database_url`` (None: SQLite) for the role of lock
    ``key`` (the periodic jobs', or another one)."""
    if database_url is None or not database_url.startswith(("postgresql:", "postgres:")):
        return SingleInstance()
    return AdvisoryLockLeader(database_url, retry_seconds=retry_seconds, key=key, role=role)
