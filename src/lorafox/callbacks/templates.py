"""Callback patterns: Sigfox's ``{variable}`` syntax in URLs, headers and bodies.

Each callback type and subtype has its own variables, as on the Sigfox Back-End; DATA
callbacks also take ``{customData#name}``, a field of the payload decoded with the device
type's format. A pattern naming a variable its callback does not have is refused with the name.
Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

from lorafox.domain import CallbackSubtype, CallbackType, StoredUplink
from lorafox.domain.lora import LORA_NETWORK
from lorafox.errors import InvalidInput

__all__ = [
    "SUBTYPES",
    "check_pattern",
    "has_variables",
    "render",
    "uplink_values",
    "url_value",
    "variables_of",
]

_TOKEN = re.compile(r"\{([A-Za-z][A-Za-z0-9_]*)(?:#([^{}#]{1,64}))?\}")
_CUSTOM = "customData"

_LORA = ("devEui", "appEui", "fPort", "fCnt", "dataRate", "frequency", "deviceName")
"""A LoRa uplink's own variables (empty for a Sigfox message), named as lorafox stores them."""
_UPLINK = (
    "device",
    "time",
    "duplicate",
    "snr",
    "station",
    "data",
    "avgSnr",
    "lat",
    "lng",
    "rssi",
    "seqNumber",
    "deviceTypeId",
    *_LORA,
)
_VARIABLES: dict[tuple[CallbackType, CallbackSubtype | None], tuple[str, ...]] = {
    (CallbackType.DATA, CallbackSubtype.UPLINK): _UPLINK,
    (CallbackType.DATA, CallbackSubtype.BIDIR): (*_UPLINK, "ack", "longPolling"),
    (CallbackType.SERVICE, CallbackSubtype.STATUS): ("device", "time", "temp", "batt"),
    (CallbackType.SERVICE, CallbackSubtype.GEOLOC): (
        "device",
        "time",
        "lat",
        "lng",
        "radius",
        "source",
        "status",
    ),
    (CallbackType.SERVICE, CallbackSubtype.ACKNOWLEDGE): (
        "device",
        "time",
        "duplicate",
        "infoCode",
        "infoMessage",
        "downlinkAck",
        "downlinkOverusage",
    ),
    (CallbackType.SERVICE, CallbackSubtype.REPEATER): ("device", "time", "station", "rssi"),
    (CallbackType.SERVICE, CallbackSubtype.DATA_ADVANCED): (
        "device",
        "time",
        "data",
        "seqNumber",
        "lqi",
        "linkQuality",
        "operatorName",
        "countryCode",
        "deviceTypeId",
        "duplicates",
        "computedLocation",
        "fixedLat",
        "fixedLng",
    ),
    (CallbackType.ERROR, None): ("device", "time", "info", "severity", "deviceTypeId"),
}

SUBTYPES: dict[CallbackType, tuple[CallbackSubtype, ...]] = {
    CallbackType.DATA: (CallbackSubtype.UPLINK, CallbackSubtype.BIDIR),
    CallbackType.SERVICE: (
        CallbackSubtype.STATUS,
        CallbackSubtype.ACKNOWLEDGE,
        CallbackSubtype.DATA_ADVANCED,
    ),
    CallbackType.ERROR: (),
}
"""The subtypes of each type lorafox makes (ERROR callbacks have none; GEOLOC and REPEATER
report what lorafox is never told)."""

_CUSTOM_DATA = frozenset(
    {
        (CallbackType.DATA, CallbackSubtype.UPLINK),
        (CallbackType.DATA, CallbackSubtype.BIDIR),
    }
)


def variables_of(kind: CallbackType, subtype: CallbackSubtype | None) -> tuple[str, ...]:
    """The variables a callback of this type and subtype may use."""
    return _VARIABLES[(kind, None if kind is CallbackType.ERROR else subtype)]


def check_pattern(
    pattern: str, kind: CallbackType, subtype: CallbackSubtype | None, field: str
) -> None:
    """Refuse (``InvalidInput`` on ``field``) a pattern using a variable the callback lacks."""
    known = variables_of(kind, subtype)
    custom = (kind, subtype) in _CUSTOM_DATA
    for match in _TOKEN.finditer(pattern):
        name, custom_name = match.group(1), match.group(2)
        if name == _CUSTOM and custom_name is not None and custom:
            continue
        if custom_name is None and name in known:
            continue
        shown = subtype is not None and kind is not CallbackType.ERROR
        what = kind.name + (f" {subtype.name}" if shown and subtype is not None else "")
        names = ", ".join("{" + v + "}" for v in known)
        if custom:
            names += ", {customData#name}"
        raise InvalidInput(
            f"{field}: {match.group(0)} is not a variable of {what} callbacks (they have {names})",
            field=field,
        )


def has_variables(pattern: str) -> bool:
    return _TOKEN.search(pattern) is not None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _signal(value: float | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def uplink_values(stored: StoredUplink, device_type_id: str) -> dict[str, Any]:
    """A stored uplink's DATA variables by their Sigfox names (``time`` in seconds), for a
    device of ``device_type_id``."""
    u = stored.uplink
    extra = u.extra if u.extra.get("network") == LORA_NETWORK else {}
    return {
        **{name: extra.get(name) for name in _LORA},
        "device": u.device,
        "time": u.time // 1000,
        "duplicate": u.duplicate,
        "snr": _signal(u.snr),
        "station": u.station,
        "data": u.data,
        "avgSnr": _signal(u.avg_snr),
        "lat": u.lat,
        "lng": u.lng,
        "rssi": _signal(u.rssi),
        "seqNumber": u.seq_number,
        "deviceTypeId": device_type_id,
        "ack": u.ack,
        "longPolling": u.long_polling,
        _CUSTOM: u.decoded or {},
    }


def url_value(value: str) -> str:
    """A value as it goes into a URL: percent-encoded."""
    return quote(value, safe="")


def render(
    pattern: str, values: Mapping[str, Any], escape: Callable[[str], str] = lambda v: v
) -> str:
    """``pattern`` with each variable replaced by its value (``escape``d); a missing value or
    custom field is empty."""

    def one(match: re.Match[str]) -> str:
        name, custom_name = match.group(1), match.group(2)
        value = values.get(name)
        if custom_name is not None:
            value = value.get(custom_name) if isinstance(value, Mapping) else None
        return escape(_text(value))

    return _TOKEN.sub(one, pattern)
