"""The SQL store on SQLite and on PostgreSQL: durability rules, dedupe, the downlink queue."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

import lorafox.store
from lorafox.domain import DownlinkState, StoredUplink, Uplink
from lorafox.errors import Conflict, NotFound, StoreError
from lorafox.ports.store import Credential
from lorafox.store.sql.store import SqlStore
from lorafox.store.sql.tables import metadata


def uplink(
    device: str = "1A2B", seq: int = 1, time: int = 1_700_000_000_000, **kw: object
) -> Uplink:
    return Uplink(device=device, time=time, seq_number=seq, data="0102", **kw)  # type: ignore[arg-type]


async def add(store: SqlStore, uplinks: list[Uplink]) -> list[StoredUplink | None]:
    return [r.stored for r in await store.messages.ingest([(u, False) for u in uplinks])]


async def test_migrations_create_the_schema(store: SqlStore) -> None:
    """The migrations build exactly what the SQLAlchemy schema describes, up to the newest one."""

    def columns(conn: sa.Connection) -> dict[str, set[str]]:
        inspector = sa.inspect(conn)
        return {
            t: {c["name"] for c in inspector.get_columns(t)} for t in inspector.get_table_names()
        }

    async with store.database.engine.connect() as conn:  # the store under test, read directly
        found = await conn.run_sync(columns)
        version = await conn.scalar(sa.text("SELECT version_num FROM alembic_version"))
    for table in metadata.sorted_tables:
        assert table.name in found, table.name
        assert {c.name for c in table.columns} == found[table.name], table.name
    scripts = ScriptDirectory(str(Path(lorafox.store.__file__).parent / "migrations"))
    assert version == scripts.get_current_head()


async def test_duplicates_are_stored_once(store: SqlStore) -> None:
    first = await add(store, [uplink(seq=1), uplink(seq=2), uplink(seq=1)])
    assert first[0] is not None and first[1] is not None
    assert first[2] is None  # same (device, seq, time) within the batch
    again = await add(store, [uplink(seq=2), uplink(seq=3)])
    assert again[0] is None
    assert again[1] is not None and again[1].id > first[1].id
    listed = await store.messages.list_messages("1A2B", limit=100)
    assert sorted(s.uplink.seq_number for s in listed) == [1, 2, 3]


async def test_a_large_batch_stores_each_new_uplink_once(store: SqlStore) -> None:
    uplinks = [uplink(device=f"D{n % 7}", seq=n) for n in range(1203)]
    uplinks[700] = uplinks[300]  # a duplicate in another part of the batch
    uplinks[1202] = uplinks[1201]  # and one right after its first
    stored = await add(store, uplinks)
    assert stored[700] is None and stored[1202] is None
    ids = [s.id for s in stored if s is not None]
    assert len(ids) == 1201 == len(set(ids))
    for s, u in zip(stored, uplinks, strict=True):
        assert s is None or s.uplink == u
    again = await add(store, [uplinks[5], uplink(device="D0", seq=5000)])
    assert again[0] is None and again[1] is not None and again[1].id > max(ids)
    assert await store.messages.count_messages("D3", [0]) == [
        len({u.seq_number for u in uplinks if u.device == "D3"})
    ]


async def test_fields_round_trip(store: SqlStore) -> None:
    original = uplink(
        ack=True,
        snr=1.5,
        rssi=-120.0,
        avg_snr=3.0,
        station="ABCD",
        lat=1.0,
        lng=2.0,
        device_type_id="t1",
        duplicate=True,
        extra={"operatorName": "SIGFOX_FR"},
    )
    [stored] = await add(store, [original])
    assert stored is not None
    [listed] = await store.messages.list_messages("1A2B", limit=1)
    assert listed.uplink == original
    assert listed.id == stored.id


async def test_listing_newest_first_with_since_and_before(store: SqlStore) -> None:
    await add(store, [uplink(seq=i, time=1000 * i) for i in range(1, 11)])
    await add(store, [uplink(device="FFFF", seq=1, time=5000)])
    newest = await store.messages.list_messages("1A2B", limit=3)
    assert [s.uplink.time for s in newest] == [10_000, 9_000, 8_000]
    window = await store.messages.list_messages("1A2B", limit=100, since=3000, before=6000)
    assert [s.uplink.time for s in window] == [5000, 4000, 3000]
    assert await store.messages.last_message_id() >= 11
    after = await store.messages.messages_after(newest[0].id - 1, limit=10)
    assert [s.id for s in after] == sorted(s.id for s in after)


async def test_listing_newest_first_across_years_of_history(store: SqlStore) -> None:
    """Pages across months and years (PostgreSQL reads them in steps, newest month first):
    nothing skipped or repeated at a step's edge, ``since`` and ``before`` kept."""
    day = 86_400_000
    now = int(time.time() * 1000)
    ages = [-2, 0, 1, 30, 31, 32, 100, 185, 187, 400, 800]  # days ago (-2: dated ahead)
    await add(store, [uplink(seq=n, time=now - age * day) for n, age in enumerate(ages)])
    every = await store.messages.list_messages("1A2B", limit=100)
    assert [s.uplink.seq_number for s in every] == list(range(len(ages)))
    for limit in (1, 3, 5, 8, 10):
        page = await store.messages.list_messages("1A2B", limit=limit)
        assert [s.uplink.seq_number for s in page] == list(range(limit))
    older = await store.messages.list_messages("1A2B", limit=4, before=now - 31 * day)
    assert [s.uplink.seq_number for s in older] == [5, 6, 7, 8]
    recent = await store.messages.list_messages("1A2B", limit=100, since=now - 186 * day)
    assert [s.uplink.seq_number for s in recent] == [0, 1, 2, 3, 4, 5, 6, 7]
    middle = await store.messages.list_messages(
        "1A2B", limit=100, since=now - 500 * day, before=now - 100 * day
    )
    assert [s.uplink.seq_number for s in middle] == [7, 8, 9]


