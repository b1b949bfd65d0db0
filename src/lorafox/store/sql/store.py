"""The store on SQLAlchemy Core: SQLite (default, one file) or PostgreSQL (asyncpg).

SQLite runs in WAL mode with ``synchronous=FULL``: a commit is on disk when it returns. Writes
are serialised in-process (one writer is all SQLite allows), reads run beside them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import time as _time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from sqlalchemy import Row, and_, delete, event, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from lorafox.domain import Device, Downlink, DownlinkState, StoredUplink, Uplink
from lorafox.errors import ConfigError, Conflict, NotFound, StoreError
from lorafox.ports.store import Credential, DownlinkAsk, Ingested
from lorafox.store.sql import rollup, sqlite_writer
from lorafox.store.sql.devices import DeviceQueries, device_row
from lorafox.store.sql.events import EventQueries, downlink_from_row
from lorafox.store.sql.identity import IdentityQueries
from lorafox.store.sql.locations import LocationQueries
from lorafox.store.sql.statistics import StatisticsQueries
from lorafox.store.sql.tables import (
    credentials,
    cursors,
    device_types,
    devices,
    downlinks,
    messages,
)
from lorafox.store.sql.tables_items import TableItemQueries

__all__ = ["SqlStore", "migrate", "stored_uplink"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")

_MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
_KEY = (messages.c.device, messages.c.time, messages.c.seq_number)


def _now_ms() -> int:
    return int(_time.time() * 1000)


def migrate(connection: Connection) -> None:
    """Bring the schema to the newest revision (Alembic), on an open connection."""
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    for pragma in (
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=FULL",
        "PRAGMA busy_timeout=30000",
        "PRAGMA foreign_keys=ON",
    ):
        cursor.execute(pragma)
    cursor.close()


def _uplink_row(uplink: Uplink, received_at: int) -> dict[str, Any]:
    return {
        "device": uplink.device,
        "time": uplink.time,
        "seq_number": uplink.seq_number,
        "data": uplink.data,
        "ack": uplink.ack,
        "long_polling": uplink.long_polling,
        "snr": uplink.snr,
        "rssi": uplink.rssi,
        "avg_snr": uplink.avg_snr,
        "station": uplink.station,
        "lat": uplink.lat,
        "lng": uplink.lng,
        "device_type_id": uplink.device_type_id,
        "duplicate": uplink.duplicate,
        "extra": uplink.extra or None,
        "received_at": received_at,
        "decoded": uplink.decoded,
        "decode_error": uplink.decode_error,
    }


def stored_uplink(row: Row[Any]) -> StoredUplink:
    m = row._mapping
    return StoredUplink(
        id=m["id"],
        received_at=m["received_at"],
        uplink=Uplink(
            device=m["device"],
            time=m["time"],
            seq_number=m["seq_number"],
            data=m["data"],
            ack=m["ack"],
            long_polling=m["long_polling"],
            snr=m["snr"],
            rssi=m["rssi"],
            avg_snr=m["avg_snr"],
            station=m["station"],
            lat=m["lat"],
            lng=m["lng"],
            device_type_id=m["device_type_id"],
            duplicate=m["duplicate"],
            extra=m["extra"] or {},
            decoded=m["decoded"],
            decode_error=m["decode_error"],
        ),
        advanced=m["advanced"],
        computed_location=None
        if m["computed_lat"] is None
        else (m["computed_lat"], m["computed_lng"], m["computed_radius"], m["computed_source"]),
    )


class SqlStore(
    IdentityQueries,
    DeviceQueries,
    EventQueries,
    TableItemQueries,
    StatisticsQueries,
    LocationQueries,
):
    """Implements ``lorafox.ports.store.Store`` (groups, users and API users: ``identity.py``;
    device types and devices: ``devices.py``; events and SERVICE callback data: ``events.py``;
    DynamoDB-compatible tables: ``tables_items.py``)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        database = engine.url.database
        self._fast_writer = (
            sqlite_writer.SqliteWriter(database)
            if engine.dialect.name == "sqlite" and database and database != ":memory:"
            else None
        )
        self._postgres = engine.dialect.name == "postgresql"
        self._insert: Callable[..., Any] = postgresql.insert if self._postgres else sqlite.insert
        # SQLite has one writer; queueing here beats its busy-wait.
        self._write_lock: asyncio.Lock | None = None if self._postgres else asyncio.Lock()

    @classmethod
    async def open(cls, url: str) -> SqlStore:
        """Connect, migrate to the newest schema, and return the store."""
        # Parameters hold password hashes and encrypted secrets: never in logs, even at DEBUG.
        kwargs: dict[str, Any] = {"hide_parameters": True}
        if url.startswith("sqlite"):
            kwargs["connect_args"] = {"timeout": 30}
        try:
            engine = create_async_engine(url, **kwargs)
        except (SQLAlchemyError, ImportError, ValueError) as exc:
            raise ConfigError(
                f"cannot use the database URL: {exc} (use --database-url or LORAFOX_DATABASE_URL: "
                "sqlite:///PATH or postgresql://USER@HOST/DB)"
            ) from exc
        if engine.dialect.name == "sqlite":
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        store = cls(engine)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(migrate)
        except (SQLAlchemyError, OSError) as exc:
            await engine.dispose()
            raise StoreError(
                f"cannot open the database: {exc} (check --database-url or LORAFOX_DATABASE_URL)"
            ) from exc
        return store

    async def ping(self) -> None:
        async with self._reading() as conn:
            await conn.execute(select(1))

    async def close(self) -> None:
        if self._fast_writer is not None:
            await self._fast_writer.close()
        await self._engine.dispose()

    @contextlib.asynccontextmanager
    async def _reading(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self._engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            log.error("database read failed: %s", exc)
            raise StoreError("the database is unavailable") from exc

    @contextlib.asynccontextmanager
    async def _writing(self) -> AsyncIterator[AsyncConnection]:
        lock = self._write_lock or contextlib.nullcontext()
        try:
            async with lock, self._engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            log.error("database write failed: %s", exc)
            raise StoreError("the database is unavailable") from exc

    # -- messages --------------------------------------------------------------------------

    async def ingest(
        self, batch: Sequence[tuple[Uplink, DownlinkAsk]], provision: Sequence[Device] = ()
    ) -> list[Ingested]:
        if not batch:
            return []
        now = _now_ms()
        uplinks = [uplink for uplink, _ in batch]
        if self._fast_writer is not None:

            def work(cursor: sqlite3.Cursor) -> list[Ingested]:
                if provision:
                    sqlite_writer.insert_devices(cursor, provision)
                ids = sqlite_writer.insert_uplinks(cursor, uplinks, now)
                rollup.sqlite_add_messages(cursor, [i for i in ids if i is not None])
                return [
                    Ingested(
                        None if new_id is None else StoredUplink(new_id, now, uplink),
                        sqlite_writer.answer(
                            cursor, uplink.device, uplink.seq_number, uplink.time, now, wants
                        )
                        if wants
                        else None,
                    )
                    for new_id, (uplink, wants) in zip(ids, batch, strict=True)
                ]

            return await self._sqlite(self._fast_writer, work)
        stmt = (
            self._insert(messages)
            .on_conflict_do_nothing(index_elements=list(_KEY))
            .returning(messages.c.id, *_KEY)
        )
        async with self._writing() as conn:
            if provision:
                await self._provision(conn, provision)
            result = await conn.execute(stmt, [_uplink_row(u, now) for u in uplinks])
            keys = {(r.device, r.time, r.seq_number): r.id for r in result}
            await rollup.add_messages(conn, list(keys.values()))
            ingested: list[Ingested] = []
            for uplink, wants in batch:
                new_id = keys.pop((uplink.device, uplink.time, uplink.seq_number), None)
                downlink = await self._answer(conn, uplink, now, wants) if wants else None
                stored = None if new_id is None else StoredUplink(new_id, now, uplink)
                ingested.append(Ingested(stored, downlink))
        return ingested

    async def _provision(self, conn: AsyncConnection, new: Sequence[Device]) -> None:
        """Insert devices heard on a callback, skipping those that exist or whose device type
        was deleted meanwhile (their uplinks are stored all the same)."""
        type_ids = list({d.device_type_id for d in new})
        found = set(
            await conn.scalars(select(device_types.c.id).where(device_types.c.id.in_(type_ids)))
        )
        rows = [device_row(d) for d in new if d.device_type_id in found]
        if rows:
            await conn.execute(
                self._insert(devices).on_conflict_do_nothing(index_elements=[devices.c.id]), rows
            )

    async def _sqlite(
        self, writer: sqlite_writer.SqliteWriter, work: Callable[[sqlite3.Cursor], _T]
    ) -> _T:
        try:
            async with self._write_lock or contextlib.nullcontext():
                return await writer.transaction(work)
        except sqlite3.Error as exc:
            log.error("database write failed: %s", exc)
            raise StoreError("the database is unavailable") from exc

    async def list_messages(
        self,
        device: str,
        *,
        limit: int,
        since: int | None = None,
        before: int | None = None,
        registered_at: int | None = None,
    ) -> list[StoredUplink]:
        query = select(messages).where(messages.c.device == device)
        if registered_at is not None:
            query = query.where(messages.c.received_at >= registered_at)
        if since is not None:
            query = query.where(messages.c.time >= since)
        if before is not None:
            query = query.where(messages.c.time < before)
        query = query.order_by(messages.c.time.desc(), messages.c.seq_number.desc()).limit(limit)
        async with self._reading() as conn:
            return [stored_uplink(row) for row in await conn.execute(query)]

    async def list_type_messages(
        self,
        device_type_id: str,
        *,
        limit: int,
        since: int | None = None,
        before: int | None = None,
    ) -> list[StoredUplink]:
        members = select(devices.c.id).where(devices.c.device_type_id == device_type_id)
        query = select(messages).where(messages.c.device.in_(members))
        if since is not None:
            query = query.where(messages.c.time >= since)
        if before is not None:
            query = query.where(messages.c.time < before)
        query = query.order_by(messages.c.time.desc(), messages.c.seq_number.desc()).limit(limit)
        async with self._reading() as conn:
            return [stored_uplink(row) for row in await conn.execute(query)]

    async def count_messages(self, device: str, since: Sequence[int]) -> list[int]:
        if not since:
            return []
        # One range scan of the unique (device, time, seq_number) index, from the oldest bound;
        # each count filters that range (COUNT(*) FILTER: SQLite 3.30+, PostgreSQL).
        counts = [func.count().filter(messages.c.time >= bound) for bound in since]
        query = select(*counts).where(messages.c.device == device, messages.c.time >= min(since))
        async with self._reading() as conn:
            row = (await conn.execute(query)).one()
        return [int(value or 0) for value in row]

    async def messages_after(self, message_id: int, *, limit: int) -> list[StoredUplink]:
        query = select(messages).where(messages.c.id > message_id).order_by(messages.c.id)
        async with self._reading() as conn:
            return [stored_uplink(row) for row in await conn.execute(query.limit(limit))]

    async def last_message_id(self) -> int:
        async with self._reading() as conn:
            value = await conn.scalar(select(func.max(messages.c.id)))
        return int(value or 0)

    async def get_cursor(self, name: str) -> int | None:
        async with self._reading() as conn:
            value = await conn.scalar(select(cursors.c.value).where(cursors.c.name == name))
        return None if value is None else int(value)

    async def set_cursor(self, name: str, value: int) -> None:
        stmt = self._insert(cursors).values(name=name, value=value)
        stmt = stmt.on_conflict_do_update(index_elements=[cursors.c.name], set_={"value": value})
        async with self._writing() as conn:
            await conn.execute(stmt)

    # -- downlinks -------------------------------------------------------------------------

    async def enqueue_downlink(self, device: str, data: str, *, source: str) -> Downlink:
        stmt = (
            insert(downlinks)
            .values(
                device=device,
                data=data,
                state=DownlinkState.QUEUED.value,
                source=source,
                created_at=_now_ms(),
            )
            .returning(*downlinks.c)
        )
        async with self._writing() as conn:
            return downlink_from_row((await conn.execute(stmt)).one())

    async def list_downlinks(
        self, device: str, *, registered_at: int | None = None
    ) -> list[Downlink]:
        query = select(downlinks).where(downlinks.c.device == device).order_by(downlinks.c.id)
        if registered_at is not None:
            query = query.where(downlinks.c.created_at >= registered_at)
        async with self._reading() as conn:
            return [downlink_from_row(row) for row in await conn.execute(query)]

    async def delete_downlink(self, device: str, downlink_id: int) -> None:
        mine = and_(downlinks.c.id == downlink_id, downlinks.c.device == device)
        async with self._writing() as conn:
            result = await conn.execute(
                delete(downlinks).where(mine, downlinks.c.state == DownlinkState.QUEUED.value)
            )
            if result.rowcount:
                return
            state = await conn.scalar(select(downlinks.c.state).where(mine))
        if state is None:
            raise NotFound(f"device {device} has no downlink {downlink_id}")
        raise Conflict(f"downlink {downlink_id} was already {state}; only queued ones can go")

    async def take_downlink(
        self, device: str, seq_number: int | None, time: int | None
    ) -> Downlink | None:
        now = _now_ms()
        if self._fast_writer is not None:
            return await self._sqlite(
                self._fast_writer,
                lambda cursor: sqlite_writer.take_downlink(cursor, device, seq_number, time, now),
            )
        async with self._writing() as conn:
            return await self._take(conn, device, seq_number, time, now)

    async def _answer(
        self, conn: AsyncConnection, uplink: Uplink, now: int, ask: DownlinkAsk
    ) -> Downlink | None:
        """The queued downlink (``ask`` True) or the DIRECT answer ``ask``, recorded as sent."""
        if isinstance(ask, str):
            found = await self._answered(conn, uplink.device, uplink.seq_number, uplink.time)
            if found is not None:
                return found
            row = (
                await conn.execute(
                    insert(downlinks)
                    .values(
                        device=uplink.device,
                        data=ask,
                        state=DownlinkState.SENT.value,
                        source="direct",
                        created_at=now,
                        sent_at=now,
                        answered_seq=uplink.seq_number,
                        answered_time=uplink.time,
                    )
                    .returning(*downlinks.c)
                )
            ).one()
            await rollup.add_downlink(conn, uplink.device, now, "dl_sent")
            return downlink_from_row(row)
        return await self._take(conn, uplink.device, uplink.seq_number, uplink.time, now)

    async def _answered(
        self, conn: AsyncConnection, device: str, seq_number: int, time: int
    ) -> Downlink | None:
        row = (
            await conn.execute(
                select(downlinks)
                .where(
                    downlinks.c.device == device,
                    downlinks.c.answered_seq == seq_number,
                    downlinks.c.answered_time == time,
                )
                .order_by(downlinks.c.id)
                .limit(1)
            )
        ).first()
        return None if row is None else downlink_from_row(row)

    async def _take(
        self, conn: AsyncConnection, device: str, seq_number: int | None, time: int | None, now: int
    ) -> Downlink | None:
        if seq_number is not None and time is not None:
            found = await self._answered(conn, device, seq_number, time)
            if found is not None:
                return found
        queued = downlinks.c.state == DownlinkState.QUEUED.value
        oldest = (
            select(downlinks.c.id)
            .where(downlinks.c.device == device, queued)
            .order_by(downlinks.c.id)
            .limit(1)
        )
        if self._postgres:
            oldest = oldest.with_for_update(skip_locked=True)
        take = (
            update(downlinks)
            .where(downlinks.c.id == oldest.scalar_subquery(), queued)
            .values(
                state=DownlinkState.SENT.value,
                sent_at=now,
                answered_seq=seq_number,
                answered_time=time,
            )
            .returning(*downlinks.c)
        )
        row = (await conn.execute(take)).first()
        if row is None:
            return None
        await rollup.add_downlink(conn, device, now, "dl_sent")
        return downlink_from_row(row)

    # -- credentials -----------------------------------------------------------------------

    async def get_credential(self, name: str) -> Credential | None:
        query = select(credentials).where(credentials.c.name == name)
        async with self._reading() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else Credential(row.name, row.username, row.secret)

    async def put_credential(self, credential: Credential) -> None:
        values = {"username": credential.username, "secret": credential.secret}
        stmt = self._insert(credentials).values(name=credential.name, **values)
        stmt = stmt.on_conflict_do_update(index_elements=[credentials.c.name], set_=values)
        async with self._writing() as conn:
            await conn.execute(stmt)
