"""Query key conditions: what DynamoDB allows, its errors, and the encoded key ranges."""

from __future__ import annotations

from typing import Any

import pytest

from lorafox.tables.errors import ValidationException
from lorafox.tables.expressions import (
    build_key_condition,
    key_conditions_from_expression,
    parse_expressions,
    validate_conditions,
)
from lorafox.tables.expressions.keycondition import KeyCondition, SortKeyCondition
from lorafox.tables.keys import KeyAttribute, KeySchema, encode_key_value

SCHEMA = KeySchema(KeyAttribute("pk", "S"), KeyAttribute("sk", "N"))
HASH_ONLY = KeySchema(KeyAttribute("pk", "S"))
STRINGS = KeySchema(KeyAttribute("pk", "S"), KeyAttribute("sk", "S"))
VALUES: dict[str, Any] = {
    ":p": {"S": "dev-1"},
    ":a": {"N": "1"},
    ":b": {"N": "5"},
    ":s": {"S": "2024-"},
    ":x": {"S": "x"},
}


def key_condition(
    text: str, schema: KeySchema = SCHEMA, names: dict[str, str] | None = None
) -> KeyCondition:
    parsed = parse_expressions(
        key_condition=text,
        names=names,
        values={key: VALUES[key] for key in VALUES if key in text} or None,
    )
    assert parsed.key_condition is not None
    conditions = key_conditions_from_expression(parsed.key_condition, parsed.names, parsed.values)
    return build_key_condition(conditions, schema)


def failure(text: str, schema: KeySchema = SCHEMA) -> str:
    with pytest.raises(ValidationException) as caught:
        key_condition(text, schema)
    return caught.value.message


@pytest.mark.parametrize(
    ("text", "op", "values"),
    [
        ("pk = :p AND sk = :a", "EQ", ("1",)),
        ("pk = :p AND sk < :a", "LT", ("1",)),
        ("pk = :p AND sk <= :a", "LE", ("1",)),
        ("pk = :p AND sk > :a", "GT", ("1",)),
        ("pk = :p AND sk >= :a", "GE", ("1",)),
        ("pk = :p AND :a < sk", "GT", ("1",)),
        ("pk = :p AND :a >= sk", "LE", ("1",)),
        ("sk BETWEEN :a AND :b AND pk = :p", "BETWEEN", ("1", "5")),
        ("(pk = :p) AND (sk > :a)", "GT", ("1",)),
    ],
)
def test_sort_key_conditions(text: str, op: str, values: tuple[str, ...]) -> None:
    condition = key_condition(text)
    assert condition.hash_name == "pk"
    assert condition.hash_value == {"S": "dev-1"}
    assert condition.sort == SortKeyCondition("sk", op, tuple({"N": v} for v in values))


def test_partition_only_and_names() -> None:
    assert key_condition("pk = :p").sort is None
    assert key_condition(":p = pk", HASH_ONLY).sort is None
    assert key_condition("#k = :p", names={"#k": "pk"}).hash_value == {"S": "dev-1"}
    begins = key_condition("pk = :p AND begins_with(sk, :s)", STRINGS)
    assert begins.sort == SortKeyCondition("sk", "BEGINS_WITH", ({"S": "2024-"},))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("pk = :p OR sk = :a", "Invalid operator used in KeyConditionExpression: OR"),
        ("NOT pk = :p", "Invalid operator used in KeyConditionExpression: NOT"),
        ("pk IN (:p)", "Invalid operator used in KeyConditionExpression: IN"),
        ("pk <> :p", "Invalid operator used in KeyConditionExpression: <>"),
        (
            "pk = :p AND attribute_exists(sk)",
            "Invalid operator used in KeyConditionExpression: attribute_exists",
        ),
        (
            "pk = :p AND contains(sk, :a)",
            "Invalid operator used in KeyConditionExpression: contains",
        ),
        ("pk = :p AND size(sk) = :a", "KeyConditionExpressions cannot contain nested operations"),
        (
            "pk = :p AND :a BETWEEN sk AND :b",
            (
                "Invalid condition in KeyConditionExpression: BETWEEN "
                "operator must have the key attribute as its first operand"
            ),
        ),
        (
            "pk = :p AND begins_with(:x, sk)",
            (
                "Invalid condition in KeyConditionExpression: begins_with "
                "operator must have the key attribute as its first operand"
            ),
        ),
        (
            "pk = sk",
            (
                "Invalid condition in KeyConditionExpression: Multiple "
                "attribute names used in one condition"
            ),
        ),
        (
            "pk = :p AND sk BETWEEN pk AND :a",
            (
                "Invalid condition in KeyConditionExpression: Multiple "
                "attribute names used in one condition"
            ),
        ),
        (":p = :x", "Invalid condition in KeyConditionExpression: No key attribute specified"),
        ("pk.x = :p", "KeyConditionExpressions cannot have conditions on nested attributes"),
        ("pk = :p AND pk = :x", "KeyConditionExpressions must only contain one condition per key"),
        ("pk = :p AND sk > :a AND extra = :x", "Conditions can be of length 1 or 2 only"),
        (
            "pk = :p AND begins_with(sk, :a)",
            (
                "Invalid KeyConditionExpression: Incorrect operand type for "
                "operator or function; operator or function: begins_with, "
                "operand type: N"
            ),
        ),
        (
            "pk = :p AND sk = :x",
            (
                "One or more parameter values were invalid: Condition "
                "parameter type does not match schema type"
            ),
        ),
        (
            "pk = :a",
            (
                "One or more parameter values were invalid: Condition "
                "parameter type does not match schema type"
            ),
        ),
        ("sk = :a", "Query condition missed key schema element: pk"),
        ("pk = :p AND extra = :a", "Query condition missed key schema element: sk"),
        ("pk > :p", "Query key condition not supported"),
        ("pk BETWEEN :p AND :x", "Query key condition not supported"),
    ],
)
def test_key_condition_errors(text: str, message: str) -> None:
    assert failure(text) == message


