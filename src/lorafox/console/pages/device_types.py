"""``/console/device-types``: the device types the user sees, and the form that makes or
changes one, with a live decode preview.

The preview (``/console/device-types/preview``, an htmx GET as the payload format is typed)
compiles the format as saving it would and decodes the type's devices' last messages with it
(``decoding.preview``): nothing is stored until the form is saved. The form posts to the same
use cases as the API (``DeviceTypes.create``/``update``) with the session's user; a refused
value is shown next to its field.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Query, Request
from starlette.responses import RedirectResponse, Response

from lorafox.console.context import Cx, Session, can_operate, page_router
from lorafox.console.forms import Form, FormData, FormErrors
from lorafox.console.templating import NavItem
from lorafox.decoding.preview import preview
from lorafox.devices import DeviceTypeChanges
from lorafox.devices.validation import PAYLOAD_CONFIG_MAX
from lorafox.domain import DeviceType, DownlinkMode, PayloadType, Principal
from lorafox.errors import Forbidden, InvalidInput

__all__ = ["NAV", "PREVIEW_MESSAGES", "router"]

NAV = NavItem("Device types", "/console/device-types", order=20)
PREVIEW_MESSAGES = 10
"""The type's last messages the preview decodes."""
_MAX_TYPES = 1000
_MAX_GROUPS = 1000

router = page_router()

PAYLOAD_TYPES = [
    (str(int(PayloadType.REGULAR)), "Regular (raw hex)"),
    (str(int(PayloadType.CUSTOM_GRAMMAR)), "Custom grammar"),
    (str(int(PayloadType.STRING)), "String (ASCII text)"),
]
DOWNLINK_MODES = [
    (str(int(DownlinkMode.DIRECT)), "DIRECT (the template below)"),
    (str(int(DownlinkMode.CALLBACK)), "CALLBACK (the downlink callback, or the queue)"),
    (str(int(DownlinkMode.NONE)), "NONE (the queue)"),
]
FIELDS = (
    "name",
    "description",
    "groupId",
    "keepAlive",
    "alertEmail",
    "downlinkMode",
    "downlinkDataString",
    "payloadType",
    "payloadConfig",
)
"""The form's fields, named as the API (and the use cases' errors) name them."""


def _values(t: DeviceType | None) -> dict[str, str]:
    """The form's values for ``t`` (a new type's defaults without one)."""
    if t is None:
        return {"keepAlive": "0", "downlinkMode": "2", "payloadType": "2"}
    return {
        "name": t.name,
        "description": t.description,
        "groupId": t.group_id,
        "keepAlive": str(t.keep_alive),
        "alertEmail": t.alert_email or "",
        "downlinkMode": str(int(t.downlink_mode)),
        "downlinkDataString": t.downlink_data or "",
        "payloadType": str(int(t.payload_type)),
        "payloadConfig": t.payload_config or "",
    }


def _number(form: FormData, name: str, errors: FormErrors) -> int | None:
    text = form.get(name).strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        errors.add(name, f"{name}: a whole number")
        return None


def _changes(form: FormData, errors: FormErrors) -> DeviceTypeChanges:
    """The form as the use case's changes (numbers that are none reported in ``errors``)."""
    return DeviceTypeChanges(
        name=form.get("name").strip(),
        description=form.get("description"),
        keep_alive=_number(form, "keepAlive", errors),
        alert_email=form.get("alertEmail").strip(),
        downlink_mode=_number(form, "downlinkMode", errors),
        downlink_data=form.get("downlinkDataString").strip() or None,
        payload_type=_number(form, "payloadType", errors),
        payload_config=form.get("payloadConfig").strip() or None,
    )


async def _groups(cx: Cx, principal: Principal) -> list[tuple[str, str]]:
    """(id, name) of the groups where the user may make a device type."""
    found = await cx.api.identity.groups.list(principal, deep=True, limit=_MAX_GROUPS)
    return sorted(
        ((g.id, g.name or "(root)") for g in found if can_operate(principal, g.path)),
        key=lambda p: p[1].lower(),
    )


@router.get("/console/device-types")
async def device_type_list(request: Request, cx: Cx, session: Session) -> Response:
    principal = session.principal
    types = await cx.api.devices.types.list(principal, group_ids=[], limit=_MAX_TYPES)
    groups = await cx.api.identity.groups.by_id(principal, {t.group_id for t in types})
    values = {
        "types": sorted(types, key=lambda t: t.name.lower()),
        "group_names": {k: g.name or "(root)" for k, g in groups.items()},
        "payload_names": dict(PAYLOAD_TYPES),
        "mode_names": {k: v.split(" ")[0] for k, v in DOWNLINK_MODES},
        "editable": can_operate(principal),
    }
    return cx.templates.render(request, "device_types/list.html", values)


