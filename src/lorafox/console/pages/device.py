"""``/console/devices/{id}``: one device — what it is, its last STATUS, its messages with
their decoded fields, link quality and stations, its downlink queue (and a form to queue one),
its events, its outgoing callbacks, statistics charts and a map of its positions.

The messages, downlinks and events are fragments the page asks for again every
``console.refresh_seconds`` (htmx polling): an uplink stored by any instance shows up without
a reload. Everything is read through ``DeviceHistory`` with the session's user, as the API
reads it; queueing a downlink is the API's ``queue_downlink``.
"""

from __future__ import annotations

import contextlib
import time
from typing import Annotated, Any, Literal

from fastapi import Path, Query, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from lorafox.api.device_messages import DownlinkCreate, message_json, queue_downlink
from lorafox.api.locations import device_locations
from lorafox.api.statistics import statistics_window
from lorafox.auth import rbac
from lorafox.console.context import ConsoleContext, Cx, Session, can_operate, page_router
from lorafox.console.errors import is_htmx
from lorafox.console.forms import Form, FormErrors
from lorafox.devices.history import DeviceRecord
from lorafox.domain import Device, Principal, is_lora_device
from lorafox.errors import Forbidden, InvalidInput, NotFound
from lorafox.ports.callbacks import DeliveryQuery
from lorafox.ports.statistics import LinkQuality

__all__ = ["MESSAGES_SHOWN", "router"]

router = page_router()

MESSAGES_SHOWN = 20
EVENTS_SHOWN = 20
_MAP_POSITIONS = 200
_QUALITIES = frozenset(q.value for q in LinkQuality)

DeviceId = Annotated[str, Path(max_length=32)]


async def _record(cx: ConsoleContext, principal: Principal, device_id: str) -> DeviceRecord:
    return await cx.api.devices.history.device(principal, device_id)


async def _registration(
    cx: ConsoleContext, principal: Principal, device_id: str
) -> tuple[Device | None, str | None]:
    """The registered device and its group's path (None, None for an id heard unregistered)."""
    try:
        device = await cx.api.devices.devices.get(principal, device_id)
    except NotFound:
        return None, None
    group = await cx.api.identity.groups.by_id(principal, {device.group_id})
    return device, group[device.group_id].path


def _messages(found: list[Any]) -> list[dict[str, Any]]:
    """The messages as the API gives them, with the link quality's name."""
    shown = []
    for stored in found:
        body = message_json(stored)
        lqi = body.get("lqi")
        body["lqiName"] = LinkQuality(lqi).name if lqi in _QUALITIES else None
        shown.append(body)
    return shown


async def _downlink_values(
    cx: ConsoleContext, principal: Principal, device_id: str
) -> dict[str, Any]:
    record = await _record(cx, principal, device_id)
    downlinks = await record.downlinks()
    return {
        "downlinks": list(reversed(downlinks[-50:])),
        "device_id": record.device,
        "editable": await _editable(cx, principal, record.device),
    }


async def _editable(cx: ConsoleContext, principal: Principal, device_id: str) -> bool:
    """Whether the user may queue downlinks and change the device (DEVICE_MANAGER there)."""
    try:
        await cx.api.devices.devices.scope(principal, device_id, rbac.OPERATE)
    except (NotFound, Forbidden):
        return False
    return True


@router.get("/console/devices/{device_id}")
async def device_page(request: Request, cx: Cx, session: Session, device_id: DeviceId) -> Response:
    principal = session.principal
    record = await _record(cx, principal, device_id)  # NotFound for what the user may not see
    device, path = await _registration(cx, principal, record.device)
    type_name = group_name = None
    callbacks: list[Any] = []
    if device is not None:
        with contextlib.suppress(NotFound):
            device_type = await cx.api.devices.types.get(principal, device.device_type_id)
            type_name = device_type.name
            callbacks = await cx.api.callbacks.list(principal, device_type.id)
        groups = await cx.api.identity.groups.by_id(principal, {device.group_id})
        group_name = groups[device.group_id].name
    undelivered = await cx.api.not_delivered.of_device(
        principal, record.device, DeliveryQuery(limit=100)
    )
    messages = await record.messages(limit=MESSAGES_SHOWN)
    values = {
        "device_id": record.device,
        "device": device,
        "lora": is_lora_device(record.device),
        "type_name": type_name,
        "group_name": group_name,
        "status": await record.latest_status(),
        "latest": _messages(messages[:1])[0] if messages else None,
        "messages": _messages(messages),
        "events": await record.events(limit=EVENTS_SHOWN),
        "callbacks": callbacks,
        "undelivered": len(undelivered),
        "editable": can_operate(principal, path)
        if path is not None
        else await _editable(cx, principal, record.device),
        "refresh": cx.settings.refresh_seconds,
        "tiles": cx.settings.tile_url or "",
        "attribution": cx.settings.tile_attribution,
        "now": int(time.time() * 1000),
        "errors": FormErrors(),
        "form_data": "",
    }
    values |= await _downlink_values(cx, principal, record.device)
    return cx.templates.render(request, "device/page.html", values)


@router.get("/console/devices/{device_id}/messages")
async def messages_fragment(
    request: Request, cx: Cx, session: Session, device_id: DeviceId
) -> Response:
    record = await _record(cx, session.principal, device_id)
    found = await record.messages(limit=MESSAGES_SHOWN)
    values = {"messages": _messages(found), "device_id": record.device}
    return cx.templates.render(request, "device/_messages.html", values)


