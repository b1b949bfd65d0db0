"""Jinja2 templates of the console, and the HTML responses made from them.

Templates live in ``console/templates/`` (one directory per page module, ``base.html`` the
layout, ``_forms.html`` the form macros); autoescaping is on for every template. Every page is
answered with the same headers: a Content-Security-Policy allowing scripts and styles from
``/console/static/`` only (no inline script: what a script needs is in ``data-`` attributes or
a ``<script type="application/json">`` block), no framing, no caching, no referrer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from lorafox import __version__

__all__ = ["STATIC_DIR", "NavItem", "Templates"]

_HERE = Path(__file__).resolve().parent
TEMPLATE_DIR = _HERE / "templates"
STATIC_DIR = _HERE / "static"


@dataclass(slots=True, frozen=True)
class NavItem:
    """An entry of the navigation: ``href`` is active for itself and the paths below it."""

    label: str
    href: str
    order: int = 100
    count_url: str | None = None
    """A fragment to show beside the label (a count), asked for once the page is loaded."""


def _time(ms: int | None) -> str:
    """Epoch ms as ``2026-12-04 10:15:02 UTC``; an em dash for none."""
    if ms is None:
        return "—"
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _iso(ms: int | None) -> str:
    return "" if ms is None else dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat()


def _ago(ms: int | None, now: int) -> str:
    """How long ago, in the largest whole unit: ``5 min ago``; ``never`` for none."""
    if ms is None:
        return "never"
    seconds = max(0, (now - ms) // 1000)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return f"{seconds} s ago"


class Templates:
    """The environment, the navigation, and ``render``."""

    def __init__(self, *, tile_url: str | None = None) -> None:
        self.env = Environment(
            loader=FileSystemLoader(TEMPLATE_DIR),
            autoescape=select_autoescape(default=True, default_for_string=True),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["time"] = _time
        self.env.filters["iso"] = _iso
        self.env.globals["ago"] = _ago
        self.env.globals["static"] = lambda path: f"/console/static/{path}?v={__version__}"
        self.env.globals["version"] = __version__
        self.nav: list[NavItem] = []
        images = "'self' data:"
        if tile_url:
            parts = urlsplit(tile_url.replace("{s}", "a"))
            origin = f"{parts.scheme}://{parts.netloc}"
            if "{s}" in tile_url:  # Leaflet's subdomains a, b, c
                origin = f"{parts.scheme}://*.{parts.netloc.split('.', 1)[-1]}"
            images += f" {origin}"
        self.csp = (
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            f"img-src {images}; connect-src 'self'; frame-ancestors 'none'; "
            "base-uri 'self'; form-action 'self'; object-src 'none'"
        )

    def add_nav(self, item: NavItem) -> None:
        self.nav.append(item)
        self.nav.sort(key=lambda n: (n.order, n.label))

    def headers(self) -> dict[str, str]:
        return {
            "content-security-policy": self.csp,
            "x-frame-options": "DENY",
            "x-content-type-options": "nosniff",
            "referrer-policy": "same-origin",
            "cache-control": "no-store",
        }

    def render(
        self,
        request: Request,
        name: str,
        values: Mapping[str, Any] | None = None,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> HTMLResponse:
        """``name`` rendered with ``values``, the request, the navigation and the session
        (``request.state.session`` when the page has one: the layout then shows the user,
        the logout button, and sends the CSRF token with every htmx request)."""
        session = getattr(request.state, "session", None)
        body = self.env.get_template(name).render(
            request=request,
            path=request.url.path,
            nav=self.nav,
            session=session,
            csrf=session.csrf if session is not None else "",
            **(values or {}),
        )
        answer = HTMLResponse(body, status_code=status, headers=self.headers())
        for key, value in (headers or {}).items():
            answer.headers[key] = value
        return answer
