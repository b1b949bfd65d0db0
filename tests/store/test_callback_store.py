"""The callback store: callbacks of device types, their cursors, and the outbox of deliveries,
on every spelling of the store; the lanes starting from them."""

from __future__ import annotations

import dataclasses

from lorafox.callbacks.directory import CallbackDirectory
from lorafox.callbacks.lanes import Lanes
from lorafox.domain import (
    Callback,
    CallbackChannel,
    CallbackSubtype,
    CallbackType,
    Delivery,
    DeliveryState,
    DeviceType,
    Uplink,
    new_id,
)
from lorafox.ports.callbacks import AttemptOutcome, DeliveryQuery
from lorafox.store.sql.store import SqlStore


async def _callback(store: SqlStore) -> Callback:
    root = await store.identity.root_group()
    device_type = DeviceType.blank(new_id(), "t", root.id, created_at=1)
    await store.devices.create_device_type(device_type)
    callback = Callback(
        id=new_id(),
        device_type_id=device_type.id,
        channel=CallbackChannel.URL,
        callback_type=CallbackType.DATA,
        callback_subtype=CallbackSubtype.UPLINK,
        url="https://example.com/{device}",
        headers={"X-A": "{data}"},
        body_template="{time}",
        created_at=5,
    )
    await store.callbacks.create_callback(callback)
    return callback


def _delivery(callback: Callback, message_id: int, device: str = "1A") -> Delivery:
    return Delivery(
        id=0,
        callback_id=callback.id,
        device_type_id=callback.device_type_id,
        device=device,
        message_id=message_id,
        message_time=message_id * 1000,
        state=DeliveryState.PENDING,
        attempts=0,
        next_attempt_at=100,
        created_at=100,
    )


async def _messages(store: SqlStore, count: int) -> list[int]:
    uplinks = [(Uplink("1A", seq * 1000, seq, "00"), False) for seq in range(1, count + 1)]
    return [i.stored.id for i in await store.messages.ingest(uplinks) if i.stored]


async def _due(store: SqlStore, now: int, skip: list[int] | None = None) -> list[Delivery]:
    return [d for d, _ in await store.callbacks.due(now, 10, skip=skip or [])]


async def _not_delivered(store: SqlStore, query: DeliveryQuery) -> list[Delivery]:
    return [d for d, _ in await store.callbacks.not_delivered(query)]


async def test_callbacks_are_stored_changed_and_deleted(store: SqlStore) -> None:
    callback = await _callback(store)
    assert await store.callbacks.get_callback(callback.id) == callback
    assert await store.callbacks.list_callbacks(callback.device_type_id) == [callback]
    changed = dataclasses.replace(callback, enabled=False, headers={}, url="https://x.org/")
    await store.callbacks.update_callback(changed)
    assert await store.callbacks.all_callbacks() == [changed]
    await store.callbacks.set_dead(callback.id, True)
    assert (await store.callbacks.get_callback(callback.id)).dead is True  # type: ignore[union-attr]
    await store.callbacks.delete_callback(callback.id)
    assert await store.callbacks.get_callback(callback.id) is None


async def test_deliveries_move_with_the_cursor_and_through_their_states(store: SqlStore) -> None:
    callback = await _callback(store)
    one, two = await _messages(store, 2)
    assert await store.callbacks.get_cursor() is None
    await store.callbacks.enqueue([_delivery(callback, one), _delivery(callback, two)], two)
    await store.callbacks.enqueue([_delivery(callback, one)], two)  # once per message
    assert await store.callbacks.get_cursor() == two
    await store.callbacks.enqueue([], cursor=9)
    assert await store.callbacks.get_cursor() == 9

    assert await _due(store, now=99) == []
    [(first, message), (second, _)] = await store.callbacks.due(now=100, limit=10)
    assert (first.message_id, second.message_id) == (one, two)
    assert message is not None and message.id == one and message.uplink.seq_number == 1
    assert first.state is DeliveryState.PENDING
    assert [d.id for d in await _due(store, 100, skip=[first.id])] == [second.id]

    retry = AttemptOutcome(DeliveryState.PENDING, 1, 500, 503, "HTTP 503", None)
    await store.callbacks.record_attempts([(first.id, retry)])
    given_up = AttemptOutcome(DeliveryState.FAILED, 3, 200, None, "refused", 200)
    await store.callbacks.record_attempts([(second.id, given_up)])
    assert await _due(store, now=499) == []
    listed = await _not_delivered(store, DeliveryQuery(device="1A"))
    assert [(d.id, d.state, d.last_status) for d in listed] == [
        (second.id, DeliveryState.FAILED, None),
        (first.id, DeliveryState.PENDING, 503),
    ]
    by_type = DeliveryQuery(device_type_ids=[callback.device_type_id], since=2000)
    assert [d.id for d in await _not_delivered(store, by_type)] == [second.id]
    assert await _not_delivered(store, DeliveryQuery(device="FF")) == []

    assert await store.callbacks.retry(DeliveryQuery(device_type_ids=["other"]), now=600) == 0
    assert (
        await store.callbacks.retry(
            DeliveryQuery(device_type_ids=[callback.device_type_id]), now=600
        )
        == 1
    )
    [again] = [d for d in await _due(store, now=600) if d.id == second.id]
    assert again.state is DeliveryState.PENDING and again.ended_at is None

    done = AttemptOutcome(DeliveryState.DELIVERED, 2, 700, 204, None, 700)
    await store.callbacks.record_attempts([(first.id, done)])
    assert first.id not in [d.id for d in await _not_delivered(store, DeliveryQuery())]


