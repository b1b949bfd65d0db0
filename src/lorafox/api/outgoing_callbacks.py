"""A device type's callbacks (``/api/v2/device-types/{id}/callbacks``) and the callbacks not
delivered (``/api/v2/{devices|device-types|groups}/{id}/callbacks-not-delivered``), in the
Sigfox API v2 shapes."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from lorafox.api.context import Caller, Ctx
from lorafox.api.schemas import (
    Before,
    Created,
    DeviceId,
    DeviceTypeId,
    Offset,
    Paging,
    Since,
    error_responses,
    page,
)
from lorafox.callbacks import CallbackChanges
from lorafox.callbacks.failures import Undelivered
from lorafox.domain import Callback, CallbackType
from lorafox.ports.callbacks import DeliveryQuery

__all__ = ["router"]

router = APIRouter(tags=["callbacks"])

_TYPES = "/api/v2/device-types/{device_type_id}/callbacks"
_ONE = _TYPES + "/{callback_id}"
_TYPE = "0 DATA, 1 SERVICE, 2 ERROR"
_SUBTYPE = "DATA: 2 UPLINK, 3 BIDIR; SERVICE: 0 STATUS, 4 ACKNOWLEDGE, 6 DATA_ADVANCED; ERROR: none"
_VARIABLES = (
    "with Sigfox's variables of the callback's type: {device}, {time}, {data}, {seqNumber}, "
    "{snr}, {rssi}, {avgSnr}, {station}, {lat}, {lng}, {duplicate}, {deviceTypeId}, "
    "{customData#name}; BIDIR also {ack}, {longPolling}; SERVICE and ERROR callbacks theirs "
    "(docs/callbacks.md)"
)


class CallbackOut(BaseModel):
    id: str
    channel: str = Field(description="URL, BATCH_URL or EMAIL")
    callbackType: int = Field(description=_TYPE)  # noqa: N815
    callbackSubtype: int | None = Field(description=_SUBTYPE)  # noqa: N815
    payloadConfig: str = ""  # noqa: N815
    enabled: bool
    sendDuplicate: bool  # noqa: N815
    dead: bool = Field(description="its deliveries are failing")
    urlPattern: str  # noqa: N815
    httpMethod: str  # noqa: N815
    downlinkHook: bool  # noqa: N815
    headers: dict[str, str]
    sendSni: bool  # noqa: N815
    bodyTemplate: str | None = None  # noqa: N815
    contentType: str | None = None  # noqa: N815
    linePattern: str | None = None  # noqa: N815
    recipient: str | None = None
    subject: str | None = None
    message: str | None = None


class CallbackList(BaseModel):
    data: list[CallbackOut]


class _Fields(BaseModel):
    url: str | None = Field(default=None, max_length=2048, description=f"the URL, {_VARIABLES}")
    httpMethod: str | None = Field(default=None, description="GET, POST (default) or PUT")  # noqa: N815
    enabled: bool | None = None
    sendDuplicate: bool | None = None  # noqa: N815
    sendSni: bool | None = None  # noqa: N815
    headers: dict[str, str] | None = Field(default=None, description=f"values {_VARIABLES}")
    contentType: str | None = Field(default=None, max_length=256)  # noqa: N815
    bodyTemplate: str | None = Field(default=None, description=f"the body, {_VARIABLES}")  # noqa: N815
    linePattern: str | None = Field(  # noqa: N815
        default=None,
        max_length=2048,
        description=f"BATCH_URL: each message's line, {_VARIABLES}; lines are sent together "
        "about every second",
    )

    recipient: str | None = Field(
        default=None, max_length=1024, description="EMAIL: addresses, comma-separated (5 at most)"
    )
    subject: str | None = Field(default=None, max_length=200, description=f"EMAIL: {_VARIABLES}")
    message: str | None = Field(default=None, description=f"EMAIL: the text, {_VARIABLES}")

    def changes(
        self, channel: str | None = None, kind: int | None = None, subtype: int | None = None
    ) -> CallbackChanges:
        return CallbackChanges(
            channel=channel,
            callback_type=kind,
            callback_subtype=subtype,
            url=self.url,
            http_method=self.httpMethod,
            enabled=self.enabled,
            send_duplicate=self.sendDuplicate,
            send_sni=self.sendSni,
            headers=self.headers,
            content_type=self.contentType,
            body_template=self.bodyTemplate,
            line_pattern=self.linePattern,
            recipient=self.recipient,
            subject=self.subject,
            message=self.message,
        )


class CallbackCreate(_Fields):
    channel: str = Field(description="URL, BATCH_URL or EMAIL (through lorafox's mail outbox)")
    callbackType: int = Field(description=_TYPE)  # noqa: N815
    callbackSubtype: int | None = Field(default=None, description=_SUBTYPE)  # noqa: N815
    url: str | None = Field(
        default=None, max_length=2048, description=f"URL and BATCH_URL: the URL, {_VARIABLES}"
    )


def _out(c: Callback) -> CallbackOut:
    return CallbackOut(
        id=c.id,
        channel=c.channel.value,
        callbackType=int(c.callback_type),
        callbackSubtype=None if c.callback_type is CallbackType.ERROR else int(c.callback_subtype),
        enabled=c.enabled,
        sendDuplicate=c.send_duplicate,
        dead=c.dead,
        urlPattern=c.url,
        httpMethod=c.http_method,
        downlinkHook=c.downlink_hook,
        headers=c.headers,
        sendSni=c.send_sni,
        bodyTemplate=c.body_template,
        contentType=c.content_type,
        linePattern=c.line_pattern,
        recipient=c.recipient,
        subject=c.subject,
        message=c.message,
    )


@router.get(_TYPES, summary="A device type's callbacks", responses=error_responses(400, 404))
async def list_callbacks(ctx: Ctx, caller: Caller, device_type_id: DeviceTypeId) -> CallbackList:
    found = await ctx.callbacks.list(caller, device_type_id)
    return CallbackList(data=[_out(c) for c in found])


@router.post(
    _TYPES,
    status_code=201,
    summary="Create a callback (DEVICE_MANAGER)",
    responses=error_responses(400, 403, 404, 409),
)
async def create_callback(
    ctx: Ctx, caller: Caller, device_type_id: DeviceTypeId, body: CallbackCreate
) -> Created:
    made = await ctx.callbacks.create(
        caller,
        device_type_id,
        body.changes(body.channel, body.callbackType, body.callbackSubtype),
    )
    return Created(id=made.id)


@router.put(
    _ONE,
    status_code=204,
    response_class=Response,
    summary="Change a callback (DEVICE_MANAGER)",
    responses=error_responses(400, 403, 404),
)
async def update_callback(
    ctx: Ctx, caller: Caller, device_type_id: DeviceTypeId, callback_id: str, body: _Fields
) -> None:
    await ctx.callbacks.update(caller, device_type_id, callback_id, body.changes())


@router.put(
    _ONE + "/enable",
    status_code=204,
    response_class=Response,
    summary="Enable or disable a callback (DEVICE_MANAGER)",
    responses=error_responses(400, 403, 404),
)
async def enable_callback(
    ctx: Ctx,
    caller: Caller,
    device_type_id: DeviceTypeId,
    callback_id: str,
    enabled: Annotated[bool, Query()],
) -> None:
    await ctx.callbacks.enable(caller, device_type_id, callback_id, enabled)


@router.put(
    _ONE + "/downlink",
    status_code=204,
    response_class=Response,
    summary="Make this BIDIR callback the device type's downlink callback (DEVICE_MANAGER)",
    description="A device of the type waiting for a downlink (downlinkMode 1, CALLBACK) gets "
    'this callback\'s answer, `{"<device>": {"downlinkData": "<16 hex digits>"}}`, or none for '
    '204 or `{"<device>": {"noData": true}}`; when it fails or is late, the queue answers.',
    responses=error_responses(400, 403, 404),
)
async def select_downlink_callback(
    ctx: Ctx, caller: Caller, device_type_id: DeviceTypeId, callback_id: str
) -> None:
    await ctx.callbacks.select_downlink(caller, device_type_id, callback_id)


@router.delete(
    _ONE,
    status_code=204,
    response_class=Response,
    summary="Delete a callback (DEVICE_MANAGER)",
    responses=error_responses(403, 404),
)
async def delete_callback(
    ctx: Ctx, caller: Caller, device_type_id: DeviceTypeId, callback_id: str
) -> None:
    await ctx.callbacks.delete(caller, device_type_id, callback_id)


class Attempted(BaseModel):
    """The request the callback makes for the message (empty once the message is deleted)."""

    id: str = Field(description="the callback's identifier")
    url: str
    method: str
    headers: dict[str, str]
    body: str | None = None


class NotDeliveredOut(BaseModel):
    device: str
    deviceType: str  # noqa: N815
    time: int = Field(description="the message's time, epoch ms")
    data: str
    snr: float | None = None
    rssi: float | None = None
    status: str = Field(description="the last answer's HTTP status, empty without an answer")
    message: str = Field(description="why the last attempt failed")
    state: str = Field(description="pending (to be retried) or failed (given up)")
    attempts: int
    nextAttempt: int | None = Field(default=None, description="epoch ms, while pending")  # noqa: N815
    callback: Attempted


class NotDeliveredList(BaseModel):
    data: list[NotDeliveredOut]
    paging: Paging


class Retried(BaseModel):
    retried: int = Field(description="deliveries made pending again")


def _failure(found: Undelivered) -> NotDeliveredOut:
    d, message, request = found.delivery, found.message, found.request
    pending = d.state.value == "pending"
    return NotDeliveredOut(
        device=d.device,
        deviceType=d.device_type_id,
        time=d.message_time,
        data=message.uplink.data if message else "",
        snr=message.uplink.snr if message else None,
        rssi=message.uplink.rssi if message else None,
        status="" if d.last_status is None else str(d.last_status),
        message=d.last_error or "",
        state=d.state.value,
        attempts=d.attempts,
        nextAttempt=d.next_attempt_at if pending else None,
        callback=Attempted(
            id=d.callback_id,
            url=request.url if request else "",
            method=request.method if request else "",
            headers=request.headers if request else {},
            body=request.body if request else None,
        ),
    )


def _listing(request: Request, found: list[Undelivered], query: DeliveryQuery) -> NotDeliveredList:
    shown = found[: query.limit - 1]
    return NotDeliveredList(
        data=[_failure(d) for d in shown],
        paging=page(
            request, limit=query.limit - 1, offset=query.offset, more=len(found) >= query.limit
        ),
    )


_Limit = Annotated[int, Query(ge=1, le=100)]
_NOT_DELIVERED = "Callbacks not delivered (retrying or given up), newest first"


def _query(
    since: Since = None, before: Before = None, limit: _Limit = 100, offset: Offset = 0
) -> DeliveryQuery:
    """The listing's parameters (one row more than shown, to know whether more remain)."""
    return DeliveryQuery(since=since, before=before, limit=limit + 1, offset=offset)


