"""Evaluating conditions against items in wire form.

The semantics are DynamoDB's:

* a path that does not resolve has no value; a comparison with a missing operand is false,
  except ``<>``, which is true when exactly one side is missing;
* ``=`` and ``<>`` compare any two values (numbers by value, sets in any order, lists and maps
  deeply); ``< <= > >=`` and ``BETWEEN`` are false unless all operands are of one type among
  N, S (by code point, which is UTF-8 byte order) and B (by bytes);
* ``IN`` is true when the operand equals one of the choices;
* ``begins_with`` works on S and B; ``contains`` finds a substring in an S, a byte string in a B,
  a member in a set of the matching type, or an element in a list;
* ``size`` is the length of an S (in characters), a B (in bytes), a set, a list or a map; for
  any other type (or no value) the comparison it is part of is false.

Evaluation never raises for a type mismatch: DynamoDB answers "false", not an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from lorafox.tables.errors import ValidationException
from lorafox.tables.expressions.checks import undefined_value
from lorafox.tables.expressions.nodes import (
    And,
    Between,
    Call,
    Compare,
    Condition,
    ConditionExpression,
    In,
    Literal,
    Not,
    Operand,
    Or,
    Path,
    Placeholder,
)
from lorafox.tables.expressions.paths import get_value, resolve_path
from lorafox.tables.values import AttributeValue, binary_bytes, value_type, values_equal

__all__ = ["compare_values", "evaluate_condition", "operand_value"]

_ORDERED = frozenset({"S", "N", "B"})


def operand_value(
    operand: Operand,
    item: Mapping[str, Any],
    names: Mapping[str, str] | None,
    values: Mapping[str, Mapping[str, Any]] | None,
) -> Mapping[str, Any] | None:
    """The value of an operand for ``item``, or ``None`` when it has none."""
    if isinstance(operand, Path):
        return get_value(item, resolve_path(operand, names))
    if isinstance(operand, Placeholder):
        value = (values or {}).get(operand.name)
        if value is None:
            raise ValidationException(undefined_value(operand.name))
        return value
    if isinstance(operand, Literal):
        return operand.value
    return _size(operand_value(operand.operand, item, names, values))


def _size(value: Mapping[str, Any] | None) -> AttributeValue | None:
    if value is None:
        return None
    kind = value_type(value)
    member = value[kind]
    if kind == "B":
        return {"N": str(len(binary_bytes(member)))}
    if kind in ("S", "SS", "NS", "BS", "L", "M"):
        return {"N": str(len(member))}
    return None


def _sortable(value: Mapping[str, Any]) -> Decimal | str | bytes:
    kind = value_type(value)
    member = value[kind]
    if kind == "N":
        return Decimal(member)
    if kind == "B":
        return binary_bytes(member)
    return str(member)


def compare_values(left: Mapping[str, Any], right: Mapping[str, Any]) -> int | None:
    """-1, 0 or 1 for two values of one type among N, S and B; ``None`` if they are not."""
    kind = value_type(left)
    if kind not in _ORDERED or kind != value_type(right):
        return None
    a, b = _sortable(left), _sortable(right)
    return (a > b) - (a < b)  # type: ignore[operator]


def _compare(op: str, left: Mapping[str, Any] | None, right: Mapping[str, Any] | None) -> bool:
    if op == "<>":
        if left is None or right is None:
            return (left is None) != (right is None)
        return not values_equal(left, right)
    if left is None or right is None:
        return False
    if op == "=":
        return values_equal(left, right)
    order = compare_values(left, right)
    if order is None:
        return False
    if op == "<":
        return order < 0
    if op == "<=":
        return order <= 0
    if op == ">":
        return order > 0
    return order >= 0


def _contains(container: Mapping[str, Any], needle: Mapping[str, Any]) -> bool:
    kind, wanted = value_type(container), value_type(needle)
    member, target = container[kind], needle[wanted]
    if kind == "S":
        return wanted == "S" and target in member
    if kind == "B":
        return wanted == "B" and binary_bytes(target) in binary_bytes(member)
    if kind in ("SS", "NS", "BS"):
        return kind[0] == wanted and any(values_equal({wanted: x}, needle) for x in member)
    if kind == "L":
        return any(values_equal(element, needle) for element in member)
    return False


def _begins_with(value: Mapping[str, Any], prefix: Mapping[str, Any]) -> bool:
    kind = value_type(value)
    if kind != value_type(prefix):
        return False
    if kind == "S":
        return bool(value["S"].startswith(prefix["S"]))
    if kind == "B":
        return binary_bytes(value["B"]).startswith(binary_bytes(prefix["B"]))
    return False


def _call(node: Call, args: list[Mapping[str, Any] | None]) -> bool:
    function = node.function
    if function == "attribute_exists":
        return args[0] is not None
    if function == "attribute_not_exists":
        return args[0] is None
    first, second = args[0], args[1]
    if first is None or second is None:
        return False
    if function == "attribute_type":
        return value_type(second) == "S" and value_type(first) == second["S"]
    if function == "begins_with":
        return _begins_with(first, second)
    return _contains(first, second)


def _evaluate(
    node: Condition,
    item: Mapping[str, Any],
    names: Mapping[str, str] | None,
    values: Mapping[str, Mapping[str, Any]] | None,
) -> bool:
    if isinstance(node, And):
        return _evaluate(node.left, item, names, values) and _evaluate(
            node.right, item, names, values
        )
    if isinstance(node, Or):
        return _evaluate(node.left, item, names, values) or _evaluate(
            node.right, item, names, values
        )
    if isinstance(node, Not):
        return not _evaluate(node.operand, item, names, values)
    if isinstance(node, Compare):
        left = operand_value(node.left, item, names, values)
        return _compare(node.op, left, operand_value(node.right, item, names, values))
    if isinstance(node, Between):
        value = operand_value(node.operand, item, names, values)
        low = operand_value(node.low, item, names, values)
        high = operand_value(node.high, item, names, values)
        if value is None or low is None or high is None:
            return False
        above, below = compare_values(value, low), compare_values(value, high)
        return above is not None and below is not None and above >= 0 and below <= 0
    if isinstance(node, In):
        value = operand_value(node.operand, item, names, values)
        return value is not None and any(
            (choice := operand_value(c, item, names, values)) is not None
            and values_equal(value, choice)
            for c in node.choices
        )
    return _call(node, [operand_value(arg, item, names, values) for arg in node.args])


def evaluate_condition(
    expression: ConditionExpression | Condition,
    item: Mapping[str, Any] | None,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Mapping[str, Any]] | None = None,
) -> bool:
    """Whether ``item`` (``None``: no item) satisfies the condition."""
    root = expression.root if isinstance(expression, ConditionExpression) else expression
    return _evaluate(root, item or {}, names, values)
