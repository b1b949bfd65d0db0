"""Reading the fields of a packet body: each reader gets (data, position, end of the packet)."""

from __future__ import annotations

from lorafox.bus.mqtt_codec.errors import ProtocolError

__all__ = ["expect_flags", "read_binary", "read_packet_id", "read_string", "read_u16"]


def read_u16(data: bytes, pos: int, end: int) -> int:
    if pos + 2 > end:
        raise ProtocolError("packet too short")
    return (data[pos] << 8) | data[pos + 1]


def read_packet_id(data: bytes, pos: int, end: int) -> int:
    packet_id = read_u16(data, pos, end)
    if not packet_id:
        raise ProtocolError("packet identifier 0")
    return packet_id


def read_binary(data: bytes, pos: int, end: int) -> tuple[bytes, int]:
    length = read_u16(data, pos, end)
    pos += 2
    stop = pos + length
    if stop > end:
        raise ProtocolError("a length prefix runs past the end of the packet")
    return data[pos:stop], stop


def read_string(data: bytes, pos: int, end: int) -> tuple[str, int]:
    raw, pos = read_binary(data, pos, end)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("a string is not valid UTF-8") from None
    if "\x00" in text:
        raise ProtocolError("a string contains U+0000")
    return text, pos


def expect_flags(flags: int, expected: int, name: str) -> None:
    if flags != expected:
        raise ProtocolError(f"reserved flags of {name} are {flags:#x}, not {expected:#x}")
