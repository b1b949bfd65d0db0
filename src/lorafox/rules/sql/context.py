"""What a statement is evaluated against: one message and where it came from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Env", "MessageContext"]


@dataclass(slots=True, frozen=True)
class MessageContext:
    """One message crossing the bus, with what the context functions read.

    ``client_id`` is None when the message did not come over MQTT (``clientid()`` is then
    "n/a", ``traceid()`` Undefined); ``properties`` holds the MQTT 5 properties the transport
    gave (``get_mqtt_property``)."""

    topic: str
    payload: bytes
    timestamp: int
    """Milliseconds since the epoch, when the message reached lorafox."""
    client_id: str | None = None
    principal: str | None = None
    source_ip: str | None = None
    trace_id: str | None = None
    account: str = "000000000000"
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Env:
    """The evaluation state: the message, the document fields are read from (the payload, or
    one element of a nested query) and the SET variables."""

    message: MessageContext
    doc: Any
    version: str
    variables: dict[str, Any]
    lookups: dict[Any, Any] | None = None
    """``get_dynamodb``'s items, read before the evaluation (None: no reads, Undefined)."""
    pending: list[Any] = field(default_factory=list)
    """The ``get_dynamodb`` reads this evaluation asked for."""
