"""PostgreSQL's queue of stored messages whose callbacks' first attempts are not yet owed: filled
by the trigger while a DATA callback is enabled, claimed by one instance at a time per message,
emptied with the outbox's rows written in the same transaction, for the callbacks
``lanes.fires`` names."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator

import asyncpg
import pytest

from lorafox.callbacks.lanes import BATCH_EVERY_MS, fires
from lorafox.callbacks.shared_lanes import SharedLanes
from lorafox.domain import (
    Callback,
    CallbackChannel,
    CallbackSubtype,
    CallbackType,
    DeliveryState,
    DeviceType,
    StoredUplink,
    Uplink,
    new_id,
)
from lorafox.ports.cluster import Owed
from lorafox.settings import Settings
from lorafox.store.sql.store import SqlStore

pytestmark = pytest.mark.postgres

DEVICE = "1A"
NOW = 10_000


@pytest.fixture
async def pg_store(pg_database: str) -> AsyncIterator[SqlStore]:
    url = Settings.load(None, database_url=pg_database).sqlalchemy_url
    opened = await SqlStore.open(url)
    yield opened
    await opened.close()


async def _device_type(store: SqlStore, device: str = DEVICE) -> DeviceType:
    root = await store.identity.root_group()
    device_type = DeviceType.blank(new_id(), "t", root.id, created_at=1)
    await store.devices.create_device_type(device_type)
    await store.devices.create_devices([device_type.device(device, "d", 1)])
    return device_type


async def _callback(
    store: SqlStore,
    device_type: DeviceType,
    channel: CallbackChannel = CallbackChannel.URL,
    **fields: object,
) -> Callback:
    callback = Callback(
        id=new_id(),
        device_type_id=device_type.id,
        channel=channel,
        callback_type=CallbackType.DATA,
        callback_subtype=CallbackSubtype.UPLINK,
        url="https://example.com/{device}",
        body_template="{time}",
        created_at=5,
    )
    callback = dataclasses.replace(callback, **fields)  # type: ignore[arg-type]
    await store.callbacks.create_callback(callback)
    return callback


async def _store(store: SqlStore, device: str, *seqs: int, ack: bool = False) -> list[int]:
    uplinks = [(Uplink(device, seq * 1000, seq, "00", ack=ack), False) for seq in seqs]
    return [i.stored.id for i in await store.messages.ingest(uplinks) if i.stored]


async def _owed(store: SqlStore, now: int = NOW) -> set[tuple[str, int | None]]:
    return {(d.callback_id, d.message_id) for d, _ in await store.callbacks.due(now, 100)}


async def test_only_messages_stored_while_a_data_callback_is_enabled_are_queued(
    pg_store: SqlStore,
) -> None:
    device_type = await _device_type(pg_store)
    await _store(pg_store, DEVICE, 1, 2)
    assert await pg_store.callback_queue.owe(100, NOW, 0) == Owed(0, 0)
    callback = await _callback(pg_store, device_type)
    three, four = await _store(pg_store, DEVICE, 3, 4)
    assert await pg_store.callback_queue.owe(100, NOW, 0) == Owed(2, 2)
    assert await _owed(pg_store) == {(callback.id, three), (callback.id, four)}
    assert await pg_store.callback_queue.owe(100, NOW, 0) == Owed(0, 0)  # each once


async def test_the_callbacks_owing_a_message_are_those_lanes_fire(pg_store: SqlStore) -> None:
    device_type = await _device_type(pg_store)
    other_type = await _device_type(pg_store, "2B")
    uplink = await _callback(pg_store, device_type)
    bidir = await _callback(pg_store, device_type, callback_subtype=CallbackSubtype.BIDIR)
    batch = await _callback(pg_store, device_type, CallbackChannel.BATCH_URL)
    candidates = [
        uplink,
        bidir,
        batch,
        await _callback(pg_store, device_type, enabled=False),
        await _callback(
            pg_store, device_type, callback_subtype=CallbackSubtype.BIDIR, downlink_hook=True
        ),
        await _callback(pg_store, device_type, callback_type=CallbackType.SERVICE),
    ]
    await _callback(pg_store, other_type)
    [plain] = await _store(pg_store, DEVICE, 1)
    [asked] = await _store(pg_store, DEVICE, 2, ack=True)
    [stranger] = await _store(pg_store, "3C", 1)  # not registered: no type, no callback
    assert await pg_store.callback_queue.owe(100, NOW, BATCH_EVERY_MS) == Owed(3, 5)

    expected = set()
    for message_id, ack in ((plain, False), (asked, True)):
        stored = StoredUplink(message_id, 0, Uplink(DEVICE, 0, 0, "00", ack=ack))
        expected |= {(c.id, message_id) for c in candidates if fires(c, stored)}
    assert expected == {(uplink.id, plain), (uplink.id, asked), (bidir.id, asked)} | {
        (batch.id, plain),
        (batch.id, asked),
    }
    now_owed = await _owed(pg_store)
    assert now_owed == expected - {(batch.id, plain), (batch.id, asked)}
    assert await _owed(pg_store, NOW + BATCH_EVERY_MS) == expected  # the batch's a second later
    assert stranger not in {m for _, m in now_owed}


async def test_a_callback_owes_nothing_up_to_its_cursor(pg_store: SqlStore) -> None:
    device_type = await _device_type(pg_store)
    callback = await _callback(pg_store, device_type)
    one, two = await _store(pg_store, DEVICE, 1, 2)
    await pg_store.callbacks.record_attempts([], [], {callback.id: one})  # its lane came to one
    assert await pg_store.callback_queue.owe(100, NOW, 0) == Owed(2, 1)
    assert await _owed(pg_store) == {(callback.id, two)}


async def test_a_message_held_by_one_instance_is_skipped_by_the_others(
    pg_store: SqlStore, pg_database: str
) -> None:
    device_type = await _device_type(pg_store)
    callback = await _callback(pg_store, device_type)
    ids = await _store(pg_store, DEVICE, *range(1, 11))
    other = await asyncpg.connect(pg_database)
    try:
        held = other.transaction()
        await held.start()
        await other.execute(
            "SELECT message_id FROM callback_queue WHERE message_id = ANY($1) FOR UPDATE",
            ids[:4],
        )
        assert await pg_store.callback_queue.owe(100, NOW, 0) == Owed(6, 6)
        await held.rollback()  # that instance failed: its messages are claimed again
    finally:
        await other.close()
    assert await pg_store.callback_queue.owe(100, NOW, 0) == Owed(4, 4)
    assert await _owed(pg_store) == {(callback.id, i) for i in ids}


async def test_shared_lanes_owe_and_wake_the_sender(pg_store: SqlStore) -> None:
    device_type = await _device_type(pg_store)
    callback = await _callback(pg_store, device_type)
    woken: list[bool] = []
    lanes = SharedLanes(pg_store.callback_queue, lambda: NOW, lambda: woken.append(True), batch=2)
    ids = await _store(pg_store, DEVICE, 1, 2, 3)
    assert await lanes.owe_some() == 2  # a batch at a time
    assert woken == [True]
    assert await lanes.owe_some() == 1
    assert await lanes.owe_some() == 0
    assert woken == [True, True]
    due = [d for d, _ in await pg_store.callbacks.due(NOW, 10)]
    assert sorted((d.callback_id, d.message_id or 0) for d in due) == [
        (callback.id, i) for i in ids
    ]
    assert {(d.state, d.attempts, d.next_attempt_at) for d in due} == {
        (DeliveryState.PENDING, 0, NOW)
    }
