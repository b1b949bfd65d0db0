"""``/api/v2/users``: human users and their roles, in the Sigfox API v2 shapes.

lorafox sends no email: a new user's password is given in the request (``password``) or
generated and returned once in the answer. ``PUT /users/{id}/password`` is lorafox's own.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, Field

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
from lorafox.domain import Group, Principal, User
from lorafox.identity.validation import EMAIL_MAX, NAME_MAX, PASSWORD_MAX, PASSWORD_MIN

__all__ = ["router"]

router = APIRouter(prefix="/api/v2/users", tags=["users"])

UserId = Annotated[str, Path(description="The user identifier")]
_user_fields = selection(
    "userRoles(group(name,type,level,bssId,customerBssId),profile(name,roles(name,perms(name))))",
    note="lorafox: the group's name, type and level are always given; roles expand the "
    "profile with what it allows; bssId, customerBssId and perms do not exist in lorafox.",
)
UserFields = Annotated[Selection, Depends(_user_fields)]


class UserRoleOut(BaseModel):
    group: GroupRef
    profile: ProfileRef


class UserOut(BaseModel):
    id: str
    email: str
    firstName: str  # noqa: N815 (Sigfox names)
    lastName: str  # noqa: N815
    timezone: str
    locked: bool = False
    creationTime: int = Field(description="epoch ms")  # noqa: N815
    lastLoginTime: int | None = Field(default=None, description="epoch ms")  # noqa: N815
    userRoles: list[UserRoleOut] = Field(  # noqa: N815
        description="the roles on groups the caller sees"
    )


class UserList(BaseModel):
    data: list[UserOut]
    paging: Paging


class UserRoleIn(BaseModel):
    groupId: str  # noqa: N815
    profileId: str = Field(description="ADMIN, DEVICE_MANAGER or VIEWER")  # noqa: N815


class UserRoles(BaseModel):
    userRoles: list[UserRoleIn] = Field(min_length=1)  # noqa: N815


class UserCreate(BaseModel):
    email: str = Field(max_length=EMAIL_MAX, examples=["jane@example.com"])
    firstName: str = Field(max_length=NAME_MAX)  # noqa: N815
    lastName: str = Field(max_length=NAME_MAX)  # noqa: N815
    timezone: str = Field(default="UTC", examples=["Europe/Paris"])
    userRoles: list[UserRoleIn] = Field(min_length=1)  # noqa: N815
    password: str | None = Field(
        default=None,
        min_length=PASSWORD_MIN,
        max_length=PASSWORD_MAX,
        description="lorafox: the password; generated and returned once when absent",
    )
    sendWelcomeEmail: bool = Field(  # noqa: N815
        default=False,
        description="mail the user an invitation with a single-use link to choose a password",
    )


class UserCreated(BaseModel):
    id: str
    password: str | None = Field(
        default=None, description="the generated password (only when none was given): shown once"
    )
    mailSent: bool | None = Field(  # noqa: N815
        default=None,
        description="sendWelcomeEmail: the invitation was queued; false: no mail server",
    )


class UserUpdate(BaseModel):
    firstName: str | None = Field(default=None, max_length=NAME_MAX)  # noqa: N815
    lastName: str | None = Field(default=None, max_length=NAME_MAX)  # noqa: N815
    timezone: str | None = None
    userRoles: list[UserRoleIn] | None = Field(  # noqa: N815
        default=None, min_length=1, description="replaces every role"
    )


class PasswordChange(BaseModel):
    currentPassword: str | None = Field(  # noqa: N815
        default=None, description="needed to change one's own password"
    )
    newPassword: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)  # noqa: N815


def _out(
    caller: Principal, user: User, groups: dict[str, Group], ctx: Ctx, fields: Selection
) -> UserOut:
    roles = ctx.identity.users.visible_roles(caller, user, groups)
    with_roles = "roles" in fields.sub("userRoles").sub("profile")
    return UserOut(
        id=user.id,
        email=user.email,
        firstName=user.first_name,
        lastName=user.last_name,
        timezone=user.timezone,
        creationTime=user.created_at,
        lastLoginTime=user.last_login_at,
        userRoles=[
            UserRoleOut(group=group_ref(g), profile=profile_ref(p, roles=with_roles))
            for g, p in roles
        ],
    )


def _pairs(roles: list[UserRoleIn]) -> list[tuple[str, str]]:
    return [(r.groupId, r.profileId) for r in roles]


@router.get(
    "",
    summary="Users with a role on a group the caller sees",
    response_model_exclude_none=True,
    responses=error_responses(400, 404),
)
@router.get("/", include_in_schema=False, response_model_exclude_none=True)
async def list_users(
    request: Request,
    ctx: Ctx,
    caller: Caller,
    fields: UserFields,
    text: Annotated[str | None, Query(description="in the email or the name")] = None,
    profile_id: Annotated[str | None, Query(alias="profileId")] = None,
    group_ids: Annotated[
        list[str] | None, Query(alias="groupIds", description="comma-separated group ids")
    ] = None,
    deep: Annotated[bool, Query(description="with groupIds: their subgroups too")] = False,
    sort: Annotated[Literal["id", "-id", "name", "-name", "email", "-email"], Query()] = "id",
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
    offset: Offset = 0,
) -> UserList:
    found = await ctx.identity.users.list(
        caller,
        group_ids=csv_values(group_ids, "groupIds"),
        deep=deep,
        text=text,
        profile=profile_id,
        sort=sort,
        limit=limit + 1,
        offset=offset,
    )
    shown = found[:limit]
    groups = await ctx.identity.users.groups_of(shown)
    return UserList(
        data=[_out(caller, u, groups, ctx, fields) for u in shown],
        paging=page(request, limit=limit, offset=offset, more=len(found) > limit),
    )


@router.post(
    "",
    status_code=201,
    summary="Create a user (ADMIN on each role's group)",
    response_model_exclude_none=True,
    responses=error_responses(400, 403, 404, 409),
)
@router.post("/", status_code=201, include_in_schema=False, response_model_exclude_none=True)
async def create_user(
    ctx: Ctx, caller: Caller, body: UserCreate, response: Response
) -> UserCreated:
    user, generated = await ctx.identity.users.create(
        caller,
        email=body.email,
        first_name=body.firstName,
        last_name=body.lastName,
        roles=_pairs(body.userRoles),
        timezone=body.timezone,
        password=body.password,
    )
    response.headers["location"] = f"{router.prefix}/{user.id}"
    if generated is not None:
        response.headers["cache-control"] = "no-store"
    mail_sent = await ctx.password_links.invite(user) if body.sendWelcomeEmail else None
    return UserCreated(id=user.id, password=generated, mailSent=mail_sent)


@router.get(
    "/{user_id}",
    summary="A user",
    response_model_exclude_none=True,
    responses=error_responses(400, 404),
)
async def get_user(ctx: Ctx, caller: Caller, user_id: UserId, fields: UserFields) -> UserOut:
    user, groups = await ctx.identity.users.get(caller, user_id)
    return _out(caller, user, groups, ctx, fields)


@router.put(
    "/{user_id}",
    status_code=204,
    response_class=Response,
    summary="Change a user's names, timezone or roles (ADMIN on all its groups)",
    responses=error_responses(400, 403, 404),
)
async def update_user(ctx: Ctx, caller: Caller, user_id: UserId, body: UserUpdate) -> None:
    await ctx.identity.users.update(
        caller,
        user_id,
        first_name=body.firstName,
        last_name=body.lastName,
        timezone=body.timezone,
        roles=None if body.userRoles is None else _pairs(body.userRoles),
    )


@router.delete(
    "/{user_id}",
    status_code=204,
    response_class=Response,
    summary="Delete a user (ADMIN on all its groups)",
    responses=error_responses(403, 404),
)
async def delete_user(ctx: Ctx, caller: Caller, user_id: UserId) -> None:
    await ctx.identity.users.delete(caller, user_id)


@router.put(
    "/{user_id}/profiles",
    status_code=204,
    response_class=Response,
    summary="Add roles to a user",
    responses=error_responses(400, 403, 404),
)
async def add_user_roles(ctx: Ctx, caller: Caller, user_id: UserId, body: UserRoles) -> None:
    await ctx.identity.users.add_roles(caller, user_id, _pairs(body.userRoles))


@router.delete(
    "/{user_id}/profiles/{profile_id}",
    status_code=204,
    response_class=Response,
    summary="Remove a profile from a user (on one group with groupId)",
    responses=error_responses(400, 403, 404),
)
async def delete_user_role(
    ctx: Ctx,
    caller: Caller,
    user_id: UserId,
    profile_id: str,
    group_id: Annotated[str | None, Query(alias="groupId")] = None,
) -> None:
    await ctx.identity.users.remove_role(caller, user_id, profile_id, group_id)


@router.put(
    "/{user_id}/password",
    status_code=204,
    response_class=Response,
    summary="Change a password: one's own (with currentPassword), or another user's (ADMIN)",
    responses=error_responses(400, 403, 404),
)
async def set_password(ctx: Ctx, caller: Caller, user_id: UserId, body: PasswordChange) -> None:
    await ctx.identity.users.set_password(
        caller, user_id, body.newPassword, current=body.currentPassword
    )
