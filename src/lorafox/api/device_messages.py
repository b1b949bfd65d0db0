"""``/api/v2/devices/{id}/messages`` (with ``/metric``) and ``/downlinks``,
``/api/v2/device-types/{id}/messages``, in the Sigfox API v2 shapes.

A registered device's messages and downlinks are its group's (its device type's): reading needs
VIEWER there, changing the downlink queue DEVICE_MANAGER; callers who do not see the group get
404. An id that is not registered (a device heard before ``sigfox.unknown_devices`` was set
to ``refuse``, one deleted with its messages kept, or one never heard) counts as the root
group's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from lorafox.api.context import ApiContext, Caller, Ctx
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
from lorafox.auth import rbac
from lorafox.devices.history import DeviceRecord, DeviceTypeRecord
from lorafox.domain import Downlink, InfoCode, Principal, StoredUplink, Uplink, is_lora_device
from lorafox.errors import InvalidInput
from lorafox.lora.downlinks import check_downlink

__all__ = [
    "DownlinkCreate",
    "MessageList",
    "MessageMetric",
    "downlink_out",
    "message_json",
    "queue_downlink",
    "router",
    "types_router",
]

DAY_MS = 86_400_000
"""Sigfox's windows for ``/messages/metric``: the last 24 hours, 7 days and 30 days."""

router = APIRouter(prefix="/api/v2/devices", tags=["devices"], responses=error_responses(400, 404))
types_router = APIRouter(
    prefix="/api/v2/device-types", tags=["device-types"], responses=error_responses(400, 404)
)


class DeviceRef(BaseModel):
    id: str


class BaseStation(BaseModel):
    id: str


class RadioInfo(BaseModel):
    """A base station that heard the message (the DATA callback's, then DATA_ADVANCED's)."""

    baseStation: BaseStation  # noqa: N815 (Sigfox API v2 names)
    rssi: float | None = None
    snr: float | None = None
    rep: int | None = Field(default=None, description="repetitions received (DATA_ADVANCED)")


class ComputedLocation(BaseModel):
    """The DATA_ADVANCED callback's computedLocation."""

    lat: float
    lng: float
    radius: int | None = Field(default=None, description="metres")
    sourceCode: int | None = Field(default=None, description="Sigfox's location source")  # noqa: N815


class Message(BaseModel):
    """One uplink, as Sigfox API v2 lists them (plus the callback's raw radio fields, the decoded
    payload, and what the DATA_ADVANCED callback added)."""

    id: int = Field(description="lorafox's message id")
    device: DeviceRef
    time: int = Field(description="Sigfox timestamp, epoch ms")
    data: str = Field(description="payload, hex")
    seqNumber: int  # noqa: N815
    ackRequired: bool  # noqa: N815
    longPolling: bool  # noqa: N815
    duplicate: bool
    snr: float | None = None
    rssi: float | None = None
    avgSnr: float | None = None  # noqa: N815
    lat: float | None = None
    lng: float | None = None
    deviceTypeId: str | None = None  # noqa: N815
    rinfos: list[RadioInfo]
    receivedAt: int = Field(description="when lorafox stored it, epoch ms")  # noqa: N815
    extra: dict[str, Any] = Field(description="callback variables lorafox does not interpret")
    decoded: dict[str, Any] | None = Field(
        default=None, description="the payload decoded with the device type's format"
    )
    decodeError: str | None = Field(  # noqa: N815
        default=None, description="why the payload did not fit the format (kept undecoded)"
    )
    lqi: int | None = Field(
        default=None, description="link quality, 0 LIMIT to 3 EXCELLENT, 4 NA (DATA_ADVANCED)"
    )
    operator: str | None = Field(default=None, description="operator name (DATA_ADVANCED)")
    country: str | None = Field(default=None, description="operator country (DATA_ADVANCED)")
    computedLocation: list[ComputedLocation] = Field(  # noqa: N815
        default_factory=list, description="DATA_ADVANCED's computed location, when valid"
    )


class MessageList(BaseModel):
    data: list[Message]
    paging: Paging


class MessageMetric(BaseModel):
    """How many messages the device sent lately (Sigfox API v2's ``MessageMetric``)."""

    lastDay: int = Field(description="in the last 24 hours")  # noqa: N815
    lastWeek: int = Field(description="in the last 7 days")  # noqa: N815
    lastMonth: int = Field(description="in the last 30 days")  # noqa: N815


