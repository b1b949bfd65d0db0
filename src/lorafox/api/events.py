"""``/api/v2/devices/{id}/events`` and ``/api/v2/device-types/{id}/events``: what happened to
devices (communication lost and restored, downlink outcomes, STATUS reports, low battery, ERROR
callbacks, lost messages, refused registrations), newest first, paged like messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from lorafox.api.context import Caller, Ctx
from lorafox.api.schemas import (
    Before,
    DeviceId,
    DeviceTypeId,
    Limit,
    Paging,
    Since,
    error_responses,
    next_link,
)
from lorafox.devices.history import DeviceRecord, DeviceTypeRecord
from lorafox.domain import EventType
from lorafox.events.log import event_json

__all__ = ["router", "types_router"]

router = APIRouter(prefix="/api/v2/devices", tags=["events"], responses=error_responses(400, 404))
types_router = APIRouter(
    prefix="/api/v2/device-types", tags=["events"], responses=error_responses(400, 404)
)

BeforeId = Annotated[
    int | None,
    Query(
        alias="beforeId",
        ge=0,
        description="with before: also the events at that time with a lower id (the paging "
        "links set it)",
    ),
]


class EventOut(BaseModel):
    """One event; the same JSON is published on ``sigfox/events/{device}``."""

    id: int
    type: EventType
    severity: str = Field(description="INFO, WARN or ERROR")
    time: int = Field(description="when it happened, epoch ms")
    device: str | None = None
    deviceTypeId: str | None = None  # noqa: N815
    message: str = Field(description="what happened, in words (an ERROR callback's own info)")
    data: dict[str, Any] = Field(description="the details, by name")
    createdAt: int = Field(description="when lorafox recorded it, epoch ms")  # noqa: N815


class EventList(BaseModel):
    data: list[EventOut]
    paging: Paging


@dataclass(frozen=True)
class _Page:
    """The page of events asked for: newest first, from ``before`` (and ``before_id``) back."""

    limit: int
    since: int | None
    before: int | None
    before_id: int | None

    async def of(self, request: Request, record: DeviceRecord | DeviceTypeRecord) -> EventList:
        found = await record.events(
            limit=self.limit, since=self.since, before=self.before, before_id=self.before_id
        )
        paging = Paging()
        if len(found) == self.limit:
            last = found[-1]
            paging.next = next_link(request, limit=self.limit, before=last.time, beforeId=last.id)
        data = [EventOut.model_validate(event_json(e)) for e in found]
        return EventList(data=data, paging=paging)


def _page(
    limit: Limit = 100, since: Since = None, before: Before = None, before_id: BeforeId = None
) -> _Page:
    return _Page(limit, since, before, before_id)


Page = Annotated[_Page, Depends(_page)]


@router.get(
    "/{device_id}/events",
    summary="Events of a device, newest first",
    description="``next`` asks for the older ones (``before`` and ``beforeId``: after the "
    "page's last event).",
)
async def device_events(
    request: Request, ctx: Ctx, caller: Caller, device_id: DeviceId, page: Page
) -> EventList:
    return await page.of(request, await ctx.devices.history.device(caller, device_id))


@types_router.get(
    "/{device_type_id}/events",
    summary="Events of the devices of a device type, newest first",
    description="Each event belongs to the type its device was in when it happened.",
)
async def device_type_events(
    request: Request, ctx: Ctx, caller: Caller, device_type_id: DeviceTypeId, page: Page
) -> EventList:
    return await page.of(request, await ctx.devices.history.device_type(caller, device_type_id))
