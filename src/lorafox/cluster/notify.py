"""News of changed caches between instances sharing one PostgreSQL database (LISTEN/NOTIFY).

After a committed change, the use case's cache tells ``changed(topic, keys)``: one ``NOTIFY`` on
the channel ``lorafox_changes`` with ``topic`` and the keys (device ids, device type ids …; none:
all of it). Every other instance listens on a connection of its own and runs the reloads
registered for the topic with those keys. Each time that connection is made (at start, and
after it was lost, when notifications may have been missed) every reload runs with ``None``:
all of it is read again. An instance ignores its own notifications. On SQLite (one instance)
``LocalOnly`` does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Sequence

import asyncpg

from lorafox.ports.cluster import Reload

__all__ = ["CHANNEL", "LocalOnly", "PostgresChanges", "changes_for"]

log = logging.getLogger(__name__)

CHANNEL = "lorafox_changes"
APPLICATION_NAME = "lorafox changes {pid}"
"""The listening connection's name in ``pg_stat_activity`` (``pid``: this process's)."""
_KEYS_PER_NOTIFY = 200  # NOTIFY payloads stay under PostgreSQL's 8000 bytes
_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


def _payloads(topic: str, keys: Sequence[str]) -> list[str]:
    if not keys:
        return [topic]
    return [
        f"{topic} {','.join(keys[start : start + _KEYS_PER_NOTIFY])}"
        for start in range(0, len(keys), _KEYS_PER_NOTIFY)
    ]


def _parse(payload: str) -> tuple[str, list[str] | None]:
    topic, _, keys = payload.partition(" ")
    return topic, keys.split(",") if keys else None


class _Reloads:
    """The reloads of each topic, run as tasks (a failed one is logged)."""

    def __init__(self) -> None:
        self._by_topic: dict[str, list[Reload]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def on(self, topic: str, reload: Reload) -> None:
        self._by_topic.setdefault(topic, []).append(reload)

    def run(self, topic: str, keys: Sequence[str] | None) -> None:
        for reload in self._by_topic.get(topic, ()):
            task = asyncio.create_task(self._one(topic, reload, keys))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def run_all(self) -> None:
        for topic in self._by_topic:
            self.run(topic, None)

    @staticmethod
    async def _one(topic: str, reload: Reload, keys: Sequence[str] | None) -> None:
        try:
            await reload(keys)
        except Exception:
            log.exception("cannot reload %s after a change made by another instance", topic)


class LocalOnly:
    """One instance: no one to tell."""

    def changed(self, topic: str, keys: Sequence[str] = ()) -> None:
        pass

    def on(self, topic: str, reload: Reload) -> None:
        pass

    async def run(self, stopped: asyncio.Event) -> None:
        await stopped.wait()


class PostgresChanges:
    """``LISTEN``/``NOTIFY`` on a connection of its own, reconnected every ``retry_seconds``."""

    def __init__(self, dsn: str, *, retry_seconds: float = 1.0) -> None:
        self._dsn = dsn
        self._retry = retry_seconds
        self._reloads = _Reloads()
        self._connection: asyncpg.Connection | None = None
        self._pending: list[str] = []  # told while the connection was down
        self._wakeup = asyncio.Event()

    def on(self, topic: str, reload: Reload) -> None:
        self._reloads.on(topic, reload)

    def changed(self, topic: str, keys: Sequence[str] = ()) -> None:
        """Queue the notification (sent by ``run`` at once, in order)."""
        self._pending.extend(_payloads(topic, keys))
        self._wakeup.set()

    async def run(self, stopped: asyncio.Event) -> None:
        """Listen and send until ``stopped``."""
        try:
            while not stopped.is_set():
                try:
                    await self._connect()
                    # changes told before (while starting, or disconnected) were not heard
                    self._reloads.run_all()
                    await self._serve(stopped)
                except _ERRORS as exc:
                    log.warning("cache changes: database not reachable (%s)", type(exc).__name__)
                await self._close()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopped.wait(), self._retry)
        finally:
            await self._close()

    async def _connect(self) -> None:
        name = APPLICATION_NAME.format(pid=os.getpid())
        connection = await asyncpg.connect(self._dsn, server_settings={"application_name": name})
        self._connection = connection
        pid = connection.get_server_pid()

        def heard(_: object, sender: int, channel: str, payload: str) -> None:
            if sender != pid:
                self._reloads.run(*_parse(payload))

        await connection.add_listener(CHANNEL, heard)

    async def _serve(self, stopped: asyncio.Event) -> None:
        """Send what is pending; check the connection every ``retry_seconds`` meanwhile."""
        connection = self._connection
        assert connection is not None  # noqa: S101 - just connected
        while not stopped.is_set():
            await self._send(connection)
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), self._retry)
            except TimeoutError:
                await connection.fetchval("SELECT 1")
        await self._send(connection)  # what was told before the stop still reaches the others

    async def _send(self, connection: asyncpg.Connection) -> None:
        while self._pending:
            await connection.execute("SELECT pg_notify($1, $2)", CHANNEL, self._pending[0])
            self._pending.pop(0)

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed():
            with contextlib.suppress(*_ERRORS):
                await connection.close(timeout=2)


def changes_for(database_url: str | None) -> LocalOnly | PostgresChanges:
    """How an instance on ``database_url`` hears of the others' changes (None: SQLite)."""
    if database_url is None or not database_url.startswith(("postgresql:", "postgres:")):
        return LocalOnly()
    return PostgresChanges(database_url)
