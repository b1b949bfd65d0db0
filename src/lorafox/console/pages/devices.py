"""``/console/devices``: the devices the user sees, filtered, sorted and paged, and the bulk
actions on those ticked (move to a device type, delete).

The filter form is a plain GET form: it works without script, and with htmx it replaces only
the table (``hx-get``, the URL kept in the address bar). The list is the API's use case
(``Devices.list``) called with the session's user, so the same groups are visible.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode

from fastapi import Depends, Query, Request
from starlette.responses import RedirectResponse, Response

from lorafox.console.context import Cx, Session, can_operate, page_router
from lorafox.console.errors import is_htmx
from lorafox.console.forms import Form, FormErrors
from lorafox.console.templating import NavItem
from lorafox.devices import DeviceChanges
from lorafox.domain import Device, Principal
from lorafox.errors import Forbidden, InvalidInput, LorafoxError, NotFound

__all__ = ["NAV", "PAGE_SIZE", "operable_types", "router"]

NAV = NavItem("Devices", "/console/devices", order=10)
PAGE_SIZE = 50
_MAX_CHOICES = 1000
"""Device types and groups offered in the filters' lists."""

router = page_router()

_SEEN: dict[str, tuple[str, int, bool]] = {
    "1h": ("in the last hour", 3600, True),
    "24h": ("in the last 24 hours", 86400, True),
    "7d": ("in the last 7 days", 7 * 86400, True),
    "silent24h": ("not in the last 24 hours", 86400, False),
    "silent7d": ("not in the last 7 days", 7 * 86400, False),
}
"""last seen filter → (its label, the window in seconds, heard within it or not)"""

_SORTS = ("id", "-id", "name", "-name", "lastCom", "-lastCom")
COLUMNS = (
    ("id", "Id"),
    ("name", "Name"),
    ("type", "Device type"),
    ("group", "Group"),
    ("state", "State"),
    ("lastCom", "Last seen"),
    ("seq", "Sequence number"),
    ("created", "Created"),
)
"""(key, header) of the table's columns; the column chooser hides any of them."""


@dataclass(slots=True, frozen=True)
class Filters:
    """The query of the list, as the form sends it."""

    id: str = ""
    name: str = ""
    type: str = ""
    group: str = ""
    state: str = ""
    seen: str = ""
    sort: str = "id"
    page: int = 1

    def query(self, **changes: Any) -> str:
        """The list's URL query with ``changes`` (empty values left out)."""
        values = {
            "id": self.id,
            "name": self.name,
            "type": self.type,
            "group": self.group,
            "state": self.state,
            "seen": self.seen,
            "sort": self.sort,
            "page": self.page,
        }
        values.update(changes)
        kept = {k: v for k, v in values.items() if v not in ("", None, 1, "id")}
        return urlencode(kept)

    def sorted_by(self, column: str) -> str:
        """The ``sort`` a click on ``column``'s header asks for (the reverse when sorted by it)."""
        return f"-{column}" if self.sort == column else column

    def direction(self, column: str) -> str:
        """``aria-sort`` of ``column``'s header."""
        if self.sort == column:
            return "ascending"
        if self.sort == f"-{column}":
            return "descending"
        return "none"


Text = Annotated[str, Query(max_length=200)]


