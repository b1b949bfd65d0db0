"""Encoding and decoding MQTT 3.1.1 / 3.1 packets."""

from __future__ import annotations

import pytest

from lorafox.bus.mqtt_codec import (
    ConnAck,
    Connect,
    Disconnect,
    Packet,
    PacketDecoder,
    PingReq,
    PingResp,
    ProtocolError,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    SubAck,
    Subscribe,
    UnsubAck,
    Unsubscribe,
    UnsupportedProtocolVersion,
    Will,
    encode_publish,
    encode_remaining_length,
)
from lorafox.errors import InvalidInput

PACKETS: list[Packet] = [
    Connect("dev-1"),
    Connect(
        "dev-2",
        clean_session=False,
        keep_alive=30,
        will=Will("status/dev-2", b"offline", 1, True),
        username="user",
        password=b"secret",
    ),
    Connect("old", protocol_level=3, username="u"),
    ConnAck(False, 0),
    ConnAck(True, 0),
    ConnAck(False, 5),
    Publish("a/b", b"payload"),
    Publish("a/b", b"", 1, retain=True, packet_id=1),
    Publish("é/ü", b"\x00\xff" * 100, 2, dup=True, packet_id=65535),
    Publish("big", b"x" * 200_000, 1, packet_id=7),
    PubAck(1),
    PubRec(2),
    PubRel(3),
    PubComp(4),
    Subscribe(10, (("a/+", 0), ("b/#", 1), ("c", 2))),
    SubAck(10, (0, 1, 2, 0x80)),
    Unsubscribe(11, ("a/+", "b/#")),
    UnsubAck(11),
    PingReq(),
    PingResp(),
    Disconnect(),
]


@pytest.mark.parametrize("packet", PACKETS, ids=lambda p: type(p).__name__)
def test_round_trip(packet: Packet) -> None:
    assert PacketDecoder().feed(packet.encode()) == [packet]


def test_stream_split_anywhere() -> None:
    stream = b"".join(packet.encode() for packet in PACKETS)
    for chunk_size in (1, 2, 3, 7, 100, 4096):
        decoder = PacketDecoder()
        decoded: list[Packet] = []
        for start in range(0, len(stream), chunk_size):
            decoded += decoder.feed(stream[start : start + chunk_size])
        assert decoded == PACKETS
        assert decoder.buffered == 0


def test_known_bytes() -> None:
    assert Connect("c", keep_alive=60).encode() == (
        b"\x10\x0d\x00\x04MQTT\x04\x02\x00\x3c\x00\x01c"
    )
    assert Connect("c", protocol_level=3).encode().startswith(b"\x10\x0f\x00\x06MQIsdp\x03")
    assert Publish("t", b"hi").encode() == b"\x30\x05\x00\x01thi"
    assert Publish("t", b"hi", 1, retain=True, dup=True, packet_id=258).encode() == (
        b"\x3b\x07\x00\x01t\x01\x02hi"
    )
    assert encode_publish(b"t", b"hi", 2, packet_id=1) == b"\x34\x07\x00\x01t\x00\x01hi"
    assert PubRel(1).encode() == b"\x62\x02\x00\x01"
    assert Subscribe(1, (("a", 1),)).encode() == b"\x82\x06\x00\x01\x00\x01a\x01"


@pytest.mark.parametrize(
    ("length", "encoded"),
    [
        (0, b"\x00"),
        (127, b"\x7f"),
        (128, b"\x80\x01"),
        (16383, b"\xff\x7f"),
        (16384, b"\x80\x80\x01"),
        (2097151, b"\xff\xff\x7f"),
        (2097152, b"\x80\x80\x80\x01"),
        (268435455, b"\xff\xff\xff\x7f"),
    ],
)
def test_remaining_length(length: int, encoded: bytes) -> None:
    assert encode_remaining_length(length) == encoded


def test_remaining_length_limit() -> None:
    with pytest.raises(InvalidInput):
        encode_remaining_length(268435456)


def test_password_not_in_repr() -> None:
    connect = Connect("c", username="alice", password=b"hunter2")
    assert "hunter2" not in repr(connect)
    assert "alice" in repr(connect)


