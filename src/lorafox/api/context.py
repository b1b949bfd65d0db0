"""What the HTTP layer is given by the service: built once, read by every route."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials
from fastapi.security.http import HTTPBase
from starlette.requests import HTTPConnection

from lorafox.alerts import AlertSubscriptions
from lorafox.auth import rbac
from lorafox.auth.principals import PrincipalAuthenticator
from lorafox.callbacks import DeviceTypeCallbacks, NotDelivered
from lorafox.devices import DeviceManagement
from lorafox.domain import Group, Principal
from lorafox.downlink.queue import DownlinkQueue
from lorafox.identity import Identity
from lorafox.identity.password_links import PasswordLinks
from lorafox.lora import LoraServices
from lorafox.metrics import Metrics
from lorafox.rules.service import TopicRules
from lorafox.tables.operations import TableOperations

__all__ = [
    "ApiContext",
    "Caller",
    "Ctx",
    "caller_address",
    "context",
    "principal",
    "root_admin",
]


@dataclass(slots=True)
class ApiContext:
    """What the routes use: the use cases (each checks the caller itself), never a store."""

    ping: Callable[[], Awaitable[None]]
    """Raises ``LorafoxError`` when the database does not answer (``/healthz``)."""
    downlinks: DownlinkQueue
    metrics: Metrics
    auth: PrincipalAuthenticator
    identity: Identity
    devices: DeviceManagement
    root: Group
    health: Callable[[], dict[str, str]]
    callbacks: DeviceTypeCallbacks
    not_delivered: NotDelivered
    alerts: AlertSubscriptions
    password_links: PasswordLinks
    mail_configured: bool
    """False when lorafox has no mail server (answers that would have sent mail say so)."""
    trust_forwarded_for: bool = False
    """Take the caller's address from ``X-Forwarded-For``'s last entry (behind one proxy)."""
    rules: TopicRules | None = None
    lora: LoraServices | None = None
    """The LoRa integrations and their ingest (None: LoRa routes answer 404)."""
    tables: TableOperations | None = None
    """The DynamoDB-compatible tables (None: the console's tables pages answer 404)."""


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
    """Dependency: the authenticated caller (HTTP Basic), or 401 (429 while throttled)."""
    ctx = context(request)
    return await ctx.auth.authenticate(
        request.headers.get("authorization"), caller_address(request, ctx.trust_forwarded_for)
    )


def caller_address(request: Request, trust_forwarded_for: bool) -> str | None:
    """The client's address: the socket's peer, or behind a trusted proxy the last
    ``X-Forwarded-For`` entry (the one the proxy appended)."""
    forwarded = request.headers.get("x-forwarded-for") if trust_forwarded_for else None
    if forwarded:
        return forwarded.rsplit(",", 1)[-1].strip()
    return request.client.host if request.client else None


Ctx = Annotated[ApiContext, Depends(context)]
Caller = Annotated[Principal, Depends(principal)]


async def root_admin(ctx: Ctx, caller: Caller) -> Principal:
    """Dependency: a caller holding ADMIN on the root group (service endpoints)."""
    rbac.require(caller, ctx.root.path, rbac.ADMINISTER, "resource")
    return caller