def test_hash_only_table() -> None:
    assert failure("pk = :p AND sk = :a", HASH_ONLY) == "Query key condition not supported"
    assert failure("extra = :p", HASH_ONLY) == "Query condition missed key schema element: pk"


def test_legacy_key_conditions() -> None:
    conditions = validate_conditions(
        {
            "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "dev-1"}]},
            "sk": {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "1"}, {"N": "2"}]},
        },
        "keyConditions",
    )
    condition = build_key_condition(conditions, SCHEMA)
    assert condition.sort == SortKeyCondition("sk", "BETWEEN", ({"N": "1"}, {"N": "2"}))
    with pytest.raises(ValidationException) as caught:
        validate_conditions(
            {"sk": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"N": "1"}]}},
            "keyConditions",
        )
    assert caught.value.message == (
        "One or more parameter values were invalid: "
        "ComparisonOperator BEGINS_WITH is not valid for N AttributeValue type"
    )
    for operator, values in (("NE", [{"N": "1"}]), ("NOT_NULL", []), ("IN", [{"N": "1"}])):
        legacy = validate_conditions(
            {
                "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "a"}]},
                "sk": {"ComparisonOperator": operator, "AttributeValueList": values},
            },
            "keyConditions",
        )
        with pytest.raises(ValidationException) as caught:
            build_key_condition(legacy, SCHEMA)
        assert (
            caught.value.message == "Attempted conditional constraint is not an indexable operation"
        )


def test_matches() -> None:
    condition = key_condition("pk = :p AND sk BETWEEN :a AND :b")
    assert condition.matches({"pk": {"S": "dev-1"}, "sk": {"N": "3"}})
    assert condition.matches({"pk": {"S": "dev-1"}, "sk": {"N": "5.0"}})
    assert not condition.matches({"pk": {"S": "dev-1"}, "sk": {"N": "6"}})
    assert not condition.matches({"pk": {"S": "dev-2"}, "sk": {"N": "3"}})
    assert not condition.matches({"pk": {"S": "dev-1"}})
    assert not condition.matches({"sk": {"N": "3"}})
    assert key_condition("pk = :p").matches({"pk": {"S": "dev-1"}})
    begins = key_condition("pk = :p AND begins_with(sk, :s)", STRINGS)
    assert begins.matches({"pk": {"S": "dev-1"}, "sk": {"S": "2024-01"}})
    assert not begins.matches({"pk": {"S": "dev-1"}, "sk": {"S": "2023-12"}})
    for op, inside, outside in (
        ("<", "0", "1"),
        ("<=", "1", "2"),
        (">", "2", "1"),
        (">=", "1", "0"),
        ("=", "1", "2"),
    ):
        condition = key_condition(f"pk = :p AND sk {op} :a")
        assert condition.matches({"pk": {"S": "dev-1"}, "sk": {"N": inside}})
        assert not condition.matches({"pk": {"S": "dev-1"}, "sk": {"N": outside}})


def test_encoded_ranges() -> None:
    one, five = encode_key_value({"N": "1"}), encode_key_value({"N": "5"})
    assert key_condition("pk = :p AND sk = :a").sort is not None
    ranges = {
        "sk = :a": ((one, True), (one, True)),
        "sk < :a": (None, (one, False)),
        "sk <= :a": (None, (one, True)),
        "sk > :a": ((one, False), None),
        "sk >= :a": ((one, True), None),
        "sk BETWEEN :a AND :b": ((one, True), (five, True)),
    }
    for text, expected in ranges.items():
        sort = key_condition(f"pk = :p AND {text}").sort
        assert sort is not None
        assert sort.encoded_range() == expected
    sort = key_condition("pk = :p AND begins_with(sk, :s)", STRINGS).sort
    assert sort is not None
    assert sort.encoded_range() == ((b"2024-", True), (b"2024.", False))
