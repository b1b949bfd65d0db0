"""MQTT 5, 3.1.1 and 3.1 control packets as values, their constants, and encoding.

A packet is encoded the MQTT 5 way when it carries properties (``properties`` not None; a
CONNECT when its level is 5), else the 3.1.1 way. An MQTT 5 acknowledgement with reason code 0
and no properties is the same bytes as its 3.1.1 form."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Final

from lorafox.bus.mqtt_codec.properties import NO_PROPERTIES, Properties, encode_properties
from lorafox.errors import InvalidInput

__all__ = [
    "MAX_REMAINING_LENGTH",
    "PROTOCOL_LEVEL_5",
    "PROTOCOL_LEVEL_31",
    "PROTOCOL_LEVEL_311",
    "PROTOCOL_NAMES",
    "SUBACK_FAILURE",
    "Auth",
    "ConnAck",
    "Connect",
    "ConnectReturnCode",
    "Disconnect",
    "Packet",
    "PacketType",
    "PingReq",
    "PingResp",
    "PubAck",
    "PubComp",
    "PubRec",
    "PubRel",
    "Publish",
    "SubAck",
    "Subscribe",
    "UnsubAck",
    "Unsubscribe",
    "Will",
    "encode_publish",
    "encode_remaining_length",
]


PROTOCOL_LEVEL_31: Final = 3
PROTOCOL_LEVEL_311: Final = 4
PROTOCOL_LEVEL_5: Final = 5
MAX_REMAINING_LENGTH: Final = 268_435_455
"""The largest remaining length four bytes can encode."""

PROTOCOL_NAMES: Final = {
    PROTOCOL_LEVEL_31: "MQIsdp",
    PROTOCOL_LEVEL_311: "MQTT",
    PROTOCOL_LEVEL_5: "MQTT",
}
SUBACK_FAILURE: Final = 0x80


class PacketType(IntEnum):
    """The control packet types (the high nibble of the first byte)."""

    CONNECT = 1
    CONNACK = 2
    PUBLISH = 3
    PUBACK = 4
    PUBREC = 5
    PUBREL = 6
    PUBCOMP = 7
    SUBSCRIBE = 8
    SUBACK = 9
    UNSUBSCRIBE = 10
    UNSUBACK = 11
    PINGREQ = 12
    PINGRESP = 13
    DISCONNECT = 14
    AUTH = 15


class ConnectReturnCode(IntEnum):
    """CONNACK return codes (MQTT 3.1 and 3.1.1)."""

    ACCEPTED = 0
    UNACCEPTABLE_PROTOCOL_VERSION = 1
    IDENTIFIER_REJECTED = 2
    SERVER_UNAVAILABLE = 3
    BAD_USERNAME_OR_PASSWORD = 4
    NOT_AUTHORIZED = 5


# --------------------------------------------------------------------------------------------
# Encoding helpers


def encode_remaining_length(length: int) -> bytes:
    """The variable-length encoding of a remaining length (1 to 4 bytes)."""
    if length < 128:
        return _SMALL_LENGTHS[length]
    if length < 16384:  # two bytes: most messages
        return bytes(((length & 0x7F) | 0x80, length >> 7))
    if length > MAX_REMAINING_LENGTH:
        raise InvalidInput(f"a packet cannot be longer than {MAX_REMAINING_LENGTH} bytes")
    out = bytearray()
    while True:
        digit = length & 0x7F
        length >>= 7
        if length:
            out.append(digit | 0x80)
        else:
            out.append(digit)
            return bytes(out)


_SMALL_LENGTHS: Final = tuple(bytes((n,)) for n in range(128))


def _string(text: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) > 0xFFFF:
        raise InvalidInput("an MQTT string is at most 65535 bytes")
    return len(raw).to_bytes(2, "big") + raw


def _binary(data: bytes) -> bytes:
    if len(data) > 0xFFFF:
        raise InvalidInput("MQTT binary data is at most 65535 bytes")
    return len(data).to_bytes(2, "big") + data


def _packet(first_byte: int, body: bytes) -> bytes:
    return bytes((first_byte,)) + encode_remaining_length(len(body)) + body


def _check_packet_id(packet_id: int) -> None:
    if not 0 < packet_id <= 0xFFFF:
        raise InvalidInput("a packet identifier is between 1 and 65535", field="packet_id")


def encode_publish(
    topic: bytes,
    payload: bytes,
    qos: int = 0,
    *,
    retain: bool = False,
    dup: bool = False,
    packet_id: int | None = None,
    properties: bytes | None = None,
) -> bytes:
    """A PUBLISH packet from an already encoded (and validated) UTF-8 topic name; with
    ``properties`` (an encoded property block) an MQTT 5 one."""
    first = 0x30 | (qos << 1) | (0x08 if dup else 0) | (0x01 if retain else 0)
    if properties is not None:
        head = len(topic).to_bytes(2, "big") + topic
        if qos:
            if packet_id is None:
                raise InvalidInput("a QoS 1 or 2 PUBLISH needs a packet identifier")
            _check_packet_id(packet_id)
            head += packet_id.to_bytes(2, "big")
        return _packet(first, head + properties + payload)
    if qos:
        if packet_id is None:
            raise InvalidInput("a QoS 1 or 2 PUBLISH needs a packet identifier")
        _check_packet_id(packet_id)
        length = len(topic) + 4 + len(payload)
        return b"".join(
            (
                bytes((first,)),
                encode_remaining_length(length),
                len(topic).to_bytes(2, "big"),
                topic,
                packet_id.to_bytes(2, "big"),
                payload,
            )
        )
    length = len(topic) + 2 + len(payload)
    return b"".join(
        (
            bytes((first,)),
            encode_remaining_length(length),
            len(topic).to_bytes(2, "big"),
            topic,
            payload,
        )
    )


# --------------------------------------------------------------------------------------------
# Packets


@dataclass(slots=True, frozen=True)
class Will:
    """The message a client asks the broker to publish if it goes away without DISCONNECT."""

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    properties: Properties = NO_PROPERTIES


@dataclass(slots=True, frozen=True)
class Connect:
    """CONNECT: the first packet of every connection. The password never appears in ``repr``."""

    client_id: str
    clean_session: bool = True
    keep_alive: int = 0
    will: Will | None = None
    username: str | None = None
    password: bytes | None = field(default=None, repr=False)
    protocol_level: int = PROTOCOL_LEVEL_311
    properties: Properties = NO_PROPERTIES

    def encode(self) -> bytes:
        """The packet as bytes."""
        v5 = self.protocol_level == PROTOCOL_LEVEL_5
        name = PROTOCOL_NAMES.get(self.protocol_level, "MQTT")
        flags = 0x02 if self.clean_session else 0
        will = self.will
        if will is not None:
            flags |= 0x04 | (will.qos << 3) | (0x20 if will.retain else 0)
        if self.password is not None:
            flags |= 0x40
        if self.username is not None:
            flags |= 0x80
        parts = [
            _string(name),
            bytes((self.protocol_level, flags)),
            self.keep_alive.to_bytes(2, "big"),
        ]
        if v5:
            parts.append(encode_properties(self.properties))
        parts.append(_string(self.client_id))
        if will is not None:
            if v5:
                parts.append(encode_properties(will.properties))
            parts += (_string(will.topic), _binary(will.payload))
        if self.username is not None:
            parts.append(_string(self.username))
        if self.password is not None:
            parts.append(_binary(self.password))
        return _packet(0x10, b"".join(parts))


@dataclass(slots=True, frozen=True)
class ConnAck:
    """CONNACK: the broker's answer to CONNECT."""

    session_present: bool
    return_code: int
    """The return code (3.1.1) or reason code (MQTT 5)."""
    properties: Properties | None = None

    def encode(self) -> bytes:
        """The packet as bytes."""
        flags = bytes((1 if self.session_present else 0, self.return_code))
        if self.properties is None:
            return b"\x20\x02" + flags
        return _packet(0x20, flags + encode_properties(self.properties))


