"""``/api/v2/devices/{id}/locations``: the known positions of a device, newest first.

Reading needs VIEWER in the device's group, like its messages; callers who do not see the
group get 404.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from lorafox.api.context import Caller, Ctx
from lorafox.api.schemas import Offset, Paging, error_responses, page

__all__ = ["Location", "LocationList", "router"]

router = APIRouter(prefix="/api/v2/devices", tags=["devices"], responses=error_responses(400, 404))

DeviceId = Annotated[str, Path(description="Sigfox device id (hex, up to 8 digits)")]
Limit = Annotated[int, Query(ge=1, le=100, description="at most 100")]


class Location(BaseModel):
    """A position of the device (Sigfox API v2's device location, lorafox's sources)."""

    time: int = Field(
        description="epoch ms: the message's time, or the device's creation time for the "
        "position set by a user"
    )
    valid: bool = Field(description="always true: lorafox lists known positions only")
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)
    radius: int | None = Field(
        default=None, description="accuracy in metres, when the source gives one (none yet)"
    )
    source: Literal["user", "message"] = Field(
        description="user: the lat/lng set on the device; message: the lat/lng a callback "
        "carried (Sigfox's {lat}/{lng}, the area of the receiving base stations)"
    )
    seqNumber: int | None = Field(  # noqa: N815
        default=None, description="the message's sequence number (source message)"
    )


class LocationList(BaseModel):
    data: list[Location]
    paging: Paging


@router.get(
    "/{device_id}/locations",
    summary="Known positions of the device",
    description="First the position set on the device (``source`` user), when it has one; then "
    "the positions carried by its messages (``source`` message), newest first.",
)
async def list_locations(
    request: Request,
    ctx: Ctx,
    caller: Caller,
    device_id: DeviceId,
    limit: Limit = 100,
    offset: Offset = 0,
) -> LocationList:
    device = await ctx.devices.devices.scope(caller, device_id)
    registered = await ctx.store.get_device(device)
    user_set = None
    if registered is not None and registered.lat is not None and registered.lng is not None:
        user_set = Location(
            time=registered.created_at,
            valid=True,
            lat=registered.lat,
            lng=registered.lng,
            source="user",
        )
    found = [user_set] if user_set is not None and offset == 0 else []
    skip = max(offset - 1, 0) if user_set is not None else offset
    rows = await ctx.store.message_locations(device, limit=limit + 1 - len(found), offset=skip)
    found += [
        Location(time=t, valid=True, lat=lat, lng=lng, source="message", seqNumber=seq)
        for t, seq, lat, lng in rows
    ]
    return LocationList(
        data=found[:limit],
        paging=page(request, limit=limit, offset=offset, more=len(found) > limit),
    )
