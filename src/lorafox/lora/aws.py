"""AWS IoT Core for LoRaWAN: the document its rules produce (``WirelessDeviceId``,
``PayloadData``, ``WirelessMetadata.LoRaWAN``). Keys are read case-insensitively (``FPort`` and
``Fport`` both occur), numbers as numbers or strings, a 15-digit ``DevEui`` padded. Pure."""

from __future__ import annotations

from typing import Any

from lorafox.domain import DownlinkState, LoraGateway
from lorafox.errors import InvalidInput
from lorafox.lora.model import (
    MAX_GATEWAYS,
    LoraUplink,
    as_float,
    as_int,
    decode_base64,
    normalize_eui,
)
from lorafox.lora.reports import Feedback, Report, parse_time

__all__ = ["parse_document"]

_DEPTH = 6


def _folded(value: Any, depth: int = 0) -> Any:
    """``value`` with every object key lower-cased (to ``_DEPTH`` levels)."""
    if depth > _DEPTH:
        return None
    if isinstance(value, dict):
        return {str(k).lower(): _folded(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_folded(v, depth + 1) for v in value[:MAX_GATEWAYS]]
    return value


def parse_document(body: dict[str, Any]) -> Report:
    doc = _folded(body)
    metadata = doc.get("wirelessmetadata")
    lorawan = metadata.get("lorawan") if isinstance(metadata, dict) else None
    if not isinstance(lorawan, dict):
        raise InvalidInput("WirelessMetadata.LoRaWAN must be an object", field="WirelessMetadata")
    dev_eui = normalize_eui(lorawan.get("deveui"), "DevEui")
    wireless_id = doc.get("wirelessdeviceid")
    context = {}
    if isinstance(wireless_id, str) and 0 < len(wireless_id) <= 64:
        context["wirelessDeviceId"] = wireless_id
    listed = lorawan.get("gateways") or []
    if not isinstance(listed, list):
        raise InvalidInput("WirelessMetadata.LoRaWAN.Gateways must be a list", field="Gateways")
    gateways = tuple(
        LoraGateway(
            id=str(g.get("gatewayeui", ""))[:32].lower(),
            rssi=as_float(g.get("rssi"), "Gateways.Rssi"),
            snr=as_float(g.get("snr"), "Gateways.Snr"),
        )
        for g in listed
        if isinstance(g, dict)
    )
    rate = lorawan.get("datarate")
    uplink = LoraUplink(
        dev_eui=dev_eui,
        f_cnt=as_int(lorawan.get("fcnt"), "FCnt") or 0,
        f_port=as_int(lorawan.get("fport"), "FPort", 0, 255),
        payload=decode_base64(doc.get("payloaddata"), "PayloadData"),
        time=parse_time(lorawan.get("timestamp")),
        gateways=gateways,
        data_rate=None if rate is None else f"DR{as_int(rate, 'DataRate', 0, 15)}",
        frequency=as_float(lorawan.get("frequency"), "Frequency"),
        source_id=wireless_id[:64] if isinstance(wireless_id, str) else None,
    )
    acked = doc.get("ackedmessageid") or lorawan.get("ackedmessageid")
    feedback = None
    if isinstance(acked, str) and 0 < len(acked) <= 128:
        feedback = Feedback(DownlinkState.ACKED, device=dev_eui, network_id=acked)
    return Report(uplink=uplink, feedback=feedback, context=context)