ListingQuery = Annotated[DeliveryQuery, Depends(_query)]


@router.get(
    "/api/v2/devices/{device_id}/callbacks-not-delivered",
    summary=_NOT_DELIVERED + ": of a device",
    responses=error_responses(400, 404),
)
async def device_not_delivered(
    request: Request, ctx: Ctx, caller: Caller, device_id: DeviceId, query: ListingQuery
) -> NotDeliveredList:
    return _listing(request, await ctx.not_delivered.of_device(caller, device_id, query), query)


@router.get(
    "/api/v2/device-types/{device_type_id}/callbacks-not-delivered",
    summary=_NOT_DELIVERED + ": of a device type",
    responses=error_responses(400, 404),
)
async def type_not_delivered(
    request: Request, ctx: Ctx, caller: Caller, device_type_id: DeviceTypeId, query: ListingQuery
) -> NotDeliveredList:
    found = await ctx.not_delivered.of_device_type(caller, device_type_id, query)
    return _listing(request, found, query)


@router.get(
    "/api/v2/groups/{group_id}/callbacks-not-delivered",
    summary=_NOT_DELIVERED + ": of the device types of a group",
    responses=error_responses(400, 404),
)
async def group_not_delivered(
    request: Request, ctx: Ctx, caller: Caller, group_id: str, query: ListingQuery
) -> NotDeliveredList:
    return _listing(request, await ctx.not_delivered.of_group(caller, group_id, query), query)


@router.post(
    "/api/v2/device-types/{device_type_id}/callbacks-not-delivered/retry",
    summary="Retry the deliveries of a device type given up (DEVICE_MANAGER)",
    responses=error_responses(400, 403, 404),
)
async def retry_not_delivered(ctx: Ctx, caller: Caller, device_type_id: DeviceTypeId) -> Retried:
    return Retried(retried=await ctx.not_delivered.retry(caller, device_type_id))
