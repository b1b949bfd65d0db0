"""Query key conditions: what DynamoDB allows, checked against the key schema.

A Query names one partition with ``=`` and may narrow the sort key with one of ``= < <= > >=``,
``BETWEEN`` or ``begins_with``. ``key_conditions_from_expression`` reads a parsed
KeyConditionExpression (anything else — ``OR``, ``NOT``, ``IN``, ``<>``, other functions,
``size``, nested paths, two conditions on one key — is DynamoDB's error), the legacy
``KeyConditions`` go through ``legacy.validate_conditions``; both end in ``build_key_condition``,
which checks them against the table's (or index's) key schema.

``KeyCondition.encoded_pk`` and ``KeyCondition.encoded_range`` give the partition and the sort
key bounds in the encoding of ``keys`` so that the SQL store reads exactly the key range through
its index.

On a global index with a multi-attribute key every partition key attribute needs ``=``; the sort
key attributes may be given left to right: ``=`` on the first ones, and the last one given may
have any sort key condition. A condition on a sort attribute whose predecessor has none is
refused, as is a range condition followed by another one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lorafox.tables.errors import ValidationException
from lorafox.tables.expressions.evaluate import compare_values, operand_value
from lorafox.tables.expressions.legacy import LegacyConditions, validate_conditions
from lorafox.tables.expressions.nodes import (
    And,
    Between,
    Call,
    Compare,
    Condition,
    ConditionExpression,
    In,
    Not,
    Operand,
    Or,
    Path,
    Size,
)
from lorafox.tables.expressions.paths import resolve_path
from lorafox.tables.keys import (
    KeyAttribute,
    KeySchema,
    encode_component,
    encode_key_value,
    escape_component,
    prefix_successor,
)
from lorafox.tables.values import AttributeValue, value_type, values_equal

__all__ = [
    "KeyCondition",
    "SortKeyCondition",
    "build_key_condition",
    "key_conditions_from_expression",
]

_FLIPPED = {"=": "EQ", "<": "GT", "<=": "GE", ">": "LT", ">=": "LE"}
_STRAIGHT = {"=": "EQ", "<": "LT", "<=": "LE", ">": "GT", ">=": "GE"}
_NOT_INDEXABLE = frozenset({"NULL", "NOT_NULL", "NE", "CONTAINS", "NOT_CONTAINS", "IN"})
_IN_KEY = "in KeyConditionExpression"

Bound = tuple[bytes, bool] | None
"""An encoded bound and whether it is included; ``None``: unbounded."""


@dataclass(frozen=True, slots=True)
class SortKeyCondition:
    """The sort key part of a query: ``op`` is EQ, LT, LE, GT, GE, BETWEEN or BEGINS_WITH."""

    name: str
    op: str
    values: tuple[AttributeValue, ...] = field(hash=False)

    def matches(self, value: Mapping[str, Any] | None) -> bool:
        if value is None:
            return False
        if self.op == "BEGINS_WITH":
            prefix = encode_key_value(self.values[0])
            return value_type(value) == value_type(self.values[0]) and encode_key_value(
                value
            ).startswith(prefix)
        orders = [compare_values(value, bound) for bound in self.values]
        if any(order is None for order in orders):
            return False
        first = orders[0]
        assert first is not None  # noqa: S101
        if self.op == "BETWEEN":
            last = orders[1]
            assert last is not None  # noqa: S101
            return first >= 0 and last <= 0
        return {"EQ": first == 0, "LT": first < 0, "LE": first <= 0, "GT": first > 0}.get(
            self.op, first >= 0
        )

    def encoded_range(self) -> tuple[Bound, Bound]:
        """(lower, upper) bounds of the matching sort keys in ``keys.encode_key_value`` form."""
        first = encode_key_value(self.values[0])
        if self.op == "EQ":
            return (first, True), (first, True)
        if self.op == "BETWEEN":
            return (first, True), (encode_key_value(self.values[1]), True)
        if self.op == "BEGINS_WITH":
            successor = prefix_successor(first)
            return (first, True), (None if successor is None else (successor, False))
        if self.op in ("LT", "LE"):
            return None, (first, self.op == "LE")
        return (first, self.op == "GE"), None


@dataclass(frozen=True, slots=True)
class KeyCondition:
    """A checked query key condition: one partition, maybe a sort key range.

    With a multi-attribute key, ``more_hashes`` are the other partition attributes' values,
    ``sort_prefix`` the values the first sort attributes equal, and ``sort`` the condition on
    the next one; ``multi_sort`` says the sort key has several attributes."""

    hash_name: str
    hash_value: AttributeValue = field(hash=False)
    sort: SortKeyCondition | None = None
    more_hashes: tuple[tuple[str, AttributeValue], ...] = field(default=(), hash=False)
    sort_prefix: tuple[tuple[str, AttributeValue], ...] = field(default=(), hash=False)
    multi_sort: bool = False

    def matches(self, item: Mapping[str, Any]) -> bool:
        for name, wanted in ((self.hash_name, self.hash_value), *self.more_hashes):
            value = item.get(name)
            if value is None or not values_equal(value, wanted):
                return False
        for name, wanted in self.sort_prefix:
            value = item.get(name)
            if value is None or not values_equal(value, wanted):
                return False
        return self.sort is None or self.sort.matches(item.get(self.sort.name))

    def encoded_pk(self) -> bytes:
        """The partition's bytes, as ``KeySchema.encode_pk`` encodes an item's."""
        if not self.more_hashes:
            return encode_key_value(self.hash_value)
        values = (self.hash_value, *(value for _, value in self.more_hashes))
        return b"".join(encode_component(value) for value in values)

    def encoded_range(self) -> tuple[Bound, Bound]:
        """(lower, upper) bounds of the matching sort keys, as ``KeySchema.encode_sk``
        encodes an item's; (None, None) when the whole partition matches."""
        if not self.multi_sort:
            return (None, None) if self.sort is None else self.sort.encoded_range()
        prefix = b"".join(encode_component(value) for _, value in self.sort_prefix)
        return _multi_range(prefix, self.sort)


