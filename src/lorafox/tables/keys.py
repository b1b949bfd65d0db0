"""Key attributes: DynamoDB's rules for them, their order, and an order-preserving encoding.

A table's primary key is a partition (hash) key and an optional sort (range) key, each of type
S, N or B. DynamoDB checks a key attribute's type against the schema, refuses empty strings and
binaries, and limits a partition key to 2048 bytes and a sort key to 1024 (numbers always fit).

Sort keys are ordered numerically for N, by UTF-8 bytes for S (the same order as code points,
which is how Python compares ``str``) and by bytes for B. ``encode_key_value`` turns a key value
into bytes whose ``memcmp`` order is that order, for a SQL index on a BLOB/``bytea`` column
(SQLite compares BLOBs with ``memcmp``, PostgreSQL ``bytea`` likewise):

* S → its UTF-8 bytes; B → its raw bytes (so ``begins_with`` is the byte range
  ``[prefix, prefix_successor(prefix))``);
* N → ``lorafox.tables.numbers.encode_number`` (sign byte, exponent byte, digit nibbles).

One column holds one key attribute, whose type the table fixes: the encodings of different types
are not comparable with each other. A global secondary index may have a multi-attribute key
(up to ``MAX_KEY_ATTRIBUTES`` partition and as many sort attributes): such a part is stored as
its attributes' encodings one after the other, each made self-delimiting by
``encode_component`` (``0x00`` escaped as ``0x00 0xFF``, ``0x00 0x01`` after it), so that the
``memcmp`` order of the whole is the order of the values taken left to right.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lorafox.tables.errors import ValidationException
from lorafox.tables.numbers import decode_number, encode_number
from lorafox.tables.values import AttributeValue, Item, binary_bytes, value_type

__all__ = [
    "KEY_TYPES",
    "MAX_HASH_KEY_BYTES",
    "MAX_KEY_ATTRIBUTES",
    "MAX_RANGE_KEY_BYTES",
    "KeyAttribute",
    "KeySchema",
    "compare_key_values",
    "decode_key_value",
    "encode_component",
    "encode_key_part",
    "encode_key_value",
    "escape_component",
    "key_sort_value",
    "prefix_successor",
]

KEY_TYPES = frozenset({"S", "N", "B"})
MAX_HASH_KEY_BYTES = 2048
MAX_RANGE_KEY_BYTES = 1024
MAX_KEY_ATTRIBUTES = 4
"""Partition (and sort) key attributes of a global secondary index's multi-attribute key."""

_INVALID = "One or more parameter values were invalid: "
_NO_MATCH = "The provided key element does not match the schema"


@dataclass(frozen=True, slots=True)
class KeyAttribute:
    """One key attribute: its name and type (``S``, ``N`` or ``B``)."""

    name: str
    type: str


@dataclass(frozen=True, slots=True)
class KeySchema:
    """A table's (or an index's) primary key.

    ``hash`` and ``range`` are the first partition and sort key attributes; a global secondary
    index's multi-attribute key has the others in ``more_hashes`` and ``more_ranges``."""

    hash: KeyAttribute
    range: KeyAttribute | None = None
    more_hashes: tuple[KeyAttribute, ...] = ()
    more_ranges: tuple[KeyAttribute, ...] = ()

    @classmethod
    def from_definition(
        cls, elements: Sequence[Mapping[str, str]], types: Mapping[str, str]
    ) -> KeySchema:
        """The schema of a stored ``KeySchema`` list, with the attributes' ``types`` by name."""
        hashes = [
            KeyAttribute(e["AttributeName"], types[e["AttributeName"]])
            for e in elements
            if e["KeyType"] == "HASH"
        ]
        ranges = [
            KeyAttribute(e["AttributeName"], types[e["AttributeName"]])
            for e in elements
            if e["KeyType"] != "HASH"
        ]
        return cls(
            hashes[0],
            ranges[0] if ranges else None,
            tuple(hashes[1:]),
            tuple(ranges[1:]),
        )

    @property
    def hashes(self) -> tuple[KeyAttribute, ...]:
        return (self.hash, *self.more_hashes)

    @property
    def ranges(self) -> tuple[KeyAttribute, ...]:
        return () if self.range is None else (self.range, *self.more_ranges)

    @property
    def attributes(self) -> tuple[KeyAttribute, ...]:
        return (*self.hashes, *self.ranges)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(attribute.name for attribute in self.attributes)

    def encode_pk(self, item: Mapping[str, Any]) -> bytes:
        """The partition key bytes of an item having every key attribute."""
        if not self.more_hashes:
            return encode_key_value(item[self.hash.name])
        return encode_key_part(self.hashes, item)

    def encode_sk(self, item: Mapping[str, Any]) -> bytes:
        """The sort key bytes of an item having every key attribute (empty without one)."""
        if self.range is None:
            return b""
        if not self.more_ranges:
            return encode_key_value(item[self.range.name])
        return encode_key_part(self.ranges, item)

    def key_of(self, item: Mapping[str, AttributeValue]) -> Item:
        """The key attributes of a (valid) item."""
        return {name: item[name] for name in self.names}

    def check_item(self, item: Mapping[str, Mapping[str, Any]]) -> None:
        """DynamoDB's errors for an item (PutItem) whose key attributes break the schema."""
        for attribute in self.attributes:
            value = item.get(attribute.name)
            if value is None:
                raise ValidationException(
                    _INVALID + f"Missing the key {attribute.name} in the item"
                )
            actual = value_type(value)
            if actual != attribute.type:
                raise ValidationException(
                    _INVALID + f"Type mismatch for key {attribute.name} expected: "
                    f"{attribute.type} actual: {actual}"
                )
            self._check_piece(attribute, value, in_item=True)

    def check_key(self, key: Mapping[str, Mapping[str, Any]]) -> None:
        """DynamoDB's errors for a ``Key`` parameter (GetItem, UpdateItem, DeleteItem…)."""
        if len(key) != len(self.attributes):
            raise ValidationException(_NO_MATCH)
        for attribute in self.attributes:
            value = key.get(attribute.name)
            if value is None or value_type(value) != attribute.type:
                raise ValidationException(_NO_MATCH)
            self._check_piece(attribute, value, in_item=False)

    def _check_piece(
        self, attribute: KeyAttribute, value: Mapping[str, Any], *, in_item: bool
    ) -> None:
        raw = value[attribute.type]
        if attribute.type == "N":
            return
        size = len(raw.encode("utf-8")) if attribute.type == "S" else len(binary_bytes(raw))
        if size == 0:
            kind = "string" if attribute.type == "S" else "binary"
            lead = "One or more parameter values are not valid. " if in_item else _INVALID
            raise ValidationException(
                lead + f"The AttributeValue for a key attribute cannot contain an empty {kind} "
                f"value. Key: {attribute.name}"
            )
        is_hash = attribute is self.hash or attribute in self.more_hashes
        if is_hash and size > MAX_HASH_KEY_BYTES:
            # Sic: DynamoDB's message has no space before the number.
            raise ValidationException(
                _INVALID + "Size of hashkey has exceeded the maximum size limit of"
                f"{MAX_HASH_KEY_BYTES} bytes"
            )
        if not is_hash and size > MAX_RANGE_KEY_BYTES:
            raise ValidationException(
                _INVALID + "Aggregated size of all range keys has exceeded the size limit of "
                f"{MAX_RANGE_KEY_BYTES} bytes"
            )


