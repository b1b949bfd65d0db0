"""Errors to the console's answers, in one place: HTML pages (or, for htmx requests, an alert
swapped into the page), with the status codes the API uses (``lorafox.api.errors.status_for``).

A request without a session goes to the login page (303; 401 with ``HX-Redirect`` for htmx),
remembering where it was going.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from lorafox.api.errors import status_for
from lorafox.console.templating import Templates
from lorafox.errors import CsrfRefused, LoginThrottled, LorafoxError, SessionRequired

__all__ = ["error_page", "is_htmx", "login_redirect", "lorafox_error"]

_TITLES = {
    400: "This request is not right",
    401: "Please log in",
    403: "Not allowed",
    404: "Not found",
    405: "Not allowed here",
    409: "Conflict",
    413: "Too large",
    429: "Too many attempts",
    503: "The database does not answer",
}


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def login_redirect(request: Request) -> Response:
    """To the login page, with ``next`` the page asked for (a GET's; else the device list)."""
    target = "/console/login"
    if request.method == "GET" and not is_htmx(request):
        wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        target += f"?next={quote(wanted, safe='')}"
    if is_htmx(request):
        return Response(status_code=401, headers={"hx-redirect": target})
    return RedirectResponse(target, status_code=303)


def error_page(
    templates: Templates, request: Request, status: int, message: str, *, retry_after: int = 0
) -> Response:
    """The error page (or the alert of an htmx request) for ``status`` and ``message``."""
    values = {
        "status": status,
        "title": _TITLES.get(status, "Something went wrong"),
        "message": message,
    }
    headers = {"retry-after": str(retry_after)} if retry_after else {}
    if is_htmx(request):
        headers |= {"hx-retarget": "#alert", "hx-reswap": "innerHTML"}
        return templates.render(
            request, "errors/_alert.html", values, status=status, headers=headers
        )
    return templates.render(request, "errors/error.html", values, status=status, headers=headers)


def lorafox_error(templates: Templates, request: Request, exc: LorafoxError) -> Response:
    """The answer to an error a use case (or the console) raised."""
    if isinstance(exc, SessionRequired):
        return login_redirect(request)
    status = status_for(exc)
    if isinstance(exc, CsrfRefused):
        status = 403
    retry = exc.retry_after if isinstance(exc, LoginThrottled) else 0
    return error_page(templates, request, status, exc.message, retry_after=retry)
