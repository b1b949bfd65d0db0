"""Statistics of devices and device types on SQLAlchemy Core (``StatisticsRepository``).

A device: three aggregate queries per request, one per table, each a ``GROUP BY`` bucket over
the rows of the range: ``messages`` and ``device_status`` through their ``(device, time, …)``
unique indexes, ``downlinks`` through ``(device, state, id)``. Link quality and base
stations are columns (set by the DATA_ADVANCED callback); the frequency, when a callback sent
one, is read from the JSON once per row in a subquery; the aggregate counts the classes with
``SUM(CASE …)``.

A device type: its hourly rows (``type_hourly``, see ``rollup.py``), summed per bucket — at most
24 rows a day whatever the number of devices. The range is widened to whole hours.

The statements are built once per dialect, with bound parameters.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    String,
    bindparam,
    case,
    func,
    literal_column,
    null,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from lorafox.domain import DownlinkState
from lorafox.ports.statistics import (
    DownlinkOutcomes,
    LinkQuality,
    Spread,
    StatisticsBucket,
)
from lorafox.store.sql.database import Repository
from lorafox.store.sql.rollup import HOUR_MS, frequency_sql
from lorafox.store.sql.tables import device_status, downlinks, messages, type_hourly

__all__ = ["StatisticsRepository"]

_ENDED = (DownlinkState.ACKED.value, DownlinkState.FAILED.value, DownlinkState.EXPIRED.value)

_SINCE, _BEFORE = bindparam("since", type_=BigInteger), bindparam("before", type_=BigInteger)
_WIDTH = bindparam("width", type_=BigInteger)
_SUBJECT = bindparam("subject", type_=String)

_STATEMENTS: dict[bool, tuple[Any, Any, Any]] = {}
_QUALITIES = tuple(LinkQuality)  # iterating an Enum class is slow; this runs per bucket


def _spread(count: Any, total: Any, low: Any, high: Any) -> Spread | None:
    if not count:
        return None
    return Spread(int(count), float(total), float(low), float(high))


def _stats(column: Any) -> list[Any]:
    return [func.count(column), func.sum(column), func.min(column), func.max(column)]


def _counted(condition: ColumnElement[bool]) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _message_query(postgres: bool) -> Any:
    # One row per message with the frequency read once from the JSON; OFFSET 0 keeps SQLite
    # and PostgreSQL from folding the subquery into the aggregate, which would read it per use.
    m = messages.alias("m")  # the name the frequency's SQL reads it under
    rows = (
        select(
            (m.c.time // _WIDTH).label("bucket"),
            m.c.link_quality,
            m.c.stations,
            func.length(m.c.data).label("chars"),
            m.c.snr,
            m.c.rssi,
            literal_column(frequency_sql("postgresql" if postgres else "sqlite")).label(
                "frequency"
            ),
        )
        .where(m.c.device == _SUBJECT, m.c.time >= _SINCE, m.c.time < _BEFORE)
        .offset(0)
        .subquery()
    )
    r = rows.c
    quality = [_counted(r.link_quality == int(q)) for q in LinkQuality]
    heard = case((r.stations > 0, r.stations), else_=None)
    return select(
        r.bucket,
        func.count(),
        func.sum(r.chars),
        *_stats(r.snr),
        *_stats(r.rssi),
        *_stats(r.frequency),
        *_stats(heard),
        _counted(r.stations == 1),
        _counted(r.stations == 2),
        _counted(r.stations >= 3),
        *quality,
    ).group_by(r.bucket)


def _status_query() -> Any:
    s = device_status.c
    bucket = (s.time // _WIDTH).label("bucket")
    return (
        select(bucket, func.count(), *_stats(s.temperature), *_stats(s.battery))
        .where(s.device == _SUBJECT, s.time >= _SINCE, s.time < _BEFORE)
        .group_by(bucket)
    )


def _downlink_query() -> Any:
    """Downlinks counted in the bucket of their ``sent_at`` (state None in the result), and in
    that of their ``ended_at`` by outcome."""
    d = downlinks.c
    sent = (d.sent_at // _WIDTH).label("bucket")
    ended = (d.ended_at // _WIDTH).label("bucket")
    where = d.device == _SUBJECT
    return union_all(
        select(sent, null().label("state"), func.count())
        .where(where, d.sent_at >= _SINCE, d.sent_at < _BEFORE)
        .group_by(sent),
        select(ended, d.state, func.count())
        .where(where, d.state.in_(_ENDED), d.ended_at >= _SINCE, d.ended_at < _BEFORE)
        .group_by(ended, d.state),
    )


def _rollup_query() -> Any:
    """A device type's figures from its hourly rows (``type_hourly``), summed per bucket."""
    h = type_hourly.c
    bucket = ((h.hour * HOUR_MS) // _WIDTH).label("bucket")

    def spread(name: str) -> list[Any]:
        return [
            func.sum(h[f"{name}_n"]),
            func.sum(h[f"{name}_sum"]),
            func.min(h[f"{name}_min"]),
            func.max(h[f"{name}_max"]),
        ]

    return (
        select(
            bucket,
            func.sum(h.messages),
            func.sum(h.chars),
            *spread("snr"),
            *spread("rssi"),
            *spread("freq"),
            *spread("bs"),
            func.sum(h.bs_1),
            func.sum(h.bs_2),
            func.sum(h.bs_3),
            *(func.sum(h[f"lqi_{q}"]) for q in range(5)),
            func.sum(h.reports),
            *spread("temp"),
            *spread("batt"),
            func.sum(h.dl_sent),
            func.sum(h.dl_acked),
            func.sum(h.dl_failed),
            func.sum(h.dl_expired),
        )
        .where(
            h.device_type_id == _SUBJECT,
            h.hour >= bindparam("since_hour", type_=BigInteger),
            h.hour < bindparam("before_hour", type_=BigInteger),
        )
        .group_by(bucket)
    )


_ROLLUP = _rollup_query()


def _statements(postgres: bool) -> tuple[Any, Any, Any]:
    """A device's message, status and downlink queries."""
    found = _STATEMENTS.get(postgres)
    if found is None:
        found = (
            _message_query(postgres),
            _status_query(),
            _downlink_query(),
        )
        _STATEMENTS[postgres] = found
    return found


class StatisticsRepository(Repository):
    """Implements ``lorafox.ports.statistics.StatisticsStore``."""

    async def device_type_statistics(
        self, device_type_id: str, *, since: int, before: int, width: int
    ) -> list[StatisticsBucket]:
        params = {
            "subject": device_type_id,
            "since_hour": since // HOUR_MS,
            "before_hour": -(-before // HOUR_MS),
            "width": width,
            "since": since,
            "before": before,
        }
        found: dict[int, StatisticsBucket] = {}
        async with self._db.reading() as conn:
            for index, count, chars, *figures in await conn.execute(_ROLLUP, params):
                start = int(index) * width
                found[start] = StatisticsBucket(
                    start,
                    **_message_figures(count, chars, figures[:24]),
                    reports=int(figures[24] or 0),
                    temperature=_spread(*figures[25:29]),
                    battery=_spread(*figures[29:33]),
                    downlinks=DownlinkOutcomes(*(int(n or 0) for n in figures[33:37])),
                )
        return [found[start] for start in sorted(found)]

    async def device_statistics(
        self, device: str, *, since: int, before: int, width: int
    ) -> list[StatisticsBucket]:
        message_query, status_query, downlink_query = _statements(self._db.postgres)
        params = {"subject": device, "since": since, "before": before, "width": width}
        found: dict[int, StatisticsBucket] = {}
        async with self._db.reading() as conn:
            for index, count, chars, *figures in await conn.execute(message_query, params):
                start = int(index) * width
                found[start] = StatisticsBucket(start, **_message_figures(count, chars, figures))
            for index, count, *figures in await conn.execute(status_query, params):
                _add(
                    found,
                    StatisticsBucket(
                        int(index) * width,
                        reports=count,
                        temperature=_spread(*figures[0:4]),
                        battery=_spread(*figures[4:8]),
                    ),
                )
            await _add_downlinks(conn, downlink_query, params, width, found)
        return [found[start] for start in sorted(found)]


def _message_figures(count: Any, chars: Any, figures: list[Any]) -> dict[str, Any]:
    """The message figures of one bucket, from the columns of the message or rollup query."""
    classes, quality = figures[16:19], figures[19:24]
    return {
        "messages": int(count or 0),
        "bytes": int(chars or 0) // 2,
        "snr": _spread(*figures[0:4]),
        "rssi": _spread(*figures[4:8]),
        "frequency": _spread(*figures[8:12]),
        "link_quality": {q: int(n) for q, n in zip(_QUALITIES, quality, strict=True) if n},
        "base_stations": _spread(*figures[12:16]),
        "station_counts": {k: int(n) for k, n in enumerate(classes, 1) if n},
    }


def _add(found: dict[int, StatisticsBucket], bucket: StatisticsBucket) -> None:
    known = found.get(bucket.start)
    found[bucket.start] = bucket if known is None else known.merge(bucket)


async def _add_downlinks(
    conn: AsyncConnection,
    query: Any,
    params: dict[str, Any],
    width: int,
    found: dict[int, StatisticsBucket],
) -> None:
    for index, state, count in await conn.execute(query, params):
        _add(
            found,
            StatisticsBucket(
                int(index) * width,
                downlinks=DownlinkOutcomes(
                    sent=count if state is None else 0,
                    acked=count if state == DownlinkState.ACKED.value else 0,
                    failed=count if state == DownlinkState.FAILED.value else 0,
                    expired=count if state == DownlinkState.EXPIRED.value else 0,
                ),
            ),
        )
