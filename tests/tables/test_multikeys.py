"""Multi-attribute index keys: the order of their bytes, and Query key conditions on them
(the bounds read are exactly the items the condition matches)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lorafox.tables.errors import ValidationException
from lorafox.tables.expressions import build_key_condition, validate_conditions
from lorafox.tables.expressions.keycondition import Bound
from lorafox.tables.keys import KeyAttribute, KeySchema, encode_component, key_sort_value

SCHEMA = KeySchema(
    KeyAttribute("h1", "S"),
    KeyAttribute("a", "S"),
    more_hashes=(KeyAttribute("h2", "N"),),
    more_ranges=(KeyAttribute("b", "N"), KeyAttribute("c", "B")),
)
SORTS = SCHEMA.ranges

_STRINGS = st.text(alphabet=["\x00", "a", "b", "\xff"], max_size=4)
_BINARIES = st.binary(max_size=3).map(lambda data: base64.b64encode(data).decode("ascii"))
_NUMBERS = st.sampled_from(["-10", "-2.5", "-1", "0", "0.5", "1", "9", "10", "1e3"])


def _value(kind: str) -> st.SearchStrategy[dict[str, Any]]:
    if kind == "S":
        return _STRINGS.map(lambda text: {"S": text})
    if kind == "N":
        return _NUMBERS.map(lambda number: {"N": number})
    return _BINARIES.map(lambda data: {"B": data})


def _sort_values() -> st.SearchStrategy[dict[str, dict[str, Any]]]:
    return st.fixed_dictionaries({a.name: _value(a.type) for a in SORTS})


def _order(values: dict[str, dict[str, Any]]) -> tuple[Any, ...]:
    return tuple(key_sort_value(values[a.name]) for a in SORTS)


@settings(max_examples=300, deadline=None)
@given(_sort_values(), _sort_values())
def test_bytes_sort_as_the_values_left_to_right(
    left: dict[str, dict[str, Any]], right: dict[str, dict[str, Any]]
) -> None:
    a, b = SCHEMA.encode_sk(left), SCHEMA.encode_sk(right)
    assert (a < b) == (_order(left) < _order(right))
    assert (a == b) == (_order(left) == _order(right))


def test_components_are_self_delimiting() -> None:
    assert encode_component({"S": "a"}) == b"a\x00\x01"
    assert encode_component({"S": "a\x00"}) == b"a\x00\xff\x00\x01"
    item = {"h1": {"S": "x"}, "h2": {"N": "1"}}
    other = {"h1": {"S": "x\x00"}, "h2": {"N": "1"}}
    assert SCHEMA.encode_pk(item) != SCHEMA.encode_pk(other)


def _within(value: bytes, lower: Bound, upper: Bound) -> bool:
    if lower is not None and (value < lower[0] or (value == lower[0] and not lower[1])):
        return False
    return upper is None or value < upper[0] or (value == upper[0] and upper[1])


@st.composite
def _conditions(draw: st.DrawFn) -> dict[str, Any]:
    """Legacy KeyConditions: both partition attributes, = on a prefix of the sort attributes,
    then maybe any condition on the next one."""
    conditions: dict[str, Any] = {
        "h1": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "p"}]},
        "h2": {"ComparisonOperator": "EQ", "AttributeValueList": [{"N": "1"}]},
    }
    given_count = draw(st.integers(0, len(SORTS)))
    for position, attribute in enumerate(SORTS[:given_count]):
        last = position == given_count - 1
        operators = ["EQ"]
        if last:
            operators += ["LT", "LE", "GT", "GE", "BETWEEN"]
            if attribute.type != "N":
                operators.append("BEGINS_WITH")
        op = draw(st.sampled_from(operators))
        values = [draw(_value(attribute.type))]
        if op == "BETWEEN":
            values = sorted([values[0], draw(_value(attribute.type))], key=key_sort_value)
        conditions[attribute.name] = {"ComparisonOperator": op, "AttributeValueList": values}
    return conditions


@settings(max_examples=300, deadline=None)
@given(_conditions(), st.lists(_sort_values(), min_size=1, max_size=20))
def test_bounds_hold_exactly_the_matching_items(
    conditions: dict[str, Any], sorts: list[dict[str, dict[str, Any]]]
) -> None:
    condition = build_key_condition(validate_conditions(conditions, "keyConditions"), SCHEMA)
    lower, upper = condition.encoded_range()
    partition = {"h1": {"S": "p"}, "h2": {"N": "1"}}
    assert condition.encoded_pk() == SCHEMA.encode_pk(partition)
    for sort in sorts:
        item = {**partition, **sort}
        assert condition.matches(item) == _within(SCHEMA.encode_sk(item), lower, upper), item


def _refused(conditions: dict[str, tuple[str, list[dict[str, Any]]]]) -> str:
    legacy = {
        name: {"ComparisonOperator": op, "AttributeValueList": values}
        for name, (op, values) in conditions.items()
    }
    with pytest.raises(ValidationException) as caught:
        build_key_condition(validate_conditions(legacy, "keyConditions"), SCHEMA)
    return caught.value.message


def test_errors() -> None:
    h1 = ("EQ", [{"S": "p"}])
    h2 = ("EQ", [{"N": "1"}])
    assert _refused({"h1": h1}) == "Query condition missed key schema element: h2"
    assert _refused({"h1": h1, "h2": ("GT", [{"N": "1"}])}) == "Query key condition not supported"
    assert _refused({"h1": h1, "h2": h2, "b": ("EQ", [{"N": "1"}])}) == (
        "Query condition missed key schema element: a (sort key attributes are given left to "
        "right, and b comes after it)"
    )
    assert _refused({"h1": h1, "h2": h2, "a": ("LT", [{"S": "x"}]), "b": h2}) == (
        "Query key condition not supported: only the last sort key attribute given may have a "
        "LT condition, and a is followed by b"
    )
    assert _refused({"h1": h1, "h2": h2, "x": h1}) == (
        "Query key condition not supported: x is not a key attribute of the index"
    )
