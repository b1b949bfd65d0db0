"""``ReturnConsumedCapacity``: the capacity units an operation consumed, counted as DynamoDB
counts them, per table and (``INDEXES``) per index.

* A read unit is 4 KB read, rounded up per item (GetItem, BatchGetItem, TransactGetItems) or
  over everything a Query or Scan read (the items scanned, not only those returned); an
  eventually consistent read costs half. Reading nothing still costs one unit (or half).
* A write unit is 1 KB written, rounded up per item, at least one; a put or an update counts
  the larger of the old and the new item, a delete the old one.
* In a transaction every unit counts twice (a ConditionCheck is a transactional read).
* An index costs what is written to it: nothing when a write leaves its entry unchanged, one
  write of the projected entry when the entry is added, changed or removed, two when the
  item's index key changes (the old entry removed, the new one written).

Nothing is throttled: lorafox has no provisioned throughput to exceed, the figures only tell a
client what the same requests would consume on DynamoDB.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lorafox.tables.errors import ValidationException
from lorafox.tables.indexes import GLOBAL, Index
from lorafox.tables.values import item_size

__all__ = [
    "READ_UNIT",
    "WRITE_UNIT",
    "Consumed",
    "read_units",
    "requested",
    "write_units",
]

READ_UNIT = 4 * 1024
WRITE_UNIT = 1024
_MODES = ("INDEXES", "TOTAL", "NONE")


def requested(params: Mapping[str, Any]) -> str:
    """The ``ReturnConsumedCapacity`` asked for (``NONE`` by default); DynamoDB's error for a
    value it does not know."""
    mode = params.get("ReturnConsumedCapacity")
    if mode is None:
        return "NONE"
    if mode not in _MODES:
        raise ValidationException.constraints(
            [
                f"Value '{mode}' at 'returnConsumedCapacity' failed to satisfy constraint: "
                "Member must satisfy enum value set: [INDEXES, TOTAL, NONE]"
            ]
        )
    return str(mode)


def _units(size: int, unit: int) -> int:
    return max(1, -(-size // unit))


def read_units(size: int, *, consistent: bool = False, transactional: bool = False) -> float:
    """Read units for reading ``size`` bytes (one item, or a Query's or Scan's total)."""
    units = _units(size, READ_UNIT)
    if transactional:
        return 2.0 * units
    return float(units) if consistent else units / 2


def write_units(size: int, *, transactional: bool = False) -> float:
    """Write units for writing one item of ``size`` bytes."""
    return float(_units(size, WRITE_UNIT) * (2 if transactional else 1))


@dataclass(slots=True)
class Consumed:
    """What one request consumed on one table and its indexes."""

    table: str
    table_units: float = 0.0
    reads: float = 0.0
    writes: float = 0.0
    indexes: dict[str, tuple[str, float]] = field(default_factory=dict)

    def read(self, units: float, index: Index | None = None) -> None:
        self.reads += units
        self._add(units, index)

    def write(self, units: float, index: Index | None = None) -> None:
        self.writes += units
        self._add(units, index)

    def _add(self, units: float, index: Index | None) -> None:
        if index is None:
            self.table_units += units
        else:
            kind, before = self.indexes.get(index.name, (index.kind, 0.0))
            self.indexes[index.name] = (kind, before + units)

    def index_writes(
        self,
        indexes: Mapping[str, Index],
        old: Mapping[str, Any] | None,
        new: Mapping[str, Any] | None,
        *,
        transactional: bool = False,
    ) -> None:
        """The index writes of replacing ``old`` by ``new`` (None: no item)."""
        for index in indexes.values():
            before = None if old is None else index.entry(old)
            after = None if new is None or not index.fits(new) else index.entry(new)
            old_entry = None if before is None or old is None else index.project(old)
            new_entry = None if after is None or new is None else index.project(new)
            if before is not None and before == after and old_entry == new_entry:
                continue
            units = 0.0
            if before is not None and after is not None and before == after:
                units = write_units(item_size(new_entry or {}), transactional=transactional)
            else:
                for entry in (old_entry, new_entry):
                    if entry is not None:
                        units += write_units(item_size(entry), transactional=transactional)
            if units:
                self.write(units, index)

    def describe(self, mode: str, *, split: bool = False) -> dict[str, Any]:
        """The ``ConsumedCapacity`` of ``mode`` (TOTAL or INDEXES); ``split`` adds the read and
        write units apart, as DynamoDB does for transactions."""
        total = self.table_units + sum(units for _, units in self.indexes.values())
        described: dict[str, Any] = {"TableName": self.table, "CapacityUnits": total}
        if split:
            if self.reads:
                described["ReadCapacityUnits"] = self.reads
            if self.writes:
                described["WriteCapacityUnits"] = self.writes
        if mode == "INDEXES":
            described["Table"] = {"CapacityUnits": self.table_units}
            for kind, key in ((GLOBAL, "GlobalSecondaryIndexes"), ("", "LocalSecondaryIndexes")):
                chosen = {
                    name: {"CapacityUnits": units}
                    for name, (index_kind, units) in self.indexes.items()
                    if (index_kind == GLOBAL) == (kind == GLOBAL)
                }
                if chosen:
                    described[key] = chosen
        return described
