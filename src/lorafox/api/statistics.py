"""``/api/v2/devices/{id}/statistics`` and ``/api/v2/device-types/{id}/statistics``.

The figures of the Sigfox Back-End's statistics pages, per hour or per day (UTC), aggregated by
the database (``lorafox.ports.statistics``). Whoever may read a device's messages (VIEWER in its
group) may read its statistics, and a device type's those of the type; other callers get 404.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from lorafox.api.context import Caller, Ctx
from lorafox.api.schemas import EPOCH_MS_MAX, DeviceId, DeviceTypeId, error_responses
from lorafox.devices.history import DeviceRecord, DeviceTypeRecord
from lorafox.errors import InvalidInput
from lorafox.ports.statistics import (
    LinkQuality,
    Spread,
    StatisticsBucket,
    merge_buckets,
)

__all__ = ["BUCKETS", "Statistics", "StatisticsWindow", "router", "statistics_window"]

HOUR = 3_600_000
DAY = 24 * HOUR

BUCKETS: dict[str, tuple[int, int, int]] = {
    "hour": (HOUR, 31 * DAY, DAY),
    "day": (DAY, 366 * DAY, 30 * DAY),
}
"""bucket → (its width, the longest range, the default range), in ms"""

router = APIRouter(responses=error_responses(400, 404))

Bucket = Annotated[
    Literal["hour", "day"],
    Query(description="hour (ranges up to 31 days) or day (up to 366 days), in UTC"),
]
Since = Annotated[
    int | None,
    Query(
        ge=0,
        le=EPOCH_MS_MAX,
        description="epoch ms, inclusive; default: 24 hours (bucket hour) or 30 days (day) "
        "before `before`",
    ),
]
Before = Annotated[
    int | None, Query(ge=0, le=EPOCH_MS_MAX, description="epoch ms, exclusive; default: now")
]


class Figure(BaseModel):
    """One measure over the messages (or reports) that carried it."""

    count: int = Field(description="how many values were aggregated")
    avg: float
    min: float
    max: float


class Downlinks(BaseModel):
    sent: int = Field(description="handed to the device by a BIDIR callback in the bucket")
    acked: int = Field(description="acknowledged by the device (ACKNOWLEDGE callback)")
    failed: int = Field(description="an ACKNOWLEDGE callback without the device's acknowledgement")
    expired: int = Field(description="left the queue unsent")


class Figures(BaseModel):
    """What the Sigfox Back-End's statistics draw, for one bucket or the whole range."""

    messages: int = Field(description="uplinks")
    bytes: int = Field(description="payload bytes of those uplinks")
    snr: Figure | None = Field(description="dB, from the callbacks' {snr}")
    rssi: Figure | None = Field(description="dBm, from the callbacks' {rssi}")
    frequency: Figure | None = Field(
        description="Hz, from a callback variable named freq or frequency (not a standard "
        "Sigfox variable: absent unless the callback sends one)"
    )
    linkQuality: dict[str, int] = Field(  # noqa: N815
        description="messages per DATA_ADVANCED link quality (LIMIT, AVERAGE, GOOD, EXCELLENT, "
        "NA); messages without one are not counted"
    )
    baseStations: Figure | None = Field(  # noqa: N815
        description="base stations per message, from the DATA_ADVANCED duplicates"
    )
    baseStationCounts: dict[str, int] = Field(  # noqa: N815
        description='messages heard by "1", "2" and "3+" base stations'
    )
    statusReports: int = Field(description="STATUS callbacks")  # noqa: N815
    temperature: Figure | None = Field(description="°C, from STATUS callbacks")
    battery: Figure | None = Field(description="volts (Vdd), from STATUS callbacks")
    downlinks: Downlinks


class BucketFigures(Figures):
    start: int = Field(description="epoch ms: the bucket's first instant (UTC hour or day)")


