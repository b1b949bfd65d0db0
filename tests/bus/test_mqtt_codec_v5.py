"""Encoding and decoding MQTT 5 packets: properties, reason codes, malformed packets."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lorafox.bus.mqtt_codec import (
    Auth,
    ConnAck,
    Connect,
    Disconnect,
    Packet,
    PacketDecoder,
    Properties,
    ProtocolError,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    ReasonCode,
    SubAck,
    Subscribe,
    UnsubAck,
    Unsubscribe,
    Will,
)

CONNECT5 = Connect(
    "dev-5",
    clean_session=False,
    keep_alive=30,
    will=Will("status/dev-5", b"gone", 1, True, Properties(will_delay_interval=5)),
    username="user",
    password=b"secret",
    protocol_level=5,
    properties=Properties(
        session_expiry_interval=3600,
        receive_maximum=10,
        topic_alias_maximum=4,
        user_properties=(("a", "1"), ("a", "2")),
    ),
)

PACKETS: list[Packet] = [
    ConnAck(False, 0, Properties(topic_alias_maximum=10, server_keep_alive=60)),
    ConnAck(False, ReasonCode.NOT_AUTHORIZED, Properties()),
    Publish(
        "a/b",
        b"{}",
        1,
        packet_id=3,
        properties=Properties(
            payload_format_indicator=1,
            message_expiry_interval=10,
            content_type="application/json",
            response_topic="r/1",
            correlation_data=b"\x00\x01",
            subscription_identifiers=(1, 300),
            topic_alias=2,
        ),
    ),
    Publish("", b"x", properties=Properties(topic_alias=1)),
    PubAck(1),
    PubAck(1, ReasonCode.NOT_AUTHORIZED),
    PubRec(2, ReasonCode.NO_MATCHING_SUBSCRIBERS, Properties(reason_string="nobody")),
    PubRel(3, ReasonCode.PACKET_IDENTIFIER_NOT_FOUND),
    PubComp(4),
    Subscribe(5, (("a/+", 0x2D), ("$share/g/b", 1)), Properties(subscription_identifiers=(7,))),
    SubAck(5, (1, ReasonCode.NOT_AUTHORIZED), Properties()),
    Unsubscribe(6, ("a/+",), Properties()),
    UnsubAck(6, (0, ReasonCode.NO_SUBSCRIPTION_EXISTED), Properties()),
    Disconnect(),
    Disconnect(ReasonCode.SESSION_TAKEN_OVER),
    Disconnect(0, Properties(session_expiry_interval=0)),
    Auth(ReasonCode.CONTINUE_AUTHENTICATION, Properties(authentication_method="X")),
]


@pytest.mark.parametrize("packet", PACKETS, ids=lambda p: type(p).__name__)
def test_round_trip_after_a_v5_connect(packet: Packet) -> None:
    decoder = PacketDecoder()
    assert decoder.feed(CONNECT5.encode() + packet.encode()) == [CONNECT5, packet]
    assert decoder.protocol_level == 5


def test_known_bytes() -> None:
    assert ConnAck(True, 0, Properties()).encode() == b"\x20\x03\x01\x00\x00"
    assert PubAck(7, ReasonCode.NOT_AUTHORIZED).encode() == b"\x40\x03\x00\x07\x87"
    assert Disconnect(ReasonCode.KEEP_ALIVE_TIMEOUT).encode() == b"\xe0\x01\x8d"
    assert SubAck(1, (0x87,), Properties()).encode() == b"\x90\x04\x00\x01\x00\x87"


V5 = b"\x10\x0d\x00\x04MQTT\x05\x02\x00\x00\x00\x00\x00"  # CONNECT level 5, client id ""

MALFORMED = {
    "unknown property": (b"\x30\x06\x00\x01t\x02\x50\x00", ReasonCode.MALFORMED_PACKET),
    "property not allowed in PUBLISH": (
        b"\x30\x09\x00\x01t\x05\x11\x00\x00\x00\x00",
        ReasonCode.MALFORMED_PACKET,
    ),
    "property twice": (
        b"\x30\x08\x00\x01t\x04\x01\x00\x01\x00",
        ReasonCode.PROTOCOL_ERROR,
    ),
    "properties past the end": (b"\x30\x05\x00\x01t\x09\x01", ReasonCode.MALFORMED_PACKET),
    "no topic and no alias": (b"\x30\x03\x00\x00\x00", ReasonCode.PROTOCOL_ERROR),
    "subscription options reserved bits": (
        b"\x82\x07\x00\x01\x00\x00\x01a\xc0",
        ReasonCode.MALFORMED_PACKET,
    ),
    "retain handling 3": (b"\x82\x07\x00\x01\x00\x00\x01a\x30", ReasonCode.MALFORMED_PACKET),
    "second CONNECT": (V5, ReasonCode.PROTOCOL_ERROR),
    # a PUBLISH without properties takes a shorter path: it checks the same
    "topic with U+0000, no properties": (b"\x30\x05\x00\x02a\x00\x00", ReasonCode.MALFORMED_PACKET),
    "topic not UTF-8, no properties": (
        b"\x30\x05\x00\x02\xff\xfe\x00",
        ReasonCode.MALFORMED_PACKET,
    ),
    "wildcard topic, no properties": (b"\x30\x05\x00\x02a+\x00", ReasonCode.TOPIC_NAME_INVALID),
    "packet identifier 0, no properties": (
        b"\x32\x06\x00\x01t\x00\x00\x00",
        ReasonCode.MALFORMED_PACKET,
    ),
    "topic past the end": (b"\x30\x03\x00\x05t", ReasonCode.MALFORMED_PACKET),
    "PUBACK packet identifier 0": (b"\x40\x02\x00\x00", ReasonCode.MALFORMED_PACKET),
    "PUBACK reserved flags": (b"\x41\x02\x00\x01", ReasonCode.MALFORMED_PACKET),
    "subscription identifier 0": (
        b"\x82\x09\x00\x01\x02\x0b\x00\x00\x01a\x00",
        ReasonCode.PROTOCOL_ERROR,
    ),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_after_a_v5_connect(case: str) -> None:
    data, reason = MALFORMED[case]
    decoder = PacketDecoder()
    with pytest.raises(ProtocolError) as caught:
        decoder.feed(V5 + data)
    assert caught.value.reason_code == reason


def test_publish_and_puback_without_properties() -> None:
    decoder = PacketDecoder(protocol_level=5)
    publish = b"\x32\x0a\x00\x03a/b\x00\x05\x00hi"  # QoS 1, packet 5, empty property block
    qos0 = b"\x31\x08\x00\x03a/b\x00hi"  # QoS 0, retained
    assert decoder.feed(publish + qos0 + b"\x40\x02\x00\x05") == [
        Publish("a/b", b"hi", 1, packet_id=5, properties=Properties()),
        Publish("a/b", b"hi", 0, retain=True, properties=Properties()),
        PubAck(5),
    ]
    assert Publish("a/b", b"hi", 1, packet_id=5, properties=Properties()).encode() == publish


def test_too_large_packet_is_reason_0x95() -> None:
    decoder = PacketDecoder(max_packet_size=10)
    with pytest.raises(ProtocolError) as caught:
        decoder.feed(b"\x30\x20" + b"x" * 0x20)
    assert caught.value.reason_code == ReasonCode.PACKET_TOO_LARGE


def test_v311_stream_stays_v311() -> None:
    decoder = PacketDecoder()
    packets = decoder.feed(Connect("c").encode() + b"\x40\x02\x00\x01")
    assert packets == [Connect("c"), PubAck(1)]
    with pytest.raises(ProtocolError):
        decoder.feed(b"\xf0\x00")  # AUTH does not exist before MQTT 5


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_any_bytes_after_a_v5_connect_decode_or_raise_protocol_error(data: bytes) -> None:
    decoder = PacketDecoder()
    decoder.feed(V5)
    with contextlib.suppress(ProtocolError):
        decoder.feed(data)
