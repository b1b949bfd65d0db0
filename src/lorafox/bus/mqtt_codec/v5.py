"""Decoding MQTT 5 packet bodies: each decoder gets (flags, data, start, end) as in ``decoder``.

Every packet may carry properties; the ones a packet type may not carry, a repeated one, a
wrong value or a truncated block make the packet malformed (``ProtocolError`` with reason code
0x81 or 0x82, which the broker sends back in a DISCONNECT).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeVar

from lorafox.bus.mqtt_codec.errors import ProtocolError
from lorafox.bus.mqtt_codec.packets import (
    PROTOCOL_LEVEL_5,
    Auth,
    ConnAck,
    Connect,
    Disconnect,
    Packet,
    PacketType,
    PingReq,
    PingResp,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    SubAck,
    Subscribe,
    UnsubAck,
    Unsubscribe,
    Will,
)
from lorafox.bus.mqtt_codec.properties import NO_PROPERTIES, decode_properties
from lorafox.bus.mqtt_codec.reading import (
    expect_flags,
    read_binary,
    read_packet_id,
    read_string,
    read_u16,
)
from lorafox.bus.mqtt_codec.reason_codes import ReasonCode

__all__ = ["DECODERS_5", "decode_connect_5"]

_Ack = TypeVar("_Ack", PubAck, PubRec, PubRel, PubComp)

_USER: Final = frozenset(("user_properties",))
_REASON: Final = frozenset(("reason_string", "user_properties"))
_CONNECT: Final = frozenset(
    (
        "session_expiry_interval",
        "receive_maximum",
        "maximum_packet_size",
        "topic_alias_maximum",
        "request_response_information",
        "request_problem_information",
        "user_properties",
        "authentication_method",
        "authentication_data",
    )
)
_MESSAGE: Final = frozenset(
    (
        "payload_format_indicator",
        "message_expiry_interval",
        "content_type",
        "response_topic",
        "correlation_data",
        "user_properties",
    )
)
_WILL: Final = _MESSAGE | {"will_delay_interval"}
_PUBLISH: Final = _MESSAGE | {"topic_alias", "subscription_identifiers"}
_CONNACK: Final = frozenset(
    (
        "session_expiry_interval",
        "assigned_client_identifier",
        "server_keep_alive",
        "authentication_method",
        "authentication_data",
        "response_information",
        "server_reference",
        "reason_string",
        "receive_maximum",
        "topic_alias_maximum",
        "maximum_qos",
        "retain_available",
        "user_properties",
        "maximum_packet_size",
        "wildcard_subscription_available",
        "subscription_identifier_available",
        "shared_subscription_available",
    )
)
_SUBSCRIBE: Final = frozenset(("subscription_identifiers", "user_properties"))
_DISCONNECT: Final = frozenset(
    ("session_expiry_interval", "reason_string", "user_properties", "server_reference")
)
_AUTH: Final = frozenset(
    ("authentication_method", "authentication_data", "reason_string", "user_properties")
)


def decode_connect_5(data: bytes, pos: int, end: int) -> Connect:
    """The rest of a level 5 CONNECT, from its connect flags on."""
    if pos >= end:
        raise ProtocolError("CONNECT too short")
    flags = data[pos]
    pos += 1
    if flags & 0x01:
        raise ProtocolError("the reserved CONNECT flag is set")
    clean_start = bool(flags & 0x02)
    has_will = bool(flags & 0x04)
    will_qos = (flags >> 3) & 0x03
    will_retain = bool(flags & 0x20)
    if not has_will and (will_qos or will_retain):
        raise ProtocolError("will QoS or retain set without a will")
    if will_qos == 3:
        raise ProtocolError("will QoS 3")
    keep_alive = read_u16(data, pos, end)
    properties, pos = decode_properties(data, pos + 2, end, _CONNECT)
    if properties.authentication_data is not None and properties.authentication_method is None:
        raise ProtocolError("authentication data without a method", ReasonCode.PROTOCOL_ERROR)
    client_id, pos = read_string(data, pos, end)
    will = None
    if has_will:
        will_properties, pos = decode_properties(data, pos, end, _WILL)
        topic, pos = read_string(data, pos, end)
        if not topic or "+" in topic or "#" in topic:
            raise ProtocolError("the will topic is not a valid topic name")
        payload, pos = read_binary(data, pos, end)
        will = Will(topic, payload, will_qos, will_retain, will_properties)
    username = password = None
    if flags & 0x80:
        username, pos = read_string(data, pos, end)
    if flags & 0x40:
        password, pos = read_binary(data, pos, end)
    if pos != end:
        raise ProtocolError("bytes left over at the end of CONNECT")
    return Connect(
        client_id, clean_start, keep_alive, will, username, password, PROTOCOL_LEVEL_5, properties
    )


def _decode_connack(flags: int, data: bytes, start: int, end: int) -> ConnAck:
    expect_flags(flags, 0, "CONNACK")
    if end - start < 2 or data[start] & 0xFE:
        raise ProtocolError("invalid CONNACK")
    properties, pos = decode_properties(data, start + 2, end, _CONNACK)
    if pos != end:
        raise ProtocolError("bytes left over at the end of CONNACK")
    return ConnAck(bool(data[start] & 1), data[start + 1], properties)


def _decode_publish(flags: int, data: bytes, start: int, end: int) -> Publish:
    # The hot path of every client's message: the readers of ``reading`` inlined, and no call
    # at all for an empty property block.
    qos = (flags >> 1) & 0x03
    if qos == 3:
        raise ProtocolError("PUBLISH with QoS 3")
    if not qos and flags & 8:
        raise ProtocolError("a QoS 0 PUBLISH with the DUP flag")
    if start + 2 > end:
        raise ProtocolError("packet too short")
    pos = start + 2 + ((data[start] << 8) | data[start + 1])
    if pos > end:
        raise ProtocolError("a length prefix runs past the end of the packet")
    try:
        topic = data[start + 2 : pos].decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("a string is not valid UTF-8") from None
    if "\x00" in topic:
        raise ProtocolError("a string contains U+0000")
    if "+" in topic or "#" in topic:
        raise ProtocolError(f"invalid PUBLISH topic name {topic!r}", ReasonCode.TOPIC_NAME_INVALID)
    packet_id = None
    if qos:
        if pos + 2 > end:
            raise ProtocolError("packet too short")
        packet_id = (data[pos] << 8) | data[pos + 1]
        if not packet_id:
            raise ProtocolError("packet identifier 0")
        pos += 2
    if pos < end and not data[pos]:
        properties = NO_PROPERTIES
        pos += 1
    else:
        properties, pos = decode_properties(data, pos, end, _PUBLISH)
    if not topic and properties.topic_alias is None:
        raise ProtocolError("a PUBLISH without topic name or alias", ReasonCode.PROTOCOL_ERROR)
    return Publish(
        topic, data[pos:end], qos, bool(flags & 1), bool(flags & 8), packet_id, properties
    )


def _ack_decoder(kind: type[_Ack], expected: int, name: str) -> Callable[..., _Ack]:
    def decode(flags: int, data: bytes, start: int, end: int) -> _Ack:
        if flags == expected and end - start == 2:  # success, no properties: the common case
            packet_id = (data[start] << 8) | data[start + 1]
            if packet_id:
                return kind(packet_id)
        expect_flags(flags, expected, name)
        packet_id = read_packet_id(data, start, end)
        if end - start == 2:
            return kind(packet_id)
        reason = data[start + 2]
        if end - start == 3:
            return kind(packet_id, reason)
        properties, pos = decode_properties(data, start + 3, end, _REASON)
        if pos != end:
            raise ProtocolError(f"bytes left over at the end of {name}")
        return kind(packet_id, reason, properties)

    return decode


def _decode_subscribe(flags: int, data: bytes, start: int, end: int) -> Subscribe:
    expect_flags(flags, 2, "SUBSCRIBE")
    packet_id = read_packet_id(data, start, end)
    properties, pos = decode_properties(data, start + 2, end, _SUBSCRIBE)
    if len(properties.subscription_identifiers) > 1:
        raise ProtocolError("two subscription identifiers", ReasonCode.PROTOCOL_ERROR)
    topics: list[tuple[str, int]] = []
    while pos < end:
        topic_filter, pos = read_string(data, pos, end)
        if pos >= end:
            raise ProtocolError("SUBSCRIBE without the subscription options")
        options = data[pos]
        pos += 1
        if options & 0xC0 or options & 0x03 == 3 or (options >> 4) & 0x03 == 3:
            raise ProtocolError(f"invalid subscription options {options:#x}")
        topics.append((topic_filter, options))
    if not topics:
        raise ProtocolError("SUBSCRIBE without any topic filter", ReasonCode.PROTOCOL_ERROR)
    return Subscribe(packet_id, tuple(topics), properties)


def _decode_suback(flags: int, data: bytes, start: int, end: int) -> SubAck:
    expect_flags(flags, 0, "SUBACK")
    packet_id = read_u16(data, start, end)
    properties, pos = decode_properties(data, start + 2, end, _REASON)
    return SubAck(packet_id, tuple(data[pos:end]), properties)


def _decode_unsubscribe(flags: int, data: bytes, start: int, end: int) -> Unsubscribe:
    expect_flags(flags, 2, "UNSUBSCRIBE")
    packet_id = read_packet_id(data, start, end)
    properties, pos = decode_properties(data, start + 2, end, _USER)
    filters: list[str] = []
    while pos < end:
        topic_filter, pos = read_string(data, pos, end)
        filters.append(topic_filter)
    if not filters:
        raise ProtocolError("UNSUBSCRIBE without any topic filter", ReasonCode.PROTOCOL_ERROR)
    return Unsubscribe(packet_id, tuple(filters), properties)


def _decode_unsuback(flags: int, data: bytes, start: int, end: int) -> UnsubAck:
    expect_flags(flags, 0, "UNSUBACK")
    packet_id = read_u16(data, start, end)
    properties, pos = decode_properties(data, start + 2, end, _REASON)
    return UnsubAck(packet_id, tuple(data[pos:end]), properties)


def _reason_decoder(
    kind: type[Disconnect] | type[Auth], allowed: frozenset[str], name: str
) -> Callable[..., Packet]:
    def decode(flags: int, data: bytes, start: int, end: int) -> Packet:
        expect_flags(flags, 0, name)
        if end == start:
            return kind()
        reason = data[start]
        if end - start == 1:
            return kind(reason)
        properties, pos = decode_properties(data, start + 1, end, allowed)
        if pos != end:
            raise ProtocolError(f"bytes left over at the end of {name}")
        return kind(reason, properties if properties is not NO_PROPERTIES else None)

    return decode


def _empty(name: str, packet: Packet) -> Callable[..., Packet]:
    def decode(flags: int, data: bytes, start: int, end: int) -> Packet:
        expect_flags(flags, 0, name)
        if end != start:
            raise ProtocolError(f"{name} has a body")
        return packet

    return decode


def _second_connect(flags: int, data: bytes, start: int, end: int) -> Packet:
    raise ProtocolError("a second CONNECT on the same connection", ReasonCode.PROTOCOL_ERROR)


DECODERS_5: Final[dict[int, Callable[[int, bytes, int, int], Packet]]] = {
    PacketType.CONNECT: _second_connect,
    PacketType.CONNACK: _decode_connack,
    PacketType.PUBLISH: _decode_publish,
    PacketType.PUBACK: _ack_decoder(PubAck, 0, "PUBACK"),
    PacketType.PUBREC: _ack_decoder(PubRec, 0, "PUBREC"),
    PacketType.PUBREL: _ack_decoder(PubRel, 2, "PUBREL"),
    PacketType.PUBCOMP: _ack_decoder(PubComp, 0, "PUBCOMP"),
    PacketType.SUBSCRIBE: _decode_subscribe,
    PacketType.SUBACK: _decode_suback,
    PacketType.UNSUBSCRIBE: _decode_unsubscribe,
    PacketType.UNSUBACK: _decode_unsuback,
    PacketType.PINGREQ: _empty("PINGREQ", PingReq()),
    PacketType.PINGRESP: _empty("PINGRESP", PingResp()),
    PacketType.DISCONNECT: _reason_decoder(Disconnect, _DISCONNECT, "DISCONNECT"),
    PacketType.AUTH: _reason_decoder(Auth, _AUTH, "AUTH"),
}
"""The MQTT 5 body decoders, by packet type."""
