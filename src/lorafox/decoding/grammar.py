"""The Sigfox Back-End's custom payload format: its text → the layout of each field.

::

    format     = field_def (whitespace field_def)*
    field_def  = name ":" [byte_index] ":" type
    name       = one or more of A-Z a-z 0-9 "-" "_"      (unique in the format)
    byte_index = 0 to 11                                   (a payload has 12 bytes at most)
    type       = "bool:" 0..7                              (a bit, 7 the most significant)
               | "char:" 1..12                             (bytes read as ASCII text)
               | "float:32" [endian]                       (IEEE 754 single precision)
               | "uint:" (8 | 16 | 24 | 32) [endian]
    endian     = ":big-endian" (the default) | ":little-endian"

An omitted byte index means the *cursor*: 0 at first; after a bool, the bool's byte (so the
next bool shares it, and so does a next field of another type: "the last byte used"); after
any other field, the byte that follows it. Every error is a ``PayloadFormatError`` naming the
field and the 1-based character of the text where the fault is.

A LoRa format (one per fPort) reads the same grammar over a longer payload: its byte indexes
and ``char`` lengths reach ``MAX_LORA_PAYLOAD_BYTES``.
"""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass
from typing import NoReturn

from lorafox.errors import PayloadFormatError

__all__ = [
    "MAX_LORA_PAYLOAD_BYTES",
    "MAX_PAYLOAD_BYTES",
    "FieldKind",
    "FieldLayout",
    "parse_format",
]

MAX_PAYLOAD_BYTES = 12
"""A Sigfox uplink carries 0 to 12 bytes."""
MAX_LORA_PAYLOAD_BYTES = 255
"""A LoRaWAN frame's payload: 255 bytes at most (242 in practice, by data rate)."""

_TYPES = "bool, char, float or uint"
_UINT_BITS = {"8": 1, "16": 2, "24": 3, "32": 4}
_ENDIAN = {"big-endian": False, "little-endian": True}
_FIELD = re.compile(r"\S+")
_NAME = re.compile(r"[A-Za-z0-9_-]+")
_NUMBER = re.compile(r"[0-9]+")
_SHOWN = 40  # characters of the user's text quoted in a message


class FieldKind(enum.Enum):
    BOOL = "bool"
    CHAR = "char"
    FLOAT = "float"
    UINT = "uint"


@dataclass(slots=True, frozen=True)
class FieldLayout:
    """Where and how one field of the format is read."""

    name: str
    kind: FieldKind
    start: int  # the first byte read
    size: int  # bytes read (1 for a bool)
    bit: int = 0  # a bool's bit, 0 the least significant
    little_endian: bool = False
    column: int = 1  # the 1-based character where the field starts in the format

    @property
    def end(self) -> int:
        """The byte after the last one read."""
        return self.start + self.size


def parse_format(text: str, max_bytes: int = MAX_PAYLOAD_BYTES) -> tuple[FieldLayout, ...]:
    """The fields of a custom format over payloads of at most ``max_bytes``, in the order
    written; ``PayloadFormatError`` if it is not one (and never another exception, whatever
    the text)."""
    fields: list[FieldLayout] = []
    columns: dict[str, int] = {}
    cursor = 0
    for ordinal, match in enumerate(_FIELD.finditer(text), 1):
        field = _Field(match.group(), match.start() + 1, ordinal, max_bytes)
        layout = field.parse(cursor)
        if layout.name in columns:
            field.fail(
                field.column,
                f"the name is already used by the field at character {columns[layout.name]}",
            )
        columns[layout.name] = layout.column
        fields.append(layout)
        cursor = layout.start if layout.kind is FieldKind.BOOL else layout.end
    if not fields:
        raise PayloadFormatError(
            'payloadConfig: the format is empty (expected fields such as "temp::uint:8")',
            position=1,
        )
    return tuple(fields)


def _show(text: str) -> str:
    """``text`` quoted for a message: escaped, and cut when long."""
    cut = text if len(text) <= _SHOWN else text[:_SHOWN] + "…"
    return json.dumps(cut, ensure_ascii=False)


