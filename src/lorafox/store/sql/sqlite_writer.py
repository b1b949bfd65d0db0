"""The SQLite fast path: message batches and downlink hand-outs on one raw connection.

Why not SQLAlchemy and aiosqlite here: binding a row through SQLAlchemy costs ~40 µs of CPU,
and a worker thread that steps SQLite row by row must win the GIL back after every step — under
load it waits for the interpreter's switch interval each time. So a transaction's statements
run on the event loop thread (binding a row is a few µs and writes only to the page cache), and
only ``COMMIT`` — the fsync — runs in a worker thread, one GIL hand-off per transaction.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import orjson

from lorafox.domain import Device, Downlink, DownlinkState, Uplink
from lorafox.ports.store import DownlinkAsk
from lorafox.store.sql import rollup

__all__ = ["SqliteWriter", "answer", "insert_devices", "insert_uplinks", "take_downlink"]

T = TypeVar("T")

_INSERT = (
    "INSERT INTO messages (device, time, seq_number, data, ack, long_polling, snr, rssi, avg_snr,"
    " station, lat, lng, device_type_id, duplicate, extra, received_at, decoded, decode_error)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (device, time, seq_number) DO NOTHING"
)
_DOWNLINK = (
    "id, device, data, state, source, created_at, sent_at, answered_seq, answered_time,"
    " info_code, info_message, ended_at"
)
_ANSWERED = (
    f"SELECT {_DOWNLINK} FROM downlinks"  # noqa: S608 (constant column list)
    " WHERE device = ? AND answered_seq = ? AND answered_time = ? ORDER BY id LIMIT 1"
)
_TAKE = (
    "UPDATE downlinks SET state = 'sent', sent_at = ?, answered_seq = ?, answered_time = ?"  # noqa: S608 (constant column list)
    " WHERE id = (SELECT id FROM downlinks WHERE device = ? AND state = 'queued'"
    " ORDER BY id LIMIT 1) AND state = 'queued'"
    f" RETURNING {_DOWNLINK}"
)
_DIRECT = (
    "INSERT INTO downlinks (device, data, state, source, created_at, sent_at, answered_seq,"  # noqa: S608 (constant column list)
    f" answered_time) VALUES (?, ?, 'sent', 'direct', ?, ?, ?, ?) RETURNING {_DOWNLINK}"
)

_INSERT_DEVICE = (
    "INSERT INTO devices (id, name, device_type_id, pac, lat, lng, activable, automatic_renewal,"
    " provisioned, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (id) DO NOTHING"
)


def insert_devices(cursor: sqlite3.Cursor, devices: Sequence[Device]) -> None:
    """Create devices heard on a callback (the ones that exist meanwhile are left alone, and so
    are those whose device type was deleted meanwhile: their uplinks are stored all the same)."""
    type_ids = list({d.device_type_id for d in devices})
    query = "SELECT id FROM device_types WHERE id IN (%s)" % ", ".join("?" * len(type_ids))  # noqa: S608, UP031 (placeholders only)
    found = {row[0] for row in cursor.execute(query, type_ids)}
    cursor.executemany(
        _INSERT_DEVICE,
        [
            (
                d.id,
                d.name,
                d.device_type_id,
                d.pac,
                d.lat,
                d.lng,
                d.activable,
                d.automatic_renewal,
                d.provisioned,
                d.created_at,
                d.created_by,
            )
            for d in devices
            if d.device_type_id in found
        ],
    )


def insert_uplinks(
    cursor: sqlite3.Cursor, uplinks: Sequence[Uplink], received_at: int
) -> list[int | None]:
    """Insert each uplink; its new id, or None when (device, seqNumber, time) existed."""
    ids: list[int | None] = []
    for u in uplinks:
        cursor.execute(
            _INSERT,
            (
                u.device,
                u.time,
                u.seq_number,
                u.data,
                u.ack,
                u.long_polling,
                u.snr,
                u.rssi,
                u.avg_snr,
                u.station,
                u.lat,
                u.lng,
                u.device_type_id,
                u.duplicate,
                orjson.dumps(u.extra).decode() if u.extra else None,
                received_at,
                None if u.decoded is None else orjson.dumps(u.decoded).decode(),
                u.decode_error,
            ),
        )
        ids.append(cursor.lastrowid if cursor.rowcount == 1 else None)
    return ids


def _downlink(row: tuple[Any, ...]) -> Downlink:
    return Downlink(row[0], row[1], row[2], DownlinkState(row[3]), row[4], *row[5:])


def answer(
    cursor: sqlite3.Cursor, device: str, seq_number: int, time: int, now: int, ask: DownlinkAsk
) -> Downlink | None:
    """``take_downlink`` (``ask`` True), or record the DIRECT answer ``ask`` as sent (once per
    message: a retried callback gets the same one)."""
    if not isinstance(ask, str):
        return take_downlink(cursor, device, seq_number, time, now)
    row = cursor.execute(_ANSWERED, (device, seq_number, time)).fetchone()
    if row is None:
        row = cursor.execute(_DIRECT, (device, ask, now, now, seq_number, time)).fetchone()
        rollup.sqlite_add_downlink(cursor, device, now, "dl_sent")
    return _downlink(row)


def take_downlink(
    cursor: sqlite3.Cursor, device: str, seq_number: int | None, time: int | None, now: int
) -> Downlink | None:
    """The downlink already given to this message, else the oldest queued one, now sent."""
    if seq_number is not None and time is not None:
        row = cursor.execute(_ANSWERED, (device, seq_number, time)).fetchone()
        if row is not None:
            return _downlink(row)
    row = cursor.execute(_TAKE, (now, seq_number, time, device)).fetchone()
    if row is None:
        return None
    rollup.sqlite_add_downlink(cursor, device, now, "dl_sent")
    return _downlink(row)


WRITER_CACHE_KIB = 32 * 1024
"""The writer's page cache. Once devices have a history, each uplink's insert lands in a leaf
page of the messages' index of its own device; SQLite's default cache (2 MiB) holds the interior
pages of a 10,000,000-message index but not those leaves, so each insert read them again: a
sixth to a third of the event loop's CPU per uplink (``bench/ingest_batch.py --history``)."""