def _upto(data: bytes) -> Bound:
    """The upper bound just past every key starting with ``data``."""
    successor = prefix_successor(data)
    return None if successor is None else (successor, False)


def _multi_range(prefix: bytes, sort: SortKeyCondition | None) -> tuple[Bound, Bound]:
    """Bounds of the keys that start with ``prefix`` (whole components) and whose next
    component satisfies ``sort``."""
    whole: tuple[Bound, Bound] = ((prefix, True), _upto(prefix)) if prefix else (None, None)
    if sort is None:
        return whole
    first = prefix + encode_component(sort.values[0])
    if sort.op == "EQ":
        return (first, True), _upto(first)
    if sort.op == "BETWEEN":
        return (first, True), _upto(prefix + encode_component(sort.values[1]))
    if sort.op == "BEGINS_WITH":
        start = prefix + escape_component(encode_key_value(sort.values[0]))
        return (start, True), _upto(start)
    if sort.op == "LT":
        return whole[0], (first, False)
    if sort.op == "LE":
        return whole[0], _upto(first)
    if sort.op == "GT":
        after = _upto(first)
        return (None if after is None else (after[0], True)), whole[1]
    return (first, True), whole[1]  # GE


def _walk(
    node: Condition,
    names: Mapping[str, str] | None,
    values: Mapping[str, Mapping[str, Any]] | None,
    out: dict[str, tuple[str, tuple[AttributeValue, ...]]],
) -> None:
    if isinstance(node, And):
        _walk(node.left, names, values, out)
        _walk(node.right, names, values, out)
        return
    if isinstance(node, Or | Not | In) or (isinstance(node, Compare) and node.op == "<>"):
        word = {Or: "OR", Not: "NOT", In: "IN"}.get(type(node), "<>")
        raise ValidationException(f"Invalid operator used {_IN_KEY}: {word}")
    args: tuple[Operand, ...]
    if isinstance(node, Call):
        if node.function != "begins_with":
            raise ValidationException(f"Invalid operator used {_IN_KEY}: {node.function}")
        args, op, operator_name = node.args, "BEGINS_WITH", node.function
    elif isinstance(node, Between):
        args, op, operator_name = (node.operand, node.low, node.high), "BETWEEN", "BETWEEN"
    else:
        args, op, operator_name = (node.left, node.right), node.op, node.op
    if op in ("BEGINS_WITH", "BETWEEN") and not isinstance(args[0], Path):
        raise ValidationException(
            f"Invalid condition {_IN_KEY}: {operator_name} operator must have the key "
            "attribute as its first operand"
        )
    if any(isinstance(arg, Size) for arg in args):
        raise ValidationException("KeyConditionExpressions cannot contain nested operations")
    paths = [(i, arg) for i, arg in enumerate(args) if isinstance(arg, Path)]
    if len(paths) > 1:
        raise ValidationException(
            f"Invalid condition {_IN_KEY}: Multiple attribute names used in one condition"
        )
    if not paths:
        raise ValidationException(f"Invalid condition {_IN_KEY}: No key attribute specified")
    position, path = paths[0]
    resolved = resolve_path(path, names)
    if len(resolved) > 1:
        raise ValidationException(
            "KeyConditionExpressions cannot have conditions on nested attributes"
        )
    name = str(resolved[0])
    if name in out:
        raise ValidationException("KeyConditionExpressions must only contain one condition per key")
    if op in _STRAIGHT:
        op = (_FLIPPED if position == 1 else _STRAIGHT)[op]
    operands = [arg for i, arg in enumerate(args) if i != position]
    resolved_values = tuple(dict(operand_value(v, {}, names, values) or {}) for v in operands)
    out[name] = (op, resolved_values)


