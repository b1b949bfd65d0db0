"""``/api/v2/devices/{id}/locations``: the known positions of a device, newest first.

The list is Sigfox API v2's device location list (``time``, ``valid``, ``lat``, ``lng``,
``radius``, ``source``, ``placeIds``) with lorafox's names for the sources and the base stations
that heard each message. Reading needs VIEWER in the device's group, like its messages; callers
who do not see the group get 404.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from lorafox.api.context import Caller, Ctx
from lorafox.api.schemas import DeviceId, Limit, Offset, Paging, error_responses, page
from lorafox.devices.history import DeviceRecord
from lorafox.ports.locations import MessagePosition, StationPosition

__all__ = ["Location", "LocationList", "device_locations", "router", "stations_position"]

router = APIRouter(prefix="/api/v2/devices", tags=["devices"], responses=error_responses(400, 404))


EARTH_RADIUS_M = 6_371_000
METRES_PER_DEGREE = math.pi * EARTH_RADIUS_M / 180
_CHUNK = 500
"""Messages read per query while filling a page."""


_Source = Literal["user", "computed", "message", "stations"]


class BaseStationRef(BaseModel):
    id: str
    lat: float | None = Field(
        default=None, description="approximate (from the callbacks: whole degrees)"
    )
    lng: float | None = None


class Location(BaseModel):
    """A position of the device (Sigfox API v2's device location, with lorafox's sources)."""

    time: int = Field(
        description="epoch ms: the message's time, or the device's creation time for the "
        "position set by a user"
    )
    valid: bool = Field(description="always true: lorafox lists known positions only")
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)
    radius: int | None = Field(
        default=None, description="accuracy in metres, when the source gives one"
    )
    source: _Source = Field(
        description="user: the lat/lng set on the device; computed: the DATA_ADVANCED "
        "callback's computedLocation; message: the lat/lng a callback carried (Sigfox's "
        "{lat}/{lng}, the receiving base station's position in whole degrees); stations: "
        "estimated from the known positions of the stations that heard a message that has "
        "no other position"
    )
    sigfoxSource: int | None = Field(  # noqa: N815
        default=None, description="Sigfox's computedLocation source code (source computed)"
    )
    seqNumber: int | None = Field(  # noqa: N815
        default=None, description="the message's sequence number (all but source user)"
    )
    baseStations: list[BaseStationRef] = Field(  # noqa: N815
        default_factory=list, description="the stations that heard the message, first first"
    )
    placeIds: list[str] = Field(  # noqa: N815
        default_factory=list, description="Sigfox's places: none in lorafox"
    )


class LocationList(BaseModel):
    data: list[Location]
    paging: Paging


def _distance(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def stations_position(known: list[StationPosition]) -> tuple[float, float, int]:
    """Where a device heard by stations at ``known`` positions roughly is: their centre, and a
    radius reaching the farthest one plus the rounding of the callbacks' positions (half a
    degree each way, the half diagonal of a one-degree cell there)."""
    lat = sum(s.lat for s in known) / len(known)
    lng = sum(s.lng for s in known) / len(known)
    farthest = max(_distance(lat, lng, s.lat, s.lng) for s in known)
    half = METRES_PER_DEGREE / 2
    rounding = math.hypot(half, half * math.cos(math.radians(lat)))
    return lat, lng, round(farthest + rounding)


def _entries(m: MessagePosition, stations: dict[str, StationPosition]) -> Iterator[Location]:
    """The positions one message tells: computed, its own, or else the stations'."""
    refs = []
    known = []
    for station in m.stations:
        where = stations.get(station)
        refs.append(
            BaseStationRef(id=station)
            if where is None
            else BaseStationRef(id=station, lat=where.lat, lng=where.lng)
        )
        if where is not None:
            known.append(where)

    def entry(lat: float, lng: float, source: _Source, radius: int | None = None) -> Location:
        return Location(
            time=m.time,
            valid=True,
            lat=lat,
            lng=lng,
            radius=radius,
            source=source,
            sigfoxSource=m.computed_source if source == "computed" else None,
            seqNumber=m.seq_number,
            baseStations=refs,
        )

    if m.computed_lat is not None and m.computed_lng is not None:
        yield entry(m.computed_lat, m.computed_lng, "computed", m.computed_radius)
    if m.lat is not None and m.lng is not None:
        yield entry(m.lat, m.lng, "message")
    elif m.computed_lat is None and known:
        lat, lng, radius = stations_position(known)
        yield entry(lat, lng, "stations", radius)


@router.get(
    "/{device_id}/locations",
    summary="Known positions of the device",
    description="First the position set on the device (``source`` user), when it has one; "
    "then, newest message first, the positions its messages tell: the DATA_ADVANCED "
    "computedLocation (``computed``, with its radius), the callback's lat/lng (``message``), or, "
    "when a message has neither, an estimate from the known positions of the base stations "
    "that heard it (``stations``). Each message's entries list those stations.",
)
async def list_locations(
    request: Request,
    ctx: Ctx,
    caller: Caller,
    device_id: DeviceId,
    limit: Limit = 100,
    offset: Offset = 0,
) -> LocationList:
    record = await ctx.devices.history.device(caller, device_id)
    found, more = await device_locations(record, limit=limit, offset=offset)
    return LocationList(
        data=found,
        paging=page(request, limit=limit, offset=offset, more=more),
    )


async def device_locations(
    record: DeviceRecord, *, limit: int, offset: int = 0
) -> tuple[list[Location], bool]:
    """The device's positions (the one set on it first, then its messages', newest first):
    the page of ``limit`` from ``offset``, and whether more follow (the console's map reads
    them too)."""
    wanted, skip = limit + 1, offset
    found: list[Location] = []
    registered = await record.registration()
    if registered is not None and registered.lat is not None and registered.lng is not None:
        if skip:
            skip -= 1
        else:
            found.append(
                Location(
                    time=registered.created_at,
                    valid=True,
                    lat=registered.lat,
                    lng=registered.lng,
                    source="user",
                )
            )
    stations: dict[str, StationPosition] | None = None
    before: tuple[int, int] | None = None
    while len(found) < wanted:
        rows = await record.message_positions(limit=_CHUNK, before=before)
        if rows and stations is None:
            stations = await record.station_positions()
        for row in rows:
            for entry in _entries(row, stations or {}):
                if skip:
                    skip -= 1
                else:
                    found.append(entry)
            if len(found) >= wanted:
                break
        if len(rows) < _CHUNK:
            break
        before = (rows[-1].time, rows[-1].seq_number)
    return found[:limit], len(found) > limit
