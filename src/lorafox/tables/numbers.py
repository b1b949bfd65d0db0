"""DynamoDB numbers: parsing, canonical text, arithmetic, size, and an order-preserving encoding.

A DynamoDB number is a decimal of at most 38 significant digits whose magnitude lies between
1E-130 and 9.9999999999999999999999999999999999999E+125 (or zero). It travels as a string and is
returned in canonical form: plain notation, no exponent, no leading or trailing zeros, no ``-0``
(``"1.50"`` comes back as ``"1.5"``, ``"1e3"`` as ``"1000"``). Numbers are held as
``decimal.Decimal`` and never as floats.

**Size.** DynamoDB stores a number as one exponent byte and base-100 digits (two decimal digits a
byte, aligned on the decimal point), plus one byte for a negative number. That is why the size is
"about one byte per two significant digits, plus one" in the documentation; ``number_size`` is the
exact count, which decides where the 400 KB item limit falls.

**Encoding.** ``encode_number`` maps numbers to bytes whose lexicographic (``memcmp``) order is
the numeric order, so a SQL index on a BLOB/``bytea`` column sorts numeric sort keys right:

* byte 0: ``0x01`` negative, ``0x02`` zero (the whole encoding), ``0x03`` positive;
* byte 1: the decimal exponent of the first significant digit plus 130 (0 to 255), inverted
  (``255 - x``) for a negative number, so larger magnitudes sort first among negatives;
* then one 4-bit nibble per significant digit, packed two to a byte: ``digit + 1`` (1 to 10) for a
  positive number, the last byte padded with a 0 nibble; ``10 - digit`` (10 to 1) for a negative
  number, followed by a ``0xF`` terminator nibble (and ``0xF`` padding), so that a number whose
  digits are a prefix of another's sorts after it (-1.2 > -1.23).

Trailing zeros are never encoded (they are not significant), which makes the encoding unique
for each value. At most 2 + 20 bytes.
"""

from __future__ import annotations

import functools
import re
from decimal import Context, Decimal, InvalidOperation

from lorafox.tables.errors import ValidationException

__all__ = [
    "MAX_DIGITS",
    "MAX_EXPONENT",
    "MIN_EXPONENT",
    "add_numbers",
    "canonical_number",
    "decode_number",
    "encode_number",
    "number_size",
    "parse_number",
    "subtract_numbers",
]

MAX_DIGITS = 38
"""Significant digits a number may have."""
MAX_EXPONENT = 125
"""Largest decimal exponent of the first significant digit (9.99…E+125)."""
MIN_EXPONENT = -130
"""Smallest decimal exponent of the first significant digit (1E-130)."""

_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
# Exact arithmetic over the whole range: 256 digit positions, plus room to spare.
_EXACT = Context(prec=400, Emax=1000, Emin=-1000)
_EMPTY = "The parameter cannot be converted to a numeric value"
_OVERFLOW = (
    "Number overflow. Attempting to store a number with magnitude larger than supported range"
)
_UNDERFLOW = (
    "Number underflow. Attempting to store a number with magnitude smaller than supported range"
)
_TOO_PRECISE = "Attempting to store more than 38 significant digits in a Number"


def _significant(value: Decimal) -> tuple[int, tuple[int, ...], int]:
    """(sign, digits without trailing zeros, adjusted exponent) of a non-zero decimal."""
    sign, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)  # noqa: S101 - finite by construction
    end = len(digits)
    while end > 1 and digits[end - 1] == 0:
        end -= 1
    return sign, tuple(digits[:end]), exponent + len(digits) - 1


def _checked(value: Decimal) -> Decimal:
    """``value`` if DynamoDB can store it, in canonical form; DynamoDB's error otherwise."""
    if value.is_zero():
        return Decimal(0)
    sign, digits, adjusted = _significant(value)
    if adjusted > MAX_EXPONENT:
        raise ValidationException(_OVERFLOW)
    if adjusted < MIN_EXPONENT:
        raise ValidationException(_UNDERFLOW)
    if len(digits) > MAX_DIGITS:
        raise ValidationException(_TOO_PRECISE)
    return Decimal((sign, digits, adjusted - len(digits) + 1))


@functools.lru_cache(maxsize=65536)
def parse_number(text: str) -> Decimal:
    """The value of a number as sent on the wire, checked against DynamoDB's limits."""
    if not text:
        raise ValidationException(_EMPTY)
    if _NUMBER.fullmatch(text) is None:
        raise ValidationException(f"{_EMPTY}: {text}")
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        # An exponent beyond what decimal represents (|e| > 10**18): far out of range.
        mantissa, _, exponent = text.lower().partition("e")
        if Decimal(mantissa).is_zero():
            return Decimal(0)
        raise ValidationException(_UNDERFLOW if exponent.startswith("-") else _OVERFLOW) from None
    return _checked(value)


def canonical_number(value: Decimal | str) -> str:
    """The text DynamoDB returns for a number: ``"1.50"`` → ``"1.5"``, ``"1E+2"`` → ``"100"``."""
    number = parse_number(value) if isinstance(value, str) else _checked(value)
    return format(number, "f")


def add_numbers(left: str, right: str) -> str:
    """``left + right`` exactly, as canonical text; DynamoDB's error if it cannot be stored."""
    return format(_checked(_EXACT.add(Decimal(left), Decimal(right))), "f")


def subtract_numbers(left: str, right: str) -> str:
    """``left - right`` exactly, as canonical text; DynamoDB's error if it cannot be stored."""
    return format(_checked(_EXACT.subtract(Decimal(left), Decimal(right))), "f")


@functools.lru_cache(maxsize=65536)
def number_size(text: str) -> int:
    """Bytes DynamoDB counts for a (valid) number."""
    value = Decimal(text)
    if value.is_zero():
        return 1
    sign, digits, adjusted = _significant(value)
    count = len(digits)
    # Base-100 digits: when the first digit sits at an even power of ten it is alone in its pair.
    pairs = (count + 1) // 2 + (1 if count % 2 == 0 and adjusted % 2 == 0 else 0)
    return 1 + pairs + sign


@functools.lru_cache(maxsize=65536)
def encode_number(text: str) -> bytes:
    """The order-preserving encoding of a (valid) number; see the module docstring."""
    value = Decimal(text)
    if value.is_zero():
        return b"\x02"
    sign, digits, adjusted = _significant(value)
    exponent = adjusted - MIN_EXPONENT
    if sign:
        nibbles = [10 - digit for digit in digits]
        nibbles.append(0xF)
        pad, head = 0xF, bytes((0x01, 255 - exponent))
    else:
        nibbles = [digit + 1 for digit in digits]
        pad, head = 0x0, bytes((0x03, exponent))
    if len(nibbles) % 2:
        nibbles.append(pad)
    body = bytes((nibbles[i] << 4) | nibbles[i + 1] for i in range(0, len(nibbles), 2))
    return head + body


def decode_number(data: bytes) -> str:
    """The canonical text of a number from its encoding (the inverse of ``encode_number``)."""
    if data == b"\x02":
        return "0"
    if len(data) < 3 or data[0] not in (0x01, 0x03):
        raise ValueError("not an encoded number")
    negative = data[0] == 0x01
    exponent = (255 - data[1] if negative else data[1]) + MIN_EXPONENT
    nibbles = [n for byte in data[2:] for n in (byte >> 4, byte & 0xF)]
    if negative:
        digits = tuple(10 - n for n in nibbles if n != 0xF)
    else:
        digits = tuple(n - 1 for n in nibbles if n != 0)
    number = Decimal((1 if negative else 0, digits, exponent - len(digits) + 1))
    return format(number, "f")
