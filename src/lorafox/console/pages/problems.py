"""``/console/problems``: the failures a user must diagnose, one page per kind.

``/console/problems`` counts those of the last 24 hours (their sum is the navigation's badge,
``/console/problems/count``); ``/console/problems/{kind}`` lists each newest first,
filterable by device (``?device=``): rejected MQTT downlink requests
(``downlinks``), failing topic rules (``rules``: also each rule's last action errors on this
instance, with the message's topic) and refused registrations (``registrations``: a
DEVICE_MANAGER registers the device from the list). The pages call ``Problems`` (and, for the
rules, ``TopicRules``; to register, ``Devices.create``) with the session's user, as the API
does.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import Path, Query, Request
from starlette.responses import RedirectResponse, Response

from lorafox.auth import rbac
from lorafox.console.context import Cx, Session, can_operate, page_router
from lorafox.console.forms import Form, FormErrors
from lorafox.console.pages.devices import operable_types
from lorafox.console.templating import NavItem
from lorafox.devices import DeviceLine, ProblemKind
from lorafox.devices.problems import Problem
from lorafox.domain import Principal
from lorafox.errors import Conflict, Forbidden, InvalidInput

__all__ = ["NAV", "PROBLEMS_SHOWN", "TITLES", "router"]

NAV = NavItem("Problems", "/console/problems", order=50, count_url="/console/problems/count")
PROBLEMS_SHOWN = 50
"""The newest problems a page lists."""
DAY_MS = 24 * 3600 * 1000
TITLES = {
    ProblemKind.DOWNLINKS: "Rejected downlinks",
    ProblemKind.RULES: "Rule errors",
    ProblemKind.REGISTRATIONS: "Refused registrations",
}
ABOUT = {
    ProblemKind.DOWNLINKS: "MQTT downlink requests refused (each answered on …/rejected).",
    ProblemKind.RULES: "Topic rules whose actions keep failing.",
    ProblemKind.REGISTRATIONS: "Callbacks of devices that are not registered, refused.",
}

router = page_router()

Kind = Annotated[ProblemKind, Path()]
DeviceFilter = Annotated[str, Query(max_length=32)]
NamedDevice = Annotated[str, Query(pattern="^[0-9A-Fa-f]{0,16}$")]
"""A device id the page names (the one just registered, the one to register)."""


@router.get("/console/problems")
async def overview(request: Request, cx: Cx, session: Session) -> Response:
    since = int(time.time() * 1000) - DAY_MS
    counts = await cx.api.devices.problems.counts(session.principal, since)
    return cx.templates.render(
        request, "problems/overview.html", {"counts": counts, "titles": TITLES, "about": ABOUT}
    )


@router.get("/console/problems/count")
async def count(request: Request, cx: Cx, session: Session) -> Response:
    """The navigation's badge: the problems of the last 24 hours (nothing when there is none)."""
    since = int(time.time() * 1000) - DAY_MS
    total = sum((await cx.api.devices.problems.counts(session.principal, since)).values())
    return cx.templates.render(request, "problems/_count.html", {"total": total})


def _rule_errors(cx: Cx, names: list[str], device: str) -> list[dict[str, Any]]:
    """The last action errors of the rules ``names`` kept by this instance, newest first (of
    ``device``'s messages only, when given: its id is a level of their topic)."""
    if cx.api.rules is None:
        return []
    found = []
    for name in names:
        for error in cx.api.rules.engine.stats_of(name).last_errors:
            levels = str(error.get("topic", "")).lower().split("/")
            if device and device.lower() not in levels:
                continue
            found.append({"rule": name, **error})
    found.sort(key=lambda e: e.get("time", 0), reverse=True)
    return found[:PROBLEMS_SHOWN]


async def _listing(
    request: Request,
    cx: Cx,
    principal: Principal,
    kind: ProblemKind,
    device: str,
    *,
    errors: FormErrors | None = None,
    typed: dict[str, str] | None = None,
    notice: str = "",
    register: str = "",
    status: int = 200,
) -> Response:
    filter_errors = FormErrors()
    problems: list[Problem] = []
    more = False
    try:
        problems, more = await cx.api.devices.problems.newest(
            principal, kind, device=device.strip() or None, limit=PROBLEMS_SHOWN
        )
    except InvalidInput as exc:
        filter_errors.add("device", f"device: {exc.message}")
        status = 400
    rule_errors: list[dict[str, Any]] = []
    if kind is ProblemKind.RULES and cx.api.rules is not None and not filter_errors:
        rules = await cx.api.rules.list_rules(principal)
        rule_errors = _rule_errors(cx, [r.name for r in rules], device.strip())
    since = int(time.time() * 1000) - DAY_MS
    values = {
        "kind": kind,
        "titles": TITLES,
        "counts": await cx.api.devices.problems.counts(principal, since),
        "problems": problems,
        "more": more,
        "device": device,
        "filter_errors": filter_errors,
        "rule_errors": rule_errors,
        "types": await operable_types(cx, principal) if kind is ProblemKind.REGISTRATIONS else [],
        "errors": errors or FormErrors(),
        "typed": typed or {},
        "notice": notice,
        "register": register,
    }
    return cx.templates.render(request, "problems/list.html", values, status=status)


@router.get("/console/problems/{kind}")
async def problem_list(
    request: Request,
    cx: Cx,
    session: Session,
    kind: Kind,
    device: DeviceFilter = "",
    registered: NamedDevice = "",
    register: NamedDevice = "",
) -> Response:
    notice = f"Device {registered} is registered." if registered else ""
    return await _listing(
        request, cx, session.principal, kind, device, notice=notice, register=register
    )


@router.post("/console/problems/registrations/register")
async def register(request: Request, cx: Cx, session: Session, form: Form) -> Response:
    """Register a device that was refused, in a device type the user may add devices to."""
    principal = session.principal
    if not can_operate(principal):
        raise Forbidden(f"{rbac.OPERATE.label} is needed to register a device")
    typed = {name: form.get(name).strip() for name in ("id", "pac", "name", "deviceTypeId")}
    errors = FormErrors()
    if not typed["deviceTypeId"]:
        errors.add("deviceTypeId", "deviceTypeId: choose the device type")
    else:
        line = DeviceLine(
            line=1,
            id=typed["id"],
            pac=typed["pac"],
            name=typed["name"] or typed["id"],
            device_type_id=typed["deviceTypeId"],
        )
        try:
            device = await cx.api.devices.devices.create(principal, line)
        except InvalidInput as exc:
            errors.add_error(exc, ("id", "pac", "name", "deviceTypeId"))
        except Conflict as exc:  # the id is taken meanwhile
            errors.add("id", exc.message)
        else:
            return RedirectResponse(
                f"/console/problems/registrations?registered={device.id}", status_code=303
            )
    return await _listing(
        request,
        cx,
        principal,
        ProblemKind.REGISTRATIONS,
        "",
        errors=errors,
        typed=typed,
        status=400,
    )
