"""``/console/login`` and ``/console/logout``.

The login form is protected against login CSRF by a double-submit token: the page sets a
random ``lorafox_login`` cookie (SameSite=Strict, HttpOnly) and puts the same value in the
form; a post without both, equal, is refused. A failed login says only "wrong email or
password" (as the API does, whatever was wrong); throttling is the API's.
"""

from __future__ import annotations

import hmac
import math
import secrets
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from lorafox.console.context import COOKIE, Cx, console
from lorafox.console.forms import Form
from lorafox.errors import AuthenticationFailed, CsrfRefused, LoginThrottled
from lorafox.identity.sessions import OpenSession

__all__ = ["router", "set_session_cookie"]

router = APIRouter(include_in_schema=False)

_LOGIN_COOKIE = "lorafox_login"
_WRONG = "Wrong email or password."


def _next(target: str) -> str:
    """Where to go after the login: a console path only (never another site)."""
    if target.startswith("/console") and not target.startswith("//") and "\\" not in target:
        return target
    return "/console/devices"


def _page(
    request: Request, cx: Cx, *, target: str, login: str = "", error: str = "", status: int = 200
) -> Response:
    token = secrets.token_urlsafe(24)
    answer = cx.templates.render(
        request,
        "login/login.html",
        {"login_token": token, "next": _next(target), "login": login, "error": error},
        status=status,
    )
    answer.set_cookie(
        _LOGIN_COOKIE,
        token,
        max_age=3600,
        path="/console/login",
        secure=cx.secure_cookie(request),
        httponly=True,
        samesite="strict",
    )
    return answer


@router.get("/console/login")
async def login_page(
    request: Request, cx: Cx, next: Annotated[str, Query(max_length=2000)] = ""
) -> Response:
    if await cx.sessions.resolve(request.cookies.get(COOKIE)) is not None:
        return RedirectResponse(_next(next), status_code=303)
    return _page(request, cx, target=next)


@router.post("/console/login")
async def log_in(request: Request, cx: Cx, form: Form) -> Response:
    sent = form.get("login_token").encode()
    kept = request.cookies.get(_LOGIN_COOKIE, "").encode()
    if not sent or not hmac.compare_digest(sent, kept):
        raise CsrfRefused(
            "the login form expired or did not come from this console: reload the page and "
            "log in again"
        )
    login, target = form.get("email")[:320], form.get("next")
    try:
        opened = await cx.sessions.login(login, form.get("password")[:1024], cx.address(request))
    except LoginThrottled as exc:
        message = f"Too many wrong passwords: try again in {exc.retry_after} s."
        return _page(request, cx, target=target, login=login, error=message, status=429)
    except AuthenticationFailed:
        return _page(request, cx, target=target, login=login, error=_WRONG, status=401)
    answer = RedirectResponse(_next(target), status_code=303)
    set_session_cookie(answer, request, cx, opened)
    answer.delete_cookie(_LOGIN_COOKIE, path="/console/login")
    return answer


def set_session_cookie(answer: Response, request: Request, cx: Cx, opened: OpenSession) -> None:
    """Hand the browser the token of the session just opened."""
    answer.set_cookie(
        COOKIE,
        opened.token,
        max_age=math.ceil(cx.sessions.limits.lifetime),
        path="/console",
        secure=cx.secure_cookie(request),
        httponly=True,
        samesite="lax",
    )


@router.post("/console/logout")
async def log_out(request: Request, form: Form) -> Response:
    """Ends the session (with its CSRF token: a page cannot log a user out from elsewhere)."""
    cx = console(request)
    token = request.cookies.get(COOKIE)
    found = await cx.sessions.resolve(token)
    if found is not None:
        if not found.csrf_matches(request.headers.get("x-csrf-token") or form.get("csrf")):
            raise CsrfRefused("the logout form expired: reload the page and try again")
        await cx.sessions.logout(token)
    answer = RedirectResponse("/console/login", status_code=303)
    answer.delete_cookie(COOKIE, path="/console")
    return answer
