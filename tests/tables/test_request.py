"""The per-request checks: placeholders, operand types, overlapping paths, mixed parameters."""

from __future__ import annotations

from typing import Any

import pytest

from lorafox.tables.errors import SerializationException, ValidationException
from lorafox.tables.expressions import (
    EXPRESSION_PARAMETERS,
    check_expression_parameters,
    parse_expressions,
)


def error(**kwargs: Any) -> str:
    with pytest.raises(ValidationException) as caught:
        parse_expressions(**kwargs)
    return caught.value.message


S, N = {"S": "x"}, {"N": "1"}


def test_a_full_request() -> None:
    parsed = parse_expressions(
        names={"#s": "status", "#d": "data"},
        values={":v": S, ":n": {"N": "1.50"}},
        update="SET #s = :v",
        condition="attribute_exists(#d) AND size(#d) > :n",
        projection="#s",
    )
    assert parsed.values == {":v": S, ":n": {"N": "1.5"}}
    assert parsed.update is not None and parsed.condition is not None
    assert parsed.projection is not None
    assert parsed.key_condition is None and parsed.filter is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"names": {}}, "ExpressionAttributeNames must not be empty"),
        (
            {"names": {"a": "b"}},
            'ExpressionAttributeNames contains invalid key: Syntax error; key: "a"',
        ),
        (
            {"names": {"#a-b": "b"}},
            'ExpressionAttributeNames contains invalid key: Syntax error; key: "#a-b"',
        ),
        ({"values": {}}, "ExpressionAttributeValues must not be empty"),
        (
            {"values": {"v": S}},
            'ExpressionAttributeValues contains invalid key: Syntax error; key: "v"',
        ),
        (
            {"values": {":v": {"NULL": False}}},
            "ExpressionAttributeValues contains invalid value: One or more parameter values were "
            "invalid: Null attribute value types must have the value of true for key :v",
        ),
        (
            {"values": {":v": {}}},
            "ExpressionAttributeValues contains invalid value: Supplied AttributeValue is empty, "
            "must contain exactly one of the supported datatypes for key :v",
        ),
        (
            {"condition": "#a = :v", "values": {":v": S}},
            "Invalid ConditionExpression: An expression attribute name used in the document path "
            "is not defined; attribute name: #a",
        ),
        (
            {"condition": "a = :v"},
            "Invalid ConditionExpression: An expression attribute value used in expression is not "
            "defined; attribute value: :v",
        ),
        (
            {"condition": "a = :v AND #b = :w", "values": {":w": S}},
            "Invalid ConditionExpression: An expression attribute value used in expression is not "
            "defined; attribute value: :v",
        ),
        (
            {"filter": "size(#x) = :v", "values": {":v": N}},
            "Invalid FilterExpression: An expression attribute name used in the document path is "
            "not defined; attribute name: #x",
        ),
        (
            {"condition": "a = :v", "names": {"#a": "a", "#b": "b"}, "values": {":v": S}},
            "Value provided in ExpressionAttributeNames unused in expressions: keys: {#a, #b}",
        ),
        (
            {"condition": "a = :v", "values": {":v": S, ":w": S}},
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {:w}",
        ),
        (
            {"projection": "a", "values": {":v": S}},
            "Value provided in ExpressionAttributeValues unused in expressions: keys: {:v}",
        ),
        (
            {"update": "SET #a = :v", "values": {":v": S}},
            "Invalid UpdateExpression: An expression attribute name used in the document path is "
            "not defined; attribute name: #a",
        ),
        (
            {"update": "SET a = :v, b = #c", "names": {"#d": "d"}},
            "Invalid UpdateExpression: An expression attribute name used in the document path is "
            "not defined; attribute name: #c",
        ),
        (
            {"update": "SET a = :v"},
            "Invalid UpdateExpression: An expression attribute value used in expression is not "
            "defined; attribute value: :v",
        ),
        (
            {"projection": "#p"},
            "Invalid ProjectionExpression: An expression attribute name used in the document path "
            "is not defined; attribute name: #p",
        ),
    ],
)
def test_placeholder_errors(kwargs: dict[str, Any], message: str) -> None:
    assert error(**kwargs) == message


def test_serialization_errors_pass_through() -> None:
    with pytest.raises(SerializationException):
        parse_expressions(values={":v": {"S": 1}})
    with pytest.raises(SerializationException, match="NUMBER_VALUE cannot be converted to String"):
        parse_expressions(names={"#a": 1}, projection="#a")


