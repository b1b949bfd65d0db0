"""A device type's callbacks as a principal sees them: list, create, change, enable, delete,
choose the downlink callback. Reading needs VIEWER on the device type's group, changing it
DEVICE_MANAGER."""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from lorafox.auth import rbac
from lorafox.callbacks.destinations import DestinationGuard
from lorafox.callbacks.templates import SUBTYPES, check_pattern, has_variables
from lorafox.devices.device_types import DeviceTypes
from lorafox.domain import (
    Callback,
    CallbackChannel,
    CallbackSubtype,
    CallbackType,
    DeviceType,
    Principal,
    new_id,
)
from lorafox.errors import Conflict, InvalidInput, NotFound
from lorafox.identity.validation import check_email, is_id
from lorafox.ports.callbacks import CallbackStore

__all__ = ["CallbackChanges", "DeviceTypeCallbacks"]

log = logging.getLogger(__name__)

MAX_CALLBACKS = 100
"""Callbacks per device type."""
MAX_HEADERS = 20
MAX_HEADER_BYTES = 1024
MAX_BODY_TEMPLATE = 16 * 1024
MAX_RECIPIENTS = 5
MAX_SUBJECT = 200
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,64}$")
_RESERVED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})
METHODS = ("GET", "POST", "PUT")


@dataclasses.dataclass(slots=True, frozen=True)
class CallbackChanges:
    """What a create or an update sets; None leaves a field as it is (or at its default)."""

    channel: str | None = None
    callback_type: int | None = None
    callback_subtype: int | None = None
    url: str | None = None
    http_method: str | None = None
    enabled: bool | None = None
    send_duplicate: bool | None = None
    send_sni: bool | None = None
    headers: dict[str, str] | None = None
    content_type: str | None = None
    body_template: str | None = None
    line_pattern: str | None = None
    recipient: str | None = None
    subject: str | None = None
    message: str | None = None


_E = TypeVar("_E", CallbackChannel, CallbackType, CallbackSubtype)


def _enum(kind: type[_E], value: Any, field: str) -> _E:
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(f"{m.value} {m.name}" if m.name != m.value else m.name for m in kind)
        raise InvalidInput(f"{field}: one of {allowed}", field=field) from None


def _check_headers(headers: dict[str, str], callback: Callback) -> None:
    if len(headers) > MAX_HEADERS:
        raise InvalidInput(f"headers: at most {MAX_HEADERS}", field="headers")
    for name, value in headers.items():
        if not _HEADER_NAME.match(name) or name.lower() in _RESERVED_HEADERS:
            raise InvalidInput(
                f"headers: {name!r} is not a header a callback may set", field="headers"
            )
        if "\r" in value or "\n" in value or len(value.encode()) > MAX_HEADER_BYTES:
            raise InvalidInput(
                f"headers: {name}'s value must be one line of at most {MAX_HEADER_BYTES} bytes",
                field="headers",
            )
        check_pattern(value, callback.callback_type, callback.callback_subtype, "headers")


def _checked(callback: Callback, guard: DestinationGuard) -> Callback:
    """``callback`` once it is one lorafox makes, with patterns using only its variables."""
    kind = callback.callback_type
    subtype: CallbackSubtype | None = callback.callback_subtype
    if kind is CallbackType.ERROR:
        subtype = None
    elif subtype not in SUBTYPES[kind]:
        names = ", ".join(f"{s.value} {s.name}" for s in SUBTYPES[kind])
        raise InvalidInput(
            f"callbackSubtype: for {kind.name} one of {names}", field="callbackSubtype"
        )
    if callback.channel is CallbackChannel.EMAIL:
        return _check_email(callback, kind, subtype)
    for name in ("recipient", "subject", "message"):
        if getattr(callback, name) is not None:
            raise InvalidInput(f"{name}: only for EMAIL callbacks", field=name)
    if callback.http_method not in METHODS:
        raise InvalidInput(f"httpMethod: one of {', '.join(METHODS)}", field="httpMethod")
    if len(callback.url) > 2048:
        raise InvalidInput("url: at most 2048 characters", field="url")
    guard.check_url(callback.url)
    if kind is not CallbackType.DATA and callback.channel is not CallbackChannel.URL:
        raise InvalidInput(f"channel: {kind.name} callbacks are URL callbacks", field="channel")
    check_pattern(callback.url, kind, subtype, "url")
    _check_headers(callback.headers, callback)
    if callback.body_template is not None:
        if len(callback.body_template) > MAX_BODY_TEMPLATE:
            raise InvalidInput(
                f"bodyTemplate: at most {MAX_BODY_TEMPLATE} characters", field="bodyTemplate"
            )
        if callback.http_method == "GET":
            raise InvalidInput("bodyTemplate: a GET callback sends no body", field="bodyTemplate")
        check_pattern(callback.body_template, kind, subtype, "bodyTemplate")
    if callback.content_type is not None and (
        len(callback.content_type) > 256 or "\n" in callback.content_type
    ):
        raise InvalidInput("contentType: one line of at most 256 characters", field="contentType")
    if callback.channel is CallbackChannel.BATCH_URL:
        _check_batch(callback)
    elif callback.line_pattern is not None:
        raise InvalidInput("linePattern: only for BATCH_URL callbacks", field="linePattern")
    if callback.downlink_hook and subtype is not CallbackSubtype.BIDIR:
        return dataclasses.replace(callback, downlink_hook=False)  # no longer BIDIR
    return callback