def test_mqtt5_connect_is_decoded() -> None:
    # CONNECT, protocol MQTT level 5, clean start, keep-alive 60, no properties, client id "c5"
    mqtt5 = b"\x10\x0f\x00\x04MQTT\x05\x02\x00\x3c\x00\x00\x02c5"
    assert PacketDecoder().feed(mqtt5) == [Connect("c5", True, 60, protocol_level=5)]


def test_other_levels_are_unsupported() -> None:
    mqtt6 = b"\x10\x0f\x00\x04MQTT\x06\x02\x00\x3c\x00\x00\x02c6"
    with pytest.raises(UnsupportedProtocolVersion) as caught:
        PacketDecoder().feed(mqtt6)
    assert caught.value.level == 6


MALFORMED = {
    "reserved type 0": b"\x00\x00",
    "reserved type 15": b"\xf0\x00",
    "remaining length of 5 bytes": b"\x30\xff\xff\xff\xff\x01",
    "SUBSCRIBE with flags 0": b"\x80\x06\x00\x01\x00\x01a\x01",
    "PUBREL with flags 0": b"\x60\x02\x00\x01",
    "PUBACK with flags": b"\x41\x02\x00\x01",
    "PINGREQ with a body": b"\xc0\x01\x00",
    "PUBLISH QoS 3": b"\x36\x05\x00\x01t\x00\x01",
    "PUBLISH wildcard topic": b"\x30\x05\x00\x03a/#",
    "PUBLISH empty topic": b"\x30\x02\x00\x00",
    "PUBLISH topic longer than packet": b"\x30\x03\x00\x09a",
    "PUBLISH invalid UTF-8": b"\x30\x03\x00\x01\xff",
    "PUBLISH NUL in topic": b"\x30\x03\x00\x01\x00",
    "PUBLISH QoS 1 packet id 0": b"\x32\x05\x00\x01t\x00\x00",
    "PUBLISH QoS 1 without packet id": b"\x32\x03\x00\x01t",
    "PUBACK too long": b"\x40\x03\x00\x01\x00",
    "SUBSCRIBE no topics": b"\x82\x02\x00\x01",
    "SUBSCRIBE QoS 3": b"\x82\x06\x00\x01\x00\x01a\x03",
    "SUBSCRIBE missing QoS": b"\x82\x05\x00\x01\x00\x01a",
    "UNSUBSCRIBE no topics": b"\xa2\x02\x00\x01",
    "CONNECT unknown protocol": b"\x10\x0d\x00\x04MQTX\x04\x02\x00\x3c\x00\x01c",
    "CONNECT reserved flag": b"\x10\x0d\x00\x04MQTT\x04\x03\x00\x3c\x00\x01c",
    "CONNECT password without username": b"\x10\x10\x00\x04MQTT\x04\x42\x00\x3c\x00\x01c\x00\x01p",
    "CONNECT will QoS without will": b"\x10\x0d\x00\x04MQTT\x04\x0a\x00\x3c\x00\x01c",
    "CONNECT trailing bytes": b"\x10\x0e\x00\x04MQTT\x04\x02\x00\x3c\x00\x01cX",
    "CONNECT truncated": b"\x10\x08\x00\x04MQTT\x04\x02",
}


@pytest.mark.parametrize("data", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed(data: bytes) -> None:
    with pytest.raises(ProtocolError):
        PacketDecoder().feed(data)


def test_packet_size_limit() -> None:
    decoder = PacketDecoder(max_packet_size=100)
    assert decoder.feed(Publish("t", b"x" * 90).encode())
    with pytest.raises(ProtocolError, match="larger than the limit"):
        decoder.feed(Publish("t", b"x" * 100).encode()[:4])  # refused before it is all read


def test_qos_publish_needs_a_packet_id() -> None:
    with pytest.raises(InvalidInput):
        Publish("t", b"", 1).encode()
    with pytest.raises(InvalidInput):
        encode_publish(b"t", b"", 1, packet_id=70000)