@router.get("/console/devices/{device_id}/events")
async def events_fragment(
    request: Request, cx: Cx, session: Session, device_id: DeviceId
) -> Response:
    record = await _record(cx, session.principal, device_id)
    values = {"events": await record.events(limit=EVENTS_SHOWN), "device_id": record.device}
    return cx.templates.render(request, "device/_events.html", values)


@router.get("/console/devices/{device_id}/downlinks")
async def downlinks_fragment(
    request: Request, cx: Cx, session: Session, device_id: DeviceId
) -> Response:
    values = await _downlink_values(cx, session.principal, device_id)
    return cx.templates.render(request, "device/_downlinks.html", values)


@router.post("/console/devices/{device_id}/downlinks")
async def queue(
    request: Request, cx: Cx, session: Session, device_id: DeviceId, form: Form
) -> Response:
    """Queue the form's downlink; answers the queue (htmx) or goes back to the page."""
    principal = session.principal
    errors = FormErrors()
    data = form.get("data").strip().replace(" ", "")
    body: dict[str, Any] = {"data": data or None}
    if form.get("fport"):
        try:
            body["fPort"] = int(form.get("fport"))
        except ValueError:
            errors.add("fport", "fPort: a number from 1 to 223")
        body["confirmed"] = form.flag("confirmed")
    if not errors:
        try:
            await queue_downlink(
                cx.api, principal, device_id, DownlinkCreate(**body), source="console"
            )
        except InvalidInput as exc:
            errors.add_error(exc, ("data", "fport"))
            if not errors.get("data") and not errors.get("fport"):
                errors.add("data", exc.message)
    if not is_htmx(request):
        if errors:
            raise InvalidInput(next(iter(errors.messages.values())), field="data")
        return RedirectResponse(f"/console/devices/{device_id}#downlinks", status_code=303)
    values = await _downlink_values(cx, principal, device_id)
    values |= {"errors": errors, "form_data": data if errors else "", "oob": True}
    return cx.templates.render(
        request, "device/_downlinks.html", values, status=400 if errors else 200
    )


@router.post("/console/devices/{device_id}/downlinks/{downlink_id}/delete")
async def remove(
    request: Request,
    cx: Cx,
    session: Session,
    device_id: DeviceId,
    downlink_id: Annotated[int, Path(ge=1)],
) -> Response:
    """Remove a queued downlink (DEVICE_MANAGER)."""
    record = await cx.api.devices.history.device(session.principal, device_id, rbac.OPERATE)
    await record.delete_downlink(downlink_id)
    if not is_htmx(request):
        return RedirectResponse(f"/console/devices/{device_id}#downlinks", status_code=303)
    values = await _downlink_values(cx, session.principal, device_id)
    return cx.templates.render(request, "device/_downlinks.html", values)


_SPREAD = (("avg", ""), ("min", "lowest"), ("max", "highest"))
_SERIES: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
    "messages": ("messages", [("uplinks", "messages", "")]),
    "radio": ("dB / dBm", [("RSSI (avg)", "rssi", "avg"), ("SNR (avg)", "snr", "avg")]),
    "bytes": ("bytes", [("data bytes", "bytes", "")]),
    "temperature": (
        "°C",
        [(f"temperature {word or '(avg)'}", "temperature", pick) for pick, word in _SPREAD],
    ),
    "battery": ("V", [(f"battery {word or '(avg)'}", "battery", pick) for pick, word in _SPREAD]),
    "frequency": ("MHz", [("frequency (avg)", "frequency", "avg")]),
}
"""Each chart: its unit and its lines: (label, figure, what of the figure's spread: its mean,
lowest or highest value; "" for a count)."""
_SCALE = {"frequency": 1e-6}
"""Figures drawn in another unit than the statistics' (frequency: Hz → MHz)."""


@router.get("/console/devices/{device_id}/statistics.json")
async def statistics(
    cx: Cx,
    session: Session,
    device_id: DeviceId,
    bucket: Annotated[Literal["hour", "day"], Query()] = "hour",
) -> JSONResponse:
    """The chart series per hour (24 h) or day (30 days): uplinks, the mean RSSI and SNR,
    payload bytes, the temperature and battery of STATUS reports (mean, min, max) and the
    mean frequency (MHz, when the uplinks carry one: LoRa)."""
    record = await _record(cx, session.principal, device_id)
    found = await statistics_window(bucket).statistics(record)
    times = [b.start // 1000 for b in found.data]
    series: dict[str, Any] = {}
    for key, (unit, lines) in _SERIES.items():
        values = []
        for _, field, pick in lines:
            scale = _SCALE.get(field, 1)
            column: list[float | None] = []
            for b in found.data:
                value = getattr(b, field)
                if not pick:
                    column.append(value)
                else:
                    column.append(getattr(value, pick) * scale if value else None)
            values.append(column)
        labels = [label for label, _, _ in lines]
        series[key] = {"unit": unit, "labels": labels, "values": values}
    return JSONResponse(
        {
            "bucket": bucket,
            "since": found.since // 1000,
            "before": found.before // 1000,
            "times": times,
            "series": series,
        }
    )


@router.get("/console/devices/{device_id}/positions.json")
async def positions(cx: Cx, session: Session, device_id: DeviceId) -> JSONResponse:
    """The device's known positions for the map, newest first."""
    record = await _record(cx, session.principal, device_id)
    found, _ = await device_locations(record, limit=_MAP_POSITIONS)
    return JSONResponse(
        {
            "positions": [
                {
                    "lat": p.lat,
                    "lng": p.lng,
                    "radius": p.radius,
                    "label": f"{p.source}"
                    + (f", sequence number {p.seqNumber}" if p.seqNumber is not None else ""),
                }
                for p in found
            ]
        }
    )
