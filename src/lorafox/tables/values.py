"""DynamoDB attribute values in their wire form: validation, equality and size.

An attribute value is the JSON object DynamoDB exchanges, with exactly one type key::

    {"S": "text"}   {"N": "12.5"}   {"B": "<base64>"}   {"BOOL": true}   {"NULL": true}
    {"M": {"name": <value>, …}}   {"L": [<value>, …]}
    {"SS": ["a", "b"]}   {"NS": ["1", "2"]}   {"BS": ["<base64>", …]}

Items are ``{"attribute name": <value>}``. lorafox keeps items in this form from the request to
the store and back, so nothing is converted twice. ``validate_value`` and ``validate_item`` check
what a client sent, with DynamoDB's own messages (a ``SerializationException`` for JSON of the
wrong shape, a ``ValidationException`` for a value DynamoDB refuses), and return a normalized
copy (numbers in canonical form, unknown or ``null`` type keys dropped, as DynamoDB does). Lists
and maps nest at most 31 deep (the leaves at level 32), as on DynamoDB.

``item_size`` counts bytes the way DynamoDB does for its 400 KB limit: the UTF-8 length of each
attribute name plus the size of its value — UTF-8 bytes for a string, raw bytes for a binary,
``number_size`` for a number, 1 for a Boolean or null, the sum of the members for a set, and
3 bytes plus, per element, 1 byte and its size (and its name, in a map) for a list or a map.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from lorafox.tables.errors import SerializationException, ValidationException
from lorafox.tables.numbers import canonical_number, number_size

__all__ = [
    "MAX_ITEM_SIZE",
    "MAX_KEY_NAME",
    "MAX_NAME",
    "MAX_NESTING",
    "SCALAR_TYPES",
    "SET_TYPES",
    "TYPES",
    "AttributeValue",
    "Item",
    "as_string",
    "binary_bytes",
    "check_attribute_name",
    "check_item_size",
    "check_nesting",
    "item_size",
    "validate_item",
    "validate_value",
    "value_size",
    "value_type",
    "values_equal",
]

AttributeValue = dict[str, Any]
"""One value in wire form, e.g. ``{"S": "x"}``."""
Item = dict[str, AttributeValue]
"""An item (or a key) in wire form: attribute name → value."""

TYPES = ("S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS")
SCALAR_TYPES = frozenset({"S", "N", "B"})
SET_TYPES = frozenset({"SS", "NS", "BS"})
MAX_ITEM_SIZE = 400 * 1024
"""DynamoDB's item size limit, in bytes as ``item_size`` counts them."""
MAX_NESTING = 31
"""Lists and maps that may enclose one another in an attribute value (its leaves at level 32)."""
MAX_NAME = 65535
"""The longest attribute name, in UTF-8 bytes."""
MAX_KEY_NAME = 255
"""The longest name of a key attribute (table, index, time to live) or projected attribute."""

_INVALID = "One or more parameter values were invalid: "
_EMPTY = "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
_MANY = (
    "Supplied AttributeValue has more than one datatypes set, "
    "must contain exactly one of the supported datatypes"
)
_TOO_DEEP = (
    "Nesting Levels have exceeded supported limits: "
    "Attributes in the item have nested levels beyond supported limit"
)
_MAP_OF_VALUES = "java.util.Map<java.lang.String, com.amazonaws.dynamodb.v20120810.AttributeValue>"


def value_type(value: Mapping[str, Any]) -> str:
    """The type key of a valid value (``"S"``, ``"NS"``…)."""
    return next(iter(value))


def binary_bytes(text: str) -> bytes:
    """The raw bytes of a (valid) base64 binary value."""
    return base64.b64decode(text)


# --- shape: what a JSON parser lets through that the API's schema does not -------------------


def _conversion(raw: object, target: str) -> SerializationException:
    if isinstance(raw, bool):
        return SerializationException(
            f"{'TRUE' if raw else 'FALSE'}_VALUE cannot be converted to {target}"
        )
    if isinstance(raw, int | float):
        kind = "NUMBER" if isinstance(raw, int) or raw.is_integer() else "DECIMAL"
        return SerializationException(f"{kind}_VALUE cannot be converted to {target}")
    if isinstance(raw, list):
        return SerializationException(f"Unrecognized collection type class java.lang.{target}")
    return SerializationException("Start of structure or map found where not expected")


