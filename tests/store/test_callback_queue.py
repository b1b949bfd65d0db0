"""PostgreSQL's queue of stored messages whose callbacks' first attempts are not yet owed: filled
by the trigger while a DATA callback is enabled, claimed by one instance at a time per message,
emptied with the outbox's rows written in the same transaction."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from lorafox.callbacks.directory import CallbackDirectory
from lorafox.callbacks.shared_lanes import SharedLanes
from lorafox.domain import (
    Callback,
    CallbackChannel,
    CallbackSubtype,
    CallbackType,
    DeliveryState,
    DeviceType,
    Uplink,
    new_id,
)
from lorafox.settings import Settings
from lorafox.store.sql.store import SqlStore

pytestmark = pytest.mark.postgres

DEVICE = "1A"


@pytest.fixture
async def pg_store(pg_database: str) -> AsyncIterator[SqlStore]:
    url = Settings.load(None, database_url=pg_database).sqlalchemy_url
    opened = await SqlStore.open(url)
    yield opened
    await opened.close()


async def _device_type(store: SqlStore) -> DeviceType:
    root = await store.identity.root_group()
    device_type = DeviceType.blank(new_id(), "t", root.id, created_at=1)
    await store.devices.create_device_type(device_type)
    await store.devices.create_devices([device_type.device(DEVICE, "d", 1)])
    return device_type


async def _callback(store: SqlStore, device_type: DeviceType, channel: CallbackChannel) -> Callback:
    callback = Callback(
        id=new_id(),
        device_type_id=device_type.id,
        channel=channel,
        callback_type=CallbackType.DATA,
        callback_subtype=CallbackSubtype.UPLINK,
        url="https://example.com/{device}",
        body_template="{time}" if channel is CallbackChannel.URL else "{device}",
        created_at=5,
    )
    await store.callbacks.create_callback(callback)
    return callback


async def _store(store: SqlStore, device: str, *seqs: int) -> list[int]:
    uplinks = [(Uplink(device, seq * 1000, seq, "00"), False) for seq in seqs]
    return [i.stored.id for i in await store.messages.ingest(uplinks) if i.stored]


async def _claimed(store: SqlStore) -> list[int]:
    async with store.callback_queue.claim(100) as owing:
        return [stored.id for stored, _ in owing.messages]


async def test_only_messages_stored_while_a_data_callback_is_enabled_are_queued(
    pg_store: SqlStore,
) -> None:
    device_type = await _device_type(pg_store)
    await _store(pg_store, DEVICE, 1, 2)
    assert await _claimed(pg_store) == []
    await _callback(pg_store, device_type, CallbackChannel.URL)
    three, four = await _store(pg_store, DEVICE, 3, 4)
    async with pg_store.callback_queue.claim(100) as owing:
        assert [(s.id, t) for s, t in owing.messages] == [
            (three, device_type.id),
            (four, device_type.id),
        ]
    assert await _claimed(pg_store) == []  # they left the queue with the claim


async def test_a_claim_holds_its_messages_from_the_others_and_a_failed_one_lets_them_go(
    pg_store: SqlStore,
) -> None:
    device_type = await _device_type(pg_store)
    await _callback(pg_store, device_type, CallbackChannel.URL)
    ids = await _store(pg_store, DEVICE, *range(1, 11))
    held = asyncio.Event()
    release = asyncio.Event()

    async def first() -> list[int]:
        async with pg_store.callback_queue.claim(4) as owing:
            held.set()
            await release.wait()
            return [s.id for s, _ in owing.messages]

    task = asyncio.create_task(first())
    await held.wait()
    seen: list[int] = []

    async def failing() -> None:
        async with pg_store.callback_queue.claim(100) as owing:
            seen.extend(s.id for s, _ in owing.messages)
            raise RuntimeError  # an instance failing mid-claim: rolled back

    with pytest.raises(RuntimeError):
        await failing()
    assert seen == ids[4:]  # not the held ones
    release.set()
    assert await task == ids[:4]
    assert await _claimed(pg_store) == ids[4:]


async def test_shared_lanes_owe_each_queued_message_once_as_rows_due_now(
    pg_store: SqlStore,
) -> None:
    device_type = await _device_type(pg_store)
    url = await _callback(pg_store, device_type, CallbackChannel.URL)
    batch = await _callback(pg_store, device_type, CallbackChannel.BATCH_URL)
    directory = CallbackDirectory(pg_store.callbacks)
    await directory.load()
    woken: list[bool] = []
    lanes = SharedLanes(
        pg_store.callback_queue,
        pg_store.callbacks,
        directory,
        lambda: 10_000,
        lambda: woken.append(True),
    )
    await lanes.start()
    one, two = await _store(pg_store, DEVICE, 1, 2)
    [stranger] = await _store(pg_store, "2B", 1)  # not registered: no callback owes it
    assert await lanes.owe_some() == 3
    assert woken
    assert await lanes.owe_some() == 0  # each message once
    due = [d for d, _ in await pg_store.callbacks.due(10_000, 10)]
    assert sorted((d.callback_id, d.message_id) for d in due) == sorted(
        [(url.id, one), (url.id, two)]
    )
    assert {d.state for d in due} == {DeliveryState.PENDING}
    later = [d for d, _ in await pg_store.callbacks.due(11_000, 10)]
    assert {(d.callback_id, d.message_id) for d in later} >= {(batch.id, one), (batch.id, two)}
    assert stranger not in {d.message_id for d in later}
