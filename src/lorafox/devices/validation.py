"""Checks for device types and devices; each failure is ``InvalidInput`` naming its field.

Limits follow Sigfox API v2: names up to 100 characters, descriptions up to 300, keepAlive 0
(off) or at least 1800 s, a PAC of 16 hex digits, downlinkDataString making exactly 8 bytes.
The payload format and the DIRECT template are checked by compiling them (``lorafox.decoding``),
so a save is refused with the field and the character at fault.
"""

from __future__ import annotations

import math
import re

from lorafox.decoding import DOWNLINK_VARIABLES, compile_decoder, compile_downlink_template
from lorafox.domain import DownlinkMode, PayloadType
from lorafox.errors import InvalidInput
from lorafox.identity.validation import check_name, check_text
from lorafox.ingest.sigfox import normalize_device

__all__ = [
    "DOWNLINK_VARIABLES",
    "KEEP_ALIVE_MIN",
    "MAX_UPLINKS_PER_DAY",
    "PAYLOAD_CONFIG_MAX",
    "check_coordinate",
    "check_device_id",
    "check_device_name",
    "check_downlink_data",
    "check_downlink_mode",
    "check_keep_alive",
    "check_max_uplinks",
    "check_pac",
    "check_payload",
]

KEEP_ALIVE_MIN = 1800
KEEP_ALIVE_MAX = 2**31 - 1
MAX_UPLINKS_PER_DAY = 1_000_000
MAX_RETENTION_DAYS = 36_500
PAYLOAD_CONFIG_MAX = 4000

_PAC = re.compile(r"^[0-9A-Fa-f]{16}$")
_EUI = _PAC


def check_device_id(value: object, field: str = "id") -> str:
    """A Sigfox device id (1 to 8 hex digits), upper case without leading zeros, or a LoRa
    DevEUI (16 hex digits), lower case."""
    if isinstance(value, str) and _EUI.match(value.strip()):
        return value.strip().lower()
    try:
        return normalize_device(value)
    except InvalidInput as exc:
        raise InvalidInput(
            f"{field}: a Sigfox id of 1 to 8 hex digits or a LoRa DevEUI of 16", field=field
        ) from exc


def check_pac(value: str, field: str = "pac") -> str:
    """The Porting Authorization Code: 16 hex digits, upper case."""
    pac = value.strip()
    if not _PAC.match(pac):
        raise InvalidInput(f"{field}: 16 hex digits expected", field=field)
    return pac.upper()


def check_coordinate(value: float | None, field: str, limit: float) -> float | None:
    if value is None:
        return None
    if not math.isfinite(value) or not -limit <= value <= limit:
        raise InvalidInput(f"{field}: must be between -{limit:g} and {limit:g}", field=field)
    return value


def check_keep_alive(value: int, field: str = "keepAlive") -> int:
    if value != 0 and not KEEP_ALIVE_MIN <= value <= KEEP_ALIVE_MAX:
        raise InvalidInput(f"{field}: 0 (off) or at least {KEEP_ALIVE_MIN} seconds", field=field)
    return value


def check_retention(value: int, field: str = "retentionDays") -> int:
    if not 0 <= value <= MAX_RETENTION_DAYS:
        raise InvalidInput(
            f"{field}: 0 (kept forever) to {MAX_RETENTION_DAYS} days, or null for the "
            "instance's setting",
            field=field,
        )
    return value


def check_max_uplinks(value: int, field: str = "maxUplinksPerDay") -> int:
    if not 0 <= value <= MAX_UPLINKS_PER_DAY:
        raise InvalidInput(
            f"{field}: 0 (no limit) to {MAX_UPLINKS_PER_DAY} uplinks a day", field=field
        )
    return value


def check_downlink_mode(value: int, field: str = "downlinkMode") -> DownlinkMode:
    try:
        return DownlinkMode(value)
    except ValueError as exc:
        raise InvalidInput(f"{field}: 0 (DIRECT), 1 (CALLBACK) or 2 (NONE)", field=field) from exc


def check_downlink_data(
    value: str | None, mode: DownlinkMode, field: str = "downlinkDataString"
) -> str | None:
    """The DIRECT template: hex bytes and the variables ``{time}`` (4 bytes), ``{tapId}``
    (2 bytes) and ``{rssi}`` (2 bytes), making exactly 8 bytes; needed in DIRECT mode, checked
    whenever given. Stored without surrounding spaces."""
    text = (value or "").strip()
    if not text:
        if mode is DownlinkMode.DIRECT:
            raise InvalidInput(f"{field}: needed when downlinkMode is 0 (DIRECT)", field=field)
        return None
    compile_downlink_template(value or "", field=field)  # characters counted as sent
    return text


def check_payload(
    payload_type: int, config: str | None, field: str = "payloadType"
) -> tuple[PayloadType, str | None]:
    """The payload type (2 regular, 3 custom grammar, 5 string) and its configuration, stored
    as given (without surrounding spaces). The custom grammar needs one, and it must compile
    (``PayloadFormatError``); the other types ignore it, as the Sigfox Back-End does."""
    try:
        kind = PayloadType(payload_type)
    except ValueError as exc:
        raise InvalidInput(
            f"{field}: 2 (regular), 3 (custom grammar) or 5 (string)", field=field
        ) from exc
    text = (config or "").strip() or None
    if text is not None:
        if len(text) > PAYLOAD_CONFIG_MAX:
            raise InvalidInput(
                f"payloadConfig: at most {PAYLOAD_CONFIG_MAX} characters", field="payloadConfig"
            )
        check_text(text, "payloadConfig")
    if kind is PayloadType.CUSTOM_GRAMMAR:
        if text is None:
            raise InvalidInput(
                "payloadConfig: needed for the custom grammar (3)", field="payloadConfig"
            )
        compile_decoder(kind, config)  # characters counted as sent
    return kind, text


def check_device_name(value: str, field: str = "name") -> str:
    return check_name(value, field, low=1)
