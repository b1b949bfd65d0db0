"""The checks that depend on a request's placeholders, run once per request before evaluating.

A parsed expression is shared by every request that sends the same string; what it means depends
on each request's ``ExpressionAttributeNames`` and ``ExpressionAttributeValues``. These functions
raise DynamoDB's errors, in DynamoDB's order, for: a placeholder that is not defined; two operands
that are the same path; a value of a type the operator or function refuses (``begins_with`` on a
number, ``ADD`` of a string, ``BETWEEN`` bounds in the wrong order…); document paths that
overlap or conflict. Each message starts with ``Invalid <kind>: ``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from lorafox.tables.errors import ValidationException
from lorafox.tables.expressions.nodes import (
    And,
    Arithmetic,
    Between,
    Call,
    Compare,
    Condition,
    ConditionExpression,
    IfNotExists,
    In,
    ListAppend,
    Literal,
    Name,
    Not,
    Operand,
    Or,
    Path,
    Placeholder,
    ProjectionExpression,
    SetValue,
    Size,
    UpdateExpression,
    UpdateOperand,
)
from lorafox.tables.expressions.paths import (
    check_overlaps,
    format_path,
    resolve_path,
    undefined_name,
)
from lorafox.tables.keys import compare_key_values
from lorafox.tables.values import TYPES, value_type

__all__ = [
    "check_condition",
    "check_projection",
    "check_update",
    "condition_paths",
    "undefined_value",
]

_TYPE_WORDS = {
    "S": "STRING",
    "N": "NUMBER",
    "B": "BINARY",
    "NULL": "NULL",
    "BOOL": "BOOLEAN",
    "L": "LIST",
    "M": "MAP",
}
_ANY_TYPE = "{NS,SS,L,BS,N,M,B,BOOL,NULL,S}"
_BAD_OPERAND = (
    "Incorrect operand type for operator or function; operator or function: {}, operand type: {}"
)
_VALID_TYPES = "{B,NULL,SS,BOOL,L,BS,N,NS,S,M}"

Names = Mapping[str, str] | None
Values = Mapping[str, Mapping[str, Any]] | None


def undefined_value(placeholder: str) -> str:
    return (
        "An expression attribute value used in expression is not defined; "
        f"attribute value: {placeholder}"
    )


def _operand_type(operand: Operand | UpdateOperand, values: Values) -> str | None:
    """The type of an operand known before reading the item (a value, or ``size()``)."""
    if isinstance(operand, Placeholder):
        value = (values or {}).get(operand.name)
        return value_type(value) if value else None
    if isinstance(operand, Literal):
        return value_type(operand.value)
    if isinstance(operand, Size):
        return "N"
    return None


def _literal(operand: Operand | UpdateOperand, values: Values) -> Mapping[str, Any] | None:
    if isinstance(operand, Placeholder):
        return (values or {}).get(operand.name)
    if isinstance(operand, Literal):
        return operand.value
    return None


def _describe(value: Mapping[str, Any]) -> str:
    kind = value_type(value)
    member = value[kind]
    text = ",".join(member) if kind in ("SS", "NS", "BS") else member
    return f"{{{kind}:{text}}}"


# --- conditions --------------------------------------------------------------------------------


def _conditions(node: Condition) -> Iterator[Condition]:
    """Every condition node, left to right."""
    if isinstance(node, And | Or):
        yield from _conditions(node.left)
        yield from _conditions(node.right)
    elif isinstance(node, Not):
        yield from _conditions(node.operand)
    else:
        yield node


def _operands(node: Condition) -> Iterator[Operand]:
    if isinstance(node, Compare):
        yield node.left
        yield node.right
    elif isinstance(node, Between):
        yield from (node.operand, node.low, node.high)
    elif isinstance(node, In):
        yield node.operand
        yield from node.choices
    elif isinstance(node, Call):
        yield from node.args


def _flat(operand: Operand) -> Iterator[Operand]:
    yield operand
    if isinstance(operand, Size):
        yield from _flat(operand.operand)


def _undefined(operand: Operand | UpdateOperand, names: Names, values: Values) -> str | None:
    if isinstance(operand, Path):
        for element in operand.elements:
            if isinstance(element, Name) and element.placeholder not in (names or {}):
                return undefined_name(element.placeholder)
    elif isinstance(operand, Placeholder) and operand.name not in (values or {}):
        return undefined_value(operand.name)
    return None


def _distinct(op: str, args: tuple[Operand, ...], names: Names) -> str | None:
    if len(args) == 2 and isinstance(args[0], Path) and isinstance(args[1], Path):
        first = resolve_path(args[0], names)
        if first == resolve_path(args[1], names):
            return (
                "The first operand must be distinct from the remaining operands for this "
                f"operator or function; operator: {op}, first operand: {format_path(first)}"
            )
    return None


def _function_types(node: Condition, values: Values) -> str | None:
    bad = _BAD_OPERAND
    if isinstance(node, Call):
        if node.function == "begins_with":
            for arg in node.args:
                kind = _operand_type(arg, values)
                if kind not in (None, "S", "B"):
                    return bad.format(node.function, kind)
        if node.function == "attribute_type":
            kind = _operand_type(node.args[1], values)
            if kind != "S":
                return bad.format(node.function, kind or _ANY_TYPE)
            name = _literal(node.args[1], values)
            assert name is not None  # noqa: S101 - its type is known
            if name["S"] not in TYPES:
                return (
                    f"Invalid attribute type name found; type: {name['S']}, "
                    f"valid types: {_VALID_TYPES}"
                )
    if isinstance(node, Between):
        low, high = _literal(node.low, values), _literal(node.high, values)
        if low is not None and high is not None:
            low_type, high_type = value_type(low), value_type(high)
            bounds = (
                f"lower bound operand: AttributeValue: {_describe(low)}, "
                f"upper bound operand: AttributeValue: {_describe(high)}"
            )
            if low_type != high_type:
                return (
                    "The BETWEEN operator requires same data type for lower and upper bounds; "
                    + bounds
                )
            if low_type in ("S", "N", "B") and compare_key_values(low, high) > 0:
                return (
                    "The BETWEEN operator requires upper bound to be greater than or equal to "
                    f"lower bound; {bounds}"
                )
    for operand in _operands(node):
        for part in _flat(operand):
            if isinstance(part, Size):
                kind = _operand_type(part.operand, values)
                if kind in ("N", "BOOL", "NULL"):
                    return bad.format("size", kind)
    return None


def condition_paths(expression: ConditionExpression) -> Iterator[Path]:
    """Every document path a condition reads, left to right."""
    for node in _conditions(expression.root):
        for operand in _operands(node):
            for part in _flat(operand):
                if isinstance(part, Path):
                    yield part


def _order_types(node: Condition, values: Values) -> str | None:
    """An ordering comparison (or BETWEEN) with a value of a type that has no order."""
    if isinstance(node, Compare) and node.op in ("<", "<=", ">", ">="):
        operands: tuple[Operand, ...] = (node.left, node.right)
        op = node.op
    elif isinstance(node, Between):
        operands, op = (node.operand, node.low, node.high), "BETWEEN"
    else:
        return None
    for operand in operands:
        kind = _operand_type(operand, values)
        if kind is not None and kind not in ("S", "N", "B"):
            return _BAD_OPERAND.format(op, kind)
    return None


def _first_undefined(node: Condition, names: Names, values: Values) -> str | None:
    for operand in _operands(node):
        for part in _flat(operand):
            message = _undefined(part, names, values)
            if message:
                return message
    return None


def _same_operands(node: Condition, names: Names) -> str | None:
    if isinstance(node, Compare):
        return _distinct(node.op, (node.left, node.right), names)
    if isinstance(node, Call):
        return _distinct(node.function, node.args, names)
    return None


def check_condition(
    expression: ConditionExpression, names: Names, values: Values, kind: str
) -> None:
    """DynamoDB's errors for a condition under these placeholders (``kind`` for the message)."""
    nodes = list(_conditions(expression.root))
    for messages in (
        (_first_undefined(node, names, values) for node in nodes),
        (_same_operands(node, names) for node in nodes),
        (_function_types(node, values) or _order_types(node, values) for node in nodes),
    ):
        message = next((m for m in messages if m), None)
        if message:
            raise ValidationException(f"Invalid {kind}: {message}")