def as_string(raw: object) -> str:
    """``raw`` if it is a JSON string; the SerializationException DynamoDB answers otherwise."""
    if not isinstance(raw, str):
        raise _conversion(raw, "String")
    return raw


def _blob(raw: object) -> str:
    if isinstance(raw, list):
        raise SerializationException("Unrecognized collection type class java.nio.ByteBuffer")
    if isinstance(raw, dict):
        raise SerializationException("Start of structure or map found where not expected")
    if not isinstance(raw, str):
        raise SerializationException("only base-64-encoded strings are convertible to bytes")
    if len(raw) % 4:
        raise SerializationException(
            f"Base64 encoded length is expected a multiple of 4 bytes but found: {len(raw)}"
        )
    try:
        canonical = base64.b64encode(base64.b64decode(raw, validate=True)).decode("ascii")
    except (binascii.Error, ValueError):
        canonical = ""
    if canonical != raw:
        # DynamoDB's own spelling.
        raise SerializationException("Invalid last non-pad Base64 character dectected")
    return raw


def _boolean(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        word = raw.upper()
        if word in ("TRUE", "1", "YES"):
            return True
        if word in ("FALSE", "0", "NO"):
            return False
        raise SerializationException("Unexpected token received from parser")
    raise _conversion(raw, "Boolean")


def _list(raw: object) -> list[Any]:
    if isinstance(raw, dict):
        raise SerializationException("Start of structure or map found where not expected")
    if not isinstance(raw, list):
        raise SerializationException("Unexpected field type")
    return raw


def _shape(raw: object, depth: int = 0) -> AttributeValue:
    """The value with its members type-checked; unknown and null type keys dropped.

    ``depth`` counts the lists and maps around the value; past ``MAX_NESTING`` it is refused
    here already, before a hostile document can exhaust the stack.
    """
    if depth > MAX_NESTING:
        raise ValidationException(_TOO_DEEP)
    if isinstance(raw, list):
        raise SerializationException(
            "Unrecognized collection type class com.amazonaws.dynamodb.v20120810.AttributeValue"
        )
    if not isinstance(raw, dict):
        raise SerializationException("Unexpected value type in payload")
    out: AttributeValue = {}
    for kind, member in raw.items():
        if member is None or kind not in TYPES:
            continue
        if kind in ("S", "N"):
            out[kind] = as_string(member)
        elif kind == "B":
            out[kind] = _blob(member)
        elif kind in ("BOOL", "NULL"):
            out[kind] = _boolean(member)
        elif kind in ("SS", "NS"):
            out[kind] = [as_string(x) for x in _list(member)]
        elif kind == "BS":
            out[kind] = [_blob(x) for x in _list(member)]
        elif kind == "L":
            out[kind] = [_shape(x, depth + 1) for x in _list(member)]
        else:
            out[kind] = _map_shape(member, depth + 1)
    return out


def _map_shape(raw: object, depth: int = 0) -> dict[str, AttributeValue]:
    if isinstance(raw, list):
        raise SerializationException(f"Unrecognized collection type {_MAP_OF_VALUES}")
    if not isinstance(raw, dict):
        raise SerializationException("Unexpected field type")
    return {str(name): _shape(member, depth) for name, member in raw.items() if member is not None}


# --- semantics: what DynamoDB refuses ---------------------------------------------------------


def _check_set(kind: str, members: list[str]) -> list[str]:
    if not members:
        word = {"SS": "An string set ", "NS": "An number set "}.get(kind)
        raise ValidationException(
            _INVALID + (f"{word} may not be empty" if word else "Binary sets should not be empty")
        )
    if kind == "NS":
        members = [canonical_number(x) for x in members]
        if len(set(members)) != len(members):
            raise ValidationException("Input collection contains duplicates")
        return members
    if len(set(members)) != len(members):
        listed = "[" + ", ".join(members) + "]"
        if kind == "SS":
            raise ValidationException(_INVALID + f"Input collection {listed} contains duplicates.")
        raise ValidationException(
            _INVALID + f"Input collection {listed}of type BS contains duplicates."
        )
    return members


def _semantics(value: AttributeValue) -> AttributeValue:
    if not value:
        raise ValidationException(_EMPTY)
    out: AttributeValue = {}
    for kind, member in value.items():
        if kind == "N":
            out[kind] = canonical_number(member)
        elif kind == "NULL" and not member:
            raise ValidationException(
                _INVALID + "Null attribute value types must have the value of true"
            )
        elif kind in SET_TYPES:
            out[kind] = _check_set(kind, member)
        elif kind == "M":
            out[kind] = {name: _semantics(x) for name, x in member.items()}
        elif kind == "L":
            out[kind] = [_semantics(x) for x in member]
        else:
            out[kind] = member
    if len(out) > 1:
        raise ValidationException(_MANY)
    return out


def validate_value(raw: object) -> AttributeValue:
    """A client's attribute value, checked and normalized; DynamoDB's error otherwise."""
    return _semantics(_shape(raw))


def check_attribute_name(name: str) -> None:
    """DynamoDB's error for an empty attribute name or one over ``MAX_NAME`` bytes."""
    if not name:
        raise ValidationException(_INVALID + "Empty attribute name")
    if len(name) * 4 > MAX_NAME and len(name.encode()) > MAX_NAME:
        raise ValidationException(
            _INVALID + f"Attribute name is too large, must be less than {MAX_NAME + 1} bytes"
        )


def validate_item(raw: object) -> Item:
    """A client's item (or key): every value checked (shapes first, as DynamoDB does), and
    every top-level name."""
    shaped = _map_shape(raw)
    for name in shaped:
        check_attribute_name(name)
    return {name: _semantics(value) for name, value in shaped.items()}


# --- equality and size ------------------------------------------------------------------------


def values_equal(left: Mapping[str, Any], right: Mapping[str, Any]) -> bool:
    """DynamoDB equality: same type and same value; numbers by value, sets in any order."""
    kind = value_type(left)
    if kind != value_type(right):
        return False
    a, b = left[kind], right[kind]
    if kind == "N":
        return bool(Decimal(a) == Decimal(b))
    if kind == "B":
        return binary_bytes(a) == binary_bytes(b)
    if kind == "NS":
        return {Decimal(x) for x in a} == {Decimal(x) for x in b}
    if kind == "BS":
        return {binary_bytes(x) for x in a} == {binary_bytes(x) for x in b}
    if kind == "SS":
        return set(a) == set(b)
    if kind == "L":
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b, strict=True))
    if kind == "M":
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def _binary_size(text: str) -> int:
    return len(text) * 3 // 4 - text[-2:].count("=") if text else 0