class _Field:
    """One ``name:byte_index:type`` of the text, at character ``column``."""

    def __init__(self, token: str, column: int, ordinal: int, max_bytes: int) -> None:
        self.token = token
        self.max_bytes = max_bytes
        self.column = column
        self.parts: list[tuple[str, int]] = []  # (text, column) between the colons
        at = column
        for part in token.split(":"):
            self.parts.append((part, at))
            at += len(part) + 1
        name = self.parts[0][0]
        self.name = name if _NAME.fullmatch(name) else None
        self.label = f'"{name}"' if self.name else str(ordinal)

    def fail(self, column: int, problem: str) -> NoReturn:
        raise PayloadFormatError(
            f"payloadConfig: field {self.label} at character {column}: {problem}",
            position=column,
            field_name=self.name,
        )

    def parse(self, cursor: int) -> FieldLayout:
        if len(self.parts) < 3:
            self.fail(
                self.column,
                f'{_show(self.token)} is not name:byte_index:type (e.g. "temp::uint:8")',
            )
        name = self._name()
        index = self._index()
        (kind_text, kind_column), params = self.parts[2], self.parts[3:]
        if kind_text == FieldKind.BOOL.value:
            kind, size, bit, little = FieldKind.BOOL, 1, self._bit(params), False
        elif kind_text == FieldKind.CHAR.value:
            kind, size, bit, little = FieldKind.CHAR, self._length(params), 0, False
        elif kind_text == FieldKind.FLOAT.value:
            kind, size, bit, little = FieldKind.FLOAT, self._float(params), 0, self._order(params)
        elif kind_text == FieldKind.UINT.value:
            kind, size, bit, little = FieldKind.UINT, self._uint(params), 0, self._order(params)
        elif not kind_text:
            self.fail(kind_column, f"the type is missing (expected {_TYPES})")
        else:
            self.fail(kind_column, f"unknown type {_show(kind_text)} (expected {_TYPES})")
        start = cursor if index is None else index
        if start + size > self.max_bytes:
            where = kind_column if index is None else self.parts[1][1]
            needs = f"byte {start}" if size == 1 else f"bytes {start} to {start + size - 1}"
            self.fail(
                where,
                f"{self._type_text()} needs {needs}, past the {self.max_bytes}-byte maximum",
            )
        return FieldLayout(name, kind, start, size, bit, little, self.column)

    def _name(self) -> str:
        text, column = self.parts[0]
        if not text:
            self.fail(column, "the field has no name")
        if self.name is None:
            bad = next(i for i, c in enumerate(text) if not _NAME.fullmatch(c))
            self.fail(
                column + bad,
                f'{_show(text[bad])} in the name (letters, digits, "-" and "_" only)',
            )
        return text

    def _index(self) -> int | None:
        text, column = self.parts[1]
        if not text:
            return None
        if not _NUMBER.fullmatch(text):
            hint = ""
            if text in {kind.value for kind in FieldKind}:
                hint = f' (is a ":" missing? e.g. "{self.parts[0][0]}::{text}:…")'
            self.fail(column, f"byte index {_show(text)} is not a number{hint}")
        if len(text) > 3 or int(text) >= self.max_bytes:
            self.fail(
                column,
                f"byte index {text} is past the last byte ({self.max_bytes - 1}) "
                f"of a {self.max_bytes}-byte payload",
            )
        return int(text)

    def _type_text(self) -> str:
        return ":".join(part for part, _ in self.parts[2:])

    def _param(self, params: list[tuple[str, int]], what: str) -> tuple[str, int]:
        kind_text, kind_column = self.parts[2]
        if not params:
            self.fail(kind_column, f"{_show(kind_text)} needs its {what}")
        return params[0]

    def _unknown(self, column: int, expected: str) -> NoReturn:
        self.fail(column, f"unknown type {_show(self._type_text())} (expected {expected})")

    def _no_more(self, params: list[tuple[str, int]], allowed: int) -> None:
        if len(params) > allowed:
            text, column = params[allowed]
            shown = ":".join(part for part, _ in params[:allowed])
            self.fail(column, f'unexpected ":{text}" after "{self.parts[2][0]}:{shown}"')

    def _bit(self, params: list[tuple[str, int]]) -> int:
        text, column = self._param(params, "bit (0 to 7), e.g. bool:7")
        if len(text) != 1 or text not in "01234567":
            self._unknown(column, "a bit from 0 to 7")
        self._no_more(params, 1)
        return int(text)

    def _length(self, params: list[tuple[str, int]]) -> int:
        text, column = self._param(params, f"length (1 to {self.max_bytes}), e.g. char:6")
        if not _NUMBER.fullmatch(text) or len(text) > 3 or not 1 <= int(text) <= self.max_bytes:
            self._unknown(column, f"a length from 1 to {self.max_bytes} bytes")
        self._no_more(params, 1)
        return int(text)

    def _float(self, params: list[tuple[str, int]]) -> int:
        text, column = self._param(params, "size, float:32")
        if text != "32":
            self._unknown(column, "float:32")
        self._no_more(params, 2)
        return 4

    def _uint(self, params: list[tuple[str, int]]) -> int:
        text, column = self._param(params, "size (8, 16, 24 or 32), e.g. uint:16")
        if text not in _UINT_BITS:
            self._unknown(column, "8, 16, 24 or 32")
        self._no_more(params, 2)
        return _UINT_BITS[text]

    def _order(self, params: list[tuple[str, int]]) -> bool:
        if len(params) < 2:
            return False
        text, column = params[1]
        if text not in _ENDIAN:
            self.fail(
                column,
                f"unknown byte order {_show(text)} (expected little-endian or big-endian)",
            )
        return _ENDIAN[text]