@dataclass(slots=True, frozen=True)
class Publish:
    """PUBLISH: one application message. ``packet_id`` is None for QoS 0."""

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    dup: bool = False
    packet_id: int | None = None
    properties: Properties | None = None

    def encode(self) -> bytes:
        """The packet as bytes."""
        return encode_publish(
            self.topic.encode("utf-8"),
            self.payload,
            self.qos,
            retain=self.retain,
            dup=self.dup,
            packet_id=self.packet_id,
            properties=None if self.properties is None else encode_properties(self.properties),
        )


def _ack_bytes(
    first_byte: int, packet_id: int, reason_code: int = 0, properties: Properties | None = None
) -> bytes:
    if properties is None or properties == NO_PROPERTIES:
        if not reason_code:
            return bytes((first_byte, 2, packet_id >> 8, packet_id & 0xFF))
        return bytes((first_byte, 3, packet_id >> 8, packet_id & 0xFF, reason_code))
    body = packet_id.to_bytes(2, "big") + bytes((reason_code,)) + encode_properties(properties)
    return _packet(first_byte, body)


@dataclass(slots=True, frozen=True)
class PubAck:
    """PUBACK: acknowledges a QoS 1 PUBLISH."""

    packet_id: int
    reason_code: int = 0
    properties: Properties | None = None

    def encode(self) -> bytes:
        """The packet as bytes."""
        return _ack_bytes(0x40, self.packet_id, self.reason_code, self.properties)


@dataclass(slots=True, frozen=True)
class PubRec:
    """PUBREC: first acknowledgement of a QoS 2 PUBLISH."""

    packet_id: int
    reason_code: int = 0
    properties: Properties | None = None

    def encode(self) -> bytes:
        """The packet as bytes."""
        return _ack_bytes(0x50, self.packet_id, self.reason_code, self.properties)