def key_conditions_from_expression(
    expression: ConditionExpression,
    names: Mapping[str, str] | None,
    values: Mapping[str, Mapping[str, Any]] | None,
) -> LegacyConditions:
    """A KeyConditionExpression as conditions per attribute, or DynamoDB's error."""
    out: LegacyConditions = {}
    _walk(expression.root, names, values, out)
    return validate_conditions(
        {
            n: {"ComparisonOperator": op, "AttributeValueList": list(v)}
            for n, (op, v) in out.items()
        },
        "keyConditions",
    )


def build_key_condition(conditions: LegacyConditions, schema: KeySchema) -> KeyCondition:
    """Check key conditions against the key schema (the Query's table or index)."""
    if schema.more_hashes or schema.more_ranges:
        return _multi_key_condition(conditions, schema)
    if len(conditions) not in (1, 2):
        raise ValidationException("Conditions can be of length 1 or 2 only")
    for attribute in schema.attributes:
        is_hash = attribute is schema.hash
        if is_hash and schema.range is None and len(conditions) > 1:
            raise ValidationException("Query key condition not supported")
        condition = conditions.get(attribute.name)
        if condition is None:
            if is_hash or len(conditions) > 1:
                raise ValidationException(
                    f"Query condition missed key schema element: {attribute.name}"
                )
            continue
        _check_condition(attribute, condition, is_hash=is_hash)
    _, hash_values = conditions[schema.hash.name]
    sort = None
    if schema.range is not None and schema.range.name in conditions:
        op, values = conditions[schema.range.name]
        sort = SortKeyCondition(schema.range.name, op, values)
    return KeyCondition(schema.hash.name, hash_values[0], sort)


def _check_condition(
    attribute: KeyAttribute, condition: tuple[str, tuple[AttributeValue, ...]], *, is_hash: bool
) -> None:
    op, values = condition
    if op in _NOT_INDEXABLE:
        raise ValidationException("Attempted conditional constraint is not an indexable operation")
    if any(value_type(value) != attribute.type for value in values):
        raise ValidationException(
            "One or more parameter values were invalid: "
            "Condition parameter type does not match schema type"
        )
    if is_hash and op != "EQ":
        raise ValidationException("Query key condition not supported")


def _multi_key_condition(conditions: LegacyConditions, schema: KeySchema) -> KeyCondition:
    """A multi-attribute key's conditions: ``=`` on every partition attribute, then the
    sort attributes left to right, ``=`` on all but the last one given."""
    most = len(schema.attributes)
    if not 1 <= len(conditions) <= most:
        raise ValidationException(f"Conditions can be of length 1 to {most} only")
    for attribute in schema.hashes:
        condition = conditions.get(attribute.name)
        if condition is None:
            raise ValidationException(
                f"Query condition missed key schema element: {attribute.name}"
            )
        _check_condition(attribute, condition, is_hash=True)
    others = [name for name in conditions if name not in schema.names]
    if others:
        raise ValidationException(
            f"Query key condition not supported: {others[0]} is not a key attribute of the index"
        )
    given = [attribute for attribute in schema.ranges if attribute.name in conditions]
    for position, attribute in enumerate(given):
        if schema.ranges[position] is not attribute:
            raise ValidationException(
                f"Query condition missed key schema element: {schema.ranges[position].name} "
                f"(sort key attributes are given left to right, and {attribute.name} comes "
                "after it)"
            )
        _check_condition(attribute, conditions[attribute.name], is_hash=False)
    for attribute in given[:-1]:
        op = conditions[attribute.name][0]
        if op != "EQ":
            raise ValidationException(
                f"Query key condition not supported: only the last sort key attribute given "
                f"may have a {op} condition, and {attribute.name} is followed by "
                f"{given[len(given) - 1].name}"
            )
    hashes = [(a.name, conditions[a.name][1][0]) for a in schema.hashes]
    sort = None
    if given:
        op, values = conditions[given[-1].name]
        sort = SortKeyCondition(given[-1].name, op, values)
    return KeyCondition(
        hashes[0][0],
        hashes[0][1],
        sort,
        more_hashes=tuple(hashes[1:]),
        sort_prefix=tuple((a.name, conditions[a.name][1][0]) for a in given[:-1]),
        multi_sort=len(schema.ranges) > 1,
    )
