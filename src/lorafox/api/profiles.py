"""``/api/v2/profiles``: the three profiles a role or an API user can hold."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from lorafox.api.context import Caller
from lorafox.api.fields import Selection, selection
from lorafox.api.schemas import Offset, Paging, RoleRef, error_responses, page
from lorafox.auth.rbac import PERMISSIONS
from lorafox.domain import Profile
from lorafox.errors import NotFound

__all__ = ["router"]

router = APIRouter(prefix="/api/v2/profiles", tags=["profiles"])


_profile_fields = selection(
    "group(name,type,level)",
    "roles(name,path(name))",
    note="lorafox: the roles are always given; a profile is the same in every group.",
)
ProfileFields = Annotated[Selection, Depends(_profile_fields)]


class ProfileOut(BaseModel):
    id: str = Field(examples=["DEVICE_MANAGER"])
    name: str = Field(examples=["DEVICE MANAGER [W]"])
    roles: list[RoleRef] = Field(description="what the profile allows")


class ProfileList(BaseModel):
    data: list[ProfileOut]
    paging: Paging


def _out(profile: Profile) -> ProfileOut:
    return ProfileOut(
        id=profile.value,
        name=profile.label,
        roles=[RoleRef(id=p, name=p) for p in PERMISSIONS[profile]],
    )


@router.get(
    "",
    summary="The profiles (the same in every group)",
    response_model_exclude_none=True,
    responses=error_responses(400),
)
@router.get("/", include_in_schema=False, response_model_exclude_none=True)
async def list_profiles(
    request: Request,
    _: Caller,
    __: ProfileFields,
    group_id: Annotated[str | None, Query(alias="groupId", description="accepted")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 100,
    offset: Offset = 0,
) -> ProfileList:
    profiles = list(Profile)
    shown = profiles[offset : offset + limit]
    more = offset + limit < len(profiles)
    return ProfileList(
        data=[_out(p) for p in shown], paging=page(request, limit=limit, offset=offset, more=more)
    )


@router.get("/{profile_id}", summary="A profile", responses=error_responses(404))
async def get_profile(
    _: Caller, profile_id: Annotated[str, Path(description="ADMIN, DEVICE_MANAGER, VIEWER")]
) -> ProfileOut:
    try:
        return _out(Profile(profile_id))
    except ValueError as exc:
        raise NotFound("profile not found") from exc