class DownlinkCreate(BaseModel):
    data: str | None = Field(
        default=None,
        max_length=512,
        description="Sigfox: 8 bytes as 16 hex digits; LoRa: up to 255 bytes in hex",
        examples=["0102030405060708"],
    )
    bytes: list[int] | None = Field(
        default=None, max_length=255, description="LoRa: the payload as numbers, instead of data"
    )
    fPort: int | None = Field(default=None, description="LoRa: 1 to 223")  # noqa: N815
    confirmed: bool = Field(default=False, description="LoRa: the device must acknowledge it")


class DownlinkOut(BaseModel):
    id: int
    device: DeviceRef
    data: str
    state: str = Field(
        description="queued; sent when a BIDIR callback took it; then acked or failed (the "
        "ACKNOWLEDGE callback), or expired when no BIDIR callback took it in time"
    )
    source: str = Field(description="api, mqtt, or direct (a DIRECT-mode answer)")
    creationTime: int  # noqa: N815
    sentTime: int | None = None  # noqa: N815
    seqNumber: int | None = Field(default=None, description="the message it answered")  # noqa: N815
    infoCode: int | None = Field(default=None, description="ACKNOWLEDGE's infoCode")  # noqa: N815
    info: str | None = Field(default=None, description="its name: ACKED, NO_ANSWER, …")
    infoMessage: str | None = Field(default=None, description="ACKNOWLEDGE's text")  # noqa: N815
    endTime: int | None = Field(  # noqa: N815
        default=None, description="when it was acked, failed or expired"
    )
    fPort: int | None = Field(default=None, description="LoRa")  # noqa: N815
    confirmed: bool | None = Field(default=None, description="LoRa")
    networkId: str | None = Field(  # noqa: N815
        default=None, description="LoRa: the network server's id of it"
    )


class DownlinkList(BaseModel):
    data: list[DownlinkOut]
    paging: Paging


def _radio_infos(u: Uplink, advanced: dict[str, Any]) -> list[dict[str, Any]]:
    duplicates = advanced.get("duplicates")
    if isinstance(duplicates, list) and duplicates:
        return [
            {
                "baseStation": {"id": str(d.get("bsId"))},
                "rssi": d.get("rssi"),
                "snr": d.get("snr"),
                "rep": d.get("nbRep"),
            }
            for d in duplicates
            if isinstance(d, dict) and d.get("bsId") is not None
        ]
    if u.station:
        return [{"baseStation": {"id": u.station}, "rssi": u.rssi, "snr": u.snr, "rep": None}]
    return []


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def message_json(stored: StoredUplink) -> dict[str, Any]:
    """A ``Message`` as plain JSON values: built directly, not validated (the hot read path)."""
    u = stored.uplink
    advanced = stored.advanced or {}
    body: dict[str, Any] = {
        "id": stored.id,
        "device": {"id": u.device},
        "time": u.time,
        "data": u.data,
        "seqNumber": u.seq_number,
        "ackRequired": u.ack,
        "longPolling": u.long_polling,
        "duplicate": u.duplicate,
        "snr": u.snr,
        "rssi": u.rssi,
        "avgSnr": u.avg_snr,
        "lat": u.lat,
        "lng": u.lng,
        "deviceTypeId": u.device_type_id,
        "rinfos": _radio_infos(u, advanced),
        "receivedAt": stored.received_at,
        "extra": u.extra,
        "decoded": u.decoded,
        "decodeError": u.decode_error,
        "lqi": _int(advanced.get("linkQuality")),
        "operator": advanced.get("operatorName"),
        "country": None if advanced.get("countryCode") is None else str(advanced["countryCode"]),
        "computedLocation": [],
    }
    if stored.computed_location is not None:
        lat, lng, radius, source = stored.computed_location
        body["computedLocation"] = [
            {"lat": lat, "lng": lng, "radius": radius, "sourceCode": source}
        ]
    return body


def downlink_out(d: Downlink) -> DownlinkOut:
    info = None if d.info_code is None else InfoCode.name_of(d.info_code)
    return DownlinkOut(
        id=d.id,
        device=DeviceRef(id=d.device),
        data=d.data,
        state=d.state.value,
        source=d.source,
        creationTime=d.created_at,
        sentTime=d.sent_at,
        seqNumber=d.answered_seq,
        infoCode=d.info_code,
        info=info,
        infoMessage=d.info_message,
        endTime=d.ended_at,
        fPort=d.port,
        confirmed=d.confirmed,
        networkId=d.network_id,
    )


