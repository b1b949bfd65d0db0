"""What the console's pages are given, and the dependencies every page route goes through.

A page module makes its router with ``page_router()``: every route on it then needs a session
(a browser without one is sent to the login page, an htmx request gets 401 and an
``HX-Redirect`` there) and every route but GET and HEAD a valid CSRF token, sent by htmx in the
``X-CSRF-Token`` header (set once in the layout) or by a plain form in its ``csrf`` field.
Routes get the session's user as ``Session`` and call the same use cases as the API, with it:
access is checked there, never in a page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from lorafox.api.context import ApiContext, caller_address
from lorafox.auth import rbac
from lorafox.console.forms import form
from lorafox.console.templating import Templates
from lorafox.domain import Group, Principal, Profile
from lorafox.errors import CsrfRefused, SessionRequired
from lorafox.identity.sessions import ConsoleSessions, OpenSession
from lorafox.settings import ConsoleSettings

__all__ = [
    "COOKIE",
    "ConsoleContext",
    "Cx",
    "Session",
    "can_operate",
    "console",
    "holds",
    "page_router",
    "session",
    "visible_groups",
]

COOKIE = "lorafox_session"
"""The session cookie (HttpOnly, SameSite=Lax, Secure over HTTPS or when configured)."""
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf"
_SAFE = frozenset({"GET", "HEAD"})


@dataclass(slots=True)
class ConsoleContext:
    """The API's use cases (``api``), the sessions, the settings and the templates."""

    api: ApiContext
    sessions: ConsoleSessions
    settings: ConsoleSettings
    templates: Templates

    def address(self, request: Request) -> str | None:
        return caller_address(request, self.api.trust_forwarded_for)

    def secure_cookie(self, request: Request) -> bool:
        configured = self.settings.cookie_secure
        return request.url.scheme == "https" if configured is None else configured


def console(request: Request) -> ConsoleContext:
    ctx: ConsoleContext = request.app.state.console
    return ctx


Cx = Annotated[ConsoleContext, Depends(console)]


async def session(request: Request, cx: Cx) -> OpenSession:
    """Dependency: the request's session (``SessionRequired`` without one); kept on
    ``request.state.session`` for the layout."""
    found: OpenSession | None = getattr(request.state, "session", None)
    if found is None:
        found = await cx.sessions.resolve(request.cookies.get(COOKIE))
        if found is None:
            raise SessionRequired("log in to continue")
        request.state.session = found
    return found


async def _guard(request: Request, cx: Cx) -> None:
    """Every page route: a session; and for what is not GET or HEAD, its CSRF token."""
    current = await session(request, cx)
    if request.method in _SAFE:
        return
    presented = request.headers.get(CSRF_HEADER)
    if presented is None:
        presented = (await form(request)).get(CSRF_FIELD) or None
    if not current.csrf_matches(presented):
        raise CsrfRefused(
            "this form expired or did not come from this console page (its CSRF token is "
            "missing or wrong): reload the page and try again"
        )


def page_router() -> APIRouter:
    """The router of a page module: its routes need a session and, to change anything, the
    session's CSRF token."""
    return APIRouter(dependencies=[Depends(_guard)], include_in_schema=False)


Session = Annotated[OpenSession, Depends(session)]


def can_operate(principal: Principal, path: str | None = None) -> bool:
    """Whether ``principal`` may change things (DEVICE_MANAGER) at ``path``, or somewhere:
    pages show edit controls only then (the use cases check again)."""
    if path is None:
        return rbac.holds_anywhere(principal, rbac.OPERATE)
    held = rbac.profile_at(principal, path)
    return held is not None and held.rank >= rbac.OPERATE.rank


def holds(principal: Principal, path: str, needed: Profile) -> bool:
    """Whether ``principal`` holds ``needed`` or more at ``path`` (pages show edit controls
    only then; the use cases check again)."""
    held = rbac.profile_at(principal, path)
    return held is not None and held.rank >= needed.rank


MAX_GROUPS_SHOWN = 1000
"""The groups a page lists at most (in a tree, or as the choices of a form)."""


async def visible_groups(cx: ConsoleContext, principal: Principal) -> list[Group]:
    """Every group ``principal`` sees, parents before their children."""
    found = await cx.api.identity.groups.list(principal, deep=True, limit=MAX_GROUPS_SHOWN)
    return sorted(found, key=lambda g: g.path)


def group_choices(
    groups: list[Group], principal: Principal, needed: Profile
) -> list[tuple[str, str]]:
    """``(id, name)`` of the groups where ``principal`` holds ``needed`` or more: the choices
    of a form's group field."""
    return [(g.id, g.name) for g in groups if holds(principal, g.path, needed)]
