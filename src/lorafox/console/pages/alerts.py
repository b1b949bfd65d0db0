"""``/console/alerts``: the alert subscriptions the session's user sees; where it is
DEVICE_MANAGER, their form (name, group, events, an optional device, emails and apprise URLs one
per line, digest and rate), a test button and a delete button.

The pages call ``AlertSubscriptions`` (list, get, create, update, test, delete) with the
session's user, as the API does; what a VIEWER sees of an alert is what the API shows it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request
from starlette.responses import RedirectResponse, Response

from lorafox.alerts import ALERT_EVENTS, AlertChanges
from lorafox.auth import rbac
from lorafox.console.context import (
    Cx,
    Session,
    can_operate,
    group_choices,
    page_router,
    visible_groups,
)
from lorafox.console.forms import Form, FormData, FormErrors
from lorafox.console.templating import NavItem
from lorafox.domain import Alert, Principal
from lorafox.errors import InvalidInput

__all__ = ["NAV", "router"]

NAV = NavItem("Alerts", "/console/alerts", order=55)
FIELDS = (
    "name",
    "groupId",
    "eventTypes",
    "device",
    "emails",
    "urls",
    "digestSeconds",
    "maxPerHour",
)
EVENTS = [e.value for e in ALERT_EVENTS]

router = page_router()
AlertId = Annotated[str, Path(max_length=64)]


async def _groups(cx: Cx, principal: Principal) -> list[tuple[str, str]]:
    """The groups where ``principal`` may keep alerts (DEVICE_MANAGER there)."""
    return group_choices(await visible_groups(cx, principal), principal, rbac.OPERATE)


@router.get("/console/alerts")
async def alert_list(request: Request, cx: Cx, session: Session, done: str = "") -> Response:
    principal = session.principal
    alerts = await cx.api.alerts.list(principal)
    names = {g.id: g for g in await visible_groups(cx, principal)}
    editable = {
        a.id: a.group_id in names and can_operate(principal, names[a.group_id].path) for a in alerts
    }
    values = {
        "alerts": sorted(alerts, key=lambda a: a.name.lower()),
        "group_names": {k: g.name for k, g in names.items()},
        "editable": editable,
        "can_create": can_operate(principal),
        "notice": {"saved": "Saved.", "deleted": "The alert is deleted."}.get(done, ""),
    }
    return cx.templates.render(request, "alerts/list.html", values)


def _values(a: Alert | None) -> dict[str, Any]:
    if a is None:
        return {
            "name": "",
            "groupId": "",
            "eventTypes": [],
            "device": "",
            "emails": "",
            "urls": "",
            "digestSeconds": "60",
            "maxPerHour": "10",
            "enabled": True,
        }
    return {
        "name": a.name,
        "groupId": a.group_id,
        "eventTypes": list(a.event_types),
        "device": a.device or "",
        "emails": "\n".join(a.emails),
        "urls": "\n".join(a.urls),
        "digestSeconds": str(a.digest_seconds),
        "maxPerHour": str(a.max_per_hour),
        "enabled": a.enabled,
    }


def _typed(form: FormData) -> dict[str, Any]:
    return {name: form.get(name) for name in FIELDS} | {
        "eventTypes": form.all("eventTypes"),
        "enabled": form.flag("enabled"),
    }


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _number(form: FormData, name: str, errors: FormErrors) -> int | None:
    try:
        return int(form.get(name))
    except ValueError:
        errors.add(name, f"{name}: a whole number")
        return None


def _changes(form: FormData, errors: FormErrors, *, new: bool) -> AlertChanges:
    return AlertChanges(
        name=form.get("name").strip(),
        group_id=form.get("groupId") if new else None,
        event_types=form.all("eventTypes"),
        device=form.get("device").strip(),
        emails=_lines(form.get("emails")),
        urls=_lines(form.get("urls")),
        enabled=form.flag("enabled"),
        digest_seconds=_number(form, "digestSeconds", errors),
        max_per_hour=_number(form, "maxPerHour", errors),
    )


async def _form(
    request: Request,
    cx: Cx,
    principal: Principal,
    found: Alert | None,
    values: dict[str, Any],
    errors: FormErrors,
    *,
    status: int = 200,
) -> Response:
    page = {
        "a": found,
        "v": values,
        "errors": errors,
        "groups": await _groups(cx, principal),
        "events": EVENTS,
    }
    return cx.templates.render(request, "alerts/form.html", page, status=status)


def _add(errors: FormErrors, exc: InvalidInput) -> None:
    field = "eventTypes" if (exc.field or "").startswith("eventTypes") else exc.field
    errors.add(field if field in FIELDS else "", exc.message)


@router.get("/console/alerts/new")
async def new_form(request: Request, cx: Cx, session: Session) -> Response:
    return await _form(request, cx, session.principal, None, _values(None), FormErrors())


@router.post("/console/alerts/new")
async def create(request: Request, cx: Cx, session: Session, form: Form) -> Response:
    errors = FormErrors()
    changes = _changes(form, errors, new=True)
    if not errors:
        try:
            await cx.api.alerts.create(session.principal, changes)
        except InvalidInput as exc:
            _add(errors, exc)
        else:
            return RedirectResponse("/console/alerts?done=saved", 303)
    return await _form(request, cx, session.principal, None, _typed(form), errors, status=400)


@router.get("/console/alerts/{alert_id}")
async def edit_form(request: Request, cx: Cx, session: Session, alert_id: AlertId) -> Response:
    found = await cx.api.alerts.get(session.principal, alert_id, rbac.OPERATE)
    return await _form(request, cx, session.principal, found, _values(found), FormErrors())


@router.post("/console/alerts/{alert_id}")
async def update(
    request: Request, cx: Cx, session: Session, alert_id: AlertId, form: Form
) -> Response:
    found = await cx.api.alerts.get(session.principal, alert_id, rbac.OPERATE)
    errors = FormErrors()
    changes = _changes(form, errors, new=False)
    if not errors:
        try:
            await cx.api.alerts.update(session.principal, found.id, changes)
        except InvalidInput as exc:
            _add(errors, exc)
        else:
            return RedirectResponse("/console/alerts?done=saved", 303)
    values = _typed(form) | {"groupId": found.group_id}
    return await _form(request, cx, session.principal, found, values, errors, status=400)


@router.post("/console/alerts/{alert_id}/test")
async def test(request: Request, cx: Cx, session: Session, alert_id: AlertId) -> Response:
    result = await cx.api.alerts.test(session.principal, alert_id)
    found = await cx.api.alerts.get(session.principal, alert_id)
    return cx.templates.render(request, "alerts/tested.html", {"a": found, "r": result})


@router.post("/console/alerts/{alert_id}/delete")
async def delete(cx: Cx, session: Session, alert_id: AlertId) -> Response:
    await cx.api.alerts.delete(session.principal, alert_id)
    return RedirectResponse("/console/alerts?done=deleted", 303)
