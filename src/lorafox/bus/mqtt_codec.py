"""MQTT 3.1.1 and 3.1 packets: decoding a byte stream, encoding packets.

Supported: MQTT 3.1.1 (protocol name ``MQTT``, level 4) and MQTT 3.1 (``MQIsdp``, level 3),
every control packet of those versions (CONNECT, CONNACK, PUBLISH, PUBACK, PUBREC, PUBREL,
PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, PINGREQ, PINGRESP, DISCONNECT) in both
directions.

Not supported: MQTT 5. A CONNECT of protocol level 5 (or any other level) raises
``UnsupportedProtocolVersion``; the broker answers it with a 3.1.1 CONNACK carrying return code
0x01 (unacceptable protocol version) and closes the connection, as Mosquitto does. MQTT 5
clients that can fall back to 3.1.1 then retry with it.

A malformed packet or a violation of the protocol raises ``ProtocolError`` (an ``InvalidInput``);
the broker logs it and closes that one connection.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Final

from lorafox.errors import InvalidInput

__all__ = [
    "MAX_REMAINING_LENGTH",
    "PROTOCOL_LEVEL_5",
    "PROTOCOL_LEVEL_31",
    "PROTOCOL_LEVEL_311",
    "SUBACK_FAILURE",
    "ConnAck",
    "Connect",
    "ConnectReturnCode",
    "Disconnect",
    "Packet",
    "PacketDecoder",
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

_PROTOCOL_NAMES: Final = {PROTOCOL_LEVEL_31: "MQIsdp", PROTOCOL_LEVEL_311: "MQTT"}
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
        name = _PROTOCOL_NAMES.get(self.protocol_level, "MQTT")
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

_PINGREQ: Final = PingReq()
_PINGRESP: Final = PingResp()
_DISCONNECT: Final = Disconnect()


# --------------------------------------------------------------------------------------------
# Decoding: each function gets (flags, data, start, end), the body being data[start:end].


def _read_u16(data: bytes, pos: int, end: int) -> int:
    if pos + 2 > end:
        raise ProtocolError("packet too short")
    return (data[pos] << 8) | data[pos + 1]


def _read_binary(data: bytes, pos: int, end: int) -> tuple[bytes, int]:
    length = _read_u16(data, pos, end)
    pos += 2
    stop = pos + length
    if stop > end:
        raise ProtocolError("a length prefix runs past the end of the packet")
    return data[pos:stop], stop


def _read_string(data: bytes, pos: int, end: int) -> tuple[str, int]:
    raw, pos = _read_binary(data, pos, end)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("a string is not valid UTF-8") from None
    if "\x00" in text:
        raise ProtocolError("a string contains U+0000")
    return text, pos


def _expect_flags(flags: int, expected: int, name: str) -> None:
    if flags != expected:
        raise ProtocolError(f"reserved flags of {name} are {flags:#x}, not {expected:#x}")


def _decode_connect(flags: int, data: bytes, start: int, end: int) -> Connect:
    _expect_flags(flags, 0, "CONNECT")
    name, pos = _read_string(data, start, end)
    if pos >= end:
        raise ProtocolError("CONNECT too short")
    level = data[pos]
    pos += 1
    if name not in ("MQTT", "MQIsdp"):
        raise ProtocolError(f"unknown protocol name {name!r}")
    if _PROTOCOL_NAMES.get(level) != name:
        raise UnsupportedProtocolVersion(
            f"protocol {name!r} level {level} is not supported (only MQTT 3.1.1 and 3.1)",
            level=level,
        )
    if pos >= end:
        raise ProtocolError("CONNECT too short")
    connect_flags = data[pos]
    pos += 1
    if connect_flags & 0x01:
        raise ProtocolError("the reserved CONNECT flag is set")
    clean_session = bool(connect_flags & 0x02)
    has_will = bool(connect_flags & 0x04)
    will_qos = (connect_flags >> 3) & 0x03
    will_retain = bool(connect_flags & 0x20)
    has_password = bool(connect_flags & 0x40)
    has_username = bool(connect_flags & 0x80)
    if not has_will and (will_qos or will_retain):
        raise ProtocolError("will QoS or retain set without a will")
    if will_qos == 3:
        raise ProtocolError("will QoS 3")
    if has_password and not has_username:
        raise ProtocolError("a password without a user name")
    keep_alive = _read_u16(data, pos, end)
    pos += 2
    client_id, pos = _read_string(data, pos, end)
    will = None
    if has_will:
        will_topic, pos = _read_string(data, pos, end)
        if not will_topic or "+" in will_topic or "#" in will_topic:
            raise ProtocolError("the will topic is not a valid topic name")
        will_payload, pos = _read_binary(data, pos, end)
        will = Will(will_topic, will_payload, will_qos, will_retain)
    username = None
    password = None
    if has_username:
        username, pos = _read_string(data, pos, end)
    if has_password:
        password, pos = _read_binary(data, pos, end)
    if pos != end:
        raise ProtocolError("bytes left over at the end of CONNECT")
    return Connect(client_id, clean_session, keep_alive, will, username, password, level)


def _decode_connack(flags: int, data: bytes, start: int, end: int) -> ConnAck:
    _expect_flags(flags, 0, "CONNACK")
    if end - start != 2:
        raise ProtocolError("CONNACK must be 2 bytes long")
    ack_flags = data[start]
    if ack_flags & 0xFE:
        raise ProtocolError("reserved CONNACK flags are set")
    return ConnAck(bool(ack_flags & 1), data[start + 1])


def _decode_publish(flags: int, data: bytes, start: int, end: int) -> Publish:
    qos = (flags >> 1) & 0x03
    if qos == 3:
        raise ProtocolError("PUBLISH with QoS 3")
    if end - start < 2:
        raise ProtocolError("PUBLISH too short")
    topic_end = start + 2 + ((data[start] << 8) | data[start + 1])
    if topic_end > end:
        raise ProtocolError("the PUBLISH topic runs past the end of the packet")
    try:
        topic = data[start + 2 : topic_end].decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("the PUBLISH topic is not valid UTF-8") from None
    if not topic or "+" in topic or "#" in topic or "\x00" in topic:
        raise ProtocolError(f"invalid PUBLISH topic name {topic!r}")
    if qos:
        if topic_end + 2 > end:
            raise ProtocolError("PUBLISH without its packet identifier")
        packet_id = (data[topic_end] << 8) | data[topic_end + 1]
        if not packet_id:
            raise ProtocolError("packet identifier 0")
        return Publish(
            topic, data[topic_end + 2 : end], qos, bool(flags & 1), bool(flags & 8), packet_id
        )
    if flags & 8:
        raise ProtocolError("a QoS 0 PUBLISH with the DUP flag")  # [MQTT-3.3.1-2]
    return Publish(topic, data[topic_end:end], 0, bool(flags & 1), False, None)


def _decode_packet_id(data: bytes, start: int, end: int, name: str) -> int:
    if end - start != 2:
        raise ProtocolError(f"{name} must be 2 bytes long")
    packet_id = (data[start] << 8) | data[start + 1]
    if not packet_id:
        raise ProtocolError("packet identifier 0")
    return packet_id


def _decode_puback(flags: int, data: bytes, start: int, end: int) -> PubAck:
    _expect_flags(flags, 0, "PUBACK")
    return PubAck(_decode_packet_id(data, start, end, "PUBACK"))


def _decode_pubrec(flags: int, data: bytes, start: int, end: int) -> PubRec:
    _expect_flags(flags, 0, "PUBREC")
    return PubRec(_decode_packet_id(data, start, end, "PUBREC"))


def _decode_pubrel(flags: int, data: bytes, start: int, end: int) -> PubRel:
    _expect_flags(flags, 2, "PUBREL")
    return PubRel(_decode_packet_id(data, start, end, "PUBREL"))


def _decode_pubcomp(flags: int, data: bytes, start: int, end: int) -> PubComp:
    _expect_flags(flags, 0, "PUBCOMP")
    return PubComp(_decode_packet_id(data, start, end, "PUBCOMP"))


def _decode_subscribe(flags: int, data: bytes, start: int, end: int) -> Subscribe:
    _expect_flags(flags, 2, "SUBSCRIBE")
    packet_id = _read_u16(data, start, end)
    if not packet_id:
        raise ProtocolError("packet identifier 0")
    pos = start + 2
    topics: list[tuple[str, int]] = []
    while pos < end:
        topic_filter, pos = _read_string(data, pos, end)
        if pos >= end:
            raise ProtocolError("SUBSCRIBE without the requested QoS")
        qos = data[pos]
        pos += 1
        if qos > 2:
            raise ProtocolError(f"SUBSCRIBE requests QoS {qos:#x}")
        topics.append((topic_filter, qos))
    if not topics:
        raise ProtocolError("SUBSCRIBE without any topic filter")
    return Subscribe(packet_id, tuple(topics))


def _decode_suback(flags: int, data: bytes, start: int, end: int) -> SubAck:
    _expect_flags(flags, 0, "SUBACK")
    packet_id = _read_u16(data, start, end)
    codes = tuple(data[start + 2 : end])
    if not codes or any(code not in (0, 1, 2, SUBACK_FAILURE) for code in codes):
        raise ProtocolError("invalid SUBACK return codes")
    return SubAck(packet_id, codes)


def _decode_unsubscribe(flags: int, data: bytes, start: int, end: int) -> Unsubscribe:
    _expect_flags(flags, 2, "UNSUBSCRIBE")
    packet_id = _read_u16(data, start, end)
    if not packet_id:
        raise ProtocolError("packet identifier 0")
    pos = start + 2
    filters: list[str] = []
    while pos < end:
        topic_filter, pos = _read_string(data, pos, end)
        filters.append(topic_filter)
    if not filters:
        raise ProtocolError("UNSUBSCRIBE without any topic filter")
    return Unsubscribe(packet_id, tuple(filters))


def _decode_unsuback(flags: int, data: bytes, start: int, end: int) -> UnsubAck:
    _expect_flags(flags, 0, "UNSUBACK")
    return UnsubAck(_decode_packet_id(data, start, end, "UNSUBACK"))


def _empty(name: str, packet: Packet) -> Callable[[int, bytes, int, int], Packet]:
    def decode(flags: int, data: bytes, start: int, end: int) -> Packet:
        _expect_flags(flags, 0, name)
        if end != start:
            raise ProtocolError(f"{name} has a body")
        return packet

    return decode


_DECODERS: Final[dict[int, Callable[[int, bytes, int, int], Packet]]] = {
    PacketType.CONNECT: _decode_connect,
    PacketType.CONNACK: _decode_connack,
    PacketType.PUBLISH: _decode_publish,
    PacketType.PUBACK: _decode_puback,
    PacketType.PUBREC: _decode_pubrec,
    PacketType.PUBREL: _decode_pubrel,
    PacketType.PUBCOMP: _decode_pubcomp,
    PacketType.SUBSCRIBE: _decode_subscribe,
    PacketType.SUBACK: _decode_suback,
    PacketType.UNSUBSCRIBE: _decode_unsubscribe,
    PacketType.UNSUBACK: _decode_unsuback,
    PacketType.PINGREQ: _empty("PINGREQ", _PINGREQ),
    PacketType.PINGRESP: _empty("PINGRESP", _PINGRESP),
    PacketType.DISCONNECT: _empty("DISCONNECT", _DISCONNECT),
}


class PacketDecoder:
    """Cuts a byte stream into packets.

    ``feed`` takes whatever the socket delivered and returns the complete packets it holds,
    keeping a partial packet for the next call. A packet larger than ``max_packet_size`` bytes
    (fixed header included) or a malformed one raises ``ProtocolError``; after that the stream
    cannot be resynchronised and the connection must be closed.
    """

    __slots__ = ("_chunks", "_have", "_max_packet_size", "_need")

    def __init__(self, max_packet_size: int = MAX_REMAINING_LENGTH + 5) -> None:
        self._max_packet_size = max_packet_size
        self._chunks: list[bytes] = []
        self._have = 0
        self._need = 0

    @property
    def buffered(self) -> int:
        """Bytes held for a packet not complete yet."""
        return self._have

    @property
    def max_packet_size(self) -> int:
        return self._max_packet_size

    @max_packet_size.setter
    def max_packet_size(self, size: int) -> None:
        """Change the limit for the packets still to come (raised once a client logs in)."""
        self._max_packet_size = size

    def feed(self, data: bytes) -> list[Packet]:
        """The complete packets in the stream so far (possibly none)."""
        if self._chunks:
            self._chunks.append(data)
            self._have += len(data)
            if self._have < self._need:
                return []
            data = b"".join(self._chunks)
            self._chunks.clear()
            self._have = 0
            self._need = 0
        packets: list[Packet] = []
        size = len(data)
        pos = 0
        max_size = self._max_packet_size
        decoders = _DECODERS
        while pos < size:
            first = data[pos]
            # Remaining length: up to four bytes, seven bits each, least significant first.
            index = pos + 1
            length = 0
            shift = 0
            while True:
                if index >= size:
                    self._keep(data, pos, 0)
                    return packets
                byte = data[index]
                index += 1
                length |= (byte & 0x7F) << shift
                if byte < 0x80:
                    break
                shift += 7
                if shift > 21:
                    raise ProtocolError("the remaining length is longer than four bytes")
            end = index + length
            if end - pos > max_size:
                raise ProtocolError(
                    f"a packet of {end - pos} bytes is larger than the limit of {max_size}"
                )
            if end > size:
                self._keep(data, pos, end - pos)
                return packets
            decoder = decoders.get(first >> 4)
            if decoder is None:
                raise ProtocolError(f"reserved packet type {first >> 4}")
            packets.append(decoder(first & 0x0F, data, index, end))
            pos = end
        return packets

    def _keep(self, data: bytes, pos: int, need: int) -> None:
        rest = data[pos:] if pos else data
        self._chunks.append(rest)
        self._have = len(rest)
        self._need = need