@dataclass(slots=True, frozen=True)
class PubRel:
    """PUBREL: answers PUBREC."""

    packet_id: int
    reason_code: int = 0
    properties: Properties | None = None

    def encode(self) -> bytes:
        """The packet as bytes."""
        return _ack_bytes(0x62, self.packet_id, self.reason_code, self.properties)


@dataclass(slots=True, frozen=True)
class PubComp:
    """PUBCOMP: answers PUBREL; ends a QoS 2 exchange."""

    packet_id: int
    reason_code: int = 0
    properties: Properties | None = None

    def encode(self) -> bytes:
        """The packet as bytes."""
        return _ack_bytes(0x70, self.packet_id, self.reason_code, self.properties)


@dataclass(slots=True, frozen=True)
class Subscribe:
    """SUBSCRIBE: (topic filter, requested QoS) pairs. Filters are not validated here."""

    packet_id: int
    topics: tuple[tuple[str, int], ...]
    """(filter, QoS) pairs; in MQTT 5 the int is the whole subscription options byte."""
    properties: Properties | None = None

    def encode(self) -> bytes:
        """The packet as bytes."""
        body = [self.packet_id.to_bytes(2, "big")]
        if self.properties is not None:
            body.append(encode_properties(self.properties))
        for topic_filter, qos in self.topics:
            body += (_string(topic_filter), bytes((qos,)))
        return _packet(0x82, b"".join(body))


@dataclass(slots=True, frozen=True)
class SubAck:
    """SUBACK: one return code per filter: the granted QoS, or 0x80 for a refused filter."""

    packet_id: int
    return_codes: tuple[int, ...]
    properties: Properties | None = None

    def encode(self) -> bytes:
        """The packet as bytes."""
        props = b"" if self.properties is None else encode_properties(self.properties)
        return _packet(0x90, self.packet_id.to_bytes(2, "big") + props + bytes(self.return_codes))


@dataclass(slots=True, frozen=True)
class Unsubscribe:
    """UNSUBSCRIBE: topic filters to forget."""

    packet_id: int
    topic_filters: tuple[str, ...]
    properties: Properties | None = None

    def encode(self) -> bytes:
        """The packet as bytes."""
        body = self.packet_id.to_bytes(2, "big")
        if self.properties is not None:
            body += encode_properties(self.properties)
        body += b"".join(map(_string, self.topic_filters))
        return _packet(0xA2, body)


@dataclass(slots=True, frozen=True)
class UnsubAck:
    """UNSUBACK: acknowledges UNSUBSCRIBE (MQTT 5: a reason code per filter)."""

    packet_id: int
    reason_codes: tuple[int, ...] = ()
    properties: Properties | None = None

    def encode(self) -> bytes:
        """The packet as bytes."""
        if self.properties is None:
            return _ack_bytes(0xB0, self.packet_id)
        body = (
            self.packet_id.to_bytes(2, "big")
            + encode_properties(self.properties)
            + bytes(self.reason_codes)
        )
        return _packet(0xB0, body)


@dataclass(slots=True, frozen=True)
class PingReq:
    """PINGREQ: the client is alive."""

    def encode(self) -> bytes:
        """The packet as bytes."""
        return b"\xc0\x00"


@dataclass(slots=True, frozen=True)
class PingResp:
    """PINGRESP: answers PINGREQ."""

    def encode(self) -> bytes:
        """The packet as bytes."""
        return b"\xd0\x00"


@dataclass(slots=True, frozen=True)
class Disconnect:
    """DISCONNECT: the client leaves cleanly (its will is discarded, unless MQTT 5 reason code
    0x04); in MQTT 5 the server sends it too, with the reason it closes the connection."""

    reason_code: int = 0
    properties: Properties | None = None

    def encode(self) -> bytes:
        """The packet as bytes."""
        return _reason_packet(0xE0, self.reason_code, self.properties)


@dataclass(slots=True, frozen=True)
class Auth:
    """AUTH (MQTT 5): a step of an extended authentication exchange."""

    reason_code: int = 0
    properties: Properties | None = None

    def encode(self) -> bytes:
        """The packet as bytes."""
        return _reason_packet(0xF0, self.reason_code, self.properties)


def _reason_packet(first_byte: int, reason_code: int, properties: Properties | None) -> bytes:
    if properties is None or properties == NO_PROPERTIES:
        if not reason_code:
            return bytes((first_byte, 0))
        return bytes((first_byte, 1, reason_code))
    return _packet(first_byte, bytes((reason_code,)) + encode_properties(properties))


Packet = (
    Connect
    | ConnAck
    | Publish
    | PubAck
    | PubRec
    | PubRel
    | PubComp
    | Subscribe
    | SubAck
    | Unsubscribe
    | UnsubAck
    | PingReq
    | PingResp
    | Disconnect
    | Auth
)
"""Any MQTT control packet."""
