"""What the HTTP layer is given by the service: built once, read by every route."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from lorafox.api.metrics import Metrics
from lorafox.auth.basic import BasicAuthenticator
from lorafox.downlinks import DownlinkQueue
from lorafox.store.base import Store

__all__ = ["ApiContext", "admin_user", "context"]


@dataclass(slots=True)
class ApiContext:
    store: Store
    downlinks: DownlinkQueue
    metrics: Metrics
    admin_auth: BasicAuthenticator
    health: Callable[[], dict[str, str]]


def context(request: Request) -> ApiContext:
    ctx: ApiContext = request.app.state.lorafox
    return ctx


async def admin_user(request: Request) -> str:
    """Dependency: the authenticated admin (HTTP Basic), or 401."""
    return await context(request).admin_auth.authenticate(request.headers.get("authorization"))