@dataclass(frozen=True)
class _Page:
    """The page of messages asked for: newest first, from ``before`` back."""

    limit: int
    since: int | None
    before: int | None

    async def of(self, request: Request, record: DeviceRecord | DeviceTypeRecord) -> Response:
        """A ``MessageList``; ``next`` asks for the older ones (``before`` the last one's time)."""
        found = await record.messages(limit=self.limit, since=self.since, before=self.before)
        paging: dict[str, str] = {}
        if len(found) == self.limit:
            paging["next"] = next_link(request, limit=self.limit, before=found[-1].uplink.time)
        body = {"data": [message_json(s) for s in found], "paging": paging}
        return Response(orjson.dumps(body), media_type="application/json")


def _page(limit: Limit = 100, since: Since = None, before: Before = None) -> _Page:
    return _Page(limit, since, before)


Page = Annotated[_Page, Depends(_page)]


@router.get(
    "/{device_id}/messages",
    summary="Messages of a device, newest first",
    response_model=MessageList,
)
async def list_messages(
    request: Request, ctx: Ctx, caller: Caller, device_id: DeviceId, page: Page
) -> Response:
    return await page.of(request, await ctx.devices.history.device(caller, device_id))


@router.get(
    "/{device_id}/messages/metric",
    summary="How many messages the device sent in the last day, week and month",
    description="Counted by the database over the message index; the windows end now and are "
    "24 hours, 7 days and 30 days long, on the messages' (Sigfox) times.",
)
async def message_metric(ctx: Ctx, caller: Caller, device_id: DeviceId) -> MessageMetric:
    record = await ctx.devices.history.device(caller, device_id)
    now = int(time.time() * 1000)
    day, week, month = await record.count_messages(
        [now - DAY_MS, now - 7 * DAY_MS, now - 30 * DAY_MS]
    )
    return MessageMetric(lastDay=day, lastWeek=week, lastMonth=month)


@types_router.get(
    "/{device_type_id}/messages",
    summary="Messages of the devices of a device type, newest first",
    description="The messages of the devices in the type now (a device moved to another type "
    "takes its messages along).",
    response_model=MessageList,
)
async def list_type_messages(
    request: Request, ctx: Ctx, caller: Caller, device_type_id: DeviceTypeId, page: Page
) -> Response:
    return await page.of(request, await ctx.devices.history.device_type(caller, device_type_id))


@router.get(
    "/{device_id}/downlinks",
    summary="The downlinks of a device with their states and times, oldest first",
)
async def list_downlinks(ctx: Ctx, caller: Caller, device_id: DeviceId) -> DownlinkList:
    record = await ctx.devices.history.device(caller, device_id)
    found = await record.downlinks()
    return DownlinkList(data=[downlink_out(d) for d in found], paging=Paging())


@router.post(
    "/{device_id}/downlinks",
    status_code=201,
    summary="Queue a downlink for the device's next BIDIR callback (DEVICE_MANAGER)",
    responses=error_responses(403),
)
async def create_downlink(
    ctx: Ctx, caller: Caller, device_id: DeviceId, body: DownlinkCreate
) -> DownlinkOut:
    return downlink_out(await queue_downlink(ctx, caller, device_id, body))


async def queue_downlink(
    ctx: ApiContext,
    caller: Principal,
    device_id: str,
    body: DownlinkCreate,
    source: str = "api",
) -> Downlink:
    """Queue ``body`` for the device (DEVICE_MANAGER): a Sigfox device's 8 bytes for its next
    BIDIR callback, a LoRa device's payload for its network server (the console queues
    through here too, as ``source`` console)."""
    device = await ctx.devices.devices.scope(caller, device_id, rbac.OPERATE)
    if is_lora_device(device) and ctx.lora is not None:
        data, port, confirmed = check_downlink(body.model_dump(exclude_none=True))
        return await ctx.lora.downlinks.queue(
            device, data, port=port, confirmed=confirmed, source=source
        )
    if body.data is None:
        raise InvalidInput("data: 8 bytes as 16 hex digits", field="data")
    return await ctx.downlinks.queue(device, body.data, source=source)


@router.delete(
    "/{device_id}/downlinks/{downlink_id}",
    status_code=204,
    summary="Remove a queued downlink (DEVICE_MANAGER)",
    response_class=Response,
    responses=error_responses(403, 409),
)
async def delete_downlink(ctx: Ctx, caller: Caller, device_id: DeviceId, downlink_id: int) -> None:
    record = await ctx.devices.history.device(caller, device_id, rbac.OPERATE)
    await record.delete_downlink(downlink_id)
    ctx.metrics.downlinks.labels("deleted").inc()
