"""``/api/v2/device-types``: device types, in the Sigfox API v2 shapes (``/{id}/messages`` is in
``device_messages``). lorafox adds ``maxUplinksPerDay`` (the contract's limit) and lets a
create choose the ``id`` (to keep a Sigfox device type's id)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from lorafox.api.context import Caller, Ctx
from lorafox.api.fields import Selection, selection
from lorafox.api.schemas import (
    Created,
    DeviceTypeId,
    GroupRef,
    Offset,
    Paging,
    csv_values,
    error_responses,
    page,
)
from lorafox.api.schemas import group_ref as _group_ref
from lorafox.devices import DeviceTypeChanges
from lorafox.devices.validation import PAYLOAD_CONFIG_MAX
from lorafox.domain import DeviceType, Group
from lorafox.errors import NotFound
from lorafox.identity.validation import DESCRIPTION_MAX, NAME_MAX

__all__ = ["router"]

router = APIRouter(prefix="/api/v2/device-types", tags=["device-types"])

_device_type_fields = selection(
    "group(name,type,level)",
    "contract(name)",
    "geolocPayloadConfig(name)",
    note="lorafox: the group's name, type and level are always given; contracts and "
    "geolocation payload configurations do not exist in lorafox.",
)
DeviceTypeFields = Annotated[Selection, Depends(_device_type_fields)]
_MODE = "0 DIRECT, 1 CALLBACK, 2 NONE"
_RETENTION = (
    "lorafox: days its devices' messages and events are kept (0: forever); "
    "null: the instance's history.retention_days"
)
_PAYLOAD = "2 regular (raw hex), 3 custom grammar (payloadConfig), 5 string"
_TEMPLATE = (
    "the DIRECT answer: hex and the variables {time} (4 bytes), {tapId} (2 bytes), "
    "{rssi} (2 bytes), making exactly 8 bytes; needed when downlinkMode is 0"
)


class DeviceTypeOut(BaseModel):
    id: str
    name: str
    description: str
    keepAlive: int = Field(description="seconds without a message before an alert; 0 = off")  # noqa: N815
    alertEmail: str | None = None  # noqa: N815
    payloadType: int = Field(description=_PAYLOAD)  # noqa: N815
    payloadConfig: str | None = None  # noqa: N815
    downlinkMode: int = Field(description=_MODE)  # noqa: N815
    downlinkDataString: str | None = Field(default=None, description=_TEMPLATE)  # noqa: N815
    group: GroupRef
    automaticRenewal: bool  # noqa: N815
    maxUplinksPerDay: int = Field(description="lorafox: the contract's limit; 0 = none")  # noqa: N815
    retentionDays: int | None = Field(  # noqa: N815
        default=None, description=_RETENTION
    )
    creationTime: int = Field(description="epoch ms")  # noqa: N815
    createdBy: str | None = None  # noqa: N815
    lastEditionTime: int | None = None  # noqa: N815
    lastEditedBy: str | None = None  # noqa: N815


class DeviceTypeList(BaseModel):
    data: list[DeviceTypeOut]
    paging: Paging


class _Fields(BaseModel):
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX)
    keepAlive: int | None = Field(default=None, ge=0, description="0, or 1800 s and more")  # noqa: N815
    alertEmail: str | None = Field(default=None, description="empty: none")  # noqa: N815
    downlinkMode: int | None = Field(default=None, description=_MODE)  # noqa: N815
    downlinkDataString: str | None = Field(default=None, max_length=64, description=_TEMPLATE)  # noqa: N815
    payloadType: int | None = Field(default=None, description=_PAYLOAD)  # noqa: N815
    payloadConfig: str | None = Field(default=None, max_length=PAYLOAD_CONFIG_MAX)  # noqa: N815
    automaticRenewal: bool | None = None  # noqa: N815
    maxUplinksPerDay: int | None = Field(  # noqa: N815
        default=None, ge=0, description="lorafox: the contract's limit; 0 = none (stored)"
    )
    retentionDays: int | None = Field(default=None, description=_RETENTION)  # noqa: N815

    def changes(self, name: str | None) -> DeviceTypeChanges:
        return DeviceTypeChanges(
            name=name,
            description=self.description,
            keep_alive=self.keepAlive,
            alert_email=self.alertEmail,
            downlink_mode=self.downlinkMode,
            downlink_data=self.downlinkDataString,
            payload_type=self.payloadType,
            payload_config=self.payloadConfig,
            automatic_renewal=self.automaticRenewal,
            max_uplinks_per_day=self.maxUplinksPerDay,
            retention_days=self.retentionDays,
            retention_default="retentionDays" in self.model_fields_set
            and self.retentionDays is None,
        )


class DeviceTypeCreate(_Fields):
    name: str = Field(min_length=1, max_length=NAME_MAX)
    groupId: str | None = Field(  # noqa: N815
        default=None, description="default: the caller's group if it has one"
    )
    id: str | None = Field(
        default=None,
        description="lorafox, root ADMIN only: choose the id (24 lower-case hex digits), e.g. "
        "a Sigfox device type's, so that callbacks' deviceTypeId finds it",
    )


class DeviceTypeUpdate(_Fields):
    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX)


def _out(t: DeviceType, group: Group) -> DeviceTypeOut:
    return DeviceTypeOut(
        id=t.id,
        name=t.name,
        description=t.description,
        keepAlive=t.keep_alive,
        alertEmail=t.alert_email,
        payloadType=int(t.payload_type),
        payloadConfig=t.payload_config,
        downlinkMode=int(t.downlink_mode),
        downlinkDataString=t.downlink_data,
        group=_group_ref(group),
        automaticRenewal=t.automatic_renewal,
        maxUplinksPerDay=t.max_uplinks_per_day,
        retentionDays=t.retention_days,
        creationTime=t.created_at,
        createdBy=t.created_by,
        lastEditionTime=t.edited_at,
        lastEditedBy=t.edited_by,
    )


@router.get(
    "",
    summary="Device types the caller sees",
    response_model_exclude_none=True,
    responses=error_responses(400, 404),
)
@router.get("/", include_in_schema=False, response_model_exclude_none=True)
async def list_device_types(
    request: Request,
    ctx: Ctx,
    caller: Caller,
    _: DeviceTypeFields,
    name: Annotated[str | None, Query(description="the name contains this (any case)")] = None,
    group_ids: Annotated[
        list[str] | None, Query(alias="groupIds", description="comma-separated group ids")
    ] = None,
    payload_type: Annotated[
        int | None,
        Query(alias="payloadType", ge=0, le=255, description="only this payload type (2, 3, 5)"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
    offset: Offset = 0,
) -> DeviceTypeList:
    found = await ctx.devices.types.list(
        caller,
        group_ids=csv_values(group_ids, "groupIds"),
        name=name,
        payload_type=payload_type,
        limit=limit + 1,
        offset=offset,
    )
    shown = found[:limit]
    groups = await ctx.identity.groups.by_id(caller, {t.group_id for t in shown})
    return DeviceTypeList(
        data=[_out(t, groups[t.group_id]) for t in shown],
        paging=page(request, limit=limit, offset=offset, more=len(found) > limit),
    )


@router.post(
    "",
    status_code=201,
    summary="Create a device type (DEVICE_MANAGER on its group)",
    responses=error_responses(400, 403, 404, 409),
)
@router.post("/", status_code=201, include_in_schema=False)
async def create_device_type(
    ctx: Ctx, caller: Caller, body: DeviceTypeCreate, response: Response
) -> Created:
    made = await ctx.devices.types.create(
        caller, body.groupId, body.changes(body.name), device_type_id=body.id
    )
    response.headers["location"] = f"{router.prefix}/{made.id}"
    return Created(id=made.id)


@router.get(
    "/{device_type_id}",
    summary="A device type",
    response_model_exclude_none=True,
    responses=error_responses(400, 404),
)
async def get_device_type(
    ctx: Ctx, caller: Caller, device_type_id: DeviceTypeId, _: DeviceTypeFields
) -> DeviceTypeOut:
    found = await ctx.devices.types.get(caller, device_type_id)
    try:
        group = (await ctx.identity.groups.by_id(caller, [found.group_id]))[found.group_id]
    except NotFound:  # deleted meanwhile
        raise NotFound("device type not found") from None
    return _out(found, group)


@router.put(
    "/{device_type_id}",
    status_code=204,
    response_class=Response,
    summary="Change a device type (DEVICE_MANAGER)",
    responses=error_responses(400, 403, 404),
)
async def update_device_type(
    ctx: Ctx, caller: Caller, device_type_id: DeviceTypeId, body: DeviceTypeUpdate
) -> None:
    await ctx.devices.types.update(caller, device_type_id, body.changes(body.name))


@router.delete(
    "/{device_type_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a device type (DEVICE_MANAGER); 409 while it has devices",
    responses=error_responses(403, 404, 409),
)
async def delete_device_type(ctx: Ctx, caller: Caller, device_type_id: DeviceTypeId) -> None:
    await ctx.devices.types.delete(caller, device_type_id)
