"""MQTT 3.1.1 and 3.1 control packets as values, their constants and errors, and encoding."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Final

from lorafox.errors import InvalidInput

__all__ = [
    "MAX_REMAINING_LENGTH",
    "PROTOCOL_LEVEL_5",
    "PROTOCOL_LEVEL_31",
    "PROTOCOL_LEVEL_311",
    "PROTOCOL_NAMES",
    "SUBACK_FAILURE",
    "ConnAck",
    "Connect",
    "ConnectReturnCode",
    "Disconnect",
    "Packet",
    "PacketType",
    "PingReq",
    "PingResp",
    "ProtocolError",
    "PubAck",
    "PubComp",
    "PubRec",
    "PubRel",
    "Publish",
    "SubAck",
    "Subscribe",
    "UnsubAck",
    "Unsubscribe",
    "UnsupportedProtocolVersion",
    "Will",
    "encode_publish",
    "encode_remaining_length",
]


PROTOCOL_LEVEL_31: Final = 3
PROTOCOL_LEVEL_311: Final = 4
PROTOCOL_LEVEL_5: Final = 5
MAX_REMAINING_LENGTH: Final = 268_435_455
"""The largest remaining length four bytes can encode."""

PROTOCOL_NAMES: Final = {PROTOCOL_LEVEL_31: "MQIsdp", PROTOCOL_LEVEL_311: "MQTT"}
SUBACK_FAILURE: Final = 0x80


class ProtocolError(InvalidInput):
    """A malformed packet or a violation of the MQTT protocol: the connection must be closed."""


class UnsupportedProtocolVersion(ProtocolError):
    """A CONNECT for a protocol level this broker does not speak (MQTT 5, for one)."""

    def __init__(self, message: str, *, level: int) -> None:
        super().__init__(message, field="protocol_level")
        self.level = level


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
) -> bytes:
    """A PUBLISH packet from an already encoded (and validated) UTF-8 topic name."""
    first = 0x30 | (qos << 1) | (0x08 if dup else 0) | (0x01 if retain else 0)
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

    def encode(self) -> bytes:
        """The packet as bytes."""
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
            _string(self.client_id),
        ]
        if will is not None:
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

    def encode(self) -> bytes:
        """The packet as bytes."""
        return bytes((0x20, 2, 1 if self.session_present else 0, self.return_code))


@dataclass(slots=True, frozen=True)
class Publish:
    """PUBLISH: one application message. ``packet_id`` is None for QoS 0."""

    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    dup: bool = False
    packet_id: int | None = None

    def encode(self) -> bytes:
        """The packet as bytes."""
        return encode_publish(
            self.topic.encode("utf-8"),
            self.payload,
            self.qos,
            retain=self.retain,
            dup=self.dup,
            packet_id=self.packet_id,
        )


def _ack_bytes(first_byte: int, packet_id: int) -> bytes:
    return bytes((first_byte, 2, packet_id >> 8, packet_id & 0xFF))


@dataclass(slots=True, frozen=True)
class PubAck:
    """PUBACK: acknowledges a QoS 1 PUBLISH."""

    packet_id: int

    def encode(self) -> bytes:
        """The packet as bytes."""
        return _ack_bytes(0x40, self.packet_id)


@dataclass(slots=True, frozen=True)
class PubRec:
    """PUBREC: first acknowledgement of a QoS 2 PUBLISH."""

    packet_id: int

    def encode(self) -> bytes:
        """The packet as bytes."""
        return _ack_bytes(0x50, self.packet_id)


@dataclass(slots=True, frozen=True)
class PubRel:
    """PUBREL: answers PUBREC."""

    packet_id: int

    def encode(self) -> bytes:
        """The packet as bytes."""
        return _ack_bytes(0x62, self.packet_id)


@dataclass(slots=True, frozen=True)
class PubComp:
    """PUBCOMP: answers PUBREL; ends a QoS 2 exchange."""

    packet_id: int

    def encode(self) -> bytes:
        """The packet as bytes."""
        return _ack_bytes(0x70, self.packet_id)


@dataclass(slots=True, frozen=True)
class Subscribe:
    """SUBSCRIBE: (topic filter, requested QoS) pairs. Filters are not validated here."""

    packet_id: int
    topics: tuple[tuple[str, int], ...]

    def encode(self) -> bytes:
        """The packet as bytes."""
        body = [self.packet_id.to_bytes(2, "big")]
        for topic_filter, qos in self.topics:
            body += (_string(topic_filter), bytes((qos,)))
        return _packet(0x82, b"".join(body))


@dataclass(slots=True, frozen=True)
class SubAck:
    """SUBACK: one return code per filter: the granted QoS, or 0x80 for a refused filter."""

    packet_id: int
    return_codes: tuple[int, ...]

    def encode(self) -> bytes:
        """The packet as bytes."""
        return _packet(0x90, self.packet_id.to_bytes(2, "big") + bytes(self.return_codes))


@dataclass(slots=True, frozen=True)
class Unsubscribe:
    """UNSUBSCRIBE: topic filters to forget."""

    packet_id: int
    topic_filters: tuple[str, ...]

    def encode(self) -> bytes:
        """The packet as bytes."""
        body = self.packet_id.to_bytes(2, "big") + b"".join(map(_string, self.topic_filters))
        return _packet(0xA2, body)


@dataclass(slots=True, frozen=True)
class UnsubAck:
    """UNSUBACK: acknowledges UNSUBSCRIBE."""

    packet_id: int

    def encode(self) -> bytes:
        """The packet as bytes."""
        return _ack_bytes(0xB0, self.packet_id)


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
    """DISCONNECT: the client leaves cleanly (its will is discarded)."""

    def encode(self) -> bytes:
        """The packet as bytes."""
        return b"\xe0\x00"


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
)
"""Any MQTT 3.1.1 control packet."""
