"""The broker's state machines without sockets: a session's queue and acknowledgements, the
retained store's bounds, audiences, the limits' validation."""

from __future__ import annotations

import pytest

from lorafox.bus.broker import BrokerLimits, Identity
from lorafox.bus.broker.access import may_receive
from lorafox.bus.broker.message import Message
from lorafox.bus.broker.retained import RetainedStore
from lorafox.bus.broker.session import Session
from lorafox.bus.mqtt_codec import PacketDecoder, Publish
from lorafox.errors import ConfigError


def _message(payload: bytes = b"x", topic: bytes = b"t") -> Message:
    return Message(topic, payload)


def test_queue_drops_the_oldest_beyond_its_count_and_bytes() -> None:
    session = Session("c", False, Identity("u"))
    for i in range(5):
        assert session.enqueue((_message(bytes([i]) * 10), 1, False), 3, 10_000) == (i >= 3)
    assert [m.payload[0] for m, _, _ in session.pending] == [2, 3, 4]
    assert session.pending_bytes == 3 * 11
    dropped = session.enqueue((_message(b"y" * 19), 1, False), 10, 40)
    assert dropped == 2  # 33 + 20 > 40: the two oldest make room
    assert session.pending_bytes == 11 + 20
    assert session.enqueue((_message(b"z" * 100), 1, False), 10, 40) == 1  # alone too big
    assert len(session.pending) == 2
    assert session.next_pending()[0].payload[0] == 4
    assert session.pending_bytes == 20


def test_acknowledgements_must_match_the_qos_and_step() -> None:
    session = Session("c", True, Identity("u"))
    one, two = session.allocate_packet_id(), session.allocate_packet_id()
    session.inflight[one] = (_message(), 1, False)
    session.inflight[two] = (_message(), 2, False)
    assert session.ack(two, 1) is False  # PUBACK for QoS 2
    assert session.received(one) is False  # PUBREC for QoS 1
    assert session.ack(two, 2) is False  # PUBCOMP before PUBREC
    assert session.received(two) is True
    assert session.received(two) is True  # a repeated PUBREC
    assert session.ack(two, 2) is True
    assert session.ack(one, 1) is True
    assert session.ack(one, 1) is None  # late repeat: ignored
    assert session.inflight == {}


def test_packet_ids_skip_those_in_flight_and_wrap() -> None:
    session = Session("c", True, Identity("u"))
    session.next_packet_id = 0xFFFE
    session.inflight[1] = None
    assert [session.allocate_packet_id() for _ in range(3)] == [0xFFFF, 2, 3]


def test_retained_store_bounds() -> None:
    store = RetainedStore(max_count=2, max_bytes=25)
    assert store.put("a", _message(b"1" * 9, b"a"), 0)  # 10 bytes
    assert store.put("b", _message(b"2" * 9, b"b"), 0)
    assert not store.put("c", _message(b"3", b"c"), 0)  # a third topic
    assert not store.put("a", _message(b"4" * 20, b"a"), 0)  # 10 + 21 > 25
    kept = store.get("a")
    assert kept is not None and kept[0].payload == b"1" * 9
    assert store.put("a", _message(b"", b"a"), 0)  # cleared
    assert len(store) == 1 and store.bytes == 10
    assert [m.payload for m, _ in store.matching("#")] == [b"2" * 9]


def test_audiences() -> None:
    everything = Identity("root")
    group_a = Identity("a", ("/r/a/",))
    assert may_receive(everything, None)
    assert not may_receive(group_a, None)  # lorafox's own unscoped messages: root readers only
    assert may_receive(group_a, ("/r/a/x/",))
    assert not may_receive(group_a, ("/r/b/",))
    assert may_receive(group_a, ("/r/b/", "/r/a/"))


@pytest.mark.parametrize(
    "limits",
    [{"max_connections": -1}, {"max_packet_size": 1}, {"max_inflight": 0}],
)
def test_limits_are_validated(limits: dict[str, int]) -> None:
    with pytest.raises(ConfigError):
        BrokerLimits(**limits)


@pytest.mark.parametrize("now", [0.001, 1000.042, 1000.056, 1000.091, 12_345.678])
def test_a_message_sent_at_once_keeps_its_whole_expiry_interval(now: float) -> None:
    # The loop clock counts milliseconds: `now + 3600 - now` is not always 3600.0 in floats,
    # and a subscriber must never be told more time than the publisher gave.
    message = Message(b"a/b", b"{}", expires_at=now + 3600)
    for sent_at, packet_id in ((now, 7), (now + 0.4, 8)):
        [packet] = PacketDecoder(protocol_level=5).feed(
            message.encode5(1, packet_id, False, False, sent_at)
        )
        assert isinstance(packet, Publish)
        assert packet.properties is not None
        assert packet.properties.message_expiry_interval == 3600
