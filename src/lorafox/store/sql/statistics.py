"""Statistics of devices and device types on SQLAlchemy Core (the ``StatisticsStore`` of
``SqlStore``).

Three aggregate queries per request, one per table, each a ``GROUP BY`` over the rows of the
range: ``messages`` and ``device_status`` through their ``(device, time, …)`` unique indexes,
``downlinks`` through ``(device, state, id)``. A device type's figures are those of the devices
in it now (``device IN (SELECT id FROM devices WHERE device_type_id = …)``), like its message
list. The messages are grouped by bucket and by the two DATA_ADVANCED values that are counted
rather than averaged (link quality, number of base stations), so that every JSON value is read
once per row; the few groups are folded into buckets here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    not_,
    null,
    select,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from lorafox.domain import DownlinkState
from lorafox.store.sql.tables import device_status, devices, downlinks, messages
from lorafox.store.statistics import (
    DownlinkOutcomes,
    LinkQuality,
    Spread,
    StatisticsBucket,
)

__all__ = ["StatisticsQueries"]

_Where = Callable[[Any], ColumnElement[bool]]

_ENDED = (DownlinkState.ACKED.value, DownlinkState.FAILED.value, DownlinkState.EXPIRED.value)
_LQI_NAMES = {q.name: q for q in LinkQuality}
_LQI_CODES = {str(int(q)): q for q in LinkQuality}

# A frequency must look like a plain decimal number (callbacks send text): anything else is
# left out rather than failing the whole query on a cast.
_PG_NUMBER = r"^\s*[0-9]{1,15}(\.[0-9]{1,9})?\s*$"


def _spread(count: Any, total: Any, low: Any, high: Any) -> Spread | None:
    if not count:
        return None
    return Spread(int(count), float(total), float(low), float(high))


def _stats(column: Any) -> list[Any]:
    return [func.count(column), func.sum(column), func.min(column), func.max(column)]


def _link_quality(name: Any, code: Any) -> LinkQuality | None:
    """The class of ``lqi`` (a name) or, without it, of ``linkQuality`` (a number)."""
    if name is not None:
        found = _LQI_NAMES.get(str(name).strip().upper())
        if found is not None:
            return found
    if code is not None:
        text = str(code).strip()
        return _LQI_CODES.get(text[:-2] if text.endswith(".0") else text)
    return None


class StatisticsQueries:
    """Mixed into ``SqlStore``, which provides the connections."""

    _postgres: bool  # set by SqlStore

    def _reading(self) -> contextlib.AbstractAsyncContextManager[AsyncConnection]:
        raise NotImplementedError

    async def device_statistics(
        self, device: str, *, since: int, before: int, width: int
    ) -> list[StatisticsBucket]:
        return await self._statistics(lambda column: column == device, since, before, width)

    async def device_type_statistics(
        self, device_type_id: str, *, since: int, before: int, width: int
    ) -> list[StatisticsBucket]:
        members = select(devices.c.id).where(devices.c.device_type_id == device_type_id)
        return await self._statistics(
            lambda column: column.in_(members.scalar_subquery()), since, before, width
        )

    # -- the queries -----------------------------------------------------------------------

    def _frequency(self) -> ColumnElement[Any]:
        """The uplink's frequency, when its callback carried one (``freq`` or ``frequency``,
        not a standard Sigfox variable: see docs/statistics.md)."""
        if self._postgres:
            given = func.coalesce(
                messages.c.extra["freq"].as_string(), messages.c.extra["frequency"].as_string()
            )
            return case((given.regexp_match(_PG_NUMBER), cast(given, Float())), else_=None)
        value = func.coalesce(
            func.json_extract(messages.c.extra, "$.freq"),
            func.json_extract(messages.c.extra, "$.frequency"),
        )
        text = cast(value, String)
        glob = text.op("GLOB", is_comparison=True)
        plain = and_(glob("[0-9]*"), not_(glob("*[^0-9.]*")))
        return case((plain, cast(value, Float())), else_=None)

    def _station_count(self) -> ColumnElement[Any]:
        """How many base stations heard the message (``duplicates``), None when unknown."""
        if self._postgres:
            stations = messages.c.advanced["duplicates"]
            return case(
                (func.json_typeof(stations) == "array", func.json_array_length(stations)),
                else_=None,
            )
        return func.json_array_length(messages.c.advanced, "$.duplicates")

    def _message_query(self, where: _Where, since: int, before: int, width: int) -> Any:
        # One row per message with each value read once; OFFSET 0 keeps SQLite and PostgreSQL
        # from folding it into the aggregate, which would read every JSON value once per use.
        rows = (
            select(
                (messages.c.time // literal(width)).label("bucket"),
                messages.c.advanced["lqi"].as_string().label("lqi"),
                messages.c.advanced["linkQuality"].as_string().label("code"),
                self._station_count().label("stations"),
                func.length(messages.c.data).label("chars"),
                messages.c.snr,
                messages.c.rssi,
                self._frequency().label("frequency"),
            )
            .where(where(messages.c.device), messages.c.time >= since, messages.c.time < before)
            .offset(0)
            .subquery()
        )
        keys = (rows.c.bucket, rows.c.lqi, rows.c.code, rows.c.stations)
        return select(
            *keys,
            func.count(),
            func.sum(rows.c.chars),
            *_stats(rows.c.snr),
            *_stats(rows.c.rssi),
            *_stats(rows.c.frequency),
        ).group_by(*keys)

    @staticmethod
    def _downlink_query(
        where: _Where,
        moment: Any,
        since: int,
        before: int,
        width: int,
        states: tuple[str, ...] | None,
    ) -> Any:
        """Downlinks counted in the bucket of ``moment``: their ``sent_at`` (``states`` None:
        state None in the result), or their ``ended_at`` by outcome."""
        bucket = (moment // literal(width)).label("bucket")
        state = downlinks.c.state if states else null()
        query = select(bucket, state.label("state"), func.count()).where(
            where(downlinks.c.device), moment >= since, moment < before
        )
        if states:
            query = query.where(downlinks.c.state.in_(states))
        return query.group_by(bucket, state) if states else query.group_by(bucket)

    async def _statistics(
        self, where: _Where, since: int, before: int, width: int
    ) -> list[StatisticsBucket]:
        status_bucket = (device_status.c.time // literal(width)).label("bucket")
        status = (
            select(
                status_bucket,
                func.count(),
                *_stats(device_status.c.temperature),
                *_stats(device_status.c.battery),
            )
            .where(
                where(device_status.c.device),
                device_status.c.time >= since,
                device_status.c.time < before,
            )
            .group_by(status_bucket)
        )
        outcomes = union_all(
            self._downlink_query(where, downlinks.c.sent_at, since, before, width, None),
            self._downlink_query(where, downlinks.c.ended_at, since, before, width, _ENDED),
        )
        found: dict[int, StatisticsBucket] = {}

        def add(index: Any, bucket: StatisticsBucket) -> None:
            start = int(index) * width
            known = found.get(start)
            found[start] = bucket if known is None else known.merge(bucket)

        async with self._reading() as conn:
            for row in await conn.execute(self._message_query(where, since, before, width)):
                index, name, code, stations, count, chars, *figures = row
                quality = _link_quality(name, code)
                heard = None if stations is None or stations <= 0 else int(stations)
                add(
                    index,
                    StatisticsBucket(
                        0,
                        messages=count,
                        bytes=int(chars or 0) // 2,
                        snr=_spread(*figures[0:4]),
                        rssi=_spread(*figures[4:8]),
                        frequency=_spread(*figures[8:12]),
                        link_quality={} if quality is None else {quality: count},
                        base_stations=None
                        if heard is None
                        else Spread(count, heard * count, heard, heard),
                        station_counts={} if heard is None else {min(heard, 3): count},
                    ),
                )
            for index, count, *figures in await conn.execute(status):
                add(
                    index,
                    StatisticsBucket(
                        0,
                        reports=count,
                        temperature=_spread(*figures[0:4]),
                        battery=_spread(*figures[4:8]),
                    ),
                )
            for index, state, count in await conn.execute(outcomes):
                add(
                    index,
                    StatisticsBucket(
                        0,
                        downlinks=DownlinkOutcomes(
                            sent=count if state is None else 0,
                            acked=count if state == "acked" else 0,
                            failed=count if state == "failed" else 0,
                            expired=count if state == "expired" else 0,
                        ),
                    ),
                )
        return [_started(start, found[start]) for start in sorted(found)]


def _started(start: int, bucket: StatisticsBucket) -> StatisticsBucket:
    return StatisticsBucket(start).merge(bucket)