def _check_email(
    callback: Callback, kind: CallbackType, subtype: CallbackSubtype | None
) -> Callback:
    """An EMAIL callback: a mail per message (or report) to ``recipient``."""
    recipients = [r.strip() for r in (callback.recipient or "").split(",") if r.strip()]
    if not recipients or len(recipients) > MAX_RECIPIENTS:
        raise InvalidInput(
            f"recipient: 1 to {MAX_RECIPIENTS} addresses, comma-separated", field="recipient"
        )
    recipient = ",".join(check_email(r, "recipient") for r in recipients)
    if not callback.subject or len(callback.subject) > MAX_SUBJECT or "\n" in callback.subject:
        raise InvalidInput(f"subject: one line of 1 to {MAX_SUBJECT} characters", field="subject")
    if not callback.message or len(callback.message) > MAX_BODY_TEMPLATE:
        raise InvalidInput(f"message: 1 to {MAX_BODY_TEMPLATE} characters", field="message")
    check_pattern(callback.subject, kind, subtype, "subject")
    check_pattern(callback.message, kind, subtype, "message")
    return dataclasses.replace(
        callback,
        recipient=recipient,
        url="",
        headers={},
        body_template=None,
        content_type=None,
        line_pattern=None,
        downlink_hook=False,
    )


def _check_batch(callback: Callback) -> None:
    """A BATCH_URL callback: one request for many messages, a line each."""
    if callback.callback_subtype is not CallbackSubtype.UPLINK:
        raise InvalidInput(
            "callbackSubtype: a BATCH_URL callback is DATA UPLINK (2)", field="callbackSubtype"
        )
    if callback.http_method == "GET":
        raise InvalidInput(
            "httpMethod: a BATCH_URL callback sends its lines: POST or PUT", field="httpMethod"
        )
    if has_variables(callback.url) or any(has_variables(v) for v in callback.headers.values()):
        raise InvalidInput(
            "url: a BATCH_URL callback's URL and headers take no variables (its lines do)",
            field="url",
        )
    if callback.body_template is not None:
        raise InvalidInput(
            "bodyTemplate: a BATCH_URL callback's body is its lines (linePattern)",
            field="bodyTemplate",
        )
    if not callback.line_pattern or len(callback.line_pattern) > 2048:
        raise InvalidInput("linePattern: needed, at most 2048 characters", field="linePattern")
    if "\n" in callback.line_pattern:
        raise InvalidInput("linePattern: one line", field="linePattern")
    check_pattern(
        callback.line_pattern, callback.callback_type, callback.callback_subtype, "linePattern"
    )


def _apply(current: Callback, c: CallbackChanges) -> Callback:
    changed: dict[str, Any] = {
        "channel": None if c.channel is None else _enum(CallbackChannel, c.channel, "channel"),
        "callback_type": None
        if c.callback_type is None
        else _enum(CallbackType, c.callback_type, "callbackType"),
        "callback_subtype": None
        if c.callback_subtype is None
        else _enum(CallbackSubtype, c.callback_subtype, "callbackSubtype"),
        "url": c.url,
        "http_method": None if c.http_method is None else c.http_method.upper(),
        "enabled": c.enabled,
        "send_duplicate": c.send_duplicate,
        "send_sni": c.send_sni,
        "headers": c.headers,
        "content_type": c.content_type,
        "body_template": c.body_template,
        "line_pattern": c.line_pattern,
        "recipient": c.recipient,
        "subject": c.subject,
        "message": c.message,
    }
    return dataclasses.replace(current, **{k: v for k, v in changed.items() if v is not None})