def test_placeholders_shared_by_expressions() -> None:
    parse_expressions(
        names={"#a": "a"},
        values={":v": S, ":w": N},
        key_condition="#a = :v",
        filter="b = :w",
        projection="#a, b",
    )


DISTINCT = (
    "The first operand must be distinct from the remaining operands for this operator or "
    "function; operator: {}, first operand: {}"
)
OPERAND = (
    "Incorrect operand type for operator or function; operator or function: {}, operand type: {}"
)
TYPE_NAMES = "{B,NULL,SS,BOOL,L,BS,N,NS,S,M}"
SAME_TYPE = (
    "The BETWEEN operator requires same data type for lower and upper bounds; "
    "lower bound operand: AttributeValue: {}, upper bound operand: AttributeValue: {}"
)
ORDERED = (
    "The BETWEEN operator requires upper bound to be greater than or equal to lower bound; "
    "lower bound operand: AttributeValue: {}, upper bound operand: AttributeValue: {}"
)
B = {"BOOL": True}


@pytest.mark.parametrize(
    ("condition", "values", "message"),
    [
        ("a = a", {}, DISTINCT.format("=", "[a]")),
        ("a.b[1] <> a.b[1]", {}, DISTINCT.format("<>", "[a, b, [1]]")),
        ("begins_with(a, a)", {}, DISTINCT.format("begins_with", "[a]")),
        ("begins_with(a, :v)", {":v": N}, OPERAND.format("begins_with", "N")),
        ("begins_with(:v, a)", {":v": B}, OPERAND.format("begins_with", "BOOL")),
        ("begins_with(a, size(b))", {}, OPERAND.format("begins_with", "N")),
        ("attribute_type(a, :v)", {":v": N}, OPERAND.format("attribute_type", "N")),
        (
            "attribute_type(a, b)",
            {},
            OPERAND.format("attribute_type", "{NS,SS,L,BS,N,M,B,BOOL,NULL,S}"),
        ),
        (
            "attribute_type(a, :v)",
            {":v": {"S": "STRING"}},
            f"Invalid attribute type name found; type: STRING, valid types: {TYPE_NAMES}",
        ),
        ("size(:v) = :v", {":v": N}, OPERAND.format("size", "N")),
        ("size(:v) > a", {":v": {"NULL": True}}, OPERAND.format("size", "NULL")),
        ("a BETWEEN :v AND :w", {":v": N, ":w": S}, SAME_TYPE.format("{N:1}", "{S:x}")),
        ("a BETWEEN :v AND :w", {":v": {"N": "5"}, ":w": N}, ORDERED.format("{N:5}", "{N:1}")),
        (
            "a BETWEEN :v AND :w",
            {":v": {"S": "b"}, ":w": {"S": "a"}},
            ORDERED.format("{S:b}", "{S:a}"),
        ),
    ],
)
def test_condition_checks(condition: str, values: dict[str, Any], message: str) -> None:
    expected = f"Invalid ConditionExpression: {message}"
    assert error(condition=condition, values=values or None) == expected


def test_condition_checks_resolve_names() -> None:
    message = error(condition="#a = a", names={"#a": "a"})
    assert message.endswith("operator: =, first operand: [a]")
    parse_expressions(condition="#a = a", names={"#a": "b"})
    parse_expressions(condition="a BETWEEN :v AND :v", values={":v": N})
    parse_expressions(condition="attribute_type(a, :v)", values={":v": {"S": "NS"}})
    parse_expressions(condition="a BETWEEN :v AND b", values={":v": N})


PATHS = (
    "Two document paths {} with each other; must remove or rewrite one of these paths; "
    "path one: {}, path two: {}"
)
OPERATOR = "Incorrect operand type for operator or function; operator: {}, operand type: {}"


