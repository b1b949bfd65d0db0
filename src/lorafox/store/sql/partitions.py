"""The messages table on PostgreSQL, partitioned by month of the messages' ``time``.

``messages`` is a table partitioned by range of ``time`` (epoch ms): one partition per calendar
month (UTC), named ``messages_pYYYYMM``, and ``messages_default`` for the times no month
partition covers. Each partition has a unique index on ``id`` of its own (the partitioned table
has none: its keys would have to hold ``time``), so that a read by id is an index lookup
whether or not the month's statistics are gathered yet. The partitions of the past month to
three months ahead are made before they are needed; a month made while the default partition
holds some of its rows takes them over in the same transaction. Retention drops a month whole
once every row in it is past its cutoff, instead of deleting its rows one by one. SQLite has
one table and none of this.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["Month", "drop_months_before", "ensure_months", "month_of", "months_around"]

_NAME = re.compile(r"^messages_p(\d{4})(\d{2})$")
_BEHIND, _AHEAD = 1, 3


class Month:
    """A calendar month (UTC) and its partition."""

    __slots__ = ("month", "year")

    def __init__(self, year: int, month: int) -> None:
        self.year, self.month = year, month

    @property
    def name(self) -> str:
        return f"messages_p{self.year:04d}{self.month:02d}"

    @property
    def start(self) -> int:
        """Its first millisecond (epoch ms)."""
        return int(datetime(self.year, self.month, 1, tzinfo=UTC).timestamp() * 1000)

    @property
    def end(self) -> int:
        """The first millisecond of the next month."""
        return self.plus(1).start

    def plus(self, months: int) -> Month:
        index = self.year * 12 + self.month - 1 + months
        return Month(index // 12, index % 12 + 1)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Month) and (self.year, self.month) == (other.year, other.month)

    def __hash__(self) -> int:
        return hash((self.year, self.month))

    def __repr__(self) -> str:
        return f"Month({self.year}, {self.month})"


def month_of(epoch_ms: int) -> Month:
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
    return Month(moment.year, moment.month)


def months_around(now_ms: int) -> list[Month]:
    """The months whose partitions must exist at ``now_ms``: the past one to three ahead."""
    current = month_of(now_ms)
    return [current.plus(n) for n in range(-_BEHIND, _AHEAD + 1)]


async def _existing(conn: AsyncConnection) -> dict[str, Month]:
    rows = await conn.execute(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'messages'::regclass"
        )
    )
    found: dict[str, Month] = {}
    for (name,) in rows:
        match = _NAME.match(name)
        if match:
            found[name] = Month(int(match.group(1)), int(match.group(2)))
    return found


async def ensure_months(conn: AsyncConnection, months: list[Month]) -> list[Month]:
    """Make the partitions of ``months`` that are missing (the rows of each that the default
    partition holds move into it); the months made."""
    existing = await _existing(conn)
    made = [m for m in months if m.name not in existing]
    if made:
        # nothing lands in the default partition while its rows of those months move out
        await conn.execute(text("LOCK TABLE messages_default IN ACCESS EXCLUSIVE MODE"))
    for month in made:
        bounds = {"start": month.start, "end": month.end}
        await conn.execute(text(f"CREATE TABLE {month.name} (LIKE messages INCLUDING DEFAULTS)"))
        await conn.execute(text(f"CREATE UNIQUE INDEX {month.name}_id ON {month.name} (id)"))
        await conn.execute(
            text(
                f"INSERT INTO {month.name} SELECT * FROM messages_default"  # noqa: S608 (our names)
                " WHERE time >= :start AND time < :end"
            ),
            bounds,
        )
        await conn.execute(
            text("DELETE FROM messages_default WHERE time >= :start AND time < :end"), bounds
        )
        await conn.execute(
            text(
                f"ALTER TABLE messages ATTACH PARTITION {month.name}"
                f" FOR VALUES FROM ({month.start}) TO ({month.end})"
            )
        )
    return made


async def drop_months_before(conn: AsyncConnection, cutoff: int) -> list[Month]:
    """Drop the month partitions that end at or before ``cutoff`` (epoch ms); those dropped."""
    dropped = [m for m in (await _existing(conn)).values() if m.end <= cutoff]
    for month in dropped:
        await conn.execute(text(f"DROP TABLE {month.name}"))
    return dropped
