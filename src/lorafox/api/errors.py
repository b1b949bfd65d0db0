"""Errors to HTTP, in one place: status codes and the JSON body (Sigfox API v2's shape)."""

from __future__ import annotations

from typing import Any

import orjson

from lorafox.errors import (
    AuthenticationFailed,
    Conflict,
    Forbidden,
    InvalidInput,
    LoginThrottled,
    LorafoxError,
    NotFound,
    PayloadTooLarge,
    StoreError,
)

__all__ = ["error_body", "error_response", "status_for"]

_STATUS: tuple[tuple[type[LorafoxError], int], ...] = (
    (PayloadTooLarge, 413),
    (InvalidInput, 400),
    (LoginThrottled, 429),
    (AuthenticationFailed, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (StoreError, 503),
)


def status_for(exc: LorafoxError) -> int:
    """The HTTP status of ``exc``: the one its class declares (``status``, as the DynamoDB
    errors do), else the one of its nearest kind above."""
    declared = getattr(type(exc), "status", None)
    if isinstance(declared, int):
        return declared
    for kind, status in _STATUS:
        if isinstance(exc, kind):
            return status
    return 500


def error_body(message: str, errors: list[dict[str, Any]] | None = None) -> bytes:
    return orjson.dumps({"message": message, "errors": errors or []})


def error_response(exc: LorafoxError) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """(status, headers, body) for ``exc``."""
    errors: list[dict[str, Any]] = []
    field = getattr(exc, "field", None)
    if field:
        errors.append({"field": field, "message": exc.message})
    status = status_for(exc)
    headers = [(b"content-type", b"application/json")]
    if isinstance(exc, LoginThrottled):
        headers.append((b"retry-after", str(exc.retry_after).encode()))
    if status == 401:
        headers.append((b"www-authenticate", b'Basic realm="lorafox", charset="UTF-8"'))
    if status == 503:
        headers.append((b"retry-after", b"5"))
    return status, headers, error_body(exc.message, errors)
