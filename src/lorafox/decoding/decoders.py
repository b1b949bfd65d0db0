"""Payload decoders: a device type's payload type and format, compiled once, applied to every
message of its devices.

What ``decode`` returns, per payload type (Sigfox's ``payloadType`` codes):

- 2 REGULAR: nothing to decode — ``compile_decoder`` gives ``None``;
- 3 CUSTOM_GRAMMAR: ``{field name: value}`` in the format's order, a value being a ``bool``
  (bool), an ``int`` (uint), a ``float`` or ``None`` (float:32; ``None`` for NaN and
  infinities, which JSON cannot carry) or a ``str`` (char);
- 5 STRING: ``{"text": str}``, the whole payload as ASCII.

Text (char fields and the STRING type): each byte is its ASCII character; trailing NUL bytes
(C-style padding) are dropped; any other NUL byte and any byte above 0x7F shows as U+FFFD.
A float:32 reads as the decimal of fewest significant digits (6 at least, 9 at most) that reads
back to the same 32 bits: ``23.1``, not ``23.100000381469727``.
"""

from __future__ import annotations

import functools
import math
import operator
import re
import struct
from collections.abc import Callable
from typing import Any, Final, Literal, Protocol, assert_never, final

from lorafox.decoding.grammar import (
    MAX_LORA_PAYLOAD_BYTES,
    MAX_PAYLOAD_BYTES,
    FieldKind,
    FieldLayout,
    parse_format,
)
from lorafox.domain import PayloadType
from lorafox.errors import InvalidInput, PayloadDecodeError, PayloadFormatError

__all__ = [
    "STRING_FIELD",
    "CustomDecoder",
    "Decoder",
    "PortDecoder",
    "StringDecoder",
    "compile_decoder",
    "decode_payload",
]

STRING_FIELD: Final = "text"
"""The one key of a STRING payload's decoded fields."""

_Reader = Callable[[bytes], Any]
_FLOAT32 = struct.Struct(">f")
_UINT_CODES = {2: "H", 4: "I"}


class Decoder(Protocol):
    """A compiled payload type: hex payload → decoded fields."""

    def decode(self, data_hex: str, port: int | None = None) -> dict[str, Any]:
        """The fields of one payload (``port``: a LoRa uplink's fPort, None for Sigfox);
        ``PayloadDecodeError`` if it does not fit."""
        ...


@final
class CustomDecoder:
    """A compiled custom format: one precomputed reader per field."""

    __slots__ = ("_needed", "_readers", "fields")

    def __init__(self, fields: tuple[FieldLayout, ...]) -> None:
        self.fields = fields
        self._readers = tuple((f.name, _reader(f)) for f in fields)
        self._needed = max(f.end for f in fields)

    def decode(self, data_hex: str, port: int | None = None) -> dict[str, Any]:
        data = _payload(data_hex)
        if len(data) < self._needed:
            raise self._too_short(len(data))
        return {name: read(data) for name, read in self._readers}

    def _too_short(self, size: int) -> PayloadDecodeError:
        field = next(f for f in self.fields if f.end > size)
        needs = (
            f"byte {field.start}" if field.size == 1 else f"bytes {field.start} to {field.end - 1}"
        )
        unit = "byte" if size == 1 else "bytes"
        return PayloadDecodeError(
            f'payload has {size} {unit}; field "{field.name}" needs {needs}',
            field_name=field.name,
        )

    def __repr__(self) -> str:
        return f"CustomDecoder({', '.join(f.name for f in self.fields)})"


@final
class StringDecoder:
    """The STRING payload type: the payload as ASCII text."""

    __slots__ = ()

    def decode(self, data_hex: str, port: int | None = None) -> dict[str, Any]:
        return {STRING_FIELD: _text(_payload(data_hex))}


_STRING = StringDecoder()

_PORTS = re.compile(r"^\s*port\s+\d+\s*:")
_SEGMENT = re.compile(r"^\s*port\s+(\d{1,3})\s*:(.*)$", re.DOTALL)


@final
class PortDecoder:
    """A LoRa device type's custom formats, one per fPort: ``port 1: <format>; port 2: …``,
    each over a LoRa payload (up to ``MAX_LORA_PAYLOAD_BYTES``, not Sigfox's 12)."""

    __slots__ = ("_by_port",)

    def __init__(self, by_port: dict[int, CustomDecoder]) -> None:
        self._by_port = by_port

    def decode(self, data_hex: str, port: int | None = None) -> dict[str, Any]:
        if port is None:
            raise PayloadDecodeError("the format is one per fPort and this message has none")
        decoder = self._by_port.get(port)
        if decoder is None:
            raise PayloadDecodeError(f"no format for fPort {port}")
        return decoder.decode(data_hex)

    def __repr__(self) -> str:
        return f"PortDecoder({sorted(self._by_port)})"


