"""``/console/device-types/{id}/callbacks``: a device type's callbacks, their form, the
downlink callback, and the deliveries not made with a retry button each.

The pages call ``DeviceTypeCallbacks`` (create, update, enable, select_downlink, delete) and
``NotDelivered`` (listing, ``retry_one``) with the session's user, as the API does. A callback's
type and subtype are one choice here (``0:2`` is DATA UPLINK, ``2:`` ERROR); its headers are
typed one per line as ``Name: value``.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

from fastapi import Path, Request
from starlette.responses import RedirectResponse, Response

from lorafox.callbacks import CallbackChanges
from lorafox.console.context import Cx, Session, can_operate, page_router
from lorafox.console.forms import Form, FormData, FormErrors
from lorafox.domain import Callback, CallbackChannel, CallbackType, DeviceType, Principal
from lorafox.errors import Forbidden, InvalidInput, NotFound
from lorafox.ports.callbacks import DeliveryQuery

__all__ = ["KINDS", "NOT_DELIVERED_SHOWN", "router"]

NOT_DELIVERED_SHOWN = 50
"""The newest deliveries not made that the page lists."""

router = page_router()

_BASE = "/console/device-types/{device_type_id}/callbacks"
KINDS = [
    ("0:2", "DATA UPLINK"),
    ("0:3", "DATA BIDIR"),
    ("1:0", "SERVICE STATUS"),
    ("1:4", "SERVICE ACKNOWLEDGE"),
    ("1:6", "SERVICE DATA_ADVANCED"),
    ("2:", "ERROR"),
]
CHANNELS = [(c.value, c.value) for c in CallbackChannel]
METHODS = [("POST", "POST"), ("PUT", "PUT"), ("GET", "GET")]
FIELDS = (
    "channel",
    "kind",
    "url",
    "httpMethod",
    "headers",
    "contentType",
    "bodyTemplate",
    "linePattern",
    "recipient",
    "subject",
    "message",
)
_ERROR_FIELDS = {"callbackType": "kind", "callbackSubtype": "kind"}
TypeId = Annotated[str, Path(max_length=64)]
DeliveryId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _kind_of(c: Callback) -> str:
    if c.callback_type is CallbackType.ERROR:
        return "2:"
    return f"{int(c.callback_type)}:{int(c.callback_subtype)}"


def _values(c: Callback | None) -> dict[str, Any]:
    if c is None:
        return {"channel": "URL", "kind": "0:2", "httpMethod": "POST", "enabled": True}
    return {
        "channel": c.channel.value,
        "kind": _kind_of(c),
        "url": c.url,
        "httpMethod": c.http_method,
        "headers": "\n".join(f"{k}: {v}" for k, v in c.headers.items()),
        "contentType": c.content_type or "",
        "bodyTemplate": c.body_template or "",
        "linePattern": c.line_pattern or "",
        "recipient": c.recipient or "",
        "subject": c.subject or "",
        "message": c.message or "",
        "enabled": c.enabled,
        "sendDuplicate": c.send_duplicate,
    }


def _headers(text: str, errors: FormErrors) -> dict[str, str]:
    found = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip():
            errors.add("headers", f"headers: line {number} is not 'Name: value'")
            continue
        found[name.strip()] = value.strip()
    return found


def _changes(form: FormData, errors: FormErrors, *, new: bool) -> CallbackChanges:
    """The form as the use case's changes (a new callback's channel and kind too)."""
    channel = kind = subtype = None
    if new:
        channel = form.get("channel")
        kind_text, _, subtype_text = form.get("kind").partition(":")
        try:
            kind = int(kind_text)
            subtype = int(subtype_text) if subtype_text else None
        except ValueError:
            errors.add("kind", "choose the callback's type")
    email = (channel or form.get("channel")) == CallbackChannel.EMAIL.value
    return CallbackChanges(
        channel=channel,
        callback_type=kind,
        callback_subtype=subtype,
        url=None if email else form.get("url").strip(),
        http_method=None if email else form.get("httpMethod") or None,
        enabled=form.flag("enabled"),
        send_duplicate=form.flag("sendDuplicate"),
        headers=None if email else _headers(form.get("headers"), errors),
        content_type=form.get("contentType").strip() or None,
        body_template=form.get("bodyTemplate") or None,
        line_pattern=form.get("linePattern") or None,
        recipient=form.get("recipient").strip() or None if email else None,
        subject=form.get("subject") or None if email else None,
        message=form.get("message") or None if email else None,
    )


async def _editable(cx: Cx, principal: Principal, t: DeviceType) -> bool:
    groups = await cx.api.identity.groups.by_id(principal, [t.group_id])
    group = groups.get(t.group_id)
    return group is not None and can_operate(principal, group.path)


@router.get(_BASE)
async def callback_list(
    request: Request, cx: Cx, session: Session, device_type_id: TypeId, done: str = ""
) -> Response:
    principal = session.principal
    t = await cx.api.devices.types.get(principal, device_type_id)
    query = DeliveryQuery(limit=NOT_DELIVERED_SHOWN)
    values = {
        "t": t,
        "callbacks": await cx.api.callbacks.list(principal, t.id),
        "kind_names": dict(KINDS),
        "kind_of": _kind_of,
        "failures": await cx.api.not_delivered.of_device_type(principal, t.id, query),
        "editable": await _editable(cx, principal, t),
        "now": int(time.time() * 1000),
        "notice": {
            "retried": "The delivery will be attempted again now.",
            "saved": "Saved.",
            "deleted": "The callback is deleted.",
        }.get(done, ""),
    }
    return cx.templates.render(request, "callbacks/list.html", values)


async def _form(
    request: Request,
    cx: Cx,
    t: DeviceType,
    found: Callback | None,
    values: dict[str, Any],
    errors: FormErrors,
    *,
    status: int = 200,
) -> Response:
    page = {
        "t": t,
        "c": found,
        "v": values,
        "errors": errors,
        "kinds": KINDS,
        "kind_names": dict(KINDS),
        "channels": CHANNELS,
        "methods": METHODS,
    }
    return cx.templates.render(request, "callbacks/form.html", page, status=status)


async def _changeable(cx: Cx, principal: Principal, device_type_id: str) -> DeviceType:
    t = await cx.api.devices.types.get(principal, device_type_id)
    if not await _editable(cx, principal, t):
        raise Forbidden("DEVICE_MANAGER is needed to change this device type's callbacks")
    return t


@router.get(_BASE + "/new")
async def new_form(request: Request, cx: Cx, session: Session, device_type_id: TypeId) -> Response:
    t = await _changeable(cx, session.principal, device_type_id)
    return await _form(request, cx, t, None, _values(None), FormErrors())


def _typed(form: FormData) -> dict[str, Any]:
    return {name: form.get(name) for name in FIELDS} | {
        "enabled": form.flag("enabled"),
        "sendDuplicate": form.flag("sendDuplicate"),
    }


def _add(errors: FormErrors, exc: InvalidInput) -> None:
    field = _ERROR_FIELDS.get(exc.field or "", exc.field)
    errors.add(field if field in FIELDS else "", exc.message)


@router.post(_BASE + "/new")
async def create(
    request: Request, cx: Cx, session: Session, device_type_id: TypeId, form: Form
) -> Response:
    t = await _changeable(cx, session.principal, device_type_id)
    errors = FormErrors()
    changes = _changes(form, errors, new=True)
    if not errors:
        try:
            await cx.api.callbacks.create(session.principal, t.id, changes)
        except InvalidInput as exc:
            _add(errors, exc)
        else:
            return RedirectResponse(_BASE.format(device_type_id=t.id) + "?done=saved", 303)
    return await _form(request, cx, t, None, _typed(form), errors, status=400)


async def _callback(cx: Cx, principal: Principal, t: DeviceType, callback_id: str) -> Callback:
    for c in await cx.api.callbacks.list(principal, t.id):
        if c.id == callback_id:
            return c
    raise NotFound("callback not found")


@router.get(_BASE + "/{callback_id}")
async def edit_form(
    request: Request, cx: Cx, session: Session, device_type_id: TypeId, callback_id: str
) -> Response:
    t = await _changeable(cx, session.principal, device_type_id)
    found = await _callback(cx, session.principal, t, callback_id)
    return await _form(request, cx, t, found, _values(found), FormErrors())


@router.post(_BASE + "/{callback_id}")
async def update(
    request: Request,
    cx: Cx,
    session: Session,
    device_type_id: TypeId,
    callback_id: str,
    form: Form,
) -> Response:
    t = await _changeable(cx, session.principal, device_type_id)
    found = await _callback(cx, session.principal, t, callback_id)
    errors = FormErrors()
    form_values = FormData({**form.fields, "channel": [found.channel.value]})
    changes = _changes(form_values, errors, new=False)
    if not errors:
        try:
            await cx.api.callbacks.update(session.principal, t.id, found.id, changes)
        except InvalidInput as exc:
            _add(errors, exc)
        else:
            return RedirectResponse(_BASE.format(device_type_id=t.id) + "?done=saved", 303)
    values = _typed(form_values) | {"kind": _kind_of(found)}
    return await _form(request, cx, t, found, values, errors, status=400)


@router.post(_BASE + "/{callback_id}/enable")
async def enable(
    cx: Cx, session: Session, device_type_id: TypeId, callback_id: str, form: Form
) -> Response:
    t = await _changeable(cx, session.principal, device_type_id)
    await cx.api.callbacks.enable(session.principal, t.id, callback_id, form.flag("enabled"))
    return RedirectResponse(_BASE.format(device_type_id=t.id) + "?done=saved", 303)


@router.post(_BASE + "/{callback_id}/downlink")
async def downlink(cx: Cx, session: Session, device_type_id: TypeId, callback_id: str) -> Response:
    t = await _changeable(cx, session.principal, device_type_id)
    await cx.api.callbacks.select_downlink(session.principal, t.id, callback_id)
    return RedirectResponse(_BASE.format(device_type_id=t.id) + "?done=saved", 303)


@router.post(_BASE + "/{callback_id}/delete")
async def delete(cx: Cx, session: Session, device_type_id: TypeId, callback_id: str) -> Response:
    t = await _changeable(cx, session.principal, device_type_id)
    await cx.api.callbacks.delete(session.principal, t.id, callback_id)
    return RedirectResponse(_BASE.format(device_type_id=t.id) + "?done=deleted", 303)


@router.post(_BASE + "/not-delivered/{delivery_id}/retry")
async def retry(
    cx: Cx, session: Session, device_type_id: TypeId, delivery_id: DeliveryId
) -> Response:
    t = await _changeable(cx, session.principal, device_type_id)
    await cx.api.not_delivered.retry_one(session.principal, t.id, delivery_id)
    return RedirectResponse(_BASE.format(device_type_id=t.id) + "?done=retried", 303)
