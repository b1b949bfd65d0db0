"""The request a callback makes: its patterns rendered with a message's (or a report's)
variables, or a BATCH_URL callback's lines. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from lorafox.callbacks.templates import render, uplink_values, url_value
from lorafox.domain import (
    Callback,
    CallbackChannel,
    CallbackRequest,
    StoredUplink,
)

__all__ = ["batch_request_for", "request_for", "values_request"]


def request_for(callback: Callback, stored: StoredUplink) -> CallbackRequest:
    """The request ``callback`` makes for ``stored`` (alone)."""
    if callback.channel is CallbackChannel.BATCH_URL:
        return batch_request_for(callback, [stored])
    return values_request(callback, uplink_values(stored, callback.device_type_id))


def values_request(callback: Callback, values: Mapping[str, Any]) -> CallbackRequest:
    """The request ``callback`` makes with these variables."""
    headers = {name: render(value, values) for name, value in callback.headers.items()}
    body = None
    if callback.body_template is not None and callback.http_method != "GET":
        body = render(callback.body_template, values)
        headers["Content-Type"] = callback.content_type or "application/json"
    return CallbackRequest(
        callback.http_method, render(callback.url, values, url_value), headers, body
    )


def batch_request_for(callback: Callback, found: Sequence[StoredUplink]) -> CallbackRequest:
    """The request a BATCH_URL callback makes for ``found``: a line each."""
    lines = [
        render(callback.line_pattern or "", uplink_values(stored, callback.device_type_id))
        for stored in found
    ]
    headers = {**callback.headers, "Content-Type": callback.content_type or "text/plain"}
    return CallbackRequest(callback.http_method, callback.url, headers, "\n".join(lines))
