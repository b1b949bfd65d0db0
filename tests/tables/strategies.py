"""Hypothesis strategies for DynamoDB values and items in wire form."""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from lorafox.tables.numbers import canonical_number

__all__ = [
    "SET_VALUES",
    "SMALL_NUMBERS",
    "attribute_values",
    "dynamo_numbers",
    "items",
    "sub_values",
]

TOP_NAMES = ("a", "b", "c", "status")
"""Top-level attribute names; ``status`` is a reserved word (it needs ``#name``)."""
MAP_KEYS = ("x", "y")

SMALL_NUMBERS = st.sampled_from(
    ["0", "1", "2", "3", "-1", "-2.5", "0.25", "1.5", "10", "100", "1e20", "-1e-5"]
)
_TEXT = st.text(alphabet="abé😀", max_size=4)
_BYTES = st.lists(st.sampled_from([0, 1, 255]), max_size=3).map(bytes)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@st.composite
def dynamo_numbers(draw: st.DrawFn) -> str:
    """Any number DynamoDB can store, as canonical text."""
    if draw(st.integers(0, 20)) == 0:
        return "0"
    digits = draw(st.lists(st.integers(0, 9), min_size=1, max_size=38).filter(lambda d: d[0] != 0))
    adjusted = draw(st.integers(-130, 125))
    sign = draw(st.integers(0, 1))
    return canonical_number(Decimal((sign, tuple(digits), adjusted - len(digits) + 1)))


def _number_set(numbers: list[str]) -> list[str]:
    seen: dict[Decimal, str] = {}
    for number in numbers:
        seen.setdefault(Decimal(number), number)
    return list(seen.values())


SET_VALUES: st.SearchStrategy[dict[str, Any]] = st.one_of(
    st.sets(_TEXT, min_size=1, max_size=3).map(lambda s: {"SS": sorted(s)}),
    st.lists(SMALL_NUMBERS, min_size=1, max_size=3).map(
        lambda ns: {"NS": _number_set([canonical_number(n) for n in ns])}
    ),
    st.sets(_BYTES, min_size=1, max_size=3).map(lambda s: {"BS": [b64(b) for b in sorted(s)]}),
)
"""Any string, number or binary set."""
_SCALARS: st.SearchStrategy[dict[str, Any]] = st.one_of(
    _TEXT.map(lambda s: {"S": s}),
    SMALL_NUMBERS.map(lambda n: {"N": canonical_number(n)}),
    _BYTES.map(lambda b: {"B": b64(b)}),
    st.booleans().map(lambda b: {"BOOL": b}),
    st.just({"NULL": True}),
    SET_VALUES,
)


def attribute_values(max_leaves: int = 6) -> st.SearchStrategy[dict[str, Any]]:
    """Any attribute value, lists and maps nested a little."""
    return st.recursive(
        _SCALARS,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3).map(lambda values: {"L": values}),
            st.dictionaries(st.sampled_from(MAP_KEYS), inner, max_size=2).map(
                lambda entries: {"M": entries}
            ),
        ),
        max_leaves=max_leaves,
    )


def items() -> st.SearchStrategy[dict[str, dict[str, Any]]]:
    """Items with a few of ``TOP_NAMES``."""
    return st.dictionaries(st.sampled_from(TOP_NAMES), attribute_values(), max_size=4)


def sub_values(item: dict[str, Any]) -> list[dict[str, Any]]:
    """Every value found in an item, nested ones included."""
    found: list[dict[str, Any]] = []

    def walk(value: dict[str, Any]) -> None:
        found.append(value)
        if "L" in value:
            for member in value["L"]:
                walk(member)
        if "M" in value:
            for member in value["M"].values():
                walk(member)

    for value in item.values():
        walk(value)
    return found
