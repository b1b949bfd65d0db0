"""What the HTTP layer is given by the service: built once, read by every route."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.security.http import HTTPBase
from starlette.requests import HTTPConnection

from lorafox.api.metrics import Metrics
from lorafox.auth import rbac
from lorafox.auth.principals import PrincipalAuthenticator
from lorafox.devices import DeviceManagement
from lorafox.domain import Group, Principal
from lorafox.downlinks import DownlinkQueue
from lorafox.identity import Identity
from lorafox.store.base import Store

__all__ = ["ApiContext", "Caller", "Ctx", "context", "principal", "root_admin"]


@dataclass(slots=True)
class ApiContext:
    store: Store
    downlinks: DownlinkQueue
    metrics: Metrics
    auth: PrincipalAuthenticator
    identity: Identity
    devices: DeviceManagement
    root: Group
    health: Callable[[], dict[str, str]]


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.lorafox
    return ctx


class _BasicScheme(HTTPBase):
    """Declares HTTP Basic in the OpenAPI document; lorafox reads the header itself."""

    def __init__(self) -> None:
        super().__init__(
            scheme="basic",
            scheme_name="HTTPBasic",
            description="An API user's id and password, or a user's email and password "
            "(the first-start admin: `admin`).",
            auto_error=False,
        )

    async def __call__(self, request: HTTPConnection) -> HTTPAuthorizationCredentials | None:
        return None


_basic = _BasicScheme()


async def principal(
    request: Request, _: Annotated[HTTPAuthorizationCredentials | None, Security(_basic)]
) -> Principal:
    """Dependency: the authenticated caller (HTTP Basic), or 401."""
    return await context(request).auth.authenticate(request.headers.get("authorization"))


Ctx = Annotated[ApiContext, Depends(context)]
Caller = Annotated[Principal, Depends(principal)]


async def root_admin(ctx: Ctx, caller: Caller) -> Principal:
    """Dependency: a caller holding ADMIN on the root group (service endpoints)."""
    rbac.require(caller, ctx.root.path, rbac.ADMINISTER, "resource")
    return caller
