"""Sigfox callbacks: the bodies the Sigfox Back-End sends, turned into ``Uplink``.

The Back-End sends what the callback's template says, so the same variable arrives as JSON,
form fields or a query string, as a number or a string, under the names in use (``device`` or
``id``; ``avgSnr`` or ``avgSignal``). Everything here is pure: no I/O.
"""

from __future__ import annotations

import math
import re
import time as _time
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

import orjson

from lorafox.domain import Uplink
from lorafox.errors import InvalidInput

__all__ = [
    "DOWNLINK_BYTES",
    "MAX_UPLINK_BYTES",
    "SEQ_NUMBER_MAX",
    "decode_body",
    "json_object",
    "normalize_device",
    "normalize_downlink",
    "parse_boolean",
    "parse_integer",
    "parse_number",
    "parse_text",
    "parse_time",
    "parse_uplink",
    "uplink_json",
]

MAX_UPLINK_BYTES = 12
DOWNLINK_BYTES = 8

_DEVICE = re.compile(r"^[0-9A-Fa-f]{1,8}$")
_HEX = re.compile(r"^(?:[0-9A-Fa-f]{2})*$")
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no", ""})

# Each field: the names the Sigfox Back-End (or a template written by hand) gives it.
_ALIASES: dict[str, tuple[str, ...]] = {
    "device": ("device", "id", "deviceId"),
    "time": ("time",),
    "seq_number": ("seqNumber", "seq_number", "seqNum"),
    "data": ("data",),
    "ack": ("ack",),
    "long_polling": ("longPolling",),
    "snr": ("snr",),
    "rssi": ("rssi",),
    "avg_snr": ("avgSnr", "avgSignal"),
    "station": ("station",),
    "lat": ("lat",),
    "lng": ("lng", "lon"),
    "device_type_id": ("deviceTypeId",),
    "duplicate": ("duplicate",),
}
_NAME_KEY = frozenset(name for names in _ALIASES.values() for name in names)


def decode_body(body: bytes, content_type: str, query_string: bytes) -> dict[str, Any]:
    """The callback's variables, whatever way they were sent (JSON, form, or query string)."""
    fields: dict[str, Any] = (
        dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
        if query_string
        else {}
    )
    if not body.strip():
        return fields
    media = content_type.split(";", 1)[0].strip().lower()
    # A JSON object is read as JSON whatever the content type says: `curl -d '{…}'` sends it
    # as application/x-www-form-urlencoded, where it could never be a form anyway.
    if media != "application/json" and not body.lstrip().startswith(b"{"):
        try:
            fields.update(
                parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
            )
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidInput(f"body is neither JSON nor form-encoded: {exc}") from exc
        return fields
    fields.update(json_object(body, "body"))
    return fields


def json_object(raw: bytes, what: str) -> dict[str, Any]:
    """``raw`` read as a JSON object; ``InvalidInput`` naming ``what`` when it is not one."""
    try:
        decoded = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"{what} is not valid JSON: {exc}") from exc
    if not isinstance(decoded, dict):
        raise InvalidInput(f"{what} must be a JSON object")
    return decoded


def _pick(fields: Mapping[str, Any], key: str) -> Any:
    for name in _ALIASES[key]:
        value = fields.get(name)
        if value is not None:
            return value
    return None


def normalize_device(value: Any) -> str:
    """A Sigfox device id: 1 to 8 hex digits, returned upper case without leading zeros."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = format(value, "X")
    if not isinstance(value, str) or not _DEVICE.match(value.strip()):
        raise InvalidInput("device must be a Sigfox id of 1 to 8 hex digits", field="device")
    device: str = value.strip().upper().lstrip("0")
    return device or "0"


def normalize_downlink(value: Any, field: str = "data") -> str:
    """Downlink data: exactly 8 bytes as 16 hex digits, returned lower case."""
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be a string of 16 hex digits", field=field)
    data = value.strip()
    if len(data) != DOWNLINK_BYTES * 2 or not _HEX.match(data):
        raise InvalidInput(
            f"{field} must be exactly {DOWNLINK_BYTES} bytes as 16 hex digits, got {data!r}",
            field=field,
        )
    return data.lower()


def parse_integer(value: Any, field: str, *, low: int, high: int) -> int:
    try:
        number = int(value) if not isinstance(value, (bool, float)) else None
    except (TypeError, ValueError):
        number = None
    if number is None and isinstance(value, float) and value.is_integer():
        number = int(value)
    if number is None or not low <= number <= high:
        raise InvalidInput(f"{field} must be an integer from {low} to {high}", field=field)
    return number


SEQ_NUMBER_MAX = 4095
"""Sigfox sequence numbers are 12 bits."""

_YEAR_2000 = 946_684_800
_FUTURE_SLACK = 2 * 86_400
"""How far ahead of this machine's clock a callback's ``time`` may be (clock skew)."""


def parse_time(value: Any, field: str = "time") -> int:
    """A callback's ``time``: whole seconds since the epoch, not after now (+2 days of skew).

    A millisecond value (what many programs produce) is refused with a message that says so:
    stored as seconds it would date the message tens of thousands of years ahead.
    """
    latest = int(_time.time()) + _FUTURE_SLACK
    number = parse_integer(value, field, low=0, high=2**41)
    if number > latest:
        if _YEAR_2000 <= number // 1000 <= latest:
            raise InvalidInput(
                f"{field} {number} looks like milliseconds; Sigfox sends seconds since the "
                f"epoch ({number // 1000})",
                field=field,
            )
        raise InvalidInput(
            f"{field} {number} is in the future: expected seconds since the epoch",
            field=field,
        )
    return number


def parse_number(value: Any, field: str) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number):
        raise InvalidInput(f"{field} must be a number", field=field)
    return number


def parse_boolean(value: Any, field: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidInput(f"{field} must be true or false", field=field)


def parse_text(value: Any, field: str, max_length: int) -> str | None:
    if value is None or value == "":
        return None
    text = str(value)
    if len(text) > max_length:
        raise InvalidInput(f"{field} is longer than {max_length} characters", field=field)
    return text


def _sort_fields(fields: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the known variables by key, the others). The first name of ``_ALIASES`` wins where a
    body carries two names of one variable. Hot path: one lookup per variable, and the unknown
    ones are only collected when there are some."""
    picked: dict[str, Any] = {}
    names_found = 0
    for key, names in _ALIASES.items():
        for name in names:
            value = fields.get(name)
            if value is not None:
                picked[key] = value
                names_found += 1
                break
    if names_found == len(fields):
        return picked, {}
    return picked, {k: v for k, v in fields.items() if k not in _NAME_KEY}