async def test_cursor(store: SqlStore) -> None:
    assert await store.messages.get_cursor("published") is None
    await store.messages.set_cursor("published", 5)
    await store.messages.set_cursor("published", 7)
    assert await store.messages.get_cursor("published") == 7


async def test_downlink_queue_fifo_and_idempotent_answer(store: SqlStore) -> None:
    a = await store.downlinks.enqueue_downlink("1A2B", "0000000000000001", source="api")
    b = await store.downlinks.enqueue_downlink("1A2B", "0000000000000002", source="mqtt")
    first = await store.downlinks.take_downlink("1A2B", 10, 1000)
    assert first is not None and first.id == a.id and first.state is DownlinkState.SENT
    retried = await store.downlinks.take_downlink(
        "1A2B", 10, 1000
    )  # Sigfox retry of the same message
    assert retried is not None and retried.id == a.id
    second = await store.downlinks.take_downlink("1A2B", 11, 2000)
    assert second is not None and second.id == b.id
    assert await store.downlinks.take_downlink("1A2B", 12, 3000) is None
    assert await store.downlinks.take_downlink("OTHER", 1, 1) is None
    states = [d.state for d in await store.downlinks.list_downlinks("1A2B")]
    assert states == [DownlinkState.SENT, DownlinkState.SENT]


async def test_concurrent_answers_never_share_an_entry(store: SqlStore) -> None:
    queued = {
        (await store.downlinks.enqueue_downlink("CAFE", f"{i:016x}", source="api")).id
        for i in range(10)
    }
    taken = await asyncio.gather(*(store.downlinks.take_downlink("CAFE", i, i) for i in range(20)))
    ids = [d.id for d in taken if d is not None]
    assert len(ids) == len(set(ids)) == 10
    assert set(ids) == queued


async def test_delete_downlink(store: SqlStore) -> None:
    a = await store.downlinks.enqueue_downlink("1A2B", "0000000000000001", source="api")
    b = await store.downlinks.enqueue_downlink("1A2B", "0000000000000002", source="api")
    await store.downlinks.delete_downlink("1A2B", b.id)
    with pytest.raises(NotFound):
        await store.downlinks.delete_downlink("1A2B", b.id)
    with pytest.raises(NotFound):
        await store.downlinks.delete_downlink("FFFF", a.id)  # another device's entry
    await store.downlinks.take_downlink("1A2B", 1, 1)
    with pytest.raises(Conflict):
        await store.downlinks.delete_downlink("1A2B", a.id)


async def test_credentials(store: SqlStore) -> None:
    assert await store.credentials.get_credential("admin") is None
    await store.credentials.put_credential(Credential("admin", "admin", "h1"))
    await store.credentials.put_credential(Credential("admin", "admin", "h2"))
    assert await store.credentials.get_credential("admin") == Credential("admin", "admin", "h2")


async def test_unreachable_database_is_a_store_error() -> None:
    with pytest.raises(StoreError):
        await SqlStore.open("postgresql+asyncpg://nobody@127.0.0.1:1/none")


async def test_bidir_batch_takes_downlinks_in_the_same_transaction(store: SqlStore) -> None:
    queued = await store.downlinks.enqueue_downlink("1A2B", "0000000000000001", source="api")
    results = await store.messages.ingest(
        [
            (uplink(seq=1), True),
            (uplink(seq=1), True),
            (uplink(seq=2), True),
            (uplink(seq=3), False),
        ]
    )
    first, duplicate, second, plain = results
    assert first.stored is not None and first.downlink is not None
    assert first.downlink.id == queued.id and first.downlink.answered_seq == 1
    assert duplicate.stored is None  # the same message again (another base station)
    assert duplicate.downlink is not None and duplicate.downlink.id == queued.id
    assert second.stored is not None and second.downlink is None  # queue empty
    assert plain.downlink is None