async def test_deliveries_forgotten_are_deleted_with_the_other_outcomes(store: SqlStore) -> None:
    callback = await _callback(store)
    one, two = await _messages(store, 2)
    await store.callbacks.enqueue([_delivery(callback, one), _delivery(callback, two)], None)
    first, second = await _due(store, now=100)
    retry = AttemptOutcome(DeliveryState.PENDING, 1, 500, 503, "HTTP 503", None)
    await store.callbacks.record_attempts([(second.id, retry)], forget=[first.id])
    assert [(d.id, d.attempts) for d in await _due(store, now=600)] == [(second.id, 1)]
    # the delivery of message one may be owed again (no row holds its place)
    await store.callbacks.enqueue([_delivery(callback, one)], None)
    assert sorted(d.message_id or 0 for d in await _due(store, now=600)) == [one, two]


async def test_one_delivery_is_retried_now_given_up_or_pending(store: SqlStore) -> None:
    callback = await _callback(store)
    one, two, three = await _messages(store, 3)
    await store.callbacks.enqueue([_delivery(callback, m) for m in (one, two, three)], three)
    first, second, third = await _due(store, now=100)
    waiting = AttemptOutcome(DeliveryState.PENDING, 1, 5000, 500, "HTTP 500", None)
    given_up = AttemptOutcome(DeliveryState.FAILED, 3, 200, 500, "HTTP 500", 200)
    await store.callbacks.record_attempts(
        [(first.id, waiting), (second.id, given_up), (third.id, given_up)]
    )
    only = DeliveryQuery(device_type_ids=[callback.device_type_id], delivery_ids=[first.id])
    assert [d.id for d in await _not_delivered(store, only)] == [first.id]
    assert await store.callbacks.retry(only, now=600) == 0  # pending: not given up
    assert await store.callbacks.retry(only, now=600, pending=True) == 1
    assert [d.id for d in await _due(store, now=600)] == [first.id]

    just_second = DeliveryQuery(delivery_ids=[second.id])
    assert await store.callbacks.retry(just_second, now=700, pending=True) == 1
    states = {d.id: d.state for d in await _not_delivered(store, DeliveryQuery())}
    assert states == {
        first.id: DeliveryState.PENDING,
        second.id: DeliveryState.PENDING,
        third.id: DeliveryState.FAILED,
    }


async def test_deleting_a_device_type_deletes_its_callbacks_and_deliveries(
    store: SqlStore,
) -> None:
    callback = await _callback(store)
    [one] = await _messages(store, 1)
    await store.callbacks.enqueue([_delivery(callback, one)], cursor=one)
    await store.devices.delete_device_type(callback.device_type_id)
    assert await store.callbacks.all_callbacks() == []
    assert await _due(store, now=10**12) == []


async def test_each_callback_keeps_a_cursor_stored_with_the_rows_it_owes(store: SqlStore) -> None:
    callback, other = await _callback(store), await _callback(store)
    one, two, three = await _messages(store, 3)
    assert await store.callbacks.lane_cursors() == {}
    failed = dataclasses.replace(
        _delivery(callback, two), attempts=1, last_status=503, last_error="HTTP 503"
    )
    delivered = dataclasses.replace(
        _delivery(callback, three), state=DeliveryState.DELIVERED, attempts=1, ended_at=100
    )
    retry = AttemptOutcome(DeliveryState.PENDING, 1, 100, 503, "HTTP 503", None)
    await store.callbacks.record_attempts(
        [], [failed, delivered], {callback.id: one, other.id: three}
    )
    await store.callbacks.record_attempts([], [failed], {callback.id: two})  # a row once
    assert await store.callbacks.lane_cursors() == {callback.id: two, other.id: three}
    assert await store.callbacks.owed_after(callback.id, one) == {two, three}
    assert await store.callbacks.owed_after(callback.id, two) == {three}
    assert await store.callbacks.owed_after(other.id, 0) == set()
    [(row, message)] = await store.callbacks.due(now=100, limit=10)  # the failed one is retried
    assert (row.message_id, row.attempts, row.last_status) == (two, 1, 503)
    assert message is not None and message.id == two
    [listed] = await _not_delivered(store, DeliveryQuery(device="1A"))
    assert listed.id == row.id  # the delivered row is not listed
    await store.callbacks.record_attempts([(row.id, retry)], [], {callback.id: three})
    assert (await store.callbacks.lane_cursors())[callback.id] == three
    await store.callbacks.delete_callback(callback.id)
    assert await store.callbacks.lane_cursors() == {other.id: three}


async def test_lanes_start_where_their_cursor_or_the_outbox_of_rows_had_come_to(
    store: SqlStore,
) -> None:
    callback = await _callback(store)
    one, two, three = await _messages(store, 3)
    await store.callbacks.enqueue([_delivery(callback, one)], two)  # rows up to message two
    directory = CallbackDirectory(store.callbacks)
    await directory.load()
    lanes = Lanes(store.callbacks, directory, store.messages, lambda _: callback.device_type_id)
    await lanes.start()
    assert await store.callbacks.lane_cursors() == {callback.id: two}
    lane = lanes.lanes[callback.id]
    await lanes.fill(lane, callback)
    assert [s.id for s in lane.buffer] == [three]  # read from the store: it is behind
    [four] = await _messages_from(store, 4)
    lanes.add(await store.messages.messages_after(three, limit=5))
    [stored] = lane.hand_out(1)
    assert stored.id == three
    await lanes.fill(lane, callback)
    assert [s.id for s in lane.buffer] == [four]

    other = await _callback(store)
    await directory.refresh(other.device_type_id)
    await lanes.changed()  # a new callback starts after the newest message
    assert (await store.callbacks.lane_cursors())[other.id] == four


async def _messages_from(store: SqlStore, seq: int) -> list[int]:
    stored = await store.messages.ingest([(Uplink("1A", seq * 1000, seq, "00"), False)])
    return [i.stored.id for i in stored if i.stored]
