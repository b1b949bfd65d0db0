"""SERVICE and ERROR callbacks: the bodies the Sigfox Back-End sends, turned into domain values.

SERVICE callbacks come in three subtypes with their own variables: STATUS (``temp``, ``batt``),
ACKNOWLEDGE (``infoCode``, ``infoMessage``, ``downlinkAck``, ``downlinkOverusage``) and
DATA_ADVANCED (``lqi``, ``linkQuality``, ``operatorName``, ``countryCode``, ``duplicates``,
``computedLocation``, …). A callback posted to ``/sigfox/service/<subtype>`` is parsed as that
subtype; one posted to ``/sigfox/service`` is recognised by its variables. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import orjson

from lorafox.domain import Acknowledgement, AdvancedData, DeviceStatus, ErrorReport, Severity
from lorafox.errors import InvalidInput
from lorafox.ingest.sigfox import (
    SEQ_NUMBER_MAX,
    normalize_device,
    parse_boolean,
    parse_integer,
    parse_number,
    parse_text,
    parse_time,
)

__all__ = ["ServiceKind", "parse_error", "parse_service"]

ServiceReport = DeviceStatus | Acknowledgement | AdvancedData


class ServiceKind(StrEnum):
    """SERVICE callback subtypes, by the path segment that names them."""

    STATUS = "status"
    ACKNOWLEDGE = "acknowledge"
    DATA_ADVANCED = "data-advanced"


_ADVANCED_NAMES = frozenset(
    {"lqi", "linkQuality", "operatorName", "countryCode", "duplicates", "computedLocation"}
)
_ADVANCED_KEPT = (
    "lqi",
    "linkQuality",
    "operatorName",
    "countryCode",
    "duplicates",
    "computedLocation",
    "fixedLat",
    "fixedLng",
    "deviceTypeId",
)


def _kind_of(fields: Mapping[str, Any]) -> ServiceKind:
    if "infoCode" in fields:
        return ServiceKind.ACKNOWLEDGE
    if "temp" in fields or "batt" in fields:
        return ServiceKind.STATUS
    if _ADVANCED_NAMES & fields.keys():
        return ServiceKind.DATA_ADVANCED
    raise InvalidInput(
        "cannot tell which SERVICE callback this is (no infoCode, temp/batt or lqi/"
        "computedLocation/duplicates variable): post it to /sigfox/service/status, "
        "/sigfox/service/acknowledge or /sigfox/service/data-advanced"
    )


def _device_and_time(fields: Mapping[str, Any]) -> tuple[str, int]:
    device = fields.get("device", fields.get("id"))
    if device is None:
        raise InvalidInput("device is missing (expected 'device' or 'id')", field="device")
    if fields.get("time") is None:
        raise InvalidInput("time is missing", field="time")
    return normalize_device(device), parse_time(fields["time"])


def _seq(fields: Mapping[str, Any]) -> int | None:
    value = fields.get("seqNumber")
    if value is None or value == "":
        return None
    return parse_integer(value, "seqNumber", low=0, high=SEQ_NUMBER_MAX)


def _json_value(value: Any, field: str) -> Any:
    """Objects arrive as JSON, or as JSON text when the template was form-encoded."""
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError as exc:
            raise InvalidInput(f"{field} must be JSON", field=field) from exc
    return value


def _status(fields: Mapping[str, Any]) -> DeviceStatus:
    device, time = _device_and_time(fields)
    return DeviceStatus(
        device=device,
        time=time * 1000,
        seq_number=_seq(fields),
        temperature=parse_number(fields.get("temp"), "temp"),
        battery=parse_number(fields.get("batt"), "batt"),
    )


def _acknowledge(fields: Mapping[str, Any]) -> Acknowledgement:
    device, time = _device_and_time(fields)
    if fields.get("infoCode") is None:
        raise InvalidInput("infoCode is missing", field="infoCode")
    ack = fields.get("downlinkAck")
    overusage = fields.get("downlinkOverusage")
    return Acknowledgement(
        device=device,
        time=time * 1000,
        info_code=parse_integer(fields["infoCode"], "infoCode", low=0, high=255),
        info_message=parse_text(fields.get("infoMessage"), "infoMessage", 250),
        downlink_ack=None if ack is None else parse_boolean(ack, "downlinkAck"),
        overusage=None if overusage is None else parse_boolean(overusage, "downlinkOverusage"),
    )


def _coordinate(location: Mapping[str, Any], name: str, limit: float) -> float | None:
    value = parse_number(location.get(name), f"computedLocation.{name}")
    if value is not None and not -limit <= value <= limit:
        raise InvalidInput(
            f"computedLocation.{name} must be within -{limit:g}..{limit:g}",
            field=f"computedLocation.{name}",
        )
    return value


def _advanced(fields: Mapping[str, Any]) -> AdvancedData:
    device, time = _device_and_time(fields)
    seq = _seq(fields)
    if seq is None:
        raise InvalidInput("seqNumber is missing", field="seqNumber")
    details = {name: fields[name] for name in _ADVANCED_KEPT if fields.get(name) is not None}
    for name in ("duplicates", "computedLocation"):
        if name in details:
            details[name] = _json_value(details[name], name)
    duplicates = details.get("duplicates")
    if duplicates is not None and not isinstance(duplicates, list):
        raise InvalidInput("duplicates must be a list of base stations", field="duplicates")
    location = details.get("computedLocation")
    lat = lng = None
    radius = source = None
    if location is not None:
        if not isinstance(location, dict):
            raise InvalidInput("computedLocation must be an object", field="computedLocation")
        lat = _coordinate(location, "lat", 90)
        lng = _coordinate(location, "lng", 180)
        valid = location.get("status", 1) not in (0, "0")
        if not valid or lat is None or lng is None:
            lat = lng = None
        else:
            radius_value = parse_number(location.get("radius"), "computedLocation.radius")
            radius = None if radius_value is None else round(radius_value)
            source_value = location.get("source")
            source = (
                None
                if source_value is None
                else parse_integer(source_value, "computedLocation.source", low=0, high=255)
            )
    data = fields.get("data")
    return AdvancedData(
        device=device,
        time=time * 1000,
        seq_number=seq,
        data=data.strip().lower() if isinstance(data, str) and data.strip() else None,
        details=details,
        computed_lat=lat,
        computed_lng=lng,
        computed_radius=radius,
        computed_source=source,
    )


def parse_service(fields: Mapping[str, Any], kind: ServiceKind | None) -> ServiceReport:
    """A SERVICE callback's report; ``kind`` None means: recognise it by its variables."""
    kind = kind or _kind_of(fields)
    if kind is ServiceKind.STATUS:
        return _status(fields)
    if kind is ServiceKind.ACKNOWLEDGE:
        return _acknowledge(fields)
    return _advanced(fields)


def parse_error(fields: Mapping[str, Any]) -> ErrorReport:
    """An ERROR callback (``severity`` WARN or ERROR, ``info`` the Back-End's text)."""
    device, time = _device_and_time(fields)
    raw = str(fields.get("severity") or "ERROR").strip().upper()
    try:
        severity = Severity(raw)
    except ValueError as exc:
        raise InvalidInput("severity must be INFO, WARN or ERROR", field="severity") from exc
    info = parse_text(fields.get("info"), "info", 500) or ""
    known = {"device", "id", "time", "severity", "info"}
    extra = {k: v for k, v in fields.items() if k not in known}
    return ErrorReport(device=device, time=time * 1000, severity=severity, info=info, extra=extra)
