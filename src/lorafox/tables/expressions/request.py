"""The expressions of one request, parsed and checked together, as DynamoDB checks them.

Placeholders are shared by all the expressions of a request, so some rules only make sense for
the request as a whole: ``ExpressionAttributeNames`` and ``ExpressionAttributeValues`` may not be
empty, their keys must look like ``#name`` / ``:value``, every value must be valid, and every
placeholder supplied must be used by one of the expressions. ``parse_expressions`` applies them
in DynamoDB's order (names, values, then UpdateExpression, ConditionExpression,
KeyConditionExpression, FilterExpression, ProjectionExpression, then unused placeholders).

``check_expression_parameters`` applies the rules about mixing expressions with the legacy
parameters; ``EXPRESSION_PARAMETERS`` lists both kinds for each operation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lorafox.tables.errors import ValidationException
from lorafox.tables.expressions.checks import check_condition, check_projection, check_update
from lorafox.tables.expressions.nodes import (
    ConditionExpression,
    ProjectionExpression,
    UpdateExpression,
)
from lorafox.tables.expressions.parser import parse_condition, parse_projection, parse_update
from lorafox.tables.values import (
    AttributeValue,
    as_string,
    check_attribute_name,
    validate_value,
)

__all__ = [
    "EXPRESSION_PARAMETERS",
    "ParsedExpressions",
    "check_expression_parameters",
    "parse_expressions",
]

EXPRESSION_PARAMETERS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "PutItem": (("ConditionExpression",), ("Expected",)),
    "DeleteItem": (("ConditionExpression",), ("Expected",)),
    "UpdateItem": (("UpdateExpression", "ConditionExpression"), ("AttributeUpdates", "Expected")),
    "GetItem": (("ProjectionExpression",), ("AttributesToGet",)),
    "Query": (
        ("ProjectionExpression", "FilterExpression", "KeyConditionExpression"),
        ("AttributesToGet", "QueryFilter", "ConditionalOperator", "KeyConditions"),
    ),
    "Scan": (
        ("ProjectionExpression", "FilterExpression"),
        ("AttributesToGet", "ScanFilter", "ConditionalOperator"),
    ),
}
"""Operation → (expression parameters, legacy parameters), in DynamoDB's order."""

_NAME_KEY = re.compile(r"#[0-9A-Za-z_]+")
_VALUE_KEY = re.compile(r":[0-9A-Za-z_]+")


@dataclass(frozen=True, slots=True)
class ParsedExpressions:
    """The parsed expressions of a request and the placeholders they use."""

    names: Mapping[str, str] | None = None
    values: Mapping[str, AttributeValue] | None = field(default=None, hash=False)
    update: UpdateExpression | None = None
    condition: ConditionExpression | None = None
    key_condition: ConditionExpression | None = None
    filter: ConditionExpression | None = None
    projection: ProjectionExpression | None = None


def check_expression_parameters(params: Mapping[str, Any], operation: str) -> None:
    """DynamoDB's errors for mixing expressions and legacy parameters in ``operation``."""
    expressions, legacy = EXPRESSION_PARAMETERS[operation]
    used = [name for name in expressions if params.get(name) is not None]
    if used:
        mixed = [
            name
            for name in legacy
            if params.get(name) is not None
            and not (name == "KeyConditions" and params.get("KeyConditionExpression") is None)
        ]
        if mixed:
            raise ValidationException(
                "Can not use both expression and non-expression parameters in the same request: "
                f"Non-expression parameters: {{{', '.join(mixed)}}} "
                f"Expression parameters: {{{', '.join(used)}}}"
            )
    if params.get("ExpressionAttributeNames") is not None and not used:
        raise ValidationException(
            "ExpressionAttributeNames can only be specified when using expressions"
        )
    with_values = [name for name in expressions if name != "ProjectionExpression"]
    if (
        with_values
        and params.get("ExpressionAttributeValues") is not None
        and all(params.get(name) is None for name in with_values)
    ):
        verb = "are" if len(with_values) > 1 else "is"
        raise ValidationException(
            "ExpressionAttributeValues can only be specified when using expressions: "
            f"{' and '.join(with_values)} {verb} null"
        )


def _check_keys(parameter: str, placeholders: Mapping[str, Any], key_form: re.Pattern[str]) -> None:
    """DynamoDB's errors for an empty map of placeholders, or a key not of ``key_form``."""
    if not placeholders:
        raise ValidationException(f"{parameter} must not be empty")
    for key in placeholders:
        if key_form.fullmatch(key) is None:
            raise ValidationException(
                f'{parameter} contains invalid key: Syntax error; key: "{key}"'
            )


def _check_names(names: Mapping[str, Any]) -> dict[str, str]:
    _check_keys("ExpressionAttributeNames", names, _NAME_KEY)
    checked = {key: as_string(value) for key, value in names.items()}
    for key, name in checked.items():
        try:
            check_attribute_name(name)
        except ValidationException as exc:
            raise ValidationException(
                f"ExpressionAttributeNames contains invalid value: {exc.message} for key {key}"
            ) from None
    return checked


def _check_values(values: Mapping[str, Any]) -> dict[str, AttributeValue]:
    _check_keys("ExpressionAttributeValues", values, _VALUE_KEY)
    checked: dict[str, AttributeValue] = {}
    for key, value in values.items():
        try:
            checked[key] = validate_value(value)
        except ValidationException as exc:
            raise ValidationException(
                f"ExpressionAttributeValues contains invalid value: {exc.message} for key {key}"
            ) from None
    return checked


def parse_expressions(
    *,
    names: Mapping[str, Any] | None = None,
    values: Mapping[str, Any] | None = None,
    update: str | None = None,
    condition: str | None = None,
    key_condition: str | None = None,
    filter: str | None = None,
    projection: str | None = None,
) -> ParsedExpressions:
    """Parse and check a request's expressions with its placeholders."""
    checked_names = None if names is None else _check_names(names)
    checked_values = None if values is None else _check_values(values)
    parsed_update = None if update is None else parse_update(update)
    if parsed_update is not None:
        check_update(parsed_update, checked_names, checked_values)
    conditions: list[ConditionExpression | None] = []
    for text, kind in (
        (condition, "ConditionExpression"),
        (key_condition, "KeyConditionExpression"),
        (filter, "FilterExpression"),
    ):
        parsed = None if text is None else parse_condition(text, kind)
        if parsed is not None:
            check_condition(parsed, checked_names, checked_values, kind)
        conditions.append(parsed)
    parsed_projection = None if projection is None else parse_projection(projection)
    if parsed_projection is not None:
        check_projection(parsed_projection, checked_names)
    used_names: set[str] = set()
    used_values: set[str] = set()
    for expression in (parsed_update, *conditions, parsed_projection):
        if expression is not None:
            used_names.update(expression.names)
            if not isinstance(expression, ProjectionExpression):
                used_values.update(expression.values)
    for supplied, used, what in (
        (checked_names, used_names, "ExpressionAttributeNames"),
        (checked_values, used_values, "ExpressionAttributeValues"),
    ):
        unused = [key for key in supplied or () if key not in used]
        if unused:
            raise ValidationException(
                f"Value provided in {what} unused in expressions: keys: {{{', '.join(unused)}}}"
            )
    return ParsedExpressions(
        names=checked_names,
        values=checked_values,
        update=parsed_update,
        condition=conditions[0],
        key_condition=conditions[1],
        filter=conditions[2],
        projection=parsed_projection,
    )
