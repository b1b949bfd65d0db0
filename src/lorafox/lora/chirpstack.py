"""ChirpStack v4's integration events (HTTP ``?event=…`` or MQTT ``…/event/{event}``), JSON
marshaler: camelCase, base64 ``data``, defaults emitted or omitted. Pure.

``up`` → an uplink; ``ack`` (``acknowledged`` true/false) and ``txack`` → feedback on the
downlink lorafox gave ChirpStack as queue item ``queueItemId``; ``join``, ``status``, ``log``,
``location`` → events; ``integration`` (older servers) is accepted and ignored.
"""

from __future__ import annotations

from typing import Any

from lorafox.domain import DownlinkState, LoraGateway, Severity
from lorafox.errors import InvalidInput
from lorafox.lora.downlinks import downlink_of_chirpstack_id
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

__all__ = ["EVENTS", "parse_event"]

EVENTS = frozenset({"up", "join", "ack", "txack", "status", "log", "location", "integration"})
_SEVERITY = {"INFO": Severity.INFO, "WARNING": Severity.WARN, "ERROR": Severity.ERROR}


def _object(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput(f"{field} must be an object", field=field)
    return value


def parse_event(event: str | None, body: dict[str, Any]) -> Report:
    if event not in EVENTS:
        raise InvalidInput(f"event: one of {', '.join(sorted(EVENTS))}", field="event")
    if event == "integration":
        return Report(ignored="integration events are not used")
    info = _object(body.get("deviceInfo"), "deviceInfo")
    dev_eui = normalize_eui(info.get("devEui"), "deviceInfo.devEui")
    context = {}
    application = info.get("applicationId")
    if isinstance(application, str) and 0 < len(application) <= 64:
        context["applicationId"] = application
    if event == "up":
        return Report(uplink=_uplink(dev_eui, info, body), context=context)
    if event in ("ack", "txack"):
        item = body.get("queueItemId")
        downlink_id = downlink_of_chirpstack_id(item) if isinstance(item, str) else None
        if event == "txack":
            state = DownlinkState.SENT
        elif body.get("acknowledged", False) is True:
            state = DownlinkState.ACKED
        else:
            state = DownlinkState.FAILED
        info_text = None if state is not DownlinkState.FAILED else "not acknowledged (nack)"
        feedback = Feedback(
            state,
            device=dev_eui,
            downlink_id=downlink_id,
            network_id=item if isinstance(item, str) else None,
            info=info_text,
        )
        return Report(feedback=feedback, context=context)
    details = {k: v for k, v in scalars(body).items() if k != "deviceInfo"}
    if event == "log":
        level = body.get("level", "INFO")
        severity = _SEVERITY.get(level if isinstance(level, str) else "", Severity.INFO)
        text = f"ChirpStack {body.get('code', 'UNKNOWN')}: {body.get('description', '')}"
        return Report(event=NetworkEvent("log", text, dev_eui, severity, details), context=context)
    text = f"ChirpStack {event}" + (f" (devAddr {body['devAddr']})" if "devAddr" in body else "")
    found = solved(body.get("location")) if event == "location" else None
    return Report(
        event=NetworkEvent(event, text, dev_eui, data=details), context=context, position=found
    )


def _uplink(dev_eui: str, info: dict[str, Any], body: dict[str, Any]) -> LoraUplink:
    rx = body.get("rxInfo") or []
    if not isinstance(rx, list):
        raise InvalidInput("rxInfo must be a list", field="rxInfo")
    gateways = tuple(
        LoraGateway(
            str(g.get("gatewayId", ""))[:32],
            as_float(g.get("rssi"), "rxInfo.rssi"),
            as_float(g.get("snr"), "rxInfo.snr"),
            *position(g.get("location"), "rxInfo.location"),
        )
        for g in rx[:MAX_GATEWAYS]
        if isinstance(g, dict)
    )
    tx = _object(body.get("txInfo"), "txInfo")
    lora = _object(_object(tx.get("modulation"), "txInfo.modulation").get("lora"), "lora")
    data_rate = None
    if "spreadingFactor" in lora:
        sf = as_int(lora.get("spreadingFactor"), "spreadingFactor", 5, 12)
        bw = as_int(lora.get("bandwidth"), "bandwidth", 0, 2_000_000) or 125_000
        data_rate = f"SF{sf}BW{bw // 1000}"
    elif "dr" in body:
        data_rate = f"DR{as_int(body.get('dr'), 'dr', 0, 15)}"
    name = info.get("deviceName")
    dedup = body.get("deduplicationId")
    return LoraUplink(
        dev_eui=dev_eui,
        f_cnt=as_int(body.get("fCnt"), "fCnt") or 0,
        f_port=as_int(body.get("fPort"), "fPort", 0, 255),
        payload=decode_base64(body.get("data"), "data"),
        time=parse_time(body.get("time")),
        gateways=gateways,
        data_rate=data_rate,
        frequency=as_float(tx.get("frequency"), "txInfo.frequency"),
        device_name=name[:100] if isinstance(name, str) else None,
        source_id=dedup[:64] if isinstance(dedup, str) else None,
    )
