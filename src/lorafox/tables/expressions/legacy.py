"""The legacy parameters older SDKs send, translated into the expression syntax tree.

* ``Expected`` (+ ``ConditionalOperator``) → a condition, like a ConditionExpression;
* ``QueryFilter`` / ``ScanFilter`` (+ ``ConditionalOperator``) → a condition, like a
  FilterExpression;
* ``KeyConditions`` → checked here, turned into a key condition by ``keycondition``;
* ``AttributeUpdates`` → an update (``legacy=True``: its type errors use the legacy wording);
* ``AttributesToGet`` → a projection.

Each ``ComparisonOperator`` maps onto the expression language: ``EQ NE LE LT GE GT`` onto
``= <> <= < >= >``, ``NULL``/``NOT_NULL`` onto ``attribute_not_exists``/``attribute_exists``,
``CONTAINS``/``NOT_CONTAINS`` onto ``contains`` and ``NOT contains``, ``BEGINS_WITH``, ``IN`` and
``BETWEEN`` onto themselves. Attribute names are taken literally (no placeholders, no reserved
words) and values are ``Literal`` nodes. Validation follows DynamoDB's rules and messages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lorafox.tables.errors import ValidationException
from lorafox.tables.expressions.nodes import (
    AddAction,
    And,
    Between,
    Call,
    Compare,
    Condition,
    ConditionExpression,
    DeleteAction,
    In,
    Literal,
    Not,
    Or,
    Path,
    ProjectionExpression,
    RemoveAction,
    SetAction,
    UpdateExpression,
)
from lorafox.tables.keys import compare_key_values
from lorafox.tables.values import (
    AttributeValue,
    check_attribute_name,
    validate_value,
    value_type,
)

__all__ = [
    "COMPARISON_OPERATORS",
    "LegacyConditions",
    "attribute_updates_to_update",
    "attributes_to_get_to_projection",
    "expected_to_condition",
    "filter_to_condition",
    "validate_conditions",
]

COMPARISON_OPERATORS = (
    "IN", "NULL", "BETWEEN", "LT", "NOT_CONTAINS", "EQ", "GT",
    "NOT_NULL", "NE", "LE", "BEGINS_WITH", "GE", "CONTAINS",
)  # fmt: skip
"""In the order DynamoDB lists them in its enum validation message."""

LegacyConditions = dict[str, tuple[str, tuple[AttributeValue, ...]]]
"""Attribute name → (ComparisonOperator, AttributeValueList), checked."""

_INVALID = "One or more parameter values were invalid: "
_COUNTS: dict[str, tuple[int, int | None]] = {
    "NULL": (0, 0), "NOT_NULL": (0, 0), "EQ": (1, 1), "NE": (1, 1), "LE": (1, 1),
    "LT": (1, 1), "GE": (1, 1), "GT": (1, 1), "CONTAINS": (1, 1), "NOT_CONTAINS": (1, 1),
    "BEGINS_WITH": (1, 1), "IN": (1, None), "BETWEEN": (2, 2),
}  # fmt: skip
_SCALARS = ("S", "N", "B")
_EVERY_TYPE = (*_SCALARS, "SS", "NS", "BS", "L", "M", "BOOL", "NULL")
_TYPES: dict[str, tuple[str, ...]] = {
    "EQ": _EVERY_TYPE, "NE": _EVERY_TYPE,
    "LE": _SCALARS, "LT": _SCALARS, "GE": _SCALARS, "GT": _SCALARS, "CONTAINS": _SCALARS,
    "NOT_CONTAINS": _SCALARS, "BEGINS_WITH": ("S", "B"), "IN": _SCALARS, "BETWEEN": _SCALARS,
}  # fmt: skip
_COMPARATORS = {"EQ": "=", "NE": "<>", "LE": "<=", "LT": "<", "GE": ">=", "GT": ">"}


def _enum_error(
    parameter: str, name: str, field: str, value: object, allowed: Sequence[str]
) -> ValidationException:
    shown = "null" if value is None else f"'{value}'"
    constraint = (
        "Member must not be null"
        if value is None
        else f"Member must satisfy enum value set: [{', '.join(allowed)}]"
    )
    where = f"{parameter}.{name}.member.{field}"
    return ValidationException.constraints(
        [f"Value {shown} at '{where}' failed to satisfy constraint: {constraint}"]
    )


def _check_between(values: Sequence[AttributeValue]) -> None:
    low, high = values
    if value_type(low) in _SCALARS and compare_key_values(low, high) > 0:
        raise ValidationException(
            "The BETWEEN condition was provided a range where the lower bound is greater than "
            "the upper bound"
        )


def _same_type(values: Sequence[AttributeValue]) -> None:
    if len({value_type(v) for v in values}) > 1:
        raise ValidationException(
            _INVALID + "AttributeValues inside AttributeValueList must be of same type"
        )


def _check_types(operator: str, values: Sequence[AttributeValue]) -> None:
    for value in values:
        if value_type(value) not in _TYPES.get(operator, ()):
            raise ValidationException(
                _INVALID + f"ComparisonOperator {operator} is not valid for "
                f"{value_type(value)} AttributeValue type"
            )


def validate_conditions(conditions: Mapping[str, Any] | None, parameter: str) -> LegacyConditions:
    """Check ``QueryFilter``, ``ScanFilter`` or ``KeyConditions`` (``parameter``, camelCase)."""
    checked: LegacyConditions = {}
    for name, condition in (conditions or {}).items():
        operator = condition.get("ComparisonOperator")
        if operator not in _COUNTS:
            raise _enum_error(parameter, name, "comparisonOperator", operator, COMPARISON_OPERATORS)
        values = tuple(validate_value(v) for v in condition.get("AttributeValueList") or ())
        low, high = _COUNTS[operator]
        if len(values) < low or (high is not None and len(values) > high):
            raise ValidationException(
                _INVALID + f"Invalid number of argument(s) for the {operator} ComparisonOperator"
            )
        _same_type(values)
        _check_types(operator, values)
        if operator == "BETWEEN":
            _check_between(values)
        checked[name] = (operator, values)
    return checked


def _expected_one(
    name: str, condition: Mapping[str, Any]
) -> tuple[str, tuple[AttributeValue, ...]]:
    has_list, has_value = "AttributeValueList" in condition, "Value" in condition
    if has_list and has_value:
        raise ValidationException(
            _INVALID + f"Value and AttributeValueList cannot be used together for Attribute: {name}"
        )
    operator = condition.get("ComparisonOperator")
    if operator is not None:
        if operator not in _COUNTS:
            raise _enum_error(
                "expected", name, "comparisonOperator", operator, COMPARISON_OPERATORS
            )
        if "Exists" in condition:
            raise ValidationException(
                _INVALID
                + f"Exists and ComparisonOperator cannot be used together for Attribute: {name}"
            )
        if operator not in ("NULL", "NOT_NULL") and not has_list and not has_value:
            raise ValidationException(
                _INVALID + "Value or AttributeValueList must be used with ComparisonOperator: "
                f"{operator} for Attribute: {name}"
            )
        raw = condition.get("AttributeValueList") or ([condition["Value"]] if has_value else [])
        values = tuple(validate_value(v) for v in raw)
        low, high = _COUNTS[operator]
        if len(values) < low or (high is not None and len(values) > high):
            raise ValidationException(
                _INVALID + f"Invalid number of argument(s) for the {operator} ComparisonOperator"
            )
        _same_type(values)
        _check_types(operator, values)
        if operator == "BETWEEN":
            _check_between(values)
        return operator, values
    if has_list:
        raise ValidationException(
            _INVALID
            + f"AttributeValueList can only be used with a ComparisonOperator for Attribute: {name}"
        )
    exists = condition.get("Exists")
    if exists is None or exists:
        if not has_value:
            shown = "null" if exists is None else "true"
            raise ValidationException(
                _INVALID + f"Value must be provided when Exists is {shown} for Attribute: {name}"
            )
        return "EQ", (validate_value(condition["Value"]),)
    if has_value:
        raise ValidationException(
            _INVALID + f"Value cannot be used when Exists is false for Attribute: {name}"
        )
    return "NULL", ()


def _condition(name: str, operator: str, values: tuple[AttributeValue, ...]) -> Condition:
    path = Path((name,))
    literals = tuple(Literal(value) for value in values)
    if operator in _COMPARATORS:
        return Compare(_COMPARATORS[operator], path, literals[0])
    if operator == "NULL":
        return Call("attribute_not_exists", (path,))
    if operator == "NOT_NULL":
        return Call("attribute_exists", (path,))
    if operator == "CONTAINS":
        return Call("contains", (path, literals[0]))
    if operator == "NOT_CONTAINS":
        return Not(Call("contains", (path, literals[0])))
    if operator == "BEGINS_WITH":
        return Call("begins_with", (path, literals[0]))
    if operator == "IN":
        return In(path, literals)
    return Between(path, literals[0], literals[1])


def _combine(
    conditions: LegacyConditions, conditional_operator: str | None
) -> ConditionExpression | None:
    if conditional_operator not in (None, "AND", "OR"):
        raise ValidationException.constraints(
            [
                f"Value '{conditional_operator}' at 'conditionalOperator' failed to satisfy "
                "constraint: Member must satisfy enum value set: [OR, AND]"
            ]
        )
    nodes = [_condition(name, *condition) for name, condition in conditions.items()]
    if not nodes:
        return None
    root = nodes[0]
    for node in nodes[1:]:
        root = Or(root, node) if conditional_operator == "OR" else And(root, node)
    return ConditionExpression(root)


def expected_to_condition(
    expected: Mapping[str, Any] | None, conditional_operator: str | None = None
) -> ConditionExpression | None:
    """``Expected`` as a condition (``None`` when empty), checked as DynamoDB checks it."""
    conditions = {name: _expected_one(name, c) for name, c in (expected or {}).items()}
    return _combine(conditions, conditional_operator)


def filter_to_condition(
    conditions: Mapping[str, Any] | None,
    conditional_operator: str | None = None,
    parameter: str = "scanFilter",
) -> ConditionExpression | None:
    """``QueryFilter`` / ``ScanFilter`` (``parameter``) as a condition, or ``None``."""
    return _combine(validate_conditions(conditions, parameter), conditional_operator)


def attribute_updates_to_update(updates: Mapping[str, Any]) -> UpdateExpression:
    """``AttributeUpdates`` as an update, checked as DynamoDB checks it."""
    sets: list[SetAction] = []
    removes: list[RemoveAction] = []
    adds: list[AddAction] = []
    deletes: list[DeleteAction] = []
    for name, update in updates.items():
        check_attribute_name(name)
        action = update.get("Action") or "PUT"
        if action not in ("ADD", "PUT", "DELETE"):
            raise _enum_error("attributeUpdates", name, "action", action, ("ADD", "PUT", "DELETE"))
        raw = update.get("Value")
        value = None if raw is None else validate_value(raw)
        path = Path((name,))
        if value is None:
            if action != "DELETE":
                raise ValidationException(
                    _INVALID + "Only DELETE action is allowed when no attribute value is specified"
                )
            removes.append(RemoveAction(path))
            continue
        kind = value_type(value)
        if action == "DELETE":
            if kind not in ("SS", "NS", "BS"):
                raise ValidationException(
                    _INVALID + f"DELETE action with value is not supported for the type {kind}"
                )
            deletes.append(DeleteAction(path, Literal(value)))
        elif action == "ADD":
            if kind not in ("L", "SS", "NS", "BS", "N"):
                raise ValidationException(
                    _INVALID + f"ADD action is not supported for the type {kind}"
                )
            adds.append(AddAction(path, Literal(value)))
        else:
            sets.append(SetAction(path, Literal(value)))
    return UpdateExpression(
        set=tuple(sets), remove=tuple(removes), add=tuple(adds), delete=tuple(deletes), legacy=True
    )


def attributes_to_get_to_projection(names: Sequence[str]) -> ProjectionExpression:
    """``AttributesToGet`` as a projection; DynamoDB's error for a name given twice."""
    if not names:
        raise ValidationException.constraints(
            [
                "Value '[]' at 'attributesToGet' failed to satisfy constraint: Member must have "
                "length greater than or equal to 1"
            ]
        )
    seen: set[str] = set()
    for name in names:
        check_attribute_name(name)
        if name in seen:
            raise ValidationException(_INVALID + f"Duplicate value in attribute name: {name}")
        seen.add(name)
    return ProjectionExpression(tuple(Path((name,)) for name in names))
