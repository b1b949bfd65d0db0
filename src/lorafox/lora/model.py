"""What every LoRa adapter parses into, and the MQTT message the AWS bridge's subscribers read.

Pure functions, no I/O: ``normalize_eui`` (16 lower-case hex digits, however the network server
spells it), ``LoraUplink`` (one frame as a network server reported it) and ``to_uplink`` (the
shared ``Uplink``), ``lora_topic`` and ``lora_json`` (what is published on
``lora/{appeui}/{deveui}``: ``{"port<N>_bytes": […]}`` plus the normalised fields).
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from typing import Any

import orjson

from lorafox.domain import (
    EUI_DIGITS,
    LORA_NETWORK,
    LoraGateway,
    LoraIntegration,
    StoredUplink,
    Uplink,
)
from lorafox.domain.records import record
from lorafox.errors import InvalidInput

__all__ = [
    "MAX_GATEWAYS",
    "MAX_PAYLOAD",
    "LoraUplink",
    "as_float",
    "as_int",
    "decode_base64",
    "is_lora_uplink",
    "lora_json",
    "lora_topic",
    "normalize_eui",
    "position",
    "to_uplink",
]

MAX_PAYLOAD = 255
"""Bytes of an application payload (LoRaWAN's largest is 242)."""
MAX_GATEWAYS = 32
"""Gateways kept per uplink (the rest are dropped)."""
MAX_FCNT = 2**32 - 1

_HEX = re.compile(r"^[0-9a-fA-F]{1,16}$")


def normalize_eui(value: Any, field: str = "devEui") -> str:
    """An EUI-64 as 16 lower-case hex digits: padded when the leading zeros were dropped (the
    Semtech server writes ``9372163``), with ``-``/``:`` separators removed."""
    if type(value) is str:
        found = _EUIS.get(value)
        if found is not None:
            return found
        text = value.strip().replace("-", "").replace(":", "")
        if not _HEX.match(text):
            raise InvalidInput(f"{field} must be an EUI of up to 16 hex digits", field=field)
        found = text.lower().rjust(EUI_DIGITS, "0")
        if len(_EUIS) >= _EUIS_MAX:
            _EUIS.clear()
        _EUIS[value] = found
        return found
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**64:
        return format(value, "016x")
    raise InvalidInput(f"{field} must be an EUI of up to 16 hex digits", field=field)


_EUIS: dict[str, str] = {}
"""EUIs as network servers spelled them → normalised (devices and gateways repeat)."""
_EUIS_MAX = 65_536


def decode_base64(value: Any, field: str) -> bytes:
    """Standard or URL-safe base64, padding optional, at most ``MAX_PAYLOAD`` bytes."""
    if value is None:
        return b""
    if not isinstance(value, str) or len(value) > (MAX_PAYLOAD * 4) // 3 + 4:
        raise InvalidInput(f"{field} must be base64 of at most {MAX_PAYLOAD} bytes", field=field)
    try:  # the usual spelling: standard alphabet, padded
        return binascii.a2b_base64(value, strict_mode=True)
    except (binascii.Error, ValueError):
        pass
    text = value.strip().replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidInput(f"{field} is not base64", field=field) from exc


def as_int(value: Any, field: str, low: int = 0, high: int = MAX_FCNT) -> int | None:
    """An integer given as a number or a string (``"1"``), within ``low``..``high``."""
    if type(value) is int and low <= value <= high:
        return value
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidInput(f"{field} must be an integer", field=field)
    try:
        number = int(value) if isinstance(value, int | str) else None
    except ValueError:
        number = None
    if number is None and isinstance(value, float) and value.is_integer():
        number = int(value)
    if number is None or not low <= number <= high:
        raise InvalidInput(f"{field} must be an integer from {low} to {high}", field=field)
    return number


def position(value: Any, field: str) -> tuple[float | None, float | None]:
    """``{"latitude","longitude"}`` → (lat, lng) when both are valid, else (None, None): a
    gateway's position is a nicety, a bad one does not refuse the uplink."""
    if not isinstance(value, dict):
        return None, None
    try:
        lat = as_float(value.get("latitude"), f"{field}.latitude")
        lng = as_float(value.get("longitude"), f"{field}.longitude")
    except InvalidInput:
        return None, None
    if lat is None or lng is None or not (-90 <= lat <= 90 and -180 <= lng <= 180):
        return None, None
    return lat, lng


def as_float(value: Any, field: str) -> float | None:
    """A finite number given as a number or a string; None when absent."""
    if type(value) is float:
        if math.isfinite(value):
            return value
        raise InvalidInput(f"{field} must be a number", field=field)
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        number = float(value) if isinstance(value, int | float | str) else math.nan
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise InvalidInput(f"{field} must be a number", field=field)
    return number


@record
class LoraUplink:
    """One LoRa frame as a network server reported it (already checked).

    ``time``: epoch ms as the network server dated it, None to date it on reception;
    ``frequency`` in Hz; ``device_name`` the network server's name for the device."""

    dev_eui: str
    f_cnt: int
    f_port: int | None
    payload: bytes
    time: int | None = None
    app_eui: str | None = None
    gateways: tuple[LoraGateway, ...] = ()
    data_rate: str | None = None
    frequency: float | None = None
    device_name: str | None = None
    source_id: str | None = None
    """The network server's id of this uplink (deduplicationId, WirelessDeviceId…)."""


def to_uplink(frame: LoraUplink, integration: LoraIntegration, time_ms: int) -> Uplink:
    """The shared ``Uplink`` of ``frame`` received through ``integration``: the best gateway
    (strongest RSSI) as ``station``/``rssi``/``snr`` and, when known, its position as
    ``lat``/``lng`` (as a Sigfox callback gives its station's), every gateway in ``extra``."""
    gateways = frame.gateways
    if len(gateways) == 1:
        best: LoraGateway | None = gateways[0]
    else:
        best = max(gateways, key=lambda g: -1e9 if g.rssi is None else g.rssi, default=None)
    app_eui = frame.app_eui or integration.app_eui or "0" * EUI_DIGITS
    extra: dict[str, Any] = {
        "network": LORA_NETWORK,
        "integration": integration.id,
        "devEui": frame.dev_eui,
        "appEui": app_eui,
        "fPort": frame.f_port,
        "fCnt": frame.f_cnt,
        "gateways": [g.as_json() for g in gateways[:MAX_GATEWAYS]],
    }
    if frame.data_rate is not None:
        extra["dataRate"] = frame.data_rate
    if frame.frequency is not None:
        extra["frequency"] = frame.frequency
    if frame.device_name is not None:
        extra["deviceName"] = frame.device_name
    if frame.source_id is not None:
        extra["sourceId"] = frame.source_id
    return Uplink(
        device=frame.dev_eui,
        time=time_ms,
        seq_number=frame.f_cnt,
        data=frame.payload.hex(),
        station=best.id if best else None,
        rssi=best.rssi if best else None,
        snr=best.snr if best else None,
        lat=best.lat if best and best.lng is not None else None,
        lng=best.lng if best and best.lat is not None else None,
        device_type_id=integration.device_type_id,
        extra=extra,
    )


def is_lora_uplink(uplink: Uplink) -> bool:
    return uplink.extra.get("network") == LORA_NETWORK


def lora_topic(uplink: Uplink) -> str:
    """``lora/{appeui}/{deveui}``."""
    app_eui = uplink.extra.get("appEui") or "0" * EUI_DIGITS
    return f"lora/{app_eui}/{uplink.device}"


def lora_json(stored: StoredUplink) -> bytes:
    """``{"port<N>_bytes": [...]}`` as the AWS LoRa bridge published it, with the normalised
    message fields next to it."""
    u = stored.uplink
    extra = u.extra
    port = extra.get("fPort")
    payload = list(bytes.fromhex(u.data))
    body: dict[str, Any] = {
        f"port{port if port is not None else 0}_bytes": payload,
        "devEui": u.device,
        "appEui": extra.get("appEui"),
        "fPort": port,
        "fCnt": u.seq_number,
        "data": u.data,
        "time": u.time,
        "rssi": u.rssi,
        "snr": u.snr,
        "gateways": extra.get("gateways", []),
        "dataRate": extra.get("dataRate"),
        "frequency": extra.get("frequency"),
        "integration": extra.get("integration"),
        "deviceTypeId": u.device_type_id,
        "messageId": stored.id,
        "receivedAt": stored.received_at,
    }
    if u.lat is not None and u.lng is not None:
        body["lat"], body["lng"] = u.lat, u.lng
    if u.decoded is not None:
        body["decoded"] = u.decoded
    if u.decode_error is not None:
        body["decodeError"] = u.decode_error
    return orjson.dumps(body)
