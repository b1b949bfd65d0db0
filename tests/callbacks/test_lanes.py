"""A callback's lane: its cursor moves over what was delivered, stops before what is in flight
or unread, and passes a failure or an out-of-order delivery only with the row that records it."""

from __future__ import annotations

from lorafox.callbacks.lanes import Lane
from lorafox.callbacks.sender import first_delivery
from lorafox.domain import (
    Callback,
    CallbackChannel,
    CallbackSubtype,
    CallbackType,
    DeliveryState,
    StoredUplink,
    Uplink,
)
from lorafox.ports.callbacks import AttemptOutcome

CALLBACK = Callback(
    id="c1",
    device_type_id="t1",
    channel=CallbackChannel.URL,
    callback_type=CallbackType.DATA,
    callback_subtype=CallbackSubtype.UPLINK,
    url="https://example.com/{device}",
    created_at=0,
)
DONE = AttemptOutcome(DeliveryState.DELIVERED, 1, 10, 204, None, 10)
RETRY = AttemptOutcome(DeliveryState.PENDING, 1, 1010, 503, "HTTP 503", None)


def _stored(message_id: int) -> StoredUplink:
    return StoredUplink(message_id, 0, Uplink("1A", message_id * 1000, message_id, "00"))


def _finish(lane: Lane, stored: StoredUplink, outcome: AttemptOutcome) -> None:
    lane.finished(first_delivery(CALLBACK, stored, 5), outcome)


def test_the_cursor_passes_what_was_delivered_in_order_without_a_row() -> None:
    lane = Lane("c1", 10, set(), 10)
    for message_id in (12, 13, 15):
        lane.accept(_stored(message_id))
    lane.read_to = 16  # 14 and 16 are another device type's
    taken = lane.hand_out(2)
    assert [s.id for s in taken] == [12, 13]
    assert lane.advance() == [] and lane.cursor == 11  # 12 in flight
    for stored in taken:
        _finish(lane, stored, DONE)
    assert lane.advance() == [] and lane.cursor == 14  # 15 not handed out yet
    [last] = lane.hand_out(5)
    _finish(lane, last, DONE)
    assert lane.advance() == [] and lane.cursor == 16 and not lane.open


def test_a_failure_and_a_delivery_beyond_the_cursor_become_rows() -> None:
    lane = Lane("c1", 0, set(), 0)
    for message_id in (1, 2, 3):
        lane.accept(_stored(message_id))
    lane.read_to = 3
    one, two, three = lane.hand_out(3)
    _finish(lane, two, RETRY)
    _finish(lane, three, DONE)
    rows = lane.advance()
    assert lane.cursor == 0  # 1 is still in flight
    assert sorted((r.message_id, r.state, r.attempts) for r in rows) == [
        (2, DeliveryState.PENDING, 1),
        (3, DeliveryState.DELIVERED, 1),
    ]
    assert lane.advance() == []  # each row once
    _finish(lane, one, DONE)
    assert lane.advance() == [] and lane.cursor == 3


def test_messages_put_back_or_already_owed_are_not_lost_nor_repeated() -> None:
    lane = Lane("c1", 0, {2}, 0)  # a row for 2 was stored before a restart
    for message_id in (1, 2, 3):
        lane.accept(_stored(message_id))
    lane.read_to = 3
    taken = lane.hand_out(1)
    lane.put_back(taken)  # its destination was full
    assert [s.id for s in lane.buffer] == [1, 3]
    assert lane.advance() == [] and lane.cursor == 0
    for stored in lane.hand_out(2):
        _finish(lane, stored, DONE)
    assert lane.advance() == [] and lane.cursor == 3