def parse_uplink(fields: Mapping[str, Any]) -> Uplink:
    """An ``Uplink`` from a DATA callback's variables; ``InvalidInput`` says what is wrong."""
    picked, extra = _sort_fields(fields)
    get = picked.get
    if "device" not in picked:
        raise InvalidInput("device is missing (expected 'device' or 'id')", field="device")
    for key, name in (("time", "time"), ("seq_number", "seqNumber"), ("data", "data")):
        if key not in picked:
            raise InvalidInput(f"{name} is missing", field=name)
    data = picked["data"]
    if not isinstance(data, str) or not _HEX.match(data.strip()):
        raise InvalidInput("data must be hex digits (an even number of them)", field="data")
    data = data.strip().lower()
    if len(data) > MAX_UPLINK_BYTES * 2:
        raise InvalidInput(f"data is longer than {MAX_UPLINK_BYTES} bytes", field="data")
    lat = parse_number(get("lat"), "lat")
    lng = parse_number(get("lng"), "lng")
    if lat is not None and not -90 <= lat <= 90:
        raise InvalidInput("lat must be within -90..90", field="lat")
    if lng is not None and not -180 <= lng <= 180:
        raise InvalidInput("lng must be within -180..180", field="lng")
    return Uplink(
        device=normalize_device(picked["device"]),
        time=parse_time(picked["time"]) * 1000,
        seq_number=parse_integer(picked["seq_number"], "seqNumber", low=0, high=SEQ_NUMBER_MAX),
        data=data,
        ack=parse_boolean(get("ack"), "ack"),
        long_polling=parse_boolean(get("long_polling"), "longPolling"),
        snr=parse_number(get("snr"), "snr"),
        rssi=parse_number(get("rssi"), "rssi"),
        avg_snr=parse_number(get("avg_snr"), "avgSnr"),
        station=parse_text(get("station"), "station", 16),
        lat=lat,
        lng=lng,
        device_type_id=parse_text(get("device_type_id"), "deviceTypeId", 64),
        duplicate=parse_boolean(get("duplicate"), "duplicate"),
        extra=extra,
    )


def is_downlink_request_only(fields: Mapping[str, Any]) -> bool:
    """True for a BIDIR body that names only the device (the AWS reference template)."""
    return _pick(fields, "device") is not None and all(
        _pick(fields, key) is None for key in ("time", "seq_number", "data")
    )


def uplink_json(uplink: Uplink, *, message_id: int, received_at: int) -> bytes:
    """The JSON published on MQTT: the callback's variables by their Sigfox names."""
    body: dict[str, Any] = {
        **uplink.extra,
        "device": uplink.device,
        "time": uplink.time // 1000,
        "seqNumber": uplink.seq_number,
        "data": uplink.data,
        "ack": uplink.ack,
        "longPolling": uplink.long_polling,
        "snr": uplink.snr,
        "rssi": uplink.rssi,
        "avgSnr": uplink.avg_snr,
        "station": uplink.station,
        "lat": uplink.lat,
        "lng": uplink.lng,
        "deviceTypeId": uplink.device_type_id,
        "duplicate": uplink.duplicate,
        "messageId": message_id,
        "receivedAt": received_at,
    }
    if uplink.decoded is not None:
        body["decoded"] = uplink.decoded
    if uplink.decode_error is not None:
        body["decodeError"] = uplink.decode_error
    return orjson.dumps(body)
