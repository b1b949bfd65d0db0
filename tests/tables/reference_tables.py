"""A naive in-memory model of one DynamoDB table with a global and a local secondary index,
written for the property tests: dicts and ``sorted``, nothing shared with ``lorafox.tables``.

The table: partition key ``h`` (S), sort key ``r`` (N); global index ``g`` on ``gh`` (S) and
``gr`` (N), projection INCLUDE ``v``; local index ``l`` on ``h`` and ``lr`` (N), KEYS_ONLY.
Items lacking an index's key attributes are not in that index (sparse indexes). Ties on an
index key are ordered by the table's key, as lorafox orders them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

__all__ = ["INDEXES", "ModelTable", "Query"]

Item = dict[str, Any]

INDEXES: dict[str | None, tuple[str, str | None, tuple[str, ...] | None]] = {
    None: ("h", "r", None),
    "g": ("gh", "gr", ("h", "r", "gh", "gr", "v")),
    "l": ("h", "lr", ("h", "r", "lr")),
}
"""Index name (None: the table) → (hash attribute, range attribute, projected names or all)."""


def _number(item: Item, name: str) -> Fraction:
    return Fraction(item[name]["N"])


def _table_order(item: Item) -> tuple[bytes, Fraction]:
    return item["h"]["S"].encode("utf-8"), _number(item, "r")


@dataclass(frozen=True)
class Query:
    """A Query (``hash_value`` set) or a Scan (None) of the table or an index."""

    index: str | None
    hash_value: str | None
    op: str | None = None  # EQ, LT, LE, GT, GE, BETWEEN
    bounds: tuple[str, ...] = ()
    forward: bool = True
    above: str | None = None  # filter: v > above
    limit: int | None = None
    segments: int | None = None


@dataclass
class ModelTable:
    items: dict[tuple[str, Fraction], Item] = field(default_factory=dict)

    def put(self, item: Item) -> None:
        self.items[(item["h"]["S"], _number(item, "r"))] = item

    def delete(self, h: str, r: str) -> None:
        self.items.pop((h, Fraction(r)), None)

    def _sort_ok(self, query: Query, value: Fraction) -> bool:
        bounds = [Fraction(b) for b in query.bounds]
        tests: dict[str | None, Callable[[], bool]] = {
            None: lambda: True,
            "EQ": lambda: value == bounds[0],
            "LT": lambda: value < bounds[0],
            "LE": lambda: value <= bounds[0],
            "GT": lambda: value > bounds[0],
            "GE": lambda: value >= bounds[0],
            "BETWEEN": lambda: bounds[0] <= value <= bounds[1],
        }
        return tests[query.op]()

    def evaluate(self, query: Query) -> list[Item]:
        """Every item the query returns over all its pages, in order, as projected."""
        hash_name, range_name, projected = INDEXES[query.index]
        assert range_name is not None
        members = [i for i in self.items.values() if hash_name in i and range_name in i]
        if query.hash_value is not None:
            members = [
                i
                for i in members
                if i[hash_name]["S"] == query.hash_value
                and self._sort_ok(query, _number(i, range_name))
            ]
            members.sort(key=lambda i: (_number(i, range_name), _table_order(i)))
            if not query.forward:
                members.reverse()
        else:
            members.sort(
                key=lambda i: (
                    i[hash_name]["S"].encode("utf-8"),
                    _number(i, range_name),
                    _table_order(i),
                )
            )
        if query.above is not None:
            limit = Fraction(query.above)
            members = [i for i in members if "v" in i and _number(i, "v") > limit]
        if projected is None:
            return members
        return [{k: v for k, v in i.items() if k in projected} for i in members]
