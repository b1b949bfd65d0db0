"""Key attributes: schema checks with DynamoDB's messages, sort order, order-preserving bytes."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lorafox.tables.errors import ValidationException
from lorafox.tables.keys import (
    KeyAttribute,
    KeySchema,
    compare_key_values,
    decode_key_value,
    encode_key_value,
    key_sort_value,
    prefix_successor,
)
from tests.tables.strategies import dynamo_numbers

INVALID = "One or more parameter values were invalid: "
SCHEMA = KeySchema(KeyAttribute("pk", "S"), KeyAttribute("sk", "N"))
BINARY = KeySchema(KeyAttribute("pk", "B"), KeyAttribute("sk", "B"))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def test_schema_helpers() -> None:
    assert SCHEMA.names == ("pk", "sk")
    assert KeySchema(KeyAttribute("id", "N")).names == ("id",)
    item = {"pk": {"S": "a"}, "sk": {"N": "1"}, "x": {"S": "y"}}
    assert SCHEMA.key_of(item) == {"pk": {"S": "a"}, "sk": {"N": "1"}}


def test_valid_items_and_keys_pass() -> None:
    SCHEMA.check_item({"pk": {"S": "a" * 2048}, "sk": {"N": "1e125"}, "x": {"S": ""}})
    SCHEMA.check_key({"pk": {"S": "a"}, "sk": {"N": "-1"}})
    BINARY.check_key({"pk": {"B": b64(b"\x00" * 2048)}, "sk": {"B": b64(b"\x01" * 1024)}})


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ({"sk": {"N": "1"}}, INVALID + "Missing the key pk in the item"),
        ({"pk": {"S": "a"}}, INVALID + "Missing the key sk in the item"),
        (
            {"pk": {"N": "1"}, "sk": {"N": "1"}},
            INVALID + "Type mismatch for key pk expected: S actual: N",
        ),
        (
            {"pk": {"S": "a"}, "sk": {"SS": ["1"]}},
            INVALID + "Type mismatch for key sk expected: N actual: SS",
        ),
        (
            {"pk": {"S": ""}, "sk": {"N": "1"}},
            "One or more parameter values are not valid. The AttributeValue for a key attribute "
            "cannot contain an empty string value. Key: pk",
        ),
        (
            {"pk": {"S": "é" * 1025}, "sk": {"N": "1"}},
            INVALID + "Size of hashkey has exceeded the maximum size limit of2048 bytes",
        ),
    ],
)
def test_item_key_errors(item: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationException) as caught:
        SCHEMA.check_item(item)
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ({"pk": {"S": "a"}}, "The provided key element does not match the schema"),
        (
            {"pk": {"S": "a"}, "sk": {"N": "1"}, "x": {"N": "1"}},
            "The provided key element does not match the schema",
        ),
        (
            {"pk": {"S": "a"}, "sk": {"S": "1"}},
            "The provided key element does not match the schema",
        ),
        (
            {"pk": {"S": "a"}, "other": {"N": "1"}},
            "The provided key element does not match the schema",
        ),
        (
            {"pk": {"S": ""}, "sk": {"N": "1"}},
            INVALID + "The AttributeValue for a key attribute cannot contain an empty string "
            "value. Key: pk",
        ),
    ],
)
def test_key_parameter_errors(key: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationException) as caught:
        SCHEMA.check_key(key)
    assert caught.value.message == message


def test_binary_key_limits() -> None:
    with pytest.raises(ValidationException) as caught:
        BINARY.check_key({"pk": {"B": b64(b"a")}, "sk": {"B": b64(b"\x01" * 1025)}})
    assert caught.value.message == (
        INVALID + "Aggregated size of all range keys has exceeded the size limit of 1024 bytes"
    )
    with pytest.raises(ValidationException) as caught:
        BINARY.check_item({"pk": {"B": ""}, "sk": {"B": b64(b"a")}})
    assert caught.value.message.endswith("cannot contain an empty binary value. Key: pk")
    with pytest.raises(ValidationException, match="of2048 bytes"):
        BINARY.check_item({"pk": {"B": b64(b"\x00" * 2049)}, "sk": {"B": b64(b"a")}})


def test_compare_key_values() -> None:
    assert compare_key_values({"N": "10"}, {"N": "9"}) == 1
    assert compare_key_values({"N": "1.0"}, {"N": "1"}) == 0
    assert compare_key_values({"S": "B"}, {"S": "a"}) == -1  # by bytes, not by letter
    assert compare_key_values({"B": b64(b"\x01")}, {"B": b64(b"\x01\x00")}) == -1
    with pytest.raises(ValueError, match="different types"):
        compare_key_values({"N": "1"}, {"S": "1"})
    with pytest.raises(ValueError, match="not a key type"):
        key_sort_value({"BOOL": True})
    with pytest.raises(ValueError, match="not a key type"):
        encode_key_value({"SS": ["a"]})
    with pytest.raises(ValueError, match="not a key type"):
        decode_key_value("M", b"")


def test_prefix_successor() -> None:
    assert prefix_successor(b"abc") == b"abd"
    assert prefix_successor(b"a\xff") == b"b"
    assert prefix_successor(b"\xff\xff") is None
    assert prefix_successor(b"") is None


@st.composite
def key_values(draw: st.DrawFn, kind: str) -> dict[str, str]:
    if kind == "N":
        return {"N": draw(dynamo_numbers())}
    if kind == "S":
        return {"S": draw(st.text(min_size=1, max_size=12))}
    return {"B": b64(draw(st.binary(min_size=1, max_size=12)))}


def _value(value: dict[str, str]) -> Decimal | str | bytes:
    kind, raw = next(iter(value.items()))
    if kind == "N":
        return Decimal(raw)
    if kind == "S":
        return raw  # Python compares str by code point: the order of UTF-8 bytes
    return base64.b64decode(raw)


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from("SNB").flatmap(lambda kind: st.lists(key_values(kind), min_size=2, max_size=10))
)
def test_encoding_sorts_like_dynamodb(values: list[dict[str, str]]) -> None:
    expected = sorted(values, key=_value)
    actual = sorted(values, key=encode_key_value)
    assert [_value(v) for v in actual] == [_value(v) for v in expected]
    for value in values:
        kind = next(iter(value))
        decoded = decode_key_value(kind, encode_key_value(value))
        assert _value(decoded) == _value(value)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=6), st.text(min_size=1, max_size=3))
def test_begins_with_is_a_byte_range(text: str, prefix: str) -> None:
    encoded, start = encode_key_value({"S": text}), encode_key_value({"S": prefix})
    end = prefix_successor(start)
    in_range = start <= encoded and (end is None or encoded < end)
    assert in_range == text.startswith(prefix)
