"""``/api/v2/devices``: devices and bulk creation, in the Sigfox API v2 shapes (the messages and
downlinks of a device are in ``device_messages``).

lorafox's additions: ``PUT /devices/{id}`` takes ``deviceTypeId`` (move the device to another
type, hence maybe to another group); ``DELETE /devices/{id}?purge=true`` also deletes the
device's messages and downlinks (they are kept by default); ``provisioned`` tells the devices
created by a callback.
"""

from __future__ import annotations

import contextlib
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field

from lorafox.api.context import Caller, Ctx
from lorafox.api.fields import Selection, selection
from lorafox.api.schemas import Created, GroupRef, Offset, Paging, csv_values, error_responses, page
from lorafox.api.schemas import group_ref as _group_ref
from lorafox.devices import DeviceChanges, DeviceLine
from lorafox.domain import Device, Group, Principal
from lorafox.errors import NotFound

__all__ = ["router"]

router = APIRouter(prefix="/api/v2/devices", tags=["devices"])

DeviceId = Annotated[str, Path(description="Sigfox device id (hex, up to 8 digits, any case)")]
BULK_MAX = 10_000
"""Devices one bulk request may create."""

_STATE = "0 OK; 7 NOT_ACTIVABLE (activable is false)"
_device_fields = selection(
    "deviceType(name)",
    "group(name,type,level,bssId,customerBssId)",
    "contract(name)",
    "productCertificate(key)",
    "modemCertificate(key)",
    note="lorafox: the group's name, type and level are always given; contracts, "
    "certificates, bssId and customerBssId do not exist in lorafox.",
)
DeviceFields = Annotated[Selection, Depends(_device_fields)]


class DeviceTypeRef(BaseModel):
    id: str
    name: str | None = Field(default=None, description="with fields=deviceType(name)")


class LatLng(BaseModel):
    """The position set on the device (Sigfox's device ``location``)."""

    lat: float | None = None
    lng: float | None = None


class DeviceStatusOut(BaseModel):
    """What the device's latest STATUS callback reported."""

    time: int = Field(description="epoch ms")
    temperature: float | None = Field(default=None, description="°C")
    battery: float | None = Field(default=None, description="volts")


class ComputedLocationOut(BaseModel):
    time: int = Field(description="the message's time, epoch ms")
    lat: float
    lng: float
    radius: int | None = Field(default=None, description="metres")
    sourceCode: int | None = None  # noqa: N815


class DeviceOut(BaseModel):
    id: str = Field(description="upper-case hex, no leading zeros")
    name: str
    deviceType: DeviceTypeRef  # noqa: N815 (Sigfox API v2 names)
    group: GroupRef
    pac: str = Field(description="empty for devices provisioned by a callback")
    location: LatLng
    sequenceNumber: int | None = Field(  # noqa: N815
        default=None, description="of the latest message"
    )
    lastCom: int | None = Field(default=None, description="latest message's time, epoch ms")  # noqa: N815
    state: int = Field(description=_STATE)
    comState: int = Field(  # noqa: N815
        description="5 NOT_SEEN before the device's first message, then 4 (n/a: lorafox tells "
        "of silent devices through its keep-alive events)"
    )
    activable: bool
    automaticRenewal: bool  # noqa: N815
    creationTime: int = Field(description="epoch ms")  # noqa: N815
    createdBy: str | None = None  # noqa: N815
    provisioned: bool = Field(description="lorafox: created by a callback, not by a user")
    status: DeviceStatusOut | None = Field(
        default=None,
        description="the latest STATUS callback (GET /devices/{id} only; null in lists)",
    )
    lastComputedLocation: ComputedLocationOut | None = Field(  # noqa: N815
        default=None,
        description="the latest DATA_ADVANCED computedLocation (GET /devices/{id} only)",
    )


class DeviceList(BaseModel):
    data: list[DeviceOut]
    paging: Paging


class DeviceCreate(BaseModel):
    id: str = Field(description="Sigfox device id, 1 to 8 hex digits", examples=["1A2B3C"])
    name: str = Field(min_length=1, max_length=100)
    deviceTypeId: str  # noqa: N815
    pac: str = Field(description="Porting Authorization Code, 16 hex digits")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)
    activable: bool = True
    automaticRenewal: bool = True  # noqa: N815


class DeviceUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    deviceTypeId: str | None = Field(  # noqa: N815
        default=None, description="lorafox: move the device to this device type"
    )
    lat: float | None = Field(default=None, ge=-90, le=90)
    lng: float | None = Field(default=None, ge=-180, le=180)
    activable: bool | None = None
    automaticRenewal: bool | None = None  # noqa: N815


