"""MQTT 5 properties: their identifiers and types, ``Properties`` as a value, and the codec of a
property block (a variable byte integer length, then identifier/value pairs)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Final

from lorafox.bus.mqtt_codec.errors import ProtocolError
from lorafox.bus.mqtt_codec.reason_codes import ReasonCode
from lorafox.errors import InvalidInput

__all__ = [
    "NO_PROPERTIES",
    "Properties",
    "PropertyError",
    "decode_properties",
    "decode_varint",
    "encode_properties",
    "encode_varint",
]


PropertyError = ProtocolError
"""A malformed property block (reason code 0x81, or 0x82 for a value the protocol forbids)."""


_BYTE: Final = 0
_U16: Final = 1
_U32: Final = 2
_VARINT: Final = 3
_STRING: Final = 4
_BINARY: Final = 5
_PAIR: Final = 6

# identifier: (attribute, type); the attribute is the field of ``Properties``.
_TABLE: Final[dict[int, tuple[str, int]]] = {
    0x01: ("payload_format_indicator", _BYTE),
    0x02: ("message_expiry_interval", _U32),
    0x03: ("content_type", _STRING),
    0x08: ("response_topic", _STRING),
    0x09: ("correlation_data", _BINARY),
    0x0B: ("subscription_identifiers", _VARINT),
    0x11: ("session_expiry_interval", _U32),
    0x12: ("assigned_client_identifier", _STRING),
    0x13: ("server_keep_alive", _U16),
    0x15: ("authentication_method", _STRING),
    0x16: ("authentication_data", _BINARY),
    0x17: ("request_problem_information", _BYTE),
    0x18: ("will_delay_interval", _U32),
    0x19: ("request_response_information", _BYTE),
    0x1A: ("response_information", _STRING),
    0x1C: ("server_reference", _STRING),
    0x1F: ("reason_string", _STRING),
    0x21: ("receive_maximum", _U16),
    0x22: ("topic_alias_maximum", _U16),
    0x23: ("topic_alias", _U16),
    0x24: ("maximum_qos", _BYTE),
    0x25: ("retain_available", _BYTE),
    0x26: ("user_properties", _PAIR),
    0x27: ("maximum_packet_size", _U32),
    0x28: ("wildcard_subscription_available", _BYTE),
    0x29: ("subscription_identifier_available", _BYTE),
    0x2A: ("shared_subscription_available", _BYTE),
}
_IDS: Final = {name: (ident, kind) for ident, (name, kind) in _TABLE.items()}
_REPEATABLE: Final = frozenset(("user_properties", "subscription_identifiers"))


@dataclass(slots=True, frozen=True)
class Properties:
    """The properties of one MQTT 5 packet (or will); None: absent."""

    payload_format_indicator: int | None = None
    message_expiry_interval: int | None = None
    content_type: str | None = None
    response_topic: str | None = None
    correlation_data: bytes | None = None
    subscription_identifiers: tuple[int, ...] = ()
    session_expiry_interval: int | None = None
    assigned_client_identifier: str | None = None
    server_keep_alive: int | None = None
    authentication_method: str | None = None
    authentication_data: bytes | None = None
    request_problem_information: int | None = None
    will_delay_interval: int | None = None
    request_response_information: int | None = None
    response_information: str | None = None
    server_reference: str | None = None
    reason_string: str | None = None
    receive_maximum: int | None = None
    topic_alias_maximum: int | None = None
    topic_alias: int | None = None
    maximum_qos: int | None = None
    retain_available: int | None = None
    user_properties: tuple[tuple[str, str], ...] = ()
    maximum_packet_size: int | None = None
    wildcard_subscription_available: int | None = None
    subscription_identifier_available: int | None = None
    shared_subscription_available: int | None = None

    def encode(self) -> bytes:
        """The property block: its length, then the properties."""
        return encode_properties(self)


NO_PROPERTIES: Final = Properties()
_EMPTY_BLOCK: Final = b"\x00"
_NAMES: Final = tuple(f.name for f in fields(Properties))


def encode_varint(value: int) -> bytes:
    """A variable byte integer (1 to 4 bytes)."""
    if not 0 <= value <= 268_435_455:
        raise InvalidInput("a variable byte integer is between 0 and 268435455")
    out = bytearray()
    while True:
        digit = value & 0x7F
        value >>= 7
        if value:
            out.append(digit | 0x80)
        else:
            out.append(digit)
            return bytes(out)


def decode_varint(data: bytes, pos: int, end: int) -> tuple[int, int]:
    """(value, position after it) of the variable byte integer at ``pos``."""
    value = 0
    shift = 0
    while True:
        if pos >= end:
            raise PropertyError("a variable byte integer runs past the end of the packet")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7
        if shift > 21:
            raise PropertyError("a variable byte integer is longer than four bytes")


def _utf8(text: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) > 0xFFFF:
        raise InvalidInput("an MQTT string is at most 65535 bytes")
    return len(raw).to_bytes(2, "big") + raw


def _encode_value(kind: int, value: Any) -> bytes:
    if kind == _BYTE:
        return bytes((value,))
    if kind == _U16:
        return bytes(value.to_bytes(2, "big"))
    if kind == _U32:
        return bytes(value.to_bytes(4, "big"))
    if kind == _VARINT:
        return encode_varint(value)
    if kind == _STRING:
        return _utf8(value)
    if kind == _BINARY:
        return bytes(len(value).to_bytes(2, "big")) + bytes(value)
    return _utf8(value[0]) + _utf8(value[1])


def encode_properties(properties: Properties | None) -> bytes:
    """The property block of ``properties`` (``b"\\x00"`` for none)."""
    if properties is None or properties == NO_PROPERTIES:
        return _EMPTY_BLOCK
    parts: list[bytes] = []
    for name in _NAMES:
        value = getattr(properties, name)
        if value is None or value == ():
            continue
        ident, kind = _IDS[name]
        values = value if name in _REPEATABLE else (value,)
        for one in values:
            parts.append(bytes((ident,)) + _encode_value(kind, one))
    body = b"".join(parts)
    return encode_varint(len(body)) + body


def _read_u16(data: bytes, pos: int, end: int) -> int:
    if pos + 2 > end:
        raise PropertyError("a property runs past the end of the packet")
    return (data[pos] << 8) | data[pos + 1]


def _read_binary(data: bytes, pos: int, end: int) -> tuple[bytes, int]:
    length = _read_u16(data, pos, end)
    stop = pos + 2 + length
    if stop > end:
        raise PropertyError("a property runs past the end of the packet")
    return data[pos + 2 : stop], stop


def _read_string(data: bytes, pos: int, end: int) -> tuple[str, int]:
    raw, pos = _read_binary(data, pos, end)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise PropertyError("a string property is not valid UTF-8") from None
    if "\x00" in text:
        raise PropertyError("a string property contains U+0000")
    return text, pos


def _read_value(kind: int, data: bytes, pos: int, end: int) -> tuple[object, int]:
    if kind == _BYTE:
        if pos >= end:
            raise PropertyError("a property runs past the end of the packet")
        return data[pos], pos + 1
    if kind == _U16:
        return _read_u16(data, pos, end), pos + 2
    if kind == _U32:
        if pos + 4 > end:
            raise PropertyError("a property runs past the end of the packet")
        return int.from_bytes(data[pos : pos + 4], "big"), pos + 4
    if kind == _VARINT:
        return decode_varint(data, pos, end)
    if kind == _STRING:
        return _read_string(data, pos, end)
    if kind == _BINARY:
        return _read_binary(data, pos, end)
    key, pos = _read_string(data, pos, end)
    value, pos = _read_string(data, pos, end)
    return (key, value), pos


_BYTE_LIMITS: Final = {
    "payload_format_indicator": 1,
    "request_problem_information": 1,
    "request_response_information": 1,
    "maximum_qos": 1,
    "retain_available": 1,
    "wildcard_subscription_available": 1,
    "subscription_identifier_available": 1,
    "shared_subscription_available": 1,
}


def decode_properties(
    data: bytes, pos: int, end: int, allowed: frozenset[str]
) -> tuple[Properties, int]:
    """(the properties, position after the block) of the block at ``pos``; a property not in
    ``allowed`` (field names), repeated when it may not be, or of a wrong value is an error."""
    length, pos = decode_varint(data, pos, end)
    stop = pos + length
    if stop > end:
        raise PropertyError("the properties run past the end of the packet")
    if not length:
        return NO_PROPERTIES, pos
    found: dict[str, object] = {}
    pairs: list[tuple[str, str]] = []
    sub_ids: list[int] = []
    while pos < stop:
        ident, pos = decode_varint(data, pos, stop)
        entry = _TABLE.get(ident)
        if entry is None:
            raise PropertyError(f"unknown property {ident:#x}")
        name, kind = entry
        if name not in allowed:
            raise PropertyError(f"property {name} is not allowed in this packet")
        value, pos = _read_value(kind, data, pos, stop)
        if name == "user_properties":
            pairs.append(value)  # type: ignore[arg-type]
            continue
        if name == "subscription_identifiers":
            if value == 0:
                raise PropertyError("subscription identifier 0", ReasonCode.PROTOCOL_ERROR)
            sub_ids.append(value)  # type: ignore[arg-type]
            continue
        if name in found:
            raise PropertyError(f"property {name} appears twice", ReasonCode.PROTOCOL_ERROR)
        if name in _BYTE_LIMITS and value not in (0, 1):
            raise PropertyError(f"property {name} is {value}", ReasonCode.PROTOCOL_ERROR)
        if name in ("receive_maximum", "maximum_packet_size") and value == 0:
            raise PropertyError(f"property {name} is 0", ReasonCode.PROTOCOL_ERROR)
        found[name] = value
    if pos != stop:
        raise PropertyError("the properties run past their length")
    if pairs:
        found["user_properties"] = tuple(pairs)
    if sub_ids:
        found["subscription_identifiers"] = tuple(sub_ids)
    return Properties(**found), stop  # type: ignore[arg-type]