def value_size(value: Mapping[str, Any]) -> int:
    """Bytes DynamoDB counts for a value (without its attribute name)."""
    kind = value_type(value)
    member = value[kind]
    if kind == "S":
        return len(member.encode("utf-8"))
    if kind == "N":
        return number_size(member)
    if kind == "B":
        return _binary_size(member)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(x.encode("utf-8")) for x in member)
    if kind == "NS":
        return sum(number_size(x) for x in member)
    if kind == "BS":
        return sum(_binary_size(x) for x in member)
    if kind == "L":
        return 3 + sum(1 + value_size(x) for x in member)
    return 3 + sum(1 + len(k.encode("utf-8")) + value_size(x) for k, x in member.items())


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """Bytes DynamoDB counts for an item: names and values."""
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


def _depth(value: Mapping[str, Any]) -> int:
    """Lists and maps enclosing one another in ``value`` (0 for a scalar or a set)."""
    deepest, pending = 0, [(value, 0)]
    while pending:
        current, depth = pending.pop()
        if "L" in current:
            members = current["L"]
        elif "M" in current:
            members = current["M"].values()
        else:
            continue
        deepest = max(deepest, depth + 1)
        pending.extend((member, depth + 1) for member in members)
    return deepest


def check_nesting(item: Mapping[str, Mapping[str, Any]]) -> None:
    """DynamoDB's error if a value nests lists and maps more than ``MAX_NESTING`` deep."""
    if any(_depth(value) > MAX_NESTING for value in item.values()):
        raise ValidationException(_TOO_DEEP)


def check_item_size(item: Mapping[str, Mapping[str, Any]], *, update: bool = False) -> None:
    """DynamoDB's error if the item is over 400 KB (``update``: UpdateItem's wording)."""
    if item_size(item) > MAX_ITEM_SIZE:
        what = "Item size to update" if update else "Item size"
        raise ValidationException(f"{what} has exceeded the maximum allowed size")
