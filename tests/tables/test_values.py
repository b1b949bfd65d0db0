"""Attribute values in wire form: DynamoDB's validation messages, normalization, equality, size."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from lorafox.tables.errors import SerializationException, ValidationException
from lorafox.tables.values import (
    MAX_ITEM_SIZE,
    check_item_size,
    check_nesting,
    item_size,
    validate_item,
    validate_value,
    value_size,
    values_equal,
)

INVALID = "One or more parameter values were invalid: "
EMPTY = "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@pytest.mark.parametrize(
    "value",
    [
        {"S": "x"},
        {"S": ""},
        {"N": "1"},
        {"B": b64(b"\x00\xff")},
        {"B": ""},
        {"BOOL": False},
        {"NULL": True},
        {"SS": ["a", "b"]},
        {"NS": ["1", "2.5"]},
        {"BS": [b64(b"a"), b64(b"b")]},
        {"L": [{"S": "a"}, {"N": "1"}, {"L": []}]},
        {"M": {"a": {"M": {"b": {"NULL": True}}}}},
        {"M": {}},
        {"L": []},
    ],
)
def test_valid_values_pass_unchanged(value: dict[str, Any]) -> None:
    assert validate_value(value) == value


def test_numbers_are_normalized_everywhere() -> None:
    raw = {"M": {"n": {"N": "1.50"}, "l": {"L": [{"N": "1e2"}]}, "s": {"NS": ["-0", "2.0"]}}}
    assert validate_value(raw) == {
        "M": {"n": {"N": "1.5"}, "l": {"L": [{"N": "100"}]}, "s": {"NS": ["0", "2"]}}
    }


def test_unknown_and_null_type_keys_are_dropped() -> None:
    assert validate_value({"S": "a", "X": 1, "N": None}) == {"S": "a"}
    assert validate_item({"a": {"S": "x"}, "b": None}) == {"a": {"S": "x"}}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({}, EMPTY),
        ({"X": "a"}, EMPTY),
        ({"S": None}, EMPTY),
        ({"M": {"a": {}}}, EMPTY),
        ({"L": [{}]}, EMPTY),
        ({"L": [{"a": {}}]}, EMPTY),
        ({"NULL": False}, INVALID + "Null attribute value types must have the value of true"),
        ({"SS": []}, INVALID + "An string set  may not be empty"),
        ({"NS": []}, INVALID + "An number set  may not be empty"),
        ({"BS": []}, INVALID + "Binary sets should not be empty"),
        ({"SS": ["a", "a"]}, INVALID + "Input collection [a, a] contains duplicates."),
        (
            {"BS": ["Yg==", "Yg=="]},
            INVALID + "Input collection [Yg==, Yg==]of type BS contains duplicates.",
        ),
        ({"NS": ["1", "1"]}, "Input collection contains duplicates"),
        ({"NS": ["1", "1.0"]}, "Input collection contains duplicates"),
        ({"S": "", "N": ""}, "The parameter cannot be converted to a numeric value"),
        ({"S": "a", "N": "b"}, "The parameter cannot be converted to a numeric value: b"),
        ({"NS": ["1", ""]}, "The parameter cannot be converted to a numeric value"),
        ({"NS": ["1", "b"]}, "The parameter cannot be converted to a numeric value: b"),
        (
            {"S": "a", "N": "1"},
            "Supplied AttributeValue has more than one datatypes set, "
            "must contain exactly one of the supported datatypes",
        ),
        (
            {"M": {"a": {"N": "1e126"}}},
            (
                "Number overflow. Attempting to store a number with magnitude"
                " larger than supported range"
            ),
        ),
    ],
)
def test_validation_errors(value: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationException) as caught:
        validate_value(value)
    assert caught.value.message == message
    assert caught.value.code == "ValidationException"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("a", "Unexpected value type in payload"),
        (
            ["a"],
            "Unrecognized collection type class com.amazonaws.dynamodb.v20120810.AttributeValue",
        ),
        ({"S": 5}, "NUMBER_VALUE cannot be converted to String"),
        ({"S": 5.5}, "DECIMAL_VALUE cannot be converted to String"),
        ({"S": True}, "TRUE_VALUE cannot be converted to String"),
        ({"N": False}, "FALSE_VALUE cannot be converted to String"),
        ({"S": ["a"]}, "Unrecognized collection type class java.lang.String"),
        ({"S": {"a": 1}}, "Start of structure or map found where not expected"),
        ({"B": 5}, "only base-64-encoded strings are convertible to bytes"),
        ({"B": ["a"]}, "Unrecognized collection type class java.nio.ByteBuffer"),
        ({"B": {}}, "Start of structure or map found where not expected"),
        ({"B": "abc"}, "Base64 encoded length is expected a multiple of 4 bytes but found: 3"),
        ({"B": "ab=c"}, "Invalid last non-pad Base64 character dectected"),
        ({"B": "YQ=="[:3] + "x"}, "Invalid last non-pad Base64 character dectected"),
        ({"BOOL": 1}, "NUMBER_VALUE cannot be converted to Boolean"),
        ({"BOOL": "maybe"}, "Unexpected token received from parser"),
        ({"BOOL": []}, "Unrecognized collection type class java.lang.Boolean"),
        ({"NULL": {}}, "Start of structure or map found where not expected"),
        ({"SS": "a"}, "Unexpected field type"),
        ({"SS": {}}, "Start of structure or map found where not expected"),
        ({"SS": [1]}, "NUMBER_VALUE cannot be converted to String"),
        ({"L": {"a": 1}}, "Start of structure or map found where not expected"),
        ({"L": ["a"]}, "Unexpected value type in payload"),
        ({"M": "a"}, "Unexpected field type"),
        (
            {"M": [1]},
            "Unrecognized collection type java.util.Map<java.lang.String, "
            "com.amazonaws.dynamodb.v20120810.AttributeValue>",
        ),
    ],
)
def test_serialization_errors(value: object, message: str) -> None:
    with pytest.raises(SerializationException) as caught:
        validate_value(value)
    assert caught.value.message == message
    assert caught.value.body()["__type"] == "com.amazon.coral.service#SerializationException"


def _deep(levels: int, kind: str = "M") -> dict[str, Any]:
    value: dict[str, Any] = {"S": "leaf"}
    for _ in range(levels):
        value = {"M": {"n": value}} if kind == "M" else {"L": [value]}
    return value


NESTING = (
    "Nesting Levels have exceeded supported limits: "
    "Attributes in the item have nested levels beyond supported limit"
)


@pytest.mark.parametrize("kind", ["M", "L"])
def test_nesting_limit(kind: str) -> None:
    assert validate_value(_deep(31, kind)) == _deep(31, kind)
    check_nesting({"a": _deep(31, kind)})
    with pytest.raises(ValidationException) as caught:
        validate_value(_deep(32, kind))
    assert caught.value.message == NESTING
    with pytest.raises(ValidationException) as caught:
        validate_item({"a": _deep(5000, kind)})  # refused before Python's stack runs out
    assert caught.value.message == NESTING
    with pytest.raises(ValidationException, match="Nesting Levels"):
        check_nesting({"a": {"S": "x"}, "b": _deep(32, kind)})


def test_boolean_strings_are_accepted_as_dynamodb_does() -> None:
    assert validate_value({"BOOL": "yes"}) == {"BOOL": True}
    assert validate_value({"BOOL": "0"}) == {"BOOL": False}
    assert validate_value({"NULL": "TRUE"}) == {"NULL": True}


def test_item_shapes_are_checked_before_values() -> None:
    with pytest.raises(SerializationException):
        validate_item({"a": {"NULL": False}, "b": {"S": 1}})
    with pytest.raises(SerializationException, match="Unexpected field type"):
        validate_item("nope")


def test_errors_are_dynamodb_validation_errors() -> None:
    with pytest.raises(ValidationException) as caught:
        validate_value({})
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        ({"N": "1"}, {"N": "1.0"}, True),
        ({"N": "1"}, {"S": "1"}, False),
        ({"SS": ["a", "b"]}, {"SS": ["b", "a"]}, True),
        ({"NS": ["1", "2"]}, {"NS": ["2.0", "1"]}, True),
        ({"BS": [b64(b"a")]}, {"BS": [b64(b"b")]}, False),
        ({"B": b64(b"x")}, {"B": b64(b"x")}, True),
        ({"L": [{"N": "1"}, {"S": "a"}]}, {"L": [{"N": "1"}, {"S": "a"}]}, True),
        ({"L": [{"N": "1"}, {"S": "a"}]}, {"L": [{"S": "a"}, {"N": "1"}]}, False),
        ({"L": [{"N": "1"}]}, {"L": [{"N": "1"}, {"N": "1"}]}, False),
        ({"M": {"a": {"N": "1"}}}, {"M": {"a": {"N": "1.00"}}}, True),
        ({"M": {"a": {"N": "1"}}}, {"M": {"b": {"N": "1"}}}, False),
        ({"BOOL": True}, {"BOOL": True}, True),
        ({"NULL": True}, {"NULL": True}, True),
    ],
)
def test_equality(left: dict[str, Any], right: dict[str, Any], equal: bool) -> None:
    assert values_equal(left, right) is equal
    assert values_equal(right, left) is equal


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ({"S": "abc"}, 3),
        ({"S": "é"}, 2),
        ({"S": "😀"}, 4),
        ({"B": b64(b"\x00" * 10)}, 10),
        ({"B": b64(b"\x00" * 11)}, 11),
        ({"B": ""}, 0),
        ({"N": "123"}, 3),
        ({"BOOL": True}, 1),
        ({"NULL": True}, 1),
        ({"SS": ["ab", "c"]}, 3),
        ({"NS": ["1", "12"]}, 4),
        ({"BS": [b64(b"ab"), b64(b"c")]}, 3),
        ({"L": []}, 3),
        ({"M": {}}, 3),
        ({"L": [{"S": "ab"}, {"BOOL": True}]}, 3 + (1 + 2) + (1 + 1)),
        ({"M": {"ab": {"S": "xyz"}}}, 3 + 1 + 2 + 3),
    ],
)
def test_value_size(value: dict[str, Any], size: int) -> None:
    assert value_size(value) == size


def test_item_size_counts_names() -> None:
    assert item_size({"name": {"S": "abc"}, "é": {"N": "1"}}) == 4 + 3 + 2 + 2


def _big_item(name: str, filler: int) -> dict[str, Any]:
    return {"a": {"S": "k"}, name: {"S": "a" * filler}}


def test_the_400_kb_limit_falls_where_dynamodb_puts_it() -> None:
    # a (1) + k (1) + name + filler == 409600 is still fine; one more byte is not.
    check_item_size(_big_item("b", MAX_ITEM_SIZE - 3))
    with pytest.raises(ValidationException) as caught:
        check_item_size(_big_item("b", MAX_ITEM_SIZE - 2))
    assert caught.value.message == "Item size has exceeded the maximum allowed size"
    with pytest.raises(ValidationException) as caught:
        check_item_size(_big_item("bb", MAX_ITEM_SIZE - 3), update=True)
    assert caught.value.message == "Item size to update has exceeded the maximum allowed size"


def test_big_numbers_count_by_digits() -> None:
    # 38 ones and 88 zeros: 20 bytes, so the item is over the limit by exactly one byte.
    item = {
        "a": {"S": "k"},
        "b": {"S": "a" * (MAX_ITEM_SIZE - 1 - 1 - 1 - 1 - 20 + 1)},
        "c": {"N": "1" * 38 + "0" * 88},
    }
    assert item_size(item) == MAX_ITEM_SIZE + 1
