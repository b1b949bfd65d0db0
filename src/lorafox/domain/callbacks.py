"""Outgoing callbacks: where a device type's messages are forwarded, as the Sigfox Back-End's
Callbacks page configures it, and each request made (or still to make) for one message."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

__all__ = [
    "Callback",
    "CallbackChannel",
    "CallbackRequest",
    "CallbackSubtype",
    "CallbackType",
    "Delivery",
    "DeliveryState",
]


class CallbackChannel(StrEnum):
    URL = "URL"
    BATCH_URL = "BATCH_URL"
    EMAIL = "EMAIL"


class CallbackType(IntEnum):
    """Sigfox's ``callbackType``."""

    DATA = 0
    SERVICE = 1
    ERROR = 2


class CallbackSubtype(IntEnum):
    """Sigfox's ``callbackSubtype`` codes."""

    STATUS = 0
    GEOLOC = 1
    UPLINK = 2
    BIDIR = 3
    ACKNOWLEDGE = 4
    REPEATER = 5
    DATA_ADVANCED = 6


@dataclass(slots=True, frozen=True)
class Callback:
    """One callback of a device type. ``url``, ``headers`` and ``body_template`` are patterns
    with Sigfox's ``{variables}``; ``dead`` is set while its destination keeps failing."""

    id: str
    device_type_id: str
    channel: CallbackChannel
    callback_type: CallbackType
    callback_subtype: CallbackSubtype
    url: str
    http_method: str = "POST"
    enabled: bool = True
    send_duplicate: bool = False
    send_sni: bool = True
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    body_template: str | None = None
    line_pattern: str | None = None
    downlink_hook: bool = False
    dead: bool = False
    created_at: int = 0
    recipient: str | None = None
    """EMAIL: the addresses, comma-separated."""
    subject: str | None = None
    """EMAIL: a pattern, like ``message``."""
    message: str | None = None


class DeliveryState(StrEnum):
    PENDING = "pending"
    """Not delivered yet: waiting for its first attempt or its next retry."""
    DELIVERED = "delivered"
    FAILED = "failed"
    """Retried for as long as allowed: given up (a manual retry makes it pending again)."""


@dataclass(slots=True, frozen=True)
class Delivery:
    """What a callback owes one message: its request is rendered from the callback and the
    message when it is made (so a callback corrected after a failure is retried corrected)."""

    id: int
    callback_id: str
    device_type_id: str
    device: str
    message_id: int | None
    """The stored uplink of a DATA callback."""
    message_time: int
    state: DeliveryState
    attempts: int
    next_attempt_at: int
    created_at: int
    last_status: int | None = None
    """The HTTP status of the last attempt (None when no answer came)."""
    last_error: str | None = None
    ended_at: int | None = None
    report_key: str | None = None
    """What a SERVICE or ERROR callback forwards, once (``status:<device>:<time>`` …)."""
    variables: dict[str, Any] | None = None
    """A SERVICE or ERROR callback's variables, by their Sigfox names."""

    @classmethod
    def owed(
        cls,
        callback: Callback,
        device: str,
        message_time: int,
        now: int,
        *,
        message_id: int | None = None,
        report_key: str | None = None,
        variables: dict[str, Any] | None = None,
    ) -> Delivery:
        """A delivery ``callback`` owes from ``now``, not yet attempted."""
        return cls(
            id=0,
            callback_id=callback.id,
            device_type_id=callback.device_type_id,
            device=device,
            message_id=message_id,
            message_time=message_time,
            state=DeliveryState.PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
            report_key=report_key,
            variables=variables,
        )


@dataclass(slots=True, frozen=True)
class CallbackRequest:
    """The HTTP request a callback makes for one message."""

    method: str
    url: str
    headers: dict[str, str]
    body: str | None
