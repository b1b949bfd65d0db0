"""``/api/v2/api-users``: machine logins (the Sigfox *API access*), in the Sigfox v2 shapes.

The login is the API user's ``id``; the password (``accessToken``) is returned once, by the
creation and by ``renew-credential``, and never by a read (Sigfox shows it on every read).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import AliasChoices, BaseModel, Field

from lorafox.api.context import Caller, Ctx
from lorafox.api.fields import Selection, selection
from lorafox.api.schemas import (
    GroupRef,
    Offset,
    Paging,
    ProfileRef,
    csv_values,
    error_responses,
    group_ref,
    page,
    profile_ref,
)
from lorafox.domain import ApiUser, Group
from lorafox.identity.validation import NAME_MAX

__all__ = ["router"]

router = APIRouter(prefix="/api/v2/api-users", tags=["api-users"])

ApiUserId = Annotated[str, Path(description="The API user identifier (its login)")]
_api_user_fields = selection(
    "group(name,type,level,bssId,customerBssId)",
    "profiles(name,roles(name,perms(name)))",
    note="lorafox: the group's name, type and level are always given; roles expand the "
    "profiles with what they allow; bssId, customerBssId and perms do not exist in lorafox.",
)
ApiUserFields = Annotated[Selection, Depends(_api_user_fields)]


class ApiUserOut(BaseModel):
    id: str = Field(description="also the login")
    name: str
    timezone: str
    group: GroupRef
    creationTime: int = Field(description="epoch ms")  # noqa: N815 (Sigfox names)
    profiles: list[ProfileRef]


class ApiUserList(BaseModel):
    data: list[ApiUserOut]
    paging: Paging


class ApiUserCreate(BaseModel):
    groupId: str  # noqa: N815
    name: str = Field(min_length=1, max_length=NAME_MAX)
    timezone: str = Field(default="UTC", examples=["Europe/Paris"])
    profileIds: list[str] = Field(  # noqa: N815
        min_length=1, description="ADMIN, DEVICE_MANAGER, VIEWER"
    )


class ApiUserCreated(BaseModel):
    id: str = Field(description="the login")
    accessToken: str = Field(description="the password: shown this once")  # noqa: N815


_PROFILE_IDS = AliasChoices("profileIds", "profileId")
"""Sigfox's documentation says ``profileIds``, its swagger definition ``profileId``: both work."""


class ApiUserUpdate(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX)
    timezone: str | None = None
    profileIds: list[str] | None = Field(  # noqa: N815
        default=None, min_length=1, validation_alias=_PROFILE_IDS
    )


class ProfileIds(BaseModel):
    profileIds: list[str] = Field(min_length=1, validation_alias=_PROFILE_IDS)  # noqa: N815


class Credential(BaseModel):
    accessToken: str = Field(description="the new password: shown this once")  # noqa: N815


def _out(api_user: ApiUser, group: Group, fields: Selection) -> ApiUserOut:
    with_roles = "roles" in fields.sub("profiles")
    return ApiUserOut(
        id=api_user.id,
        name=api_user.name,
        timezone=api_user.timezone,
        group=group_ref(group),
        creationTime=api_user.created_at,
        profiles=[profile_ref(p, roles=with_roles) for p in api_user.profiles],
    )


@router.get(
    "",
    summary="API users of the groups the caller sees",
    response_model_exclude_none=True,
    responses=error_responses(400, 404),
)
@router.get("/", include_in_schema=False, response_model_exclude_none=True)
async def list_api_users(
    request: Request,
    ctx: Ctx,
    caller: Caller,
    fields: ApiUserFields,
    profile_id: Annotated[str | None, Query(alias="profileId")] = None,
    group_ids: Annotated[
        list[str] | None, Query(alias="groupIds", description="comma-separated group ids")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
    offset: Offset = 0,
) -> ApiUserList:
    found = await ctx.identity.api_users.list(
        caller,
        group_ids=csv_values(group_ids, "groupIds"),
        profile=profile_id,
        limit=limit + 1,
        offset=offset,
    )
    shown = found[:limit]
    groups = await ctx.identity.groups.by_id(caller, {a.group_id for a in shown})
    return ApiUserList(
        data=[_out(a, groups[a.group_id], fields) for a in shown],
        paging=page(request, limit=limit, offset=offset, more=len(found) > limit),
    )


@router.post(
    "",
    status_code=201,
    summary="Create an API user (ADMIN on its group); the answer holds its password, once",
    responses=error_responses(400, 403, 404),
)
@router.post("/", status_code=201, include_in_schema=False)
async def create_api_user(
    ctx: Ctx, caller: Caller, body: ApiUserCreate, response: Response
) -> ApiUserCreated:
    api_user, password = await ctx.identity.api_users.create(
        caller,
        group_id=body.groupId,
        name=body.name,
        profiles=body.profileIds,
        timezone=body.timezone,
    )
    response.headers["location"] = f"{router.prefix}/{api_user.id}"
    response.headers["cache-control"] = "no-store"
    return ApiUserCreated(id=api_user.id, accessToken=password)


@router.get(
    "/{api_user_id}",
    summary="An API user",
    response_model_exclude_none=True,
    responses=error_responses(400, 404),
)
async def get_api_user(
    ctx: Ctx, caller: Caller, api_user_id: ApiUserId, fields: ApiUserFields
) -> ApiUserOut:
    api_user, group = await ctx.identity.api_users.get(caller, api_user_id)
    return _out(api_user, group, fields)


@router.put(
    "/{api_user_id}",
    status_code=204,
    response_class=Response,
    summary="Change an API user's name, timezone or profiles (ADMIN)",
    responses=error_responses(400, 403, 404),
)
async def update_api_user(
    ctx: Ctx, caller: Caller, api_user_id: ApiUserId, body: ApiUserUpdate
) -> None:
    await ctx.identity.api_users.update(
        caller, api_user_id, name=body.name, timezone=body.timezone, profiles=body.profileIds
    )


@router.delete(
    "/{api_user_id}",
    status_code=204,
    response_class=Response,
    summary="Delete an API user (ADMIN)",
    responses=error_responses(403, 404),
)
async def delete_api_user(ctx: Ctx, caller: Caller, api_user_id: ApiUserId) -> None:
    await ctx.identity.api_users.delete(caller, api_user_id)


@router.put(
    "/{api_user_id}/profiles",
    status_code=204,
    response_class=Response,
    summary="Add profiles to an API user (ADMIN)",
    responses=error_responses(400, 403, 404),
)
async def add_profiles(ctx: Ctx, caller: Caller, api_user_id: ApiUserId, body: ProfileIds) -> None:
    await ctx.identity.api_users.add_profiles(caller, api_user_id, body.profileIds)


@router.delete(
    "/{api_user_id}/profiles/{profile_id}",
    status_code=204,
    response_class=Response,
    summary="Remove a profile from an API user (ADMIN)",
    responses=error_responses(400, 403, 404),
)
async def delete_profile(ctx: Ctx, caller: Caller, api_user_id: ApiUserId, profile_id: str) -> None:
    await ctx.identity.api_users.remove_profile(caller, api_user_id, profile_id)


@router.put(
    "/{api_user_id}/renew-credential",
    summary="A new password for the API user (ADMIN): shown once; the old one stops working",
    responses=error_responses(403, 404),
)
async def renew_credential(
    ctx: Ctx, caller: Caller, api_user_id: ApiUserId, response: Response
) -> Credential:
    password = await ctx.identity.api_users.renew(caller, api_user_id)
    response.headers["cache-control"] = "no-store"
    return Credential(accessToken=password)