async def _form_page(
    request: Request,
    cx: Cx,
    principal: Principal,
    found: DeviceType | None,
    values: dict[str, str],
    errors: FormErrors,
    *,
    status: int = 200,
    notice: str = "",
) -> Response:
    editable = can_operate(principal) if found is None else await _may_change(cx, principal, found)
    shown = await _preview(cx, principal, found, values)
    page = {
        "t": found,
        "v": values,
        "errors": errors,
        "editable": editable,
        "groups": await _groups(cx, principal) if found is None else [],
        "payload_types": PAYLOAD_TYPES,
        "downlink_modes": DOWNLINK_MODES,
        "config_max": PAYLOAD_CONFIG_MAX,
        "notice": notice,
        **shown,
    }
    return cx.templates.render(request, "device_types/form.html", page, status=status)


async def _may_change(cx: Cx, principal: Principal, t: DeviceType) -> bool:
    groups = await cx.api.identity.groups.by_id(principal, [t.group_id])
    group = groups.get(t.group_id)
    return group is not None and can_operate(principal, group.path)


async def _preview(
    cx: Cx, principal: Principal, found: DeviceType | None, values: dict[str, str]
) -> dict[str, Any]:
    """The preview's values: the format tried on the type's last messages."""
    messages = []
    if found is not None:
        record = await cx.api.devices.history.device_type(principal, found.id)
        messages = await record.messages(limit=PREVIEW_MESSAGES)
    try:
        payload_type = int(values.get("payloadType") or 2)
    except ValueError:
        payload_type = -1
    return {
        "preview": preview(payload_type, values.get("payloadConfig"), messages),
        "has_type": found is not None,
    }


@router.get("/console/device-types/new")
async def new_form(request: Request, cx: Cx, session: Session) -> Response:
    if not can_operate(session.principal):
        raise Forbidden("DEVICE_MANAGER is needed to make a device type")
    return await _form_page(request, cx, session.principal, None, _values(None), FormErrors())


@router.post("/console/device-types/new")
async def create(request: Request, cx: Cx, session: Session, form: Form) -> Response:
    principal = session.principal
    if not can_operate(principal):
        raise Forbidden("DEVICE_MANAGER is needed to make a device type")
    errors = FormErrors()
    changes = _changes(form, errors)
    values = {name: form.get(name) for name in FIELDS}
    if not errors:
        try:
            made = await cx.api.devices.types.create(
                principal, form.get("groupId") or None, changes
            )
        except InvalidInput as exc:
            errors.add_error(exc, FIELDS)
        else:
            return RedirectResponse(f"/console/device-types/{made.id}?saved=1", status_code=303)
    return await _form_page(request, cx, principal, None, values, errors, status=400)


@router.get("/console/device-types/preview")
async def decode_preview(
    request: Request,
    cx: Cx,
    session: Session,
    payload_type: Annotated[str, Query(alias="payloadType", max_length=4)] = "2",
    payload_config: Annotated[
        str, Query(alias="payloadConfig", max_length=PAYLOAD_CONFIG_MAX)
    ] = "",
    type_id: Annotated[str, Query(alias="id", max_length=64)] = "",
) -> Response:
    """The preview alone (htmx swaps it in as the format is typed)."""
    found = await cx.api.devices.types.get(session.principal, type_id) if type_id else None
    values = {"payloadType": payload_type, "payloadConfig": payload_config}
    shown = await _preview(cx, session.principal, found, values)
    return cx.templates.render(request, "device_types/_preview.html", shown)


@router.get("/console/device-types/{device_type_id}")
async def edit_form(
    request: Request,
    cx: Cx,
    session: Session,
    device_type_id: str,
    saved: Annotated[str, Query(max_length=1)] = "",
) -> Response:
    found = await cx.api.devices.types.get(session.principal, device_type_id)
    return await _form_page(
        request,
        cx,
        session.principal,
        found,
        _values(found),
        FormErrors(),
        notice="Saved." if saved else "",
    )


@router.post("/console/device-types/{device_type_id}")
async def update(
    request: Request, cx: Cx, session: Session, device_type_id: str, form: Form
) -> Response:
    principal = session.principal
    found = await cx.api.devices.types.get(principal, device_type_id)
    if not await _may_change(cx, principal, found):
        raise Forbidden("DEVICE_MANAGER is needed to change this device type")
    errors = FormErrors()
    changes = _changes(form, errors)
    values = {name: form.get(name) for name in FIELDS} | {"groupId": found.group_id}
    if not errors:
        try:
            await cx.api.devices.types.update(principal, found.id, changes)
        except InvalidInput as exc:
            errors.add_error(exc, FIELDS)
        else:
            return RedirectResponse(f"/console/device-types/{found.id}?saved=1", status_code=303)
    return await _form_page(request, cx, principal, found, values, errors, status=400)
