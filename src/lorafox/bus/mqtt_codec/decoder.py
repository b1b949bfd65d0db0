"""Decoding: a byte stream cut into control packets (``PacketDecoder``); the MQTT 3.1.1 and 3.1
bodies here, MQTT 5 ones in ``v5``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeVar

from lorafox.bus.mqtt_codec.errors import ProtocolError, UnsupportedProtocolVersion
from lorafox.bus.mqtt_codec.packets import (
    MAX_REMAINING_LENGTH,
    PROTOCOL_LEVEL_5,
    PROTOCOL_NAMES,
    SUBACK_FAILURE,
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
from lorafox.bus.mqtt_codec.reading import expect_flags, read_binary, read_string, read_u16
from lorafox.bus.mqtt_codec.reason_codes import ReasonCode
from lorafox.bus.mqtt_codec.v5 import DECODERS_5, decode_connect_5

__all__ = ["PacketDecoder"]

_Ack = TypeVar("_Ack", PubAck, PubRec, PubRel, PubComp)
_PINGREQ: Final = PingReq()
_PINGRESP: Final = PingResp()
_DISCONNECT: Final = Disconnect()


# --------------------------------------------------------------------------------------------
# Decoding: each function gets (flags, data, start, end), the body being data[start:end].


def _decode_connect(flags: int, data: bytes, start: int, end: int) -> Connect:
    expect_flags(flags, 0, "CONNECT")
    name, pos = read_string(data, start, end)
    if pos >= end:
        raise ProtocolError("CONNECT too short")
    level = data[pos]
    pos += 1
    if name not in ("MQTT", "MQIsdp"):
        raise ProtocolError(f"unknown protocol name {name!r}")
    if level == PROTOCOL_LEVEL_5 and name == "MQTT":
        return decode_connect_5(data, pos, end)
    if PROTOCOL_NAMES.get(level) != name:
        raise UnsupportedProtocolVersion(
            f"protocol {name!r} level {level} is not supported (only MQTT 5, 3.1.1 and 3.1)",
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
    keep_alive = read_u16(data, pos, end)
    pos += 2
    client_id, pos = read_string(data, pos, end)
    will = None
    if has_will:
        will_topic, pos = read_string(data, pos, end)
        if not will_topic or "+" in will_topic or "#" in will_topic:
            raise ProtocolError("the will topic is not a valid topic name")
        will_payload, pos = read_binary(data, pos, end)
        will = Will(will_topic, will_payload, will_qos, will_retain)
    username = None
    password = None
    if has_username:
        username, pos = read_string(data, pos, end)
    if has_password:
        password, pos = read_binary(data, pos, end)
    if pos != end:
        raise ProtocolError("bytes left over at the end of CONNECT")
    return Connect(client_id, clean_session, keep_alive, will, username, password, level)


def _decode_connack(flags: int, data: bytes, start: int, end: int) -> ConnAck:
    expect_flags(flags, 0, "CONNACK")
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


def _packet_id_decoder(
    kind: type[_Ack], flags_expected: int, name: str
) -> Callable[[int, bytes, int, int], _Ack]:
    """The decoder of a packet that is nothing but a packet identifier (PUBACK, PUBREC…)."""

    def decode(flags: int, data: bytes, start: int, end: int) -> _Ack:
        if flags == flags_expected and end - start == 2:
            packet_id = (data[start] << 8) | data[start + 1]
            if packet_id:
                return kind(packet_id)
        expect_flags(flags, flags_expected, name)
        return kind(_decode_packet_id(data, start, end, name))

    return decode


def _decode_subscribe(flags: int, data: bytes, start: int, end: int) -> Subscribe:
    expect_flags(flags, 2, "SUBSCRIBE")
    packet_id = read_u16(data, start, end)
    if not packet_id:
        raise ProtocolError("packet identifier 0")
    pos = start + 2
    topics: list[tuple[str, int]] = []
    while pos < end:
        topic_filter, pos = read_string(data, pos, end)
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
    expect_flags(flags, 0, "SUBACK")
    packet_id = read_u16(data, start, end)
    codes = tuple(data[start + 2 : end])
    if not codes or any(code not in (0, 1, 2, SUBACK_FAILURE) for code in codes):
        raise ProtocolError("invalid SUBACK return codes")
    return SubAck(packet_id, codes)


def _decode_unsubscribe(flags: int, data: bytes, start: int, end: int) -> Unsubscribe:
    expect_flags(flags, 2, "UNSUBSCRIBE")
    packet_id = read_u16(data, start, end)
    if not packet_id:
        raise ProtocolError("packet identifier 0")
    pos = start + 2
    filters: list[str] = []
    while pos < end:
        topic_filter, pos = read_string(data, pos, end)
        filters.append(topic_filter)
    if not filters:
        raise ProtocolError("UNSUBSCRIBE without any topic filter")
    return Unsubscribe(packet_id, tuple(filters))


def _decode_unsuback(flags: int, data: bytes, start: int, end: int) -> UnsubAck:
    expect_flags(flags, 0, "UNSUBACK")
    return UnsubAck(_decode_packet_id(data, start, end, "UNSUBACK"))


def _empty(name: str, packet: Packet) -> Callable[[int, bytes, int, int], Packet]:
    def decode(flags: int, data: bytes, start: int, end: int) -> Packet:
        expect_flags(flags, 0, name)
        if end != start:
            raise ProtocolError(f"{name} has a body")
        return packet

    return decode


_DECODERS: Final[dict[int, Callable[[int, bytes, int, int], Packet]]] = {
    PacketType.CONNECT: _decode_connect,
    PacketType.CONNACK: _decode_connack,
    PacketType.PUBLISH: _decode_publish,
    PacketType.PUBACK: _packet_id_decoder(PubAck, 0, "PUBACK"),
    PacketType.PUBREC: _packet_id_decoder(PubRec, 0, "PUBREC"),
    PacketType.PUBREL: _packet_id_decoder(PubRel, 2, "PUBREL"),
    PacketType.PUBCOMP: _packet_id_decoder(PubComp, 0, "PUBCOMP"),
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

    __slots__ = ("_chunks", "_decoders", "_have", "_max_packet_size", "_need", "protocol_level")

    def __init__(
        self, max_packet_size: int = MAX_REMAINING_LENGTH + 5, *, protocol_level: int = 0
    ) -> None:
        self._max_packet_size = max_packet_size
        self._chunks: list[bytes] = []
        self._have = 0
        self._need = 0
        self._decoders = DECODERS_5 if protocol_level == PROTOCOL_LEVEL_5 else _DECODERS
        self.protocol_level = protocol_level
        """The level of the CONNECT decoded (0 before it; a client's decoder is given the level
        it connects with): from a level 5 CONNECT on, packets are decoded as MQTT 5 ones."""

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
        decoders = self._decoders
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
                    f"a packet of {end - pos} bytes is larger than the limit of {max_size}",
                    ReasonCode.PACKET_TOO_LARGE,
                )
            if end > size:
                self._keep(data, pos, end - pos)
                return packets
            decoder = decoders.get(first >> 4)
            if decoder is None:
                raise ProtocolError(f"reserved packet type {first >> 4}")
            packet = decoder(first & 0x0F, data, index, end)
            packets.append(packet)
            pos = end
            if type(packet) is Connect:
                self.protocol_level = packet.protocol_level
                if packet.protocol_level == PROTOCOL_LEVEL_5:
                    decoders = self._decoders = DECODERS_5
        return packets

    def _keep(self, data: bytes, pos: int, need: int) -> None:
        rest = data[pos:] if pos else data
        self._chunks.append(rest)
        self._have = len(rest)
        self._need = need
