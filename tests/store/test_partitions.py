"""PostgreSQL's messages partitioned by month: made ahead, the default partition's rows moved
into a month made later, whole months dropped by retention, and an existing table migrated."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine

from lorafox.devices.retention import DAY_MS, HistoryRetention
from lorafox.domain import DeviceType, Uplink
from lorafox.settings import Settings
from lorafox.store.sql import database as database_module
from lorafox.store.sql.partitions import month_of
from lorafox.store.sql.store import SqlStore

pytestmark = pytest.mark.postgres

NOW = int(time.time() * 1000)


def _url(pg_database: str) -> str:
    return Settings.load(None, database_url=pg_database).sqlalchemy_url


@pytest.fixture
async def store(pg_database: str) -> AsyncIterator[SqlStore]:
    opened = await SqlStore.open(_url(pg_database))
    yield opened
    await opened.close()


async def _rows(store: SqlStore, sql: str, **params: Any) -> list[Any]:
    async with store.database.reading() as conn:
        return list(await conn.execute(text(sql), params))


async def _where(store: SqlStore) -> dict[int, str]:
    """Each message's seqNumber → the partition that holds it."""
    rows = await _rows(store, "SELECT seq_number, tableoid::regclass::text FROM messages")
    return dict(rows)


async def _partitions(store: SqlStore) -> set[str]:
    rows = await _rows(
        store,
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'messages'::regclass",
    )
    return {r[0] for r in rows}


def _up(seq: int, at: int) -> tuple[Uplink, bool]:
    return Uplink(device="A1", time=at, seq_number=seq, data="01"), False


async def test_messages_land_in_their_month_or_the_default(store: SqlStore) -> None:
    months = [month_of(NOW).plus(n) for n in range(-1, 4)]
    assert {m.name for m in months} | {"messages_default"} == await _partitions(store)
    far_ahead = month_of(NOW).plus(6)
    ancient = 1_000_000_000_000  # 2001
    await store.messages.ingest([_up(1, NOW), _up(2, ancient), _up(3, far_ahead.start + 5)])
    assert await _where(store) == {
        1: month_of(NOW).name,
        2: "messages_default",
        3: "messages_default",
    }
    # the months around a later time: made, and far_ahead takes its row from the default
    await store.retention.prepare_history(far_ahead.start)
    assert far_ahead.name in await _partitions(store)
    assert (await _where(store))[3] == far_ahead.name
    again = await _partitions(store)
    await store.retention.prepare_history(far_ahead.start)  # nothing more to make
    assert await _partitions(store) == again
    listed = await store.messages.list_messages("A1", limit=10)
    assert [m.uplink.seq_number for m in listed] == [3, 1, 2]  # newest first, across partitions
    assert (await store.messages.ingest([_up(1, NOW)]))[0].stored is None  # still a duplicate


async def test_retention_drops_whole_months_and_deletes_the_rest(store: SqlStore) -> None:
    types = [DeviceType.blank("t", "t", "g", created_at=0)]

    async def device_types() -> list[DeviceType]:
        return types

    def retention(days: int) -> HistoryRetention:  # run 40 days from now
        later = NOW / 1000 + 40 * DAY_MS / 1000
        return HistoryRetention(
            store.retention, device_types, default_days=days, clock=lambda: later
        )

    last_month = month_of(NOW).plus(-1)
    await store.messages.ingest(
        [_up(1, NOW), _up(2, last_month.start + 1), _up(3, 1_000_000_000_000)]
    )
    assert await retention(0).step() == 0  # kept forever: nothing dropped or deleted
    assert sorted(await _where(store)) == [1, 2, 3]
    # 40 days: the cutoff is now; last month ends before it and goes whole, the 2001 message
    # in the default partition row by row, this month's stays
    assert await retention(40).step() == 1
    assert last_month.name not in await _partitions(store)
    assert month_of(NOW).name in await _partitions(store)
    assert sorted(await _where(store)) == [1]
    assert (await store.messages.ingest([_up(9, NOW + 1)]))[0].stored is not None


def _upgrade(conn: Connection, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(database_module._MIGRATIONS))
    config.attributes["connection"] = conn
    command.upgrade(config, revision)


async def test_an_existing_table_is_partitioned_with_its_rows(pg_database: str) -> None:
    engine = create_async_engine(_url(pg_database))
    upgrade: Callable[[str], Any] = lambda revision: lambda conn: _upgrade(conn, revision)  # noqa: E731
    async with engine.begin() as conn:
        await conn.run_sync(upgrade("0018_retention"))
        for seq, at in ((1, NOW), (2, NOW - 400 * DAY_MS), (3, 1_000_000_000_000)):
            await conn.execute(
                text(
                    "INSERT INTO messages (device, time, seq_number, data, ack, long_polling,"
                    " duplicate, received_at) VALUES ('B2', :at, :seq, '01', false, false,"
                    " false, :at)"
                ),
                {"at": at, "seq": seq},
            )
    async with engine.begin() as conn:
        await conn.run_sync(upgrade("head"))
    await engine.dispose()
    store = await SqlStore.open(_url(pg_database))
    try:
        assert await _where(store) == {
            1: month_of(NOW).name,
            2: month_of(NOW - 400 * DAY_MS).name,  # within three years: a month of its own
            3: "messages_default",
        }
        [fresh] = await store.messages.ingest([_up(4, NOW)])
        assert fresh.stored is not None and fresh.stored.id == 4  # the same id sequence
    finally:
        await store.close()