def _compile_ports(text: str) -> PortDecoder:
    by_port: dict[int, CustomDecoder] = {}
    for segment in text.split(";"):
        if not segment.strip():
            continue
        found = _SEGMENT.match(segment)
        if found is None:
            raise PayloadFormatError(f"{segment.strip()[:40]!r}: port N: <format> expected")
        port = int(found.group(1))
        if not 1 <= port <= 255 or port in by_port:
            raise PayloadFormatError(f"port {port}: 1 to 255, once each")
        by_port[port] = _compile_custom(found.group(2).strip(), MAX_LORA_PAYLOAD_BYTES)
    return PortDecoder(by_port)


def compile_decoder(payload_type: PayloadType, payload_config: str | None) -> Decoder | None:
    """The decoder of a payload type (``None`` for REGULAR: nothing to decode). The format of
    the custom grammar is compiled once (and remembered: the same text gives the same decoder);
    a bad one raises ``PayloadFormatError``. The config of the other types is ignored, as in
    the Sigfox Back-End. A plain int is taken for its ``PayloadType`` (``InvalidInput`` on
    ``payloadType`` if it is none)."""
    try:
        payload_type = PayloadType(payload_type)
    except ValueError:
        raise InvalidInput(
            "payloadType: 2 (regular), 3 (custom grammar) or 5 (string)", field="payloadType"
        ) from None
    if payload_type is PayloadType.REGULAR:
        return None
    if payload_type is PayloadType.STRING:
        return _STRING
    if payload_type is PayloadType.CUSTOM_GRAMMAR:
        if payload_config and _PORTS.match(payload_config):
            return _compile_ports(payload_config)
        return _compile_custom(payload_config or "")
    assert_never(payload_type)


def decode_payload(
    decoder: Decoder | None, data_hex: str, port: int | None = None
) -> tuple[dict[str, Any] | None, str | None]:
    """``(fields, None)``, or ``(None, why)`` when the payload does not fit its format, or
    ``(None, None)`` without a decoder: for callers that keep the message either way."""
    if decoder is None:
        return None, None
    try:
        return decoder.decode(data_hex, port), None
    except PayloadDecodeError as exc:
        return None, exc.message


@functools.lru_cache(maxsize=256)
def _compile_custom(text: str, max_bytes: int = MAX_PAYLOAD_BYTES) -> CustomDecoder:
    return CustomDecoder(parse_format(text, max_bytes))


def _payload(data_hex: str) -> bytes:
    try:
        return bytes.fromhex(data_hex)
    except (TypeError, ValueError):
        raise PayloadDecodeError("payload: not hexadecimal") from None


def _reader(field: FieldLayout) -> _Reader:
    i, j = field.start, field.end
    match field.kind:
        case FieldKind.BOOL:
            mask = 1 << field.bit
            return lambda data: (data[i] & mask) != 0
        case FieldKind.CHAR:
            return lambda data: _text(data[i:j])
        case FieldKind.FLOAT:
            unpack = struct.Struct("<f" if field.little_endian else ">f").unpack_from
            return lambda data: _float32(unpack(data, i)[0])
        case FieldKind.UINT:
            return _uint_reader(field)
    assert_never(field.kind)


def _uint_reader(field: FieldLayout) -> _Reader:
    i, j = field.start, field.end
    if field.size == 1:
        return operator.itemgetter(i)
    order: Literal["little", "big"] = "little" if field.little_endian else "big"
    code = _UINT_CODES.get(field.size)
    if code is None:  # uint:24 has no struct code
        from_bytes = int.from_bytes
        return lambda data: from_bytes(data[i:j], order)
    unpack = struct.Struct(("<" if field.little_endian else ">") + code).unpack_from
    return lambda data: unpack(data, i)[0]


def _float32(value: float) -> float | None:
    """The decimal of fewest significant digits (6 to 9) that is the same float32, or None for
    NaN and infinities."""
    if not math.isfinite(value):
        return None
    pack, unpack = _FLOAT32.pack, _FLOAT32.unpack
    for digits in (6, 7, 8):
        shorter = float(f"{value:.{digits}g}")
        try:
            if unpack(pack(shorter))[0] == value:
                return shorter
        except OverflowError:  # rounded past the largest float32
            continue
    return value  # 9 significant digits always do; the exact value is as good


def _text(raw: bytes) -> str:
    text = raw.rstrip(b"\x00").decode("ascii", "replace")  # a byte above 0x7f → U+FFFD
    return text.replace("\x00", "\ufffd") if "\x00" in text else text
