"""AWS IoT SQL values and AWS's conversion tables.

Values are plain Python: Int ``int``, Decimal ``float`` (a double: AWS keeps 34 digits),
Boolean ``bool``, String ``str``, Array ``list``, Object ``dict``, Null ``None``, Binary
``bytes`` and Undefined the ``UNDEFINED`` singleton. ``bool`` is tested before ``int``
everywhere, as Python's ``True`` is also an ``int``.

The conversions follow AWS's type page: ``to_decimal``/``to_int``/``to_bool``/``to_string``
give the implicit conversion of an argument of the wrong type (Undefined where AWS's table has
none); ``cast`` is the explicit one.
"""

from __future__ import annotations

import base64
import json
import math
import re
from typing import Any, Final

import orjson

__all__ = [
    "UNDEFINED",
    "Undefined",
    "Value",
    "cast",
    "equal",
    "from_json",
    "is_number",
    "kind",
    "to_bool",
    "to_decimal",
    "to_int",
    "to_json",
    "to_string",
    "truthy",
]


class Undefined:
    """The value of a missing key or a function given the wrong type; left out of results."""

    __slots__ = ()
    _instance: Undefined | None = None

    def __new__(cls) -> Undefined:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __bool__(self) -> bool:
        return False


UNDEFINED: Final = Undefined()

Value = Any
"""int | float | bool | str | list | dict | None | bytes | Undefined."""

_SIMPLE = frozenset({str, int, float, bool})
_DECIMAL_TEXT = re.compile(r"^\s*-?\d+(\.\d+)?([eE][+-]?\d+)?\s*$")


def kind(value: Value) -> str:
    """AWS's name for the type of ``value``."""
    if value is UNDEFINED:
        return "Undefined"
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Int"
    if isinstance(value, float):
        return "Decimal"
    if isinstance(value, str):
        return "String"
    if isinstance(value, list):
        return "Array"
    if isinstance(value, dict):
        return "Object"
    return "Binary"


def is_number(value: Value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def to_decimal(value: Value) -> Value:
    """A number for an arithmetic or a math function: Int and Decimal as they are, a numeric
    String as a Decimal, Null as Null; Undefined otherwise."""
    if isinstance(value, bool):
        return UNDEFINED
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        if _DECIMAL_TEXT.match(value):
            return float(value)
        return UNDEFINED
    if value is None:
        return None
    return UNDEFINED


def to_int(value: Value) -> Value:
    """An Int: a Decimal to the nearest, a numeric String parsed then truncated."""
    if isinstance(value, bool):
        return UNDEFINED
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return UNDEFINED if not math.isfinite(value) else round(value)
    if isinstance(value, str):
        if _DECIMAL_TEXT.match(value):
            number = float(value)
            return int(number) if math.isfinite(number) else UNDEFINED
        return UNDEFINED
    if value is None:
        return None
    return UNDEFINED


def to_bool(value: Value) -> Value:
    """A Boolean: itself, or the strings "true"/"false" in any case."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered == "true":
            return True
        if lowered == "false":
            return False
    return UNDEFINED


def _number_text(value: float) -> str:
    if math.isfinite(value) and value == int(value) and abs(value) < 1e16:
        return f"{value:.1f}"
    return repr(value)


def to_string(value: Value) -> Value:
    """A String: numbers as digits, Booleans as "true"/"false", Arrays and Objects as JSON
    text; Null and Undefined have none."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _number_text(value)
    if isinstance(value, list | dict):
        return to_json(value).decode()
    return UNDEFINED


def truthy(value: Value) -> bool:
    """Whether a WHERE clause fires: on exactly true (or the string "true", AWS's Boolean
    conversion)."""
    return value is True or (value is not False and to_bool(value) is True)


def equal(left: Value, right: Value) -> Value:
    """``=``: Undefined with an Undefined side; false across types (an Int and a Decimal
    compare as numbers)."""
    kind_of = type(left)
    if kind_of is type(right) and kind_of in _SIMPLE:
        return bool(left == right)
    if left is UNDEFINED or right is UNDEFINED:
        return UNDEFINED
    if is_number(left) and is_number(right):
        return bool(left == right)
    if type(left) is not type(right):
        return False
    if isinstance(left, list):
        return len(left) == len(right) and all(
            equal(a, b) is True for a, b in zip(left, right, strict=True)
        )
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(
            equal(v, right[k]) is True for k, v in left.items()
        )
    return bool(left == right)


_CAST_NAMES = {
    "int": "Int",
    "decimal": "Decimal",
    "bool": "Boolean",
    "boolean": "Boolean",
    "string": "String",
    "varchar": "String",
}


def cast_type(name: str) -> str | None:
    """AWS's type name for a ``cast(… AS name)`` keyword, None when there is none."""
    return _CAST_NAMES.get(name.lower())


def cast(value: Value, target: str) -> Value:
    """``cast(value AS target)`` by AWS's cast table."""
    if value is UNDEFINED or value is None:
        return UNDEFINED
    if target == "String":
        return to_string(value)
    if target == "Boolean":
        if isinstance(value, bool):
            return value
        if is_number(value):
            return value != 0
        return to_bool(value)
    if target == "Int":
        if isinstance(value, bool):
            return 1 if value else 0
        if isinstance(value, float):
            return math.floor(value) if math.isfinite(value) else UNDEFINED
        return to_int(value)
    if target == "Decimal":
        if isinstance(value, bool):
            return 1.0 if value else 0.0
        if is_number(value):
            return float(value)
        number = to_decimal(value)
        return float(number) if is_number(number) else UNDEFINED
    return UNDEFINED


def _whole(value: Any) -> Any:
    """2016-03-23 reads whole-number decimals (``10.0``) as Ints."""
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return int(value)
    if isinstance(value, list):
        return [_whole(v) for v in value]
    if isinstance(value, dict):
        return {k: _whole(v) for k, v in value.items()}
    return value


def from_json(payload: bytes, *, whole_decimals: bool) -> Value:
    """A payload as SQL sees it: its JSON value, else Undefined (binary: only ``*`` sees it)."""
    try:
        value = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return UNDEFINED
    return _whole(value) if whole_decimals else value


def _default(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if value is UNDEFINED:
        return None
    raise TypeError


def to_json(value: Value) -> bytes:
    """``value`` as compact JSON (Ints beyond 64 bits too)."""
    try:
        return orjson.dumps(value, default=_default)
    except orjson.JSONEncodeError:
        return json.dumps(value, default=_default, separators=(",", ":")).encode()
