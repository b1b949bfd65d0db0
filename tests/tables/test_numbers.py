"""DynamoDB numbers: limits and messages, canonical text, arithmetic, size, ordered bytes."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lorafox.tables.errors import ValidationException
from lorafox.tables.numbers import (
    add_numbers,
    canonical_number,
    decode_number,
    encode_number,
    number_size,
    parse_number,
    subtract_numbers,
)
from tests.tables.strategies import dynamo_numbers

OVERFLOW = (
    "Number overflow. Attempting to store a number with magnitude larger than supported range"
)
UNDERFLOW = (
    "Number underflow. Attempting to store a number with magnitude smaller than supported range"
)
TOO_PRECISE = "Attempting to store more than 38 significant digits in a Number"


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("0", "0"),
        ("-0", "0"),
        ("0.000", "0"),
        ("0e99999", "0"),
        ("1.50", "1.5"),
        ("+7", "7"),
        ("007", "7"),
        ("1e3", "1000"),
        ("1E+2", "100"),
        ("-1.23e-2", "-0.0123"),
        (".5", "0.5"),
        ("5.", "5"),
        ("12345678901234567890123456789012345678", "12345678901234567890123456789012345678"),
        ("1" + "0" * 125, "1" + "0" * 125),
        (
            "9.9999999999999999999999999999999999999E+125",
            "99999999999999999999999999999999999999" + "0" * 88,
        ),
        ("1e-130", "0." + "0" * 129 + "1"),
        ("-1e-130", "-0." + "0" * 129 + "1"),
        ("1" + "0" * 200 + "e-80", "1" + "0" * 120),
        ("0e-99999999999999999999", "0"),
    ],
)
def test_canonical_form(text: str, canonical: str) -> None:
    assert canonical_number(text) == canonical


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The parameter cannot be converted to a numeric value"),
        ("b", "The parameter cannot be converted to a numeric value: b"),
        ("1_000", "The parameter cannot be converted to a numeric value: 1_000"),
        (" 1", "The parameter cannot be converted to a numeric value:  1"),
        ("NaN", "The parameter cannot be converted to a numeric value: NaN"),
        ("Infinity", "The parameter cannot be converted to a numeric value: Infinity"),
        ("0x10", "The parameter cannot be converted to a numeric value: 0x10"),
        ("1e", "The parameter cannot be converted to a numeric value: 1e"),
        ("123456789012345678901234567890123456789", TOO_PRECISE),
        ("-1.23456789012345678901234567890123456789", TOO_PRECISE),
        ("1e126", OVERFLOW),
        ("-1e126", OVERFLOW),
        ("1e-131", UNDERFLOW),
        ("-1e-131", UNDERFLOW),
        ("1e99999999999999999999", OVERFLOW),
        ("-2.5e-99999999999999999999", UNDERFLOW),
    ],
)
def test_invalid_numbers(text: str, message: str) -> None:
    with pytest.raises(ValidationException) as caught:
        parse_number(text)
    assert caught.value.message == message


def test_canonical_number_of_a_decimal() -> None:
    assert canonical_number(Decimal("2.500")) == "2.5"
    with pytest.raises(ValidationException, match="Number overflow"):
        canonical_number(Decimal("1e200"))


def test_arithmetic_is_exact() -> None:
    assert add_numbers("0.1", "0.2") == "0.3"
    assert subtract_numbers("52", "15") == "37"
    assert add_numbers("1e30", "1") == "1000000000000000000000000000001"
    assert add_numbers("-5", "5") == "0"
    assert subtract_numbers("1e125", "1e125") == "0"


def test_arithmetic_respects_the_limits() -> None:
    with pytest.raises(ValidationException) as caught:
        add_numbers("9.9999999999999999999999999999999999999E+125", "1e125")
    assert caught.value.message == OVERFLOW
    with pytest.raises(ValidationException) as caught:
        add_numbers("1e37", "0.1")
    assert caught.value.message == TOO_PRECISE


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("0", 1),
        ("1", 2),
        ("10", 2),
        ("12", 2),  # 1.2e1: "12" is one base-100 digit
        ("123", 3),  # 1.23e2: "1" alone, then "23"
        ("12.34", 3),  # 1.234e1: "12", "34"
        ("1.234", 4),  # 1.234e0: "1", "23", "4"
        ("-1", 3),
        ("1" + "0" * 125, 2),
        ("11" + "0" * 124, 2),
        ("11111" + "0" * 121, 4),
        ("111111" + "0" * 120, 4),
        ("1111111" + "0" * 119, 5),
        ("1" * 38 + "0" * 88, 20),
        ("0.01", 2),
        ("0.1", 2),
    ],
)
def test_number_size(text: str, size: int) -> None:
    assert number_size(text) == size


# --- the order-preserving encoding -------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(st.lists(dynamo_numbers(), min_size=2, max_size=8))
def test_encoding_preserves_order(numbers: list[str]) -> None:
    by_value = sorted(numbers, key=Decimal)
    by_bytes = sorted(numbers, key=encode_number)
    assert [Decimal(n) for n in by_value] == [Decimal(n) for n in by_bytes]


@settings(max_examples=300, deadline=None)
@given(dynamo_numbers())
def test_encoding_round_trips(number: str) -> None:
    encoded = encode_number(number)
    assert len(encoded) <= 22
    assert decode_number(encoded) == number


@pytest.mark.parametrize(
    ("smaller", "larger"),
    [
        ("-1.23", "-1.2"),
        ("-10", "-9"),
        ("-1e-130", "0"),
        ("0", "1e-130"),
        ("1.2", "1.23"),
        ("1.19", "1.2"),
        ("9", "10"),
        ("-9.9999999999999999999999999999999999999E+125", "-1e125"),
    ],
)
def test_encoding_order_examples(smaller: str, larger: str) -> None:
    assert encode_number(canonical_number(smaller)) < encode_number(canonical_number(larger))


def test_decode_refuses_garbage() -> None:
    with pytest.raises(ValueError, match="not an encoded number"):
        decode_number(b"\x07\x00\x00")