# --- updates -----------------------------------------------------------------------------------


def _update_operands(value: SetValue) -> Iterator[UpdateOperand]:
    if isinstance(value, Arithmetic):
        yield from _update_operands(value.left)
        yield from _update_operands(value.right)
    elif isinstance(value, ListAppend):
        yield value
        yield from _update_operands(value.left)
        yield from _update_operands(value.right)
    elif isinstance(value, IfNotExists):
        yield value
        yield value.path
        yield from _update_operands(value.default)
    else:
        yield value


def _update_function_types(value: SetValue, values: Values) -> str | None:
    """The first literal operand of ``+``, ``-`` or ``list_append`` of the wrong type."""
    if isinstance(value, IfNotExists):
        return _update_function_types(value.default, values)
    if isinstance(value, Arithmetic):
        function, wanted = value.op, "N"
    elif isinstance(value, ListAppend):
        function, wanted = "list_append", "L"
    else:
        return None
    for operand in (value.left, value.right):
        kind = _operand_type(operand, values)
        if kind is not None and kind != wanted:
            return _BAD_OPERAND.format(function, kind)
        message = _update_function_types(operand, values)
        if message:
            return message
    return None


def check_update(expression: UpdateExpression, names: Names, values: Values) -> None:
    """DynamoDB's errors for an update under these placeholders."""
    kind = "UpdateExpression"
    paths = expression.paths
    operands: list[UpdateOperand] = [
        *(op for action in expression.set for op in _update_operands(action.value)),
        *(action.value for action in expression.add),
        *(action.value for action in expression.delete),
    ]
    undefined_names = (
        _undefined(p, names, values) for p in (*paths, *operands) if isinstance(p, Path)
    )
    undefined_values = (
        _undefined(p, names, values) for p in operands if isinstance(p, Placeholder)
    )
    for messages in (undefined_names, undefined_values):
        message = next((m for m in messages if m), None)
        if message:
            raise ValidationException(f"Invalid {kind}: {message}")
    check_overlaps((resolve_path(path, names) for path in paths), kind)
    typed = [("ADD", a.value) for a in expression.add] + [
        ("DELETE", d.value) for d in expression.delete
    ]
    for operator, operand in typed:
        operand_type = _operand_type(operand, values)
        if operand_type in _TYPE_WORDS and not (operator == "ADD" and operand_type == "N"):
            raise ValidationException(
                f"Invalid {kind}: Incorrect operand type for operator or function; "
                f"operator: {operator}, operand type: {_TYPE_WORDS[operand_type]}"
            )
    for set_action in expression.set:
        message = _update_function_types(set_action.value, values)
        if message:
            raise ValidationException(f"Invalid {kind}: {message}")


def check_projection(expression: ProjectionExpression, names: Names) -> None:
    """DynamoDB's errors for a projection under these names."""
    kind = "ProjectionExpression"
    for path in expression.paths:
        message = _undefined(path, names, None)
        if message:
            raise ValidationException(f"Invalid {kind}: {message}")
    check_overlaps((resolve_path(path, names) for path in expression.paths), kind)