class DeviceTypeCallbacks:
    """Callback use cases; every method checks what ``principal`` may see and do, and tells
    ``on_change`` which device type's callbacks changed."""

    def __init__(
        self,
        store: CallbackStore,
        types: DeviceTypes,
        guard: DestinationGuard,
        on_change: Callable[[str], Awaitable[None]],
    ) -> None:
        self._store = store
        self._types = types
        self._guard = guard
        self._on_change = on_change

    async def list(self, principal: Principal, device_type_id: str) -> list[Callback]:
        found = await self._types.get(principal, device_type_id)
        return await self._store.list_callbacks(found.id)

    async def _own(
        self, principal: Principal, device_type_id: str, callback_id: str
    ) -> tuple[DeviceType, Callback]:
        device_type = await self._types.get(principal, device_type_id, rbac.OPERATE)
        found = await self._store.get_callback(callback_id) if is_id(callback_id) else None
        if found is None or found.device_type_id != device_type.id:
            raise NotFound("callback not found")
        return device_type, found

    async def create(
        self, principal: Principal, device_type_id: str, changes: CallbackChanges
    ) -> Callback:
        device_type = await self._types.get(principal, device_type_id, rbac.OPERATE)
        email = changes.channel == CallbackChannel.EMAIL.value
        if changes.channel is None or changes.callback_type is None:
            raise InvalidInput("channel and callbackType are needed", field="channel")
        if changes.url is None and not email:
            raise InvalidInput("url: needed", field="url")
        if changes.callback_subtype is None and changes.callback_type != CallbackType.ERROR:
            raise InvalidInput("callbackSubtype: needed", field="callbackSubtype")
        if len(await self._store.list_callbacks(device_type.id)) >= MAX_CALLBACKS:
            raise Conflict(f"a device type has at most {MAX_CALLBACKS} callbacks")
        blank = Callback(
            id=new_id(),
            device_type_id=device_type.id,
            channel=CallbackChannel.URL,
            callback_type=CallbackType.DATA,
            callback_subtype=CallbackSubtype.UPLINK,
            url="",
            created_at=int(time.time() * 1000),
        )
        callback = _checked(_apply(blank, changes), self._guard)
        await self._store.create_callback(callback)
        await self._on_change(device_type.id)
        log.info(
            "callback %s of device type %s created by %s", callback.id, device_type.id, principal.id
        )
        return callback

    async def update(
        self, principal: Principal, device_type_id: str, callback_id: str, changes: CallbackChanges
    ) -> Callback:
        device_type, current = await self._own(principal, device_type_id, callback_id)
        updated = _checked(_apply(current, changes), self._guard)
        await self._store.update_callback(updated)
        await self._on_change(device_type.id)
        return updated

    async def enable(
        self, principal: Principal, device_type_id: str, callback_id: str, enabled: bool
    ) -> None:
        await self.update(principal, device_type_id, callback_id, CallbackChanges(enabled=enabled))

    async def select_downlink(
        self, principal: Principal, device_type_id: str, callback_id: str
    ) -> None:
        """Make this BIDIR callback the device type's downlink callback (the only one)."""
        device_type, current = await self._own(principal, device_type_id, callback_id)
        if (
            current.callback_subtype is not CallbackSubtype.BIDIR
            or current.channel is not CallbackChannel.URL
        ):
            raise InvalidInput("only a DATA BIDIR URL callback can be the downlink callback")
        await self._store.update_callback(dataclasses.replace(current, downlink_hook=True))
        await self._on_change(device_type.id)

    async def delete(self, principal: Principal, device_type_id: str, callback_id: str) -> None:
        device_type, found = await self._own(principal, device_type_id, callback_id)
        await self._store.delete_callback(found.id)
        await self._on_change(device_type.id)
        log.info(
            "callback %s of device type %s deleted by %s", found.id, device_type.id, principal.id
        )
