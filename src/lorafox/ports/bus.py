"""The message bus boundary: what the rest of lorafox needs from an MQTT broker.

Two implementations exist: ``lorafox.bus.broker`` (the broker runs inside lorafox) and
``lorafox.bus.external`` (a client to Mosquitto, EMQX, AWS IoT Core, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = [
    "Audience",
    "Bus",
    "MessageHandler",
    "PublishProperties",
    "publisher",
    "publisher_client",
]

MessageHandler = Callable[[str, bytes], Coroutine[Any, Any, None]]
"""Called with (topic, payload) for every message that matches a subscription."""

Audience = tuple[str, ...] | None
"""The group paths whose subtrees may read a message on the embedded broker; None: derived
from the topic (see ``lorafox.bus.access``). An external broker applies its own rules."""

publisher_client: ContextVar[tuple[str, str] | None] = ContextVar(
    "lorafox_mqtt_publisher_client", default=None
)
"""While a ``MessageHandler`` runs: the (client id, address) of the embedded broker's client
that published the message; None when lorafox cannot tell."""

publisher: ContextVar[object | None] = ContextVar("lorafox_mqtt_publisher", default=None)
"""While a ``MessageHandler`` runs: the principal of the embedded broker's client that
published the message; None when lorafox cannot tell (an external broker, an anonymous
client), and then the message is trusted as the broker's own access control let it through."""


@dataclass(slots=True, frozen=True)
class PublishProperties:
    """The MQTT 5 properties a message is published with (None: absent). MQTT 5 subscribers
    get them; MQTT 3.1.1 subscribers, and an external broker reached over MQTT 3.1.1, do not.
    """

    payload_format_indicator: int | None = None
    """1: the payload is UTF-8 text, 0: unspecified bytes."""
    content_type: str | None = None
    response_topic: str | None = None
    correlation_data: bytes | None = None
    message_expiry_interval: int | None = None
    """Seconds the broker keeps the message for subscribers that have not had it."""
    user_properties: tuple[tuple[str, str], ...] = ()


class Bus(Protocol):
    """Publish to and receive from an MQTT broker.

    Implementations are async context managers: entering starts them (connects, or starts the
    embedded broker), leaving stops them. ``subscribe`` is called before entering.
    """

    @property
    def connected(self) -> bool:
        """True while messages can be handed to the broker."""
        ...

    @property
    def max_in_flight(self) -> int:
        """How many ``publish`` calls are worth running at once (1: it never waits)."""
        ...

    def subscribe(self, topic_filter: str, handler: MessageHandler) -> None:
        """Deliver each message matching ``topic_filter`` to ``handler`` (across reconnects)."""
        ...

    async def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        audience: Audience = None,
        properties: PublishProperties | None = None,
    ) -> None:
        """Hand one message to the broker (``audience``: who may read it, where the broker
        can tell; ``properties``: its MQTT 5 properties, where the broker speaks MQTT 5).

        Returns once the broker has it (for QoS 1 on an external broker: its PUBACK).
        Raises ``BusUnavailable`` when not connected; the caller keeps the message and retries.
        """
        ...

    async def wait_connected(self) -> None:
        """Return once ``connected`` is true."""
        ...

    async def __aenter__(self) -> Bus: ...

    async def __aexit__(self, *exc_info: object) -> None: ...
