"""The parts of the OpenAPI document FastAPI cannot generate.

The ``/sigfox/*`` callbacks are served by the bare ASGI handler (``api/callbacks.py``),
outside FastAPI's routing; and request validation errors answer 400 in
the Sigfox error shape, not FastAPI's 422. ``complete_openapi`` fixes the generated document.
"""

from __future__ import annotations

from typing import Any

__all__ = ["complete_openapi"]

_VARIABLES: dict[str, dict[str, Any]] = {
    "device": {"type": "string", "description": "device id, 1-8 hex digits (alias: id)"},
    "time": {"type": "integer", "description": "epoch seconds"},
    "data": {"type": "string", "description": "payload, hex, 0-12 bytes"},
    "seqNumber": {"type": "integer"},
    "ack": {"type": "boolean", "description": "the device waits for a downlink"},
    "longPolling": {"type": "boolean"},
    "snr": {"type": "number"},
    "rssi": {"type": "number"},
    "avgSnr": {"type": "number", "description": "alias: avgSignal"},
    "station": {"type": "string"},
    "lat": {"type": "number"},
    "lng": {"type": "number"},
    "deviceTypeId": {"type": "string"},
    "duplicate": {"type": "boolean"},
}

_REQUIRED = frozenset({"device", "time", "data", "seqNumber"})
_ERROR = {"$ref": "#/components/schemas/Error"}
_DEVICE_TIME = {"device": _VARIABLES["device"], "time": _VARIABLES["time"]}
_STATUS = {
    "temp": {"type": "number", "description": "°C"},
    "batt": {"type": "number", "description": "battery voltage, V"},
    "seqNumber": {"type": "integer"},
}
_ACKNOWLEDGE = {
    "infoCode": {"type": "integer", "description": "0 ACKED, 1 NO_ANSWER, 2 INVALID_PAYLOAD, …"},
    "infoMessage": {"type": "string"},
    "downlinkAck": {"type": "boolean"},
    "downlinkOverusage": {"type": "boolean"},
}
_ADVANCED = {
    "data": _VARIABLES["data"],
    "seqNumber": {"type": "integer"},
    "lqi": {"type": "string", "description": "LIMIT, AVERAGE, GOOD, EXCELLENT or NA"},
    "linkQuality": {"type": "integer", "description": "0 (LIMIT) to 4 (NA)"},
    "operatorName": {"type": "string"},
    "countryCode": {"type": "integer"},
    "deviceTypeId": {"type": "string"},
    "fixedLat": {"type": "number"},
    "fixedLng": {"type": "number"},
    "duplicates": {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "bsId": {"type": "string"},
                "rssi": {"type": "number"},
                "snr": {"type": "number"},
                "nbRep": {"type": "integer"},
            },
        },
    },
    "computedLocation": {
        "type": "object",
        "properties": {
            "lat": {"type": "number"},
            "lng": {"type": "number"},
            "radius": {"type": "number", "description": "metres"},
            "source": {"type": "integer"},
            "status": {"type": "integer", "description": "0: no valid position"},
        },
    },
}
_ERROR_CALLBACK = {
    "severity": {"type": "string", "description": "WARN or ERROR"},
    "info": {"type": "string", "description": "the Back-End's text"},
}


def _operation(
    summary: str,
    description: str,
    ok: dict[str, Any],
    variables: dict[str, dict[str, Any]] = _VARIABLES,
    required: frozenset[str] = _REQUIRED,
) -> dict[str, Any]:
    schema = {
        "type": "object",
        "properties": variables,
        "required": sorted(required),
        "additionalProperties": True,
    }
    errors = {
        "400": "malformed body or variable (the `errors` list names the field)",
        "401": "missing or wrong Basic credentials",
        "403": "caller outside `sigfox.allowed_networks`",
        "503": "database unavailable: the Back-End retries",
    }
    return {
        "tags": ["sigfox callbacks"],
        "summary": summary,
        "description": description
        + " Variables may also come form-encoded or, with GET, in the query string;"
        " numbers and booleans may be strings.",
        "security": [{"sigfoxBasic": []}],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": schema},
                "application/x-www-form-urlencoded": {"schema": schema},
            },
        },
        "responses": {
            **ok,
            **{
                code: {"description": text, "content": {"application/json": {"schema": _ERROR}}}
                for code, text in errors.items()
            },
        },
    }