class BulkDevice(BaseModel):
    id: str
    pac: str | None = None
    name: str | None = Field(default=None, description="default: prefix + id")
    lat: float | None = None
    lng: float | None = None
    activable: bool = True
    automaticRenewal: bool = True  # noqa: N815


class BulkCreate(BaseModel):
    deviceTypeId: str  # noqa: N815
    prefix: str = Field(default="", max_length=100, description="names are prefix + id when absent")
    data: list[BulkDevice] = Field(min_length=1, max_length=BULK_MAX)


class BulkStarted(BaseModel):
    total: int
    jobId: str  # noqa: N815


class BulkFailure(BaseModel):
    line: int = Field(description="1-based position in data (0: the whole job)")
    id: str
    message: str


class JobError(BaseModel):
    """Sigfox's job error: the device id (``entity``) and why."""

    entity: str
    message: str
    type: int = Field(default=0, description="0: the device could not be created")


class BulkStatus(BaseModel):
    success: int
    errors: list[JobError] = Field(description="Sigfox's list of the lines not created")
    failed: list[BulkFailure] = Field(description="lorafox: the same, with their line")


class BulkJobOut(BaseModel):
    jobDone: bool  # noqa: N815
    total: int
    status: BulkStatus


def _out(d: Device, group: Group, type_names: dict[str, str]) -> DeviceOut:
    return DeviceOut(
        id=d.id,
        name=d.name,
        deviceType=DeviceTypeRef(id=d.device_type_id, name=type_names.get(d.device_type_id)),
        group=_group_ref(group),
        pac=d.pac,
        location=LatLng(lat=d.lat, lng=d.lng),
        sequenceNumber=d.seq_number,
        lastCom=d.last_com,
        state=0 if d.activable else 7,
        comState=5 if d.last_com is None else 4,
        activable=d.activable,
        automaticRenewal=d.automatic_renewal,
        creationTime=d.created_at,
        createdBy=d.created_by,
        provisioned=d.provisioned,
    )


async def _groups(ctx: Ctx, caller: Principal, devices: list[Device]) -> dict[str, Group]:
    try:
        return await ctx.identity.groups.by_id(caller, {d.group_id for d in devices})
    except NotFound:
        raise NotFound("device not found") from None  # its group went away meanwhile


async def _type_names(
    ctx: Ctx, caller: Principal, devices: list[Device], fields: Selection
) -> dict[str, str]:
    """The names of the devices' types, when ``fields`` asks for ``deviceType(name)``."""
    if "name" not in fields.sub("deviceType"):
        return {}
    names: dict[str, str] = {}
    for type_id in {d.device_type_id for d in devices}:
        with contextlib.suppress(NotFound):  # deleted meanwhile
            names[type_id] = (await ctx.devices.types.get(caller, type_id)).name
    return names


# bulk first: /bulk/{jobId} must not be read as /{device_id}/…


@router.post(
    "/bulk",
    status_code=201,
    summary="Create many devices of one device type, as a job (DEVICE_MANAGER)",
    description="Answers at once with the job's id; `GET /api/v2/devices/bulk/{jobId}` tells "
    "how it goes. Lines that cannot be created (bad id or PAC, a duplicate, a name too long) "
    "are reported there, the others are created. The job's status is kept in memory: a "
    "restart loses it (the devices created stay).",
    responses=error_responses(400, 403, 404),
)
async def create_bulk(ctx: Ctx, caller: Caller, body: BulkCreate) -> BulkStarted:
    lines = [
        DeviceLine(
            line=n,
            id=item.id,
            pac=item.pac,
            name=item.name if item.name is not None else f"{body.prefix}{item.id}",
            device_type_id=body.deviceTypeId,
            lat=item.lat,
            lng=item.lng,
            activable=item.activable,
            automatic_renewal=item.automaticRenewal,
        )
        for n, item in enumerate(body.data, start=1)
    ]
    job = await ctx.devices.bulk.start(caller, body.deviceTypeId, lines)
    return BulkStarted(total=job.total, jobId=job.id)


@router.get(
    "/bulk/{job_id}",
    summary="How a bulk creation goes",
    responses=error_responses(404),
)
async def get_bulk(
    ctx: Ctx, caller: Caller, job_id: Annotated[str, Path(description="the job's id")]
) -> BulkJobOut:
    job = ctx.devices.bulk.get(caller, job_id)
    return BulkJobOut(
        jobDone=job.done,
        total=job.total,
        status=BulkStatus(
            success=job.success,
            errors=[JobError(entity=e.id, message=e.message) for e in job.errors],
            failed=[BulkFailure(line=e.line, id=e.id, message=e.message) for e in job.errors],
        ),
    )


