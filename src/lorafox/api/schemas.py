"""Sigfox API v2 shapes shared by the routers: paging, minimal group and profile, errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import Path, Query, Request
from pydantic import BaseModel, Field

from lorafox.auth.rbac import PERMISSIONS
from lorafox.domain import Group, Profile
from lorafox.errors import InvalidInput

__all__ = [
    "EPOCH_MS_MAX",
    "OFFSET_MAX",
    "Before",
    "Created",
    "DeviceId",
    "DeviceTypeId",
    "ErrorBody",
    "GroupRef",
    "Limit",
    "Offset",
    "Paging",
    "ProfileRef",
    "RoleRef",
    "Since",
    "csv_values",
    "error_responses",
    "group_ref",
    "next_link",
    "page",
    "profile_ref",
]


OFFSET_MAX = 2**31 - 1
"""The largest ``offset`` accepted: beyond it a list is empty anyway, and the database's integers
(64-bit in SQLite and PostgreSQL) must hold ``offset + limit + 1``."""

EPOCH_MS_MAX = 2**53 - 1
"""The largest time (epoch ms) accepted in a query: JSON's largest exact integer, year 287396."""

Offset = Annotated[int, Query(ge=0, le=OFFSET_MAX, description="rows to skip")]

DeviceId = Annotated[str, Path(description="Sigfox device id (hex, up to 8 digits)")]
DeviceTypeId = Annotated[str, Path(description="The device type identifier")]
Limit = Annotated[int, Query(ge=1, le=100, description="at most 100")]
"""The size of a page of a device's history (messages, events, locations)."""
Since = Annotated[int | None, Query(ge=0, le=EPOCH_MS_MAX, description="epoch ms, inclusive")]
Before = Annotated[int | None, Query(ge=0, le=EPOCH_MS_MAX, description="epoch ms, exclusive")]


class Paging(BaseModel):
    next: str | None = Field(default=None, description="URL of the next page, absent at the end")


class GroupRef(BaseModel):
    """Sigfox's minimal group."""

    id: str
    name: str
    type: int
    level: int = Field(description="depth in the tree, 0 for the root group")


class RoleRef(BaseModel):
    """What a profile allows (Sigfox's roles of a profile)."""

    id: str = Field(examples=["devices:write"])
    name: str


class ProfileRef(BaseModel):
    """Sigfox's minimal profile; ``roles`` when ``fields`` asks for them."""

    id: str = Field(examples=["DEVICE_MANAGER"])
    name: str = Field(examples=["DEVICE MANAGER [W]"])
    roles: list[RoleRef] | None = Field(
        default=None, description="with fields=…profile(roles) or profiles(roles)"
    )


class Created(BaseModel):
    id: str = Field(description="the new object's identifier")


class ErrorItem(BaseModel):
    field: str | None = None
    message: str


class ErrorBody(BaseModel):
    """Every error: a general message and, for invalid input, one entry per problem."""

    message: str
    errors: list[ErrorItem] = Field(default_factory=list)


_ERRORS = {
    400: "Invalid input (a field, a query parameter)",
    401: "Missing or wrong credentials (HTTP Basic)",
    403: "Visible, but the caller's profile does not allow this",
    404: "No such object, or not visible to the caller",
    409: "The current state forbids it",
    429: "Too many requests from this caller: wait for the seconds `Retry-After` gives",
}
_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for these error statuses (401 and 429 are always included)."""
    wanted = sorted({401, 429, *statuses})
    responses: dict[int | str, dict[str, Any]] = {
        s: {"model": ErrorBody, "description": _ERRORS[s]} for s in wanted
    }
    responses[429]["headers"] = dict(_RETRY_AFTER)
    return responses


def group_ref(group: Group) -> GroupRef:
    return GroupRef(id=group.id, name=group.name, type=group.type, level=group.level)


def profile_ref(profile: Profile, *, roles: bool = False) -> ProfileRef:
    """The profile, with its roles when asked (``fields``)."""
    if not roles:
        return ProfileRef(id=profile.value, name=profile.label)
    return ProfileRef(
        id=profile.value,
        name=profile.label,
        roles=[RoleRef(id=p, name=p) for p in PERMISSIONS[profile]],
    )


def next_link(request: Request, **params: Any) -> str:
    """The request's path with ``params`` replacing its query parameters: relative, since the
    ``Host`` header is the client's to choose and must not be echoed into links."""
    url = request.url.include_query_params(**params)
    return f"{url.path}?{url.query}"


def page(request: Request, *, limit: int, offset: int, more: bool) -> Paging:
    """Paging for a list read with ``limit``+1 rows: a ``next`` link when more remain."""
    if not more:
        return Paging()
    return Paging(next=next_link(request, limit=limit, offset=offset + limit))


def csv_values(values: Sequence[str] | None, field: str) -> list[str]:
    """A list query parameter, given Sigfox's way (``a,b``) or repeated (``x=a&x=b``)."""
    found = [v.strip() for value in values or () for v in value.split(",") if v.strip()]
    if values and not found:
        raise InvalidInput(f"{field}: no value given", field=field)
    return found
