"""The operators of AWS IoT SQL on ``values`` (AWS's operator tables)."""

from __future__ import annotations

import math
from collections.abc import Callable

from lorafox.rules.sql.values import (
    UNDEFINED,
    Value,
    equal,
    is_number,
    to_bool,
    to_decimal,
    to_string,
)

__all__ = ["ARITHMETIC", "COMPARISONS", "logical_and", "logical_not", "logical_or", "negate"]


def _numbers(left: Value, right: Value) -> tuple[Value, Value] | None:
    """Both sides as numbers: Ints stay Ints, numeric strings become Decimals."""
    a, b = to_decimal(left), to_decimal(right)
    if not is_number(a) or not is_number(b):
        return None
    return a, b


def _finite(value: float) -> Value:
    return value if math.isfinite(value) else UNDEFINED


def add(left: Value, right: Value) -> Value:
    if left is UNDEFINED or right is UNDEFINED:
        return UNDEFINED
    if isinstance(left, str) or isinstance(right, str):
        a, b = to_string(left), to_string(right)
        return UNDEFINED if a is UNDEFINED or b is UNDEFINED else a + b
    if not is_number(left) or not is_number(right):
        return UNDEFINED
    return (
        left + right if isinstance(left, int) and isinstance(right, int) else _finite(left + right)
    )


def subtract(left: Value, right: Value) -> Value:
    pair = _numbers(left, right)
    if pair is None:
        return UNDEFINED
    a, b = pair
    return a - b if isinstance(a, int) and isinstance(b, int) else _finite(a - b)


def multiply(left: Value, right: Value) -> Value:
    pair = _numbers(left, right)
    if pair is None:
        return UNDEFINED
    a, b = pair
    return a * b if isinstance(a, int) and isinstance(b, int) else _finite(a * b)


def divide(left: Value, right: Value) -> Value:
    """Int / Int is an Int, truncated towards zero (as Java's integers divide)."""
    pair = _numbers(left, right)
    if pair is None or pair[1] == 0:
        return UNDEFINED
    a, b = pair
    if isinstance(a, int) and isinstance(b, int):
        quotient = abs(a) // abs(b)
        return quotient if (a >= 0) == (b >= 0) else -quotient
    return _finite(a / b)


def modulo(left: Value, right: Value) -> Value:
    """The remainder takes the sign of the dividend (Java's ``%``)."""
    pair = _numbers(left, right)
    if pair is None or pair[1] == 0:
        return UNDEFINED
    a, b = pair
    if isinstance(a, int) and isinstance(b, int):
        remainder = abs(a) % abs(b)
        return remainder if a >= 0 else -remainder
    return math.fmod(a, b)


ARITHMETIC: dict[str, Callable[[Value, Value], Value]] = {
    "+": add,
    "-": subtract,
    "*": multiply,
    "/": divide,
    "%": modulo,
}


def _order(test: Callable[[Value, Value], bool]) -> Callable[[Value, Value], Value]:
    def compare(left: Value, right: Value) -> Value:
        pair = _numbers(left, right)
        if pair is None:
            return UNDEFINED
        return test(*pair)

    return compare


def not_equal(left: Value, right: Value) -> Value:
    """``<>``: true across types; Null <> Null is false."""
    result = equal(left, right)
    return result if result is UNDEFINED else not result


COMPARISONS: dict[str, Callable[[Value, Value], Value]] = {
    "=": equal,
    "<>": not_equal,
    "!=": not_equal,
    "<": _order(lambda a, b: a < b),
    "<=": _order(lambda a, b: a <= b),
    ">": _order(lambda a, b: a > b),
    ">=": _order(lambda a, b: a >= b),
}


def contained(left: Value, right: Value) -> Value:
    """``x IN array``: whether an element equals ``x``."""
    if left is UNDEFINED or not isinstance(right, list):
        return UNDEFINED
    return any(equal(left, element) is True for element in right)


def logical_and(left: Value, right: Value) -> Value:
    a, b = to_bool(left), to_bool(right)
    if a is UNDEFINED or b is UNDEFINED:
        return UNDEFINED
    return a and b


def logical_or(left: Value, right: Value) -> Value:
    a, b = to_bool(left), to_bool(right)
    if a is UNDEFINED or b is UNDEFINED:
        return UNDEFINED
    return a or b


def logical_not(value: Value) -> Value:
    a = to_bool(value)
    return UNDEFINED if a is UNDEFINED else not a


def negate(value: Value) -> Value:
    number = to_decimal(value)
    if not is_number(number):
        return UNDEFINED
    return -number
