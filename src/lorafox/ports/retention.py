"""What the retention of device history needs from the store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = ["Cutoffs", "HistoryStore", "HistoryTable"]

HistoryTable = Literal["messages", "events"]


@dataclass(slots=True, frozen=True)
class Cutoffs:
    """Rows with a time (epoch ms) before their cutoff go: ``by_type`` for the rows received
    under those device types, ``default`` for the rest; 0 keeps them."""

    by_type: Mapping[str, int]
    default: int

    @property
    def latest(self) -> int:
        """The latest cutoff: no row at or after it goes."""
        return max([self.default, *self.by_type.values()])

    @property
    def earliest(self) -> int:
        """The earliest cutoff: every row before it goes (0 when some rows are kept forever)."""
        return min([self.default, *self.by_type.values()])


class HistoryStore(Protocol):
    async def prepare_history(self, now: int) -> None:
        """Make ready what the coming messages need (PostgreSQL: the partitions of the months
        around ``now``, epoch ms; nothing elsewhere)."""
        ...

    async def drop_history(self, before: int) -> int:
        """Drop whole what holds only messages older than ``before`` (PostgreSQL: month
        partitions; nothing elsewhere): the number dropped."""
        ...

    async def purge_history(
        self, table: HistoryTable, cutoffs: Cutoffs, *, after: str | None, limit: int
    ) -> tuple[str | None, int]:
        """Delete the rows of ``table`` older than their cutoff for the next ``limit``
        devices that have rows, by id after ``after`` (None: from the first; the rows of no
        device first), in one transaction: the last device done (None: none was left) and
        the rows deleted."""
        ...
