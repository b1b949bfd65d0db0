"""DynamoDB's expression language: parse once, check per request, evaluate against items.

Typical use by an operation handler::

    parsed = parse_expressions(
        names=params.get("ExpressionAttributeNames"),
        values=params.get("ExpressionAttributeValues"),
        update=params.get("UpdateExpression"),
        condition=params.get("ConditionExpression"),
    )
    condition = parsed.condition
    if condition and not evaluate_condition(condition, old, parsed.names, parsed.values):
        raise ConditionalCheckFailedException()
    result = apply_update(parsed.update, old, parsed.names, parsed.values)

Modules: ``grammar`` (the Lark grammars), ``syntax`` (running them; syntax errors), ``parser``
(strings → ``nodes``, cached), ``checks`` (per-request checks), ``evaluate`` (conditions),
``update`` (updates), ``paths`` (document paths and projection), ``keycondition`` (Query key
conditions), ``legacy`` (``Expected``, ``AttributeUpdates``, ``KeyConditions``,
``QueryFilter``/``ScanFilter``, ``AttributesToGet``), ``request`` (the expressions of one request
together), ``reserved`` (the reserved words).
"""

from __future__ import annotations

from lorafox.tables.expressions.checks import (
    check_condition,
    check_projection,
    check_update,
    condition_paths,
)
from lorafox.tables.expressions.evaluate import compare_values, evaluate_condition
from lorafox.tables.expressions.keycondition import (
    KeyCondition,
    SortKeyCondition,
    build_key_condition,
    key_conditions_from_expression,
)
from lorafox.tables.expressions.legacy import (
    attribute_updates_to_update,
    attributes_to_get_to_projection,
    expected_to_condition,
    filter_to_condition,
    validate_conditions,
)
from lorafox.tables.expressions.nodes import (
    ConditionExpression,
    ProjectionExpression,
    UpdateExpression,
)
from lorafox.tables.expressions.parser import parse_condition, parse_projection, parse_update
from lorafox.tables.expressions.paths import get_value, project, project_paths, resolve_path
from lorafox.tables.expressions.request import (
    EXPRESSION_PARAMETERS,
    ParsedExpressions,
    check_expression_parameters,
    parse_expressions,
)
from lorafox.tables.expressions.reserved import RESERVED_WORDS, is_reserved
from lorafox.tables.expressions.update import UpdateResult, apply_update, check_key_not_updated

__all__ = [
    "EXPRESSION_PARAMETERS",
    "RESERVED_WORDS",
    "ConditionExpression",
    "KeyCondition",
    "ParsedExpressions",
    "ProjectionExpression",
    "SortKeyCondition",
    "UpdateExpression",
    "UpdateResult",
    "apply_update",
    "attribute_updates_to_update",
    "attributes_to_get_to_projection",
    "build_key_condition",
    "check_condition",
    "check_expression_parameters",
    "check_key_not_updated",
    "check_projection",
    "check_update",
    "compare_values",
    "condition_paths",
    "evaluate_condition",
    "expected_to_condition",
    "filter_to_condition",
    "get_value",
    "is_reserved",
    "key_conditions_from_expression",
    "parse_condition",
    "parse_expressions",
    "parse_projection",
    "parse_update",
    "project",
    "project_paths",
    "resolve_path",
    "validate_conditions",
]