@pytest.mark.parametrize(
    ("update", "values", "message"),
    [
        ("SET a = :v REMOVE a", {":v": S}, PATHS.format("overlap", "[a]", "[a]")),
        ("SET a.b = :v REMOVE a", {":v": S}, PATHS.format("overlap", "[a, b]", "[a]")),
        ("SET a.b = :v, a[1] = :v", {":v": S}, PATHS.format("conflict", "[a, b]", "[a, [1]]")),
        (
            "SET a[1] = :v, a.b = :v, c = :v REMOVE c",
            {":v": S},
            PATHS.format("overlap", "[c]", "[c]"),
        ),
        ("ADD a :v", {":v": S}, OPERATOR.format("ADD", "STRING")),
        ("ADD a :v", {":v": {"L": []}}, OPERATOR.format("ADD", "LIST")),
        ("ADD a :v", {":v": {"M": {}}}, OPERATOR.format("ADD", "MAP")),
        ("ADD a :v", {":v": B}, OPERATOR.format("ADD", "BOOLEAN")),
        ("DELETE a :v", {":v": N}, OPERATOR.format("DELETE", "NUMBER")),
        ("DELETE a :v", {":v": {"B": ""}}, OPERATOR.format("DELETE", "BINARY")),
        ("DELETE a :v", {":v": {"NULL": True}}, OPERATOR.format("DELETE", "NULL")),
        ("SET a = b + :v", {":v": S}, OPERAND.format("+", "S")),
        ("SET a = :v - b", {":v": {"SS": ["x"]}}, OPERAND.format("-", "SS")),
        ("SET a = list_append(b, :v)", {":v": S}, OPERAND.format("list_append", "S")),
        (
            "SET a = if_not_exists(b, list_append(b, :v))",
            {":v": N},
            OPERAND.format("list_append", "N"),
        ),
    ],
)
def test_update_checks(update: str, values: dict[str, Any], message: str) -> None:
    assert error(update=update, values=values) == f"Invalid UpdateExpression: {message}"


def test_update_paths_are_compared_after_resolution() -> None:
    message = error(update="SET #a = :v REMOVE a", names={"#a": "a"}, values={":v": S})
    assert "overlap" in message
    parse_expressions(update="SET a[1] = :v, a[2] = :v, b.c = :v, b.d = :v", values={":v": S})
    parse_expressions(update="ADD s :v DELETE t :v", values={":v": {"SS": ["x"]}})
    parse_expressions(update="ADD n :v", values={":v": N})


def test_projection_overlaps() -> None:
    assert error(projection="a, a.b") == (
        "Invalid ProjectionExpression: Two document paths overlap with each other; must remove "
        "or rewrite one of these paths; path one: [a], path two: [a, b]"
    )
    assert error(projection="a[0], a.b") == (
        "Invalid ProjectionExpression: Two document paths conflict with each other; must remove "
        "or rewrite one of these paths; path one: [a, [0]], path two: [a, b]"
    )
    assert "overlap" in error(projection="#x, a", names={"#x": "a"})


# --- mixing expression and legacy parameters ---------------------------------------------------


def mixed(operation: str, **params: Any) -> str:
    with pytest.raises(ValidationException) as caught:
        check_expression_parameters(params, operation)
    return caught.value.message


def test_mixing_parameters() -> None:
    assert mixed("PutItem", Expected={"a": {}}, ConditionExpression="") == (
        "Can not use both expression and non-expression parameters in the same request: "
        "Non-expression parameters: {Expected} Expression parameters: {ConditionExpression}"
    )
    assert mixed(
        "Query",
        AttributesToGet=["a"],
        KeyConditions={},
        KeyConditionExpression="x",
        FilterExpression="y",
    ) == (
        "Can not use both expression and non-expression parameters in the same request: "
        "Non-expression parameters: {AttributesToGet, KeyConditions} "
        "Expression parameters: {FilterExpression, KeyConditionExpression}"
    )
    assert mixed("PutItem", Expected={"a": {}}, ExpressionAttributeNames={}) == (
        "ExpressionAttributeNames can only be specified when using expressions"
    )
    assert mixed("PutItem", ExpressionAttributeValues={}) == (
        "ExpressionAttributeValues can only be specified when using expressions: "
        "ConditionExpression is null"
    )
    assert mixed("UpdateItem", ExpressionAttributeValues={}) == (
        "ExpressionAttributeValues can only be specified when using expressions: "
        "UpdateExpression and ConditionExpression are null"
    )


def test_allowed_combinations() -> None:
    check_expression_parameters({"KeyConditions": {}, "FilterExpression": "a"}, "Query")
    check_expression_parameters(
        {"ProjectionExpression": "a", "ExpressionAttributeNames": {}}, "GetItem"
    )
    check_expression_parameters({"ExpressionAttributeValues": {}}, "GetItem")
    check_expression_parameters({"Expected": {}}, "DeleteItem")
    assert set(EXPRESSION_PARAMETERS) == {
        "PutItem",
        "DeleteItem",
        "UpdateItem",
        "GetItem",
        "Query",
        "Scan",
    }
