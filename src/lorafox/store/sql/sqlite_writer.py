"""The SQLite fast path for message batches: one thread, one connection, no ORM per row.

Storing a batch costs one transaction and one fsync, with each row bound straight to a prepared
``INSERT ... ON CONFLICT DO NOTHING``; ``rowcount`` tells a new message from a duplicate.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import orjson

from lorafox.domain import Uplink

__all__ = ["SqliteMessageWriter"]

_INSERT = (
    "INSERT INTO messages (device, time, seq_number, data, ack, long_polling, snr, rssi, avg_snr,"
    " station, lat, lng, device_type_id, duplicate, extra, received_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (device, seq_number, time) DO NOTHING"
)


class SqliteMessageWriter:
    """Inserts message batches from a dedicated thread; returns the new ids (None = duplicate)."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lorafox-sqlite")
        self._connection: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(
                self._path, timeout=30, isolation_level=None, check_same_thread=False
            )
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            self._connection = connection
        return self._connection

    def _insert(self, uplinks: Sequence[Uplink], received_at: int) -> list[int | None]:
        connection = self._connect()
        cursor = connection.cursor()
        ids: list[int | None] = []
        cursor.execute("BEGIN IMMEDIATE")
        try:
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
                    ),
                )
                ids.append(cursor.lastrowid if cursor.rowcount == 1 else None)
            cursor.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                cursor.execute("ROLLBACK")
            raise
        finally:
            cursor.close()
        return ids

    async def insert(self, uplinks: Sequence[Uplink], received_at: int) -> list[int | None]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._insert, uplinks, received_at)

    def _close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)