@router.get(
    "",
    summary="Devices the caller sees",
    response_model_exclude_none=True,
    responses=error_responses(400, 404),
)
@router.get("/", include_in_schema=False, response_model_exclude_none=True)
async def list_devices(
    request: Request,
    ctx: Ctx,
    caller: Caller,
    fields: DeviceFields,
    id: Annotated[str | None, Query(description="only this device")] = None,
    group_ids: Annotated[
        list[str] | None, Query(alias="groupIds", description="comma-separated group ids")
    ] = None,
    device_type_id: Annotated[str | None, Query(alias="deviceTypeId")] = None,
    name: Annotated[str | None, Query(description="lorafox: the name contains this")] = None,
    sort: Annotated[Literal["id", "-id", "name", "-name"], Query()] = "id",
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
    offset: Offset = 0,
) -> DeviceList:
    found = await ctx.devices.devices.list(
        caller,
        group_ids=csv_values(group_ids, "groupIds"),
        device_type_id=device_type_id,
        ids=[id] if id is not None else [],
        name=name,
        sort=sort,
        limit=limit + 1,
        offset=offset,
    )
    shown = found[:limit]
    groups = await _groups(ctx, caller, shown)
    names = await _type_names(ctx, caller, shown, fields)
    return DeviceList(
        data=[_out(d, groups[d.group_id], names) for d in shown],
        paging=page(request, limit=limit, offset=offset, more=len(found) > limit),
    )


@router.post(
    "",
    status_code=201,
    summary="Register a device (DEVICE_MANAGER on its device type's group)",
    responses=error_responses(400, 403, 404, 409),
)
@router.post("/", status_code=201, include_in_schema=False)
async def create_device(
    ctx: Ctx, caller: Caller, body: DeviceCreate, response: Response
) -> Created:
    made = await ctx.devices.devices.create(
        caller,
        DeviceLine(
            line=1,
            id=body.id,
            pac=body.pac,
            name=body.name,
            device_type_id=body.deviceTypeId,
            lat=body.lat,
            lng=body.lng,
            activable=body.activable,
            automatic_renewal=body.automaticRenewal,
        ),
    )
    response.headers["location"] = f"{router.prefix}/{made.id}"
    return Created(id=made.id)


@router.get(
    "/{device_id}",
    summary="A device",
    response_model_exclude_none=True,
    responses=error_responses(400, 404),
)
async def get_device(
    ctx: Ctx, caller: Caller, device_id: DeviceId, fields: DeviceFields
) -> DeviceOut:
    found = await ctx.devices.devices.get(caller, device_id)
    group = (await _groups(ctx, caller, [found]))[found.group_id]
    out = _out(found, group, await _type_names(ctx, caller, [found], fields))
    record = await ctx.devices.history.device(caller, found.id)
    status = await record.latest_status()
    if status is not None:
        out.status = DeviceStatusOut(
            time=status.time, temperature=status.temperature, battery=status.battery
        )
    location = await record.latest_computed_location()
    if location is not None:
        time, lat, lng, radius, source = location
        out.lastComputedLocation = ComputedLocationOut(
            time=time, lat=lat, lng=lng, radius=radius, sourceCode=source
        )
    return out


@router.put(
    "/{device_id}",
    status_code=204,
    response_class=Response,
    summary="Change a device, or move it to another device type (DEVICE_MANAGER on both)",
    responses=error_responses(400, 403, 404),
)
async def update_device(ctx: Ctx, caller: Caller, device_id: DeviceId, body: DeviceUpdate) -> None:
    location = None
    if "lat" in body.model_fields_set or "lng" in body.model_fields_set:
        location = (body.lat, body.lng)
    await ctx.devices.devices.update(
        caller,
        device_id,
        DeviceChanges(
            name=body.name,
            device_type_id=body.deviceTypeId,
            location=location,
            activable=body.activable,
            automatic_renewal=body.automaticRenewal,
        ),
    )


@router.delete(
    "/{device_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a device (DEVICE_MANAGER); its messages stay unless purge=true",
    responses=error_responses(400, 403, 404),
)
async def delete_device(
    ctx: Ctx,
    caller: Caller,
    device_id: DeviceId,
    purge: Annotated[
        bool, Query(description="lorafox: also delete its messages and downlinks")
    ] = False,
) -> None:
    await ctx.devices.devices.delete(caller, device_id, purge=purge)
