"""The parts of the OpenAPI document FastAPI cannot generate.

``/sigfox/uplink`` and ``/sigfox/bidir`` are served by the bare ASGI handler
(``api/callbacks.py``), outside FastAPI's routing; and request validation errors answer 400 in
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


def _operation(summary: str, description: str, ok: dict[str, Any]) -> dict[str, Any]:
    schema = {
        "type": "object",
        "properties": _VARIABLES,
        "required": sorted(_REQUIRED),
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
    """``document`` (FastAPI's OpenAPI dict) with 400 for validation errors, and the two
    callback paths and their schemas."""
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
    return document


def _as_get(operation: dict[str, Any], operation_id: str) -> dict[str, Any]:
    """The same callback typed as GET: the variables in the query string."""
    get = {k: v for k, v in operation.items() if k != "requestBody"}
    get["operationId"] = operation_id
    get["parameters"] = [
        {"name": name, "in": "query", "required": name in _REQUIRED, "schema": spec}
        for name, spec in _VARIABLES.items()
    ]
    return get