def _validation_errors_are_400(document: dict[str, Any]) -> None:
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            if responses.pop("422", None) is not None:
                responses.setdefault(
                    "400",
                    {
                        "description": "invalid request (the `errors` list names the fields)",
                        "content": {"application/json": {"schema": _ERROR}},
                    },
                )
    schemas = document.get("components", {}).get("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)


def complete_openapi(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` (FastAPI's OpenAPI dict) with 400 for validation errors, and the callback
    paths and their schemas."""
    _validation_errors_are_400(document)
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {})["sigfoxBasic"] = {
        "type": "http",
        "scheme": "basic",
        "description": "the Sigfox callback credentials (`lorafox sigfox-setup` prints them)",
    }
    components.setdefault("schemas", {})["Error"] = {
        "type": "object",
        "properties": {
            "message": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
        "required": ["message", "errors"],
    }
    stored = {"204": {"description": "stored (or a duplicate of a stored message)"}}
    answer = {
        "200": {
            "description": "a queued downlink, keyed by the device id as sent",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "additionalProperties": {
                            "type": "object",
                            "properties": {"downlinkData": {"type": "string"}},
                            "required": ["downlinkData"],
                        },
                    },
                    "example": {"1A2B3C": {"downlinkData": "0102030405060708"}},
                }
            },
        },
        "204": {"description": "stored; nothing to send or ack was false"},
    }
    paths = document.setdefault("paths", {})
    uplink = _operation(
        "DATA UPLINK callback", "Stores the message, then publishes it on MQTT.", stored
    )
    bidir = _operation(
        "DATA BIDIR callback",
        "Stores the message and, when ack is true, answers with the oldest queued downlink."
        ' A body of only {"id": "<device>"} is a pure downlink request.',
        answer,
    )
    paths["/sigfox/uplink"] = {
        "post": {**uplink, "operationId": "sigfox_uplink"},
        "get": _as_get(uplink, "sigfox_uplink_get"),
    }
    paths["/sigfox/bidir"] = {
        "post": {**bidir, "operationId": "sigfox_bidir"},
        "get": _as_get(bidir, "sigfox_bidir_get"),
    }
    _service_paths(paths)
    return document


def _recorded(example: dict[str, Any]) -> dict[str, Any]:
    return {
        "200": {
            "description": "recorded",
            "content": {
                "application/json": {
                    "schema": {"type": "object", "additionalProperties": True},
                    "example": example,
                }
            },
        },
        "404": {
            "description": "the device is not registered (sigfox.unknown_devices = refuse)",
            "content": {"application/json": {"schema": _ERROR}},
        },
    }


def _service_paths(paths: dict[str, Any]) -> None:
    """The SERVICE (STATUS, ACKNOWLEDGE, DATA_ADVANCED) and ERROR callbacks."""
    by_time = frozenset({"device", "time"})
    for path, name, summary, description, variables, required, example in (
        (
            "/sigfox/service/status",
            "sigfox_service_status",
            "SERVICE STATUS callback",
            "Keeps the device's temperature and battery voltage; raises status and, below "
            "events.low_battery_volts, low_battery.",
            _STATUS,
            by_time,
            {"recorded": "status", "events": 1},
        ),
        (
            "/sigfox/service/acknowledge",
            "sigfox_service_acknowledge",
            "SERVICE ACKNOWLEDGE callback",
            "Moves the downlink that answered the message at `time` to acked or failed "
            "(named after infoCode); downlinkId is null when lorafox gave none.",
            _ACKNOWLEDGE,
            by_time | {"infoCode"},
            {"recorded": "acknowledge", "downlinkId": 12, "state": "acked"},
        ),
        (
            "/sigfox/service/data-advanced",
            "sigfox_service_data_advanced",
            "SERVICE DATA_ADVANCED callback",
            "Adds link quality, operator, base stations and computed location to the "
            "message (storing it from this callback when its DATA callback has not come).",
            _ADVANCED,
            by_time | {"seqNumber"},
            {"recorded": "data-advanced"},
        ),
        (
            "/sigfox/service",
            "sigfox_service",
            "SERVICE callback, any subtype",
            "Recognised by its variables: infoCode (ACKNOWLEDGE), temp or batt (STATUS), "
            "lqi/linkQuality/duplicates/computedLocation/… (DATA_ADVANCED); 400 otherwise.",
            {**_STATUS, **_ACKNOWLEDGE, **_ADVANCED},
            by_time,
            {"recorded": "status", "events": 1},
        ),
        (
            "/sigfox/error",
            "sigfox_error",
            "ERROR callback",
            "Keeps the callback as an error event, with its own info text.",
            _ERROR_CALLBACK,
            by_time,
            {"recorded": "error", "eventId": 7},
        ),
    ):
        operation = _operation(
            summary, description, _recorded(example), {**_DEVICE_TIME, **variables}, required
        )
        paths[path] = {
            "post": {**operation, "operationId": name},
            "get": _as_get(operation, f"{name}_get"),
        }


def _as_get(operation: dict[str, Any], operation_id: str) -> dict[str, Any]:
    """The same callback typed as GET: the (scalar) variables in the query string."""
    get = {k: v for k, v in operation.items() if k != "requestBody"}
    get["operationId"] = operation_id
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    get["parameters"] = [
        {"name": name, "in": "query", "required": name in schema["required"], "schema": spec}
        for name, spec in schema["properties"].items()
        if spec.get("type") not in ("array", "object")
    ]
    return get
