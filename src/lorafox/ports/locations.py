"""What the locations of a device need from a database: the position data of its messages and
the positions of the base stations that heard it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["LocationStore", "MessagePosition", "StationPosition"]


@dataclass(slots=True, frozen=True)
class MessagePosition:
    """What one message tells about where its device was.

    ``lat``/``lng``: the callback's ``{lat}``/``{lng}`` (Sigfox rounds them to whole degrees of
    the position of ``station``, the first base station that heard it); ``computed_*``: the
    DATA_ADVANCED callback's ``computedLocation`` (radius in metres, Sigfox's source code);
    ``stations``: every base station that heard it (``station``, then ``duplicates[].bsId``).
    """

    time: int
    seq_number: int
    lat: float | None
    lng: float | None
    station: str | None
    stations: tuple[str, ...]
    computed_lat: float | None = None
    computed_lng: float | None = None
    computed_radius: int | None = None
    computed_source: int | None = None


@dataclass(slots=True, frozen=True)
class StationPosition:
    """Where a base station is, as far as the callbacks tell: the mean of the ``{lat}``/``{lng}``
    of the ``messages`` it was the first to hear."""

    lat: float
    lng: float
    messages: int


class LocationStore(Protocol):
    async def message_positions(
        self,
        device: str,
        *,
        limit: int,
        before: tuple[int, int] | None = None,
        registered_at: int | None = None,
    ) -> list[MessagePosition]:
        """The messages of ``device`` that carry any position data, newest first, older than
        ``before`` (a message's ``(time, seq_number)``) when given, received since
        ``registered_at`` when given."""
        ...

    async def station_positions(self, device: str) -> dict[str, StationPosition]:
        """The base stations whose position the messages of ``device`` tell."""
        ...
