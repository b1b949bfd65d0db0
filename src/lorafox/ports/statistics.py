"""What the statistics of devices and device types need from a database, and what they give.

Every figure is aggregated by the database (``GROUP BY`` over one index range of a device, or
over a device type's hourly rows): messages are never loaded to be counted. A bucket holds what
happened in ``[start, start + width)``, ``start`` being a multiple of the width in epoch ms (UTC
hours and days); buckets with nothing in them are left out.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Protocol, TypeVar

__all__ = [
    "DownlinkOutcomes",
    "LinkQuality",
    "Spread",
    "StatisticsBucket",
    "StatisticsStore",
    "merge_buckets",
]

_K = TypeVar("_K")


class LinkQuality(IntEnum):
    """Sigfox's link quality indicator (the DATA_ADVANCED callback's ``lqi`` / ``linkQuality``)."""

    LIMIT = 0
    AVERAGE = 1
    GOOD = 2
    EXCELLENT = 3
    NA = 4


@dataclass(slots=True, frozen=True)
class Spread:
    """``count`` values of one figure: their sum (for the mean), smallest and largest."""

    count: int
    total: float
    low: float
    high: float

    @property
    def mean(self) -> float:
        return self.total / self.count

    def merge(self, other: Spread | None) -> Spread:
        if other is None:
            return self
        return Spread(
            self.count + other.count,
            self.total + other.total,
            min(self.low, other.low),
            max(self.high, other.high),
        )


def merged(a: Spread | None, b: Spread | None) -> Spread | None:
    return b if a is None else a.merge(b)


@dataclass(slots=True, frozen=True)
class DownlinkOutcomes:
    """Downlinks: ``sent`` counts those handed to the device in the bucket (``sent_at``), the
    others those whose outcome came in the bucket (``ended_at``): acknowledged by the device,
    failed (an ACKNOWLEDGE callback without the device's acknowledgement), or expired in the
    queue before a BIDIR callback took them."""

    sent: int = 0
    acked: int = 0
    failed: int = 0
    expired: int = 0

    def merge(self, other: DownlinkOutcomes) -> DownlinkOutcomes:
        return DownlinkOutcomes(
            self.sent + other.sent,
            self.acked + other.acked,
            self.failed + other.failed,
            self.expired + other.expired,
        )


@dataclass(slots=True, frozen=True)
class StatisticsBucket:
    """The figures of one bucket (or, merged, of a whole range).

    ``messages``, ``bytes`` (payload bytes), ``snr``, ``rssi`` and ``frequency`` come from the
    uplinks; ``link_quality`` (messages per ``LinkQuality``) and ``base_stations`` (how many
    stations heard each message, from ``duplicates``) from their DATA_ADVANCED callbacks;
    ``temperature`` (°C) and ``battery`` (V) from STATUS callbacks; ``downlinks`` from the
    downlink queue. A ``Spread`` is None when no value was there to aggregate.
    """

    start: int
    messages: int = 0
    bytes: int = 0
    snr: Spread | None = None
    rssi: Spread | None = None
    frequency: Spread | None = None
    link_quality: dict[LinkQuality, int] = field(default_factory=dict)
    base_stations: Spread | None = None
    station_counts: dict[int, int] = field(default_factory=dict)
    """messages by the number of base stations that heard them (3 stands for 3 or more)"""
    reports: int = 0
    """STATUS callbacks"""
    temperature: Spread | None = None
    battery: Spread | None = None
    downlinks: DownlinkOutcomes = DownlinkOutcomes()

    def merge(self, other: StatisticsBucket) -> StatisticsBucket:
        return replace(
            self,
            messages=self.messages + other.messages,
            bytes=self.bytes + other.bytes,
            snr=merged(self.snr, other.snr),
            rssi=merged(self.rssi, other.rssi),
            frequency=merged(self.frequency, other.frequency),
            link_quality=_add(self.link_quality, other.link_quality),
            base_stations=merged(self.base_stations, other.base_stations),
            station_counts=_add(self.station_counts, other.station_counts),
            reports=self.reports + other.reports,
            temperature=merged(self.temperature, other.temperature),
            battery=merged(self.battery, other.battery),
            downlinks=self.downlinks.merge(other.downlinks),
        )


def _add(a: dict[_K, int], b: dict[_K, int]) -> dict[_K, int]:
    total = dict(a)
    for key, count in b.items():
        total[key] = total.get(key, 0) + count
    return total


def merge_buckets(start: int, buckets: Iterable[StatisticsBucket]) -> StatisticsBucket:
    """One bucket starting at ``start`` with the figures of all ``buckets``."""
    total = StatisticsBucket(start)
    for bucket in buckets:
        total = total.merge(bucket)
    return total


class StatisticsStore(Protocol):
    """Statistics per device and per device type, aggregated by the database."""

    async def device_statistics(
        self, device: str, *, since: int, before: int, width: int
    ) -> list[StatisticsBucket]:
        """The buckets of ``width`` ms of ``device`` in ``[since, before)``, oldest first."""
        ...

    async def device_type_statistics(
        self, device_type_id: str, *, since: int, before: int, width: int
    ) -> list[StatisticsBucket]:
        """The same for a device type, from its hourly rows: every message counts in the type
        its device was in when it was stored; the range is widened to whole hours."""
        ...
