"""``/api/v2/groups``: the group tree, in the Sigfox API v2 shapes."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field

from lorafox.api.context import Caller, Ctx
from lorafox.api.fields import Selection, selection
from lorafox.api.schemas import (
    Created,
    GroupRef,
    Offset,
    Paging,
    csv_values,
    error_responses,
    group_ref,
    page,
)
from lorafox.domain import Group
from lorafox.errors import InvalidInput
from lorafox.identity.validation import DESCRIPTION_MAX, GROUP_NAME_MAX, GROUP_NAME_MIN

__all__ = ["router"]

router = APIRouter(prefix="/api/v2/groups", tags=["groups"])

GroupId = Annotated[str, Path(description="The group identifier")]
_TYPE = "0 SO, 2 Basic, 5 SVNO, 6 Partners, 7 NIP, 8 DIST, 9 Channel, 10 Starter, 11 Partner"


_PATH_NOTE = "lorafox: `path` is always given, with each ancestor's name, type and level."
_list_fields = selection("path(name,type,level)", note=_PATH_NOTE)
ListFields = Annotated[Selection, Depends(_list_fields)]
_get_fields = selection("path(name,type,level)", "paths(name)", note=_PATH_NOTE)
GetFields = Annotated[Selection, Depends(_get_fields)]


class GroupOut(BaseModel):
    id: str
    name: str
    nameCI: str = Field(description="the name in lower case")  # noqa: N815 (Sigfox names)
    description: str
    type: int = Field(description=_TYPE)
    timezone: str
    path: list[GroupRef] = Field(
        description="ancestors from the direct parent up, restricted to the groups the caller sees"
    )
    createdBy: str | None = None  # noqa: N815
    creationTime: int = Field(description="epoch ms")  # noqa: N815


class GroupList(BaseModel):
    data: list[GroupOut]
    paging: Paging


class GroupCreate(BaseModel):
    name: str = Field(min_length=GROUP_NAME_MIN, max_length=GROUP_NAME_MAX)
    description: str = Field(default="", max_length=DESCRIPTION_MAX)
    type: int = Field(default=2, description=_TYPE)
    timezone: str = Field(default="UTC", examples=["Europe/Paris"])
    parentId: str | None = Field(  # noqa: N815
        default=None, description="the parent group; default: the caller's group if it has one"
    )


class GroupUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=GROUP_NAME_MIN, max_length=GROUP_NAME_MAX)
    description: str | None = Field(default=None, max_length=DESCRIPTION_MAX)
    type: int | None = Field(default=None, description=_TYPE)
    timezone: str | None = None


def _out(group: Group, ancestors: dict[str, Group]) -> GroupOut:
    path = [group_ref(ancestors[a]) for a in reversed(group.ancestry[:-1]) if a in ancestors]
    return GroupOut(
        id=group.id,
        name=group.name,
        nameCI=group.name.lower(),
        description=group.description,
        type=group.type,
        timezone=group.timezone,
        path=path,
        createdBy=group.created_by,
        creationTime=group.created_at,
    )


def _types(values: list[str] | None) -> list[int]:
    try:
        return [int(v) for v in csv_values(values, "types")]
    except ValueError as exc:
        raise InvalidInput("types: integers expected", field="types") from exc


@router.get(
    "",
    summary="Groups the caller sees",
    description="Without `parentIds`: the caller's own groups and their children (`deep`: "
    "every group it sees). With `parentIds`: their children (`deep`: their whole subtrees).",
    response_model_exclude_none=True,
    responses=error_responses(400, 404),
)
@router.get("/", include_in_schema=False, response_model_exclude_none=True)
async def list_groups(
    request: Request,
    ctx: Ctx,
    caller: Caller,
    _: ListFields,
    parent_ids: Annotated[
        list[str] | None, Query(alias="parentIds", description="comma-separated group ids")
    ] = None,
    deep: Annotated[bool, Query(description="whole subtrees, not only children")] = False,
    name: Annotated[str | None, Query(description="the name contains this (any case)")] = None,
    types: Annotated[list[str] | None, Query(description="comma-separated types")] = None,
    sort: Annotated[Literal["id", "-id", "name", "-name"], Query()] = "id",
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
    offset: Offset = 0,
) -> GroupList:
    found = await ctx.identity.groups.list(
        caller,
        parent_ids=csv_values(parent_ids, "parentIds"),
        deep=deep,
        name=name,
        types=_types(types),
        sort=sort,
        limit=limit + 1,
        offset=offset,
    )
    shown = found[:limit]
    ancestors = await ctx.identity.groups.ancestors(caller, shown)
    return GroupList(
        data=[_out(g, ancestors) for g in shown],
        paging=page(request, limit=limit, offset=offset, more=len(found) > limit),
    )


@router.post(
    "",
    status_code=201,
    summary="Create a group (ADMIN on the parent)",
    responses=error_responses(400, 403, 404),
)
@router.post("/", status_code=201, include_in_schema=False)
async def create_group(ctx: Ctx, caller: Caller, body: GroupCreate, response: Response) -> Created:
    group = await ctx.identity.groups.create(
        caller,
        name=body.name,
        parent_id=body.parentId,
        description=body.description,
        type=body.type,
        timezone=body.timezone,
    )
    response.headers["location"] = f"{router.prefix}/{group.id}"
    return Created(id=group.id)


@router.get(
    "/{group_id}",
    summary="A group",
    response_model_exclude_none=True,
    responses=error_responses(400, 404),
)
async def get_group(ctx: Ctx, caller: Caller, group_id: GroupId, _: GetFields) -> GroupOut:
    group = await ctx.identity.groups.get(caller, group_id)
    return _out(group, await ctx.identity.groups.ancestors(caller, [group]))


@router.put(
    "/{group_id}",
    status_code=204,
    response_class=Response,
    summary="Change a group's name, description, type or timezone (ADMIN)",
    responses=error_responses(400, 403, 404),
)
async def update_group(ctx: Ctx, caller: Caller, group_id: GroupId, body: GroupUpdate) -> None:
    await ctx.identity.groups.update(
        caller,
        group_id,
        name=body.name,
        description=body.description,
        type=body.type,
        timezone=body.timezone,
    )


@router.delete(
    "/{group_id}",
    status_code=204,
    response_class=Response,
    summary="Delete an empty group (ADMIN); 409 while it has subgroups, users or API users",
    responses=error_responses(403, 404, 409),
)
async def delete_group(ctx: Ctx, caller: Caller, group_id: GroupId) -> None:
    await ctx.identity.groups.delete(caller, group_id)
