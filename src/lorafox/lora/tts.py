"""The Things Stack v3 webhook and MQTT messages: snake_case, upper-case EUIs, base64
``frm_payload``, ``frequency`` as a string, empty fields omitted, exactly one message kind per
body. Pure.

Downlinks lorafox pushes carry the correlation id ``lorafox:downlink:<id>``; the later
``downlink_*`` messages are matched by it (a device named by ``device_id`` only is fine).
"""

from __future__ import annotations

from typing import Any

from lorafox.domain import DownlinkState, LoraGateway, Severity
from lorafox.errors import InvalidInput
from lorafox.lora.model import (
    MAX_GATEWAYS,
    LoraUplink,
    as_float,
    as_int,
    decode_base64,
    normalize_eui,
    position,
)
from lorafox.lora.reports import Feedback, NetworkEvent, Report, parse_time, scalars, solved

__all__ = ["CORRELATION_PREFIX", "KINDS", "correlation_id", "parse_message"]

CORRELATION_PREFIX = "lorafox:downlink:"
_FEEDBACK = {
    "downlink_ack": DownlinkState.ACKED,
    "downlink_nack": DownlinkState.FAILED,
    "downlink_sent": DownlinkState.SENT,
    "downlink_failed": DownlinkState.FAILED,
    "downlink_queued": DownlinkState.QUEUED,
    "downlink_queue_invalidated": DownlinkState.FAILED,
}
_EVENTS = ("join_accept", "location_solved", "service_data")
KINDS = ("uplink_message", *_FEEDBACK, *_EVENTS)


def correlation_id(downlink_id: int) -> str:
    return f"{CORRELATION_PREFIX}{downlink_id}"


def _downlink_id(ids: Any) -> int | None:
    if not isinstance(ids, list):
        return None
    for item in ids[:32]:
        if isinstance(item, str) and item.startswith(CORRELATION_PREFIX):
            number = item.removeprefix(CORRELATION_PREFIX)
            if number.isdigit() and len(number) < 19:
                return int(number)
    return None


def parse_message(body: dict[str, Any]) -> Report:
    ids = body.get("end_device_ids")
    if not isinstance(ids, dict):
        raise InvalidInput("end_device_ids must be an object", field="end_device_ids")
    dev_eui = None if ids.get("dev_eui") is None else normalize_eui(ids["dev_eui"], "dev_eui")
    device_id = ids.get("device_id")
    join_eui = ids.get("join_eui")
    kinds = [k for k in KINDS if k in body]
    if len(kinds) != 1:
        raise InvalidInput(f"exactly one of {', '.join(KINDS)} expected")
    kind = kinds[0]
    part = body[kind]
    if not isinstance(part, dict):
        raise InvalidInput(f"{kind} must be an object", field=kind)
    context = {}
    if isinstance(device_id, str) and 0 < len(device_id) <= 64:
        context["deviceId"] = device_id
    if kind == "uplink_message":
        if dev_eui is None:
            raise InvalidInput("end_device_ids.dev_eui is needed for an uplink", field="dev_eui")
        app_eui = None if join_eui is None else normalize_eui(join_eui, "join_eui")
        return Report(uplink=_uplink(dev_eui, app_eui, device_id, part), context=context)
    if kind in _FEEDBACK:
        inner = part.get("downlink") if kind == "downlink_failed" else part
        downlink_id = _downlink_id((inner or {}).get("correlation_ids")) or _downlink_id(
            body.get("correlation_ids")
        )
        info = None
        error = part.get("error")
        if isinstance(error, dict):
            info = str(error.get("message_format") or error.get("name") or "")[:250] or None
        elif kind == "downlink_nack":
            info = "not acknowledged (nack)"
        elif kind == "downlink_queue_invalidated":
            info = "queue invalidated"
        feedback = Feedback(_FEEDBACK[kind], device=dev_eui, downlink_id=downlink_id, info=info)
        return Report(feedback=feedback, context=context)
    data = scalars(part)
    found = solved(part.get("location")) if kind == "location_solved" else None
    return Report(
        event=NetworkEvent(kind, f"The Things Stack {kind}", dev_eui, Severity.INFO, data),
        context=context,
        position=found,
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _uplink(dev_eui: str, app_eui: str | None, device_id: Any, part: dict[str, Any]) -> LoraUplink:
    rx = part.get("rx_metadata") or []
    if not isinstance(rx, list):
        raise InvalidInput("rx_metadata must be a list", field="rx_metadata")
    gateways = []
    for g in rx[:MAX_GATEWAYS]:
        if not isinstance(g, dict):
            continue
        ids = _dict(g.get("gateway_ids"))
        name = ids.get("eui") or ids.get("gateway_id") or ""
        gateways.append(
            LoraGateway(
                str(name)[:40].lower(),
                as_float(g.get("rssi", g.get("channel_rssi")), "rx_metadata.rssi"),
                as_float(g.get("snr"), "rx_metadata.snr"),
                *position(g.get("location"), "rx_metadata.location"),
            )
        )
    settings = _dict(part.get("settings"))
    lora = _dict(_dict(settings.get("data_rate")).get("lora"))
    data_rate = None
    if "spreading_factor" in lora:
        sf = as_int(lora.get("spreading_factor"), "spreading_factor", 5, 12)
        bw = as_int(lora.get("bandwidth"), "bandwidth", 0, 2_000_000) or 125_000
        data_rate = f"SF{sf}BW{bw // 1000}"
    return LoraUplink(
        dev_eui=dev_eui,
        f_cnt=as_int(part.get("f_cnt"), "f_cnt") or 0,
        f_port=as_int(part.get("f_port"), "f_port", 0, 255) or 0,
        payload=decode_base64(part.get("frm_payload"), "frm_payload"),
        time=parse_time(part.get("received_at")),
        app_eui=app_eui,
        gateways=tuple(gateways),
        data_rate=data_rate,
        frequency=as_float(settings.get("frequency"), "settings.frequency"),
        device_name=device_id[:100] if isinstance(device_id, str) else None,
    )