def key_sort_value(value: Mapping[str, Any]) -> Decimal | bytes:
    """A Python value whose order is DynamoDB's for a key value (S, N or B)."""
    if value_type(value) == "N":
        return Decimal(value["N"])
    return encode_key_value(value)  # strings and binaries sort as their bytes


def compare_key_values(left: Mapping[str, Any], right: Mapping[str, Any]) -> int:
    """-1, 0 or 1 as ``left`` sorts before, with or after ``right`` (both of one key type)."""
    if value_type(left) != value_type(right):
        raise ValueError("key values of different types have no order")
    a, b = key_sort_value(left), key_sort_value(right)
    return (a > b) - (a < b)  # type: ignore[operator]


def encode_key_value(value: Mapping[str, Any]) -> bytes:
    """Bytes whose ``memcmp`` order is DynamoDB's order of key values of one type."""
    kind = value_type(value)
    raw = value[kind]
    if kind == "N":
        return encode_number(raw)
    if kind == "S":
        return bytes(raw.encode("utf-8"))
    if kind == "B":
        return binary_bytes(raw)
    raise ValueError(f"{kind} is not a key type")


def escape_component(raw: bytes) -> bytes:
    """``raw`` with every ``0x00`` as ``0x00 0xFF``: no escaped string holds ``0x00 0x01``."""
    return raw.replace(b"\x00", b"\x00\xff")


def encode_component(value: Mapping[str, Any]) -> bytes:
    """One attribute of a multi-attribute key part: its escaped encoding and ``0x00 0x01``.

    No such component is a prefix of another, and their ``memcmp`` order is that of the
    values, so a concatenation of them sorts as the values compared left to right."""
    return escape_component(encode_key_value(value)) + b"\x00\x01"


def encode_key_part(attributes: Sequence[KeyAttribute], item: Mapping[str, Any]) -> bytes:
    """A partition or sort key part: one attribute's encoding as it is, several as
    ``encode_component``'s one after the other."""
    if len(attributes) == 1:
        return encode_key_value(item[attributes[0].name])
    return b"".join(encode_component(item[attribute.name]) for attribute in attributes)


def decode_key_value(kind: str, data: bytes) -> AttributeValue:
    """The value of type ``kind`` whose encoding is ``data``."""
    if kind == "N":
        return {"N": decode_number(data)}
    if kind == "S":
        return {"S": data.decode("utf-8")}
    if kind == "B":
        return {"B": base64.b64encode(data).decode("ascii")}
    raise ValueError(f"{kind} is not a key type")


def prefix_successor(prefix: bytes) -> bytes | None:
    """The smallest byte string greater than every string starting with ``prefix``.

    ``None`` when there is none (empty prefix, or only 0xFF bytes): the range is then open.
    """
    trimmed = prefix.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes((trimmed[-1] + 1,))