def _filters(
    id: Text = "",
    name: Text = "",
    type: Text = "",
    group: Text = "",
    state: Text = "",
    seen: Text = "",
    sort: Text = "id",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Filters:
    return Filters(
        id.strip(),
        name.strip(),
        type,
        group,
        state if state in {"active", "inactive"} else "",
        seen if seen in _SEEN else "",
        sort if sort in _SORTS else "id",
        page,
    )


async def _choices(cx: Cx, principal: Principal) -> tuple[list[Any], list[Any]]:
    """(device types, groups) the user sees, as (id, label) pairs for the filters."""
    types = await cx.api.devices.types.list(principal, group_ids=[], limit=_MAX_CHOICES)
    groups = await cx.api.identity.groups.list(principal, deep=True, limit=_MAX_CHOICES)
    return (
        sorted(((t.id, t.name) for t in types), key=lambda p: p[1].lower()),
        sorted(((g.id, g.name) for g in groups), key=lambda p: p[1].lower()),
    )


async def _devices(
    cx: Cx, principal: Principal, f: Filters, errors: FormErrors
) -> tuple[list[Device], bool]:
    """The page of devices and whether there is a next one; a bad filter is reported in
    ``errors`` and gives no device."""
    now = int(time.time() * 1000)
    seen_since = silent_since = None
    if f.seen:
        _, window, heard = _SEEN[f.seen]
        if heard:
            seen_since = now - window * 1000
        else:
            silent_since = now - window * 1000
    try:
        found = await cx.api.devices.devices.list(
            principal,
            group_ids=[f.group] if f.group else [],
            device_type_id=f.type or None,
            ids=[f.id] if f.id else [],
            name=f.name or None,
            activable={"active": True, "inactive": False}.get(f.state),
            seen_since=seen_since,
            silent_since=silent_since,
            sort=f.sort,
            limit=PAGE_SIZE + 1,
            offset=(f.page - 1) * PAGE_SIZE,
        )
    except InvalidInput as exc:
        errors.add_error(exc, ("id", "name"))
        return [], False
    except NotFound:
        return [], False  # a type or group gone meanwhile: nothing matches
    return found[:PAGE_SIZE], len(found) > PAGE_SIZE


@router.get("/console/devices")
async def device_list(
    request: Request,
    cx: Cx,
    session: Session,
    f: Annotated[Filters, Depends(_filters)],
    done: Annotated[str, Query(max_length=40)] = "",
    count: Annotated[int, Query(ge=0)] = 0,
    failed: Annotated[int, Query(ge=0)] = 0,
) -> Response:
    principal = session.principal
    errors = FormErrors()
    shown, more = await _devices(cx, principal, f, errors)
    types, groups = await _choices(cx, principal)
    values = {
        "f": f,
        "devices": shown,
        "more": more,
        "errors": errors,
        "types": types,
        "type_names": dict(types),
        "groups": groups,
        "group_names": dict(groups),
        "seen_choices": [(k, v[0]) for k, v in _SEEN.items()],
        "columns": COLUMNS,
        "editable": can_operate(principal),
        "now": int(time.time() * 1000),
        "notice": _notice(done, count, failed),
        "import_types": await operable_types(cx, principal),
    }
    if is_htmx(request) and request.headers.get("hx-target") == "device-table":
        return cx.templates.render(request, "devices/_table.html", values)
    return cx.templates.render(request, "devices/list.html", values)


async def operable_types(cx: Cx, principal: Principal) -> list[tuple[str, str]]:
    """The device types the user may add devices to (DEVICE_MANAGER), as (id, name)."""
    if not can_operate(principal):
        return []
    found = await cx.api.devices.types.list(principal, group_ids=[], limit=_MAX_CHOICES)
    groups = await cx.api.identity.groups.by_id(principal, {t.group_id for t in found})
    return sorted(
        (
            (t.id, t.name)
            for t in found
            if t.group_id in groups and can_operate(principal, groups[t.group_id].path)
        ),
        key=lambda p: p[1].lower(),
    )


def _notice(done: str, count: int, failed: int) -> str:
    """The line a bulk action leaves on the list it redirects to."""
    if done not in {"moved", "deleted"}:
        return ""
    text = f"{count} device{'s' if count != 1 else ''} {done}."
    if failed:
        text += f" {failed} could not be: you may not change them, or they are gone."
    return text


@router.post("/console/devices/bulk")
async def bulk(request: Request, cx: Cx, session: Session, form: Form) -> Response:
    """Move the ticked devices to a device type, or delete them; each is checked by the use
    case (a device the user may not change is counted as failed)."""
    if not can_operate(session.principal):
        raise Forbidden("DEVICE_MANAGER is needed to change devices")
    action = form.get("action")
    ids = form.all("ids")[: PAGE_SIZE * 20]
    target = form.get("target_type")
    if action not in {"move", "delete"}:
        raise InvalidInput("choose an action: move or delete", field="action")
    if not ids:
        raise InvalidInput("tick at least one device", field="ids")
    if action == "move" and not target:
        raise InvalidInput("choose the device type to move the devices to", field="target_type")
    done = failed = 0
    for device_id in ids:
        try:
            if action == "move":
                await cx.api.devices.devices.update(
                    session.principal, device_id, DeviceChanges(device_type_id=target)
                )
            else:
                await cx.api.devices.devices.delete(session.principal, device_id)
            done += 1
        except LorafoxError as exc:
            if isinstance(exc, InvalidInput) and exc.field not in (None, "id"):
                raise
            failed += 1
    kept = [
        (k, v) for k, v in parse_qsl(form.get("back"), max_num_fields=20) if k in Filters.__slots__
    ]
    kept += [("done", "moved" if action == "move" else "deleted"), ("count", str(done))]
    kept += [("failed", str(failed))]
    return RedirectResponse(f"/console/devices?{urlencode(kept)}", status_code=303)