class SqliteWriter:
    """Runs write transactions on one connection; the caller serialises them."""

    def __init__(self, path: str) -> None:
        self._connection = sqlite3.connect(
            path, timeout=0, isolation_level=None, check_same_thread=False
        )
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._connection.execute("PRAGMA synchronous=FULL")
        self._connection.execute(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lorafox-commit")

    def _begin_waiting(self) -> None:
        self._connection.execute("PRAGMA busy_timeout=30000")
        try:
            self._connection.execute("BEGIN IMMEDIATE")
        finally:
            self._connection.execute("PRAGMA busy_timeout=0")

    async def transaction(self, work: Callable[[sqlite3.Cursor], T]) -> T:
        """Run ``work`` in a transaction and commit durably; roll back if it raises."""
        loop = asyncio.get_running_loop()
        try:
            self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            # another process holds the write lock: wait for it off the event loop
            await loop.run_in_executor(self._executor, self._begin_waiting)
        cursor = self._connection.cursor()
        try:
            result = work(cursor)
        except BaseException:
            self._connection.execute("ROLLBACK")
            raise
        finally:
            cursor.close()
        commit = loop.run_in_executor(self._executor, self._commit)
        try:
            await asyncio.shield(commit)
        except asyncio.CancelledError:
            await commit  # the connection is reused only once the commit is over
            raise
        return result

    def _commit(self) -> None:
        try:
            self._connection.execute("COMMIT")
        except sqlite3.Error:
            if self._connection.in_transaction:
                self._connection.execute("ROLLBACK")
            raise

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._connection.close)
        self._executor.shutdown(wait=True)
