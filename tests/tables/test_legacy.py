"""The legacy parameters: Expected, QueryFilter/ScanFilter, AttributeUpdates, AttributesToGet."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from lorafox.tables.errors import ValidationException
from lorafox.tables.expressions import (
    apply_update,
    attribute_updates_to_update,
    attributes_to_get_to_projection,
    evaluate_condition,
    expected_to_condition,
    filter_to_condition,
    project,
    validate_conditions,
)
from lorafox.tables.expressions.nodes import Call, Compare, Literal, Path

INVALID = "One or more parameter values were invalid: "
ITEM: dict[str, Any] = {
    "id": {"S": "a"},
    "n": {"N": "5"},
    "tags": {"SS": ["x", "y"]},
    "name.with.dots": {"S": "kept literally"},
}


def expected(conditions: dict[str, Any], operator: str | None = None) -> bool:
    parsed = expected_to_condition(conditions, operator)
    assert parsed is not None
    return evaluate_condition(parsed, ITEM)


def scan(conditions: dict[str, Any], operator: str | None = None) -> bool:
    parsed = filter_to_condition(conditions, operator)
    assert parsed is not None
    return evaluate_condition(parsed, ITEM)


def _refusal(convert: Callable[..., object], *args: Any) -> str:
    """The message of the ValidationException ``convert(*args)`` raises."""
    with pytest.raises(ValidationException) as caught:
        convert(*args)
    return caught.value.message


def cond(operator: str, *values: dict[str, Any]) -> dict[str, Any]:
    return {"ComparisonOperator": operator, "AttributeValueList": list(values)}


def test_expected_value_and_exists() -> None:
    assert expected({"n": {"Value": {"N": "5.0"}}})
    assert expected({"n": {"Value": {"N": "5"}, "Exists": True}})
    assert not expected({"n": {"Value": {"N": "6"}}})
    assert expected({"absent": {"Exists": False}})
    assert not expected({"n": {"Exists": False}})
    assert expected({"name.with.dots": {"Value": {"S": "kept literally"}}})
    parsed = expected_to_condition({"n": {"Value": {"N": "5"}}})
    assert parsed is not None
    assert parsed.root == Compare("=", Path(("n",)), Literal({"N": "5"}))
    assert expected_to_condition({}) is None
    assert expected_to_condition(None) is None


@pytest.mark.parametrize(
    ("operator", "values", "result"),
    [
        ("EQ", [{"N": "5"}], True),
        ("NE", [{"N": "5"}], False),
        ("LT", [{"N": "6"}], True),
        ("LE", [{"N": "5"}], True),
        ("GT", [{"N": "5"}], False),
        ("GE", [{"N": "5"}], True),
        ("BETWEEN", [{"N": "1"}, {"N": "9"}], True),
        ("IN", [{"N": "1"}, {"N": "5"}], True),
        ("NOT_NULL", [], True),
        ("NULL", [], False),
    ],
)
def test_expected_with_comparison_operators(operator: str, values: list[Any], result: bool) -> None:
    assert expected({"n": cond(operator, *values)}) is result
    assert scan({"n": cond(operator, *values)}) is result


def test_expected_value_is_an_attribute_value_list() -> None:
    assert expected({"n": {"ComparisonOperator": "GT", "Value": {"N": "1"}}})


def test_string_operators() -> None:
    assert scan({"id": cond("BEGINS_WITH", {"S": "a"})})
    assert scan({"tags": cond("CONTAINS", {"S": "x"})})
    assert scan({"tags": cond("NOT_CONTAINS", {"S": "z"})})
    assert not scan({"tags": cond("NOT_CONTAINS", {"S": "x"})})
    assert scan({"absent": cond("NULL")})
    parsed = filter_to_condition({"id": cond("NOT_NULL")})
    assert parsed is not None and parsed.root == Call("attribute_exists", (Path(("id",)),))


def test_conditional_operator() -> None:
    both = {"n": cond("EQ", {"N": "5"}), "id": cond("EQ", {"S": "b"})}
    assert not scan(both)
    assert not scan(both, "AND")
    assert scan(both, "OR")
    assert expected({"n": {"Value": {"N": "1"}}, "id": {"Value": {"S": "a"}}}, "OR")
    assert _refusal(filter_to_condition, both, "XOR") == (
        "1 validation error detected: Value 'XOR' at 'conditionalOperator' failed to satisfy "
        "constraint: Member must satisfy enum value set: [OR, AND]"
    )
    assert filter_to_condition(None) is None


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (
            {"Value": {"N": "1"}, "AttributeValueList": []},
            INVALID + "Value and AttributeValueList cannot be used together for Attribute: a",
        ),
        (
            {"ComparisonOperator": "EQ", "Exists": True},
            INVALID + "Exists and ComparisonOperator cannot be used together for Attribute: a",
        ),
        (
            {"ComparisonOperator": "EQ"},
            INVALID
            + (
                "Value or AttributeValueList must be used with "
                "ComparisonOperator: EQ for Attribute: a"
            ),
        ),
        (
            {"ComparisonOperator": "NULL", "Value": {"N": "1"}},
            INVALID + "Invalid number of argument(s) for the NULL ComparisonOperator",
        ),
        (
            {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "1"}]},
            INVALID + "Invalid number of argument(s) for the BETWEEN ComparisonOperator",
        ),
        (
            {"ComparisonOperator": "IN", "AttributeValueList": [{"N": "1"}, {"S": "1"}]},
            INVALID + "AttributeValues inside AttributeValueList must be of same type",
        ),
        (
            {"ComparisonOperator": "BETWEEN", "AttributeValueList": [{"N": "2"}, {"N": "1"}]},
            (
                "The BETWEEN condition was provided a range where the lower "
                "bound is greater than the upper bound"
            ),
        ),
        (
            {"AttributeValueList": [{"N": "1"}]},
            INVALID
            + "AttributeValueList can only be used with a ComparisonOperator for Attribute: a",
        ),
        ({}, INVALID + "Value must be provided when Exists is null for Attribute: a"),
        ({"Exists": True}, INVALID + "Value must be provided when Exists is true for Attribute: a"),
        (
            {"Exists": False, "Value": {"N": "1"}},
            INVALID + "Value cannot be used when Exists is false for Attribute: a",
        ),
        (
            {"Value": {}},
            "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes",
        ),
        (
            {"ComparisonOperator": "LIKE", "Value": {"S": "x"}},
            "1 validation error detected: Value 'LIKE' at 'expected.a.member.comparisonOperator' "
            "failed to satisfy constraint: Member must satisfy enum value set: [IN, NULL, BETWEEN, "
            "LT, NOT_CONTAINS, EQ, GT, NOT_NULL, NE, LE, BEGINS_WITH, GE, CONTAINS]",
        ),
    ],
)
def test_expected_errors(condition: dict[str, Any], message: str) -> None:
    assert _refusal(expected_to_condition, {"a": condition}) == message


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        (cond("EQ"), INVALID + "Invalid number of argument(s) for the EQ ComparisonOperator"),
        (
            cond("NULL", {"N": "1"}),
            INVALID + "Invalid number of argument(s) for the NULL ComparisonOperator",
        ),
        (cond("IN"), INVALID + "Invalid number of argument(s) for the IN ComparisonOperator"),
        (
            cond("LT", {"SS": ["a"]}),
            INVALID + "ComparisonOperator LT is not valid for SS AttributeValue type",
        ),
        (
            cond("BEGINS_WITH", {"N": "1"}),
            INVALID + "ComparisonOperator BEGINS_WITH is not valid for N AttributeValue type",
        ),
        (
            cond("CONTAINS", {"BOOL": True}),
            INVALID + "ComparisonOperator CONTAINS is not valid for BOOL AttributeValue type",
        ),
        (
            cond("IN", {"N": "1"}, {"S": "1"}),
            INVALID + "AttributeValues inside AttributeValueList must be of same type",
        ),
        (
            cond("BETWEEN", {"S": "b"}, {"S": "a"}),
            (
                "The BETWEEN condition was provided a range where the lower "
                "bound is greater than the upper bound"
            ),
        ),
        (cond("EQ", {"N": "x"}), "The parameter cannot be converted to a numeric value: x"),
        (
            {"AttributeValueList": []},
            "1 validation error detected: Value null at 'scanFilter.a.member.comparisonOperator' "
            "failed to satisfy constraint: Member must not be null",
        ),
    ],
)
def test_filter_errors(condition: dict[str, Any], message: str) -> None:
    assert _refusal(validate_conditions, {"a": condition}, "scanFilter") == message


def test_filter_sets_are_allowed_for_eq() -> None:
    assert scan({"tags": cond("EQ", {"SS": ["y", "x"]})})
    assert scan({"tags": cond("NE", {"SS": ["y"]})})


# --- AttributeUpdates --------------------------------------------------------------------------


def updated(updates: dict[str, Any], item: dict[str, Any] | None = None) -> dict[str, Any]:
    return apply_update(attribute_updates_to_update(updates), ITEM if item is None else item).item


def test_attribute_updates() -> None:
    assert updated({"n": {"Value": {"N": "1"}}})["n"] == {"N": "1"}
    assert updated({"n": {"Action": "PUT", "Value": {"S": "x"}}})["n"] == {"S": "x"}
    assert "n" not in updated({"n": {"Action": "DELETE"}})
    assert updated({"n": {"Action": "ADD", "Value": {"N": "2"}}})["n"] == {"N": "7"}
    assert updated({"c": {"Action": "ADD", "Value": {"N": "2"}}})["c"] == {"N": "2"}
    assert updated({"tags": {"Action": "ADD", "Value": {"SS": ["z"]}}})["tags"] == {
        "SS": ["x", "y", "z"]
    }
    assert updated({"tags": {"Action": "DELETE", "Value": {"SS": ["x"]}}})["tags"] == {"SS": ["y"]}
    assert "tags" not in updated({"tags": {"Action": "DELETE", "Value": {"SS": ["x", "y"]}}})
    assert updated({"l": {"Action": "ADD", "Value": {"L": [{"N": "1"}]}}})["l"] == {
        "L": [{"N": "1"}]
    }
    item = {"l": {"L": [{"S": "a"}]}}
    assert updated({"l": {"Action": "ADD", "Value": {"L": [{"S": "b"}]}}}, item)["l"] == {
        "L": [{"S": "a"}, {"S": "b"}]
    }
    assert updated({"name.with.dots": {"Value": {"N": "1"}}})["name.with.dots"] == {"N": "1"}


def test_attribute_update_type_mismatch_uses_the_legacy_message() -> None:
    for update in (
        {"id": {"Action": "ADD", "Value": {"N": "1"}}},
        {"id": {"Action": "DELETE", "Value": {"SS": ["a"]}}},
        {"tags": {"Action": "ADD", "Value": {"NS": ["1"]}}},
    ):
        assert _refusal(updated, update) == "Type mismatch for attribute to update"


@pytest.mark.parametrize(
    ("update", "message"),
    [
        (
            {"Action": "PUT"},
            INVALID + "Only DELETE action is allowed when no attribute value is specified",
        ),
        (
            {"Action": "ADD"},
            INVALID + "Only DELETE action is allowed when no attribute value is specified",
        ),
        (
            {"Action": "DELETE", "Value": {"S": "a"}},
            INVALID + "DELETE action with value is not supported for the type S",
        ),
        (
            {"Action": "ADD", "Value": {"S": "a"}},
            INVALID + "ADD action is not supported for the type S",
        ),
        (
            {"Action": "ADD", "Value": {"M": {}}},
            INVALID + "ADD action is not supported for the type M",
        ),
        (
            {"Action": "MERGE", "Value": {"S": "a"}},
            "1 validation error detected: Value 'MERGE' at 'attributeUpdates.a.member.action' "
            "failed to satisfy constraint: Member must satisfy enum value set: [ADD, PUT, DELETE]",
        ),
    ],
)
def test_attribute_update_errors(update: dict[str, Any], message: str) -> None:
    assert _refusal(attribute_updates_to_update, {"a": update}) == message


def test_attributes_to_get() -> None:
    projection = attributes_to_get_to_projection(["id", "name.with.dots", "absent"])
    assert project(projection, ITEM) == {
        "id": {"S": "a"},
        "name.with.dots": {"S": "kept literally"},
    }
    assert (
        _refusal(attributes_to_get_to_projection, ["a", "b", "a"])
        == INVALID + "Duplicate value in attribute name: a"
    )