class Statistics(BaseModel):
    bucket: Literal["hour", "day"]
    since: int
    before: int
    total: Figures = Field(description="the whole range")
    data: list[BucketFigures] = Field(description="oldest first; empty buckets are left out")


def _figure(spread: Spread | None) -> Figure | None:
    if spread is None:
        return None
    return Figure(
        count=spread.count,
        avg=round(spread.mean, 4),
        min=spread.low,
        max=spread.high,
    )


def _figures(b: StatisticsBucket) -> Figures:
    counts = b.station_counts
    return Figures(
        messages=b.messages,
        bytes=b.bytes,
        snr=_figure(b.snr),
        rssi=_figure(b.rssi),
        frequency=_figure(b.frequency),
        linkQuality={q.name: b.link_quality.get(q, 0) for q in LinkQuality},
        baseStations=_figure(b.base_stations),
        baseStationCounts={"1": counts.get(1, 0), "2": counts.get(2, 0), "3+": counts.get(3, 0)},
        statusReports=b.reports,
        temperature=_figure(b.temperature),
        battery=_figure(b.battery),
        downlinks=Downlinks(
            sent=b.downlinks.sent,
            acked=b.downlinks.acked,
            failed=b.downlinks.failed,
            expired=b.downlinks.expired,
        ),
    )


@dataclass(frozen=True)
class StatisticsWindow:
    """The buckets asked for: hours or days, their width and the range they cover (epoch ms)."""

    bucket: str
    width: int
    since: int
    before: int

    async def statistics(self, record: DeviceRecord | DeviceTypeRecord) -> Statistics:
        """The answer for ``record``'s messages and reports in this window."""
        found = await record.statistics(since=self.since, before=self.before, width=self.width)
        return Statistics(
            bucket="hour" if self.bucket == "hour" else "day",
            since=self.since,
            before=self.before,
            total=_figures(merge_buckets(self.since, found)),
            data=[BucketFigures(start=b.start, **dict(_figures(b))) for b in found],
        )


def statistics_window(
    bucket: Bucket = "day", since: Since = None, before: Before = None
) -> StatisticsWindow:
    width, longest, default = BUCKETS[bucket]
    end = int(time.time() * 1000) if before is None else before
    start = max(0, end - default) if since is None else since
    if start >= end:
        raise InvalidInput("since must be before before", field="since")
    if end - start > longest:
        raise InvalidInput(
            f"the range is too long for {bucket} buckets: at most {longest // DAY} days",
            field="since",
        )
    return StatisticsWindow(bucket, width, start, end)


Window = Annotated[StatisticsWindow, Depends(statistics_window)]


_DESCRIPTION = (
    "Per bucket (UTC hours or days; the first and last may be cut by the range): uplinks and "
    "payload bytes; SNR, RSSI and frequency (count, mean, min, max); link quality and base "
    "stations per message from DATA_ADVANCED callbacks; temperature and battery from STATUS "
    "callbacks; downlinks sent, acknowledged, failed and expired. Buckets with nothing are "
    "left out. Computed by the database over the range's rows."
)


@router.get(
    "/api/v2/devices/{device_id}/statistics",
    tags=["devices"],
    summary="Statistics of a device, per hour or per day",
    description=_DESCRIPTION,
)
async def device_statistics(
    ctx: Ctx, caller: Caller, device_id: DeviceId, window: Window
) -> Statistics:
    return await window.statistics(await ctx.devices.history.device(caller, device_id))


@router.get(
    "/api/v2/device-types/{device_type_id}/statistics",
    tags=["device-types"],
    summary="Statistics of the devices of a device type, per hour or per day",
    description=_DESCRIPTION
    + " Read from the type's hourly figures, kept as messages and reports are stored: a"
    " message counts in the type its device was in then, and the range is widened to whole"
    " hours.",
)
async def device_type_statistics(
    ctx: Ctx, caller: Caller, device_type_id: DeviceTypeId, window: Window
) -> Statistics:
    return await window.statistics(await ctx.devices.history.device_type(caller, device_type_id))
