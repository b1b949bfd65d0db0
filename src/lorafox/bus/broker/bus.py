"""The ``Bus`` protocol on an embedded broker."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from lorafox.bus.broker.broker import EmbeddedBroker
from lorafox.ports.bus import Audience, MessageHandler, PublishProperties

__all__ = ["EmbeddedBus"]

AudienceOf = Callable[[str], Awaitable[Audience]]
"""Who may read what lorafox publishes on a topic (when the publisher does not say)."""


async def _everyone_who_reads_all(topic: str) -> Audience:
    return None


class EmbeddedBus:
    """The ``Bus`` protocol on an ``EmbeddedBroker``: entering starts the broker, leaving stops it.

    ``publish`` hands the message to the broker's subscribers at once, to those allowed to
    read it (its ``audience``, else ``audience_of(topic)``); it raises ``BusUnavailable`` only
    when the broker is not running. lorafox's messages are JSON: MQTT 5 subscribers get
    ``content-type: application/json`` and a correlation id per message.
    """

    def __init__(
        self, broker: EmbeddedBroker, audience_of: AudienceOf = _everyone_who_reads_all
    ) -> None:
        self._broker = broker
        self._audience_of = audience_of

    @property
    def broker(self) -> EmbeddedBroker:
        """The broker underneath."""
        return self._broker

    @property
    def connected(self) -> bool:
        """True while the broker is running."""
        return self._broker.running

    @property
    def max_in_flight(self) -> int:
        """1: ``publish`` hands the message over at once and never waits."""
        return 1

    def subscribe(self, topic_filter: str, handler: MessageHandler) -> None:
        """Deliver every message network clients publish to ``topic_filter`` to ``handler``."""
        self._broker.subscribe(topic_filter, handler)

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
        """Hand one message to the broker's subscribers (MQTT 5 ones get ``properties``)."""
        if audience is None:
            audience = await self._audience_of(topic)
        self._broker.publish_nowait(
            topic,
            payload,
            qos,
            retain,
            audience,
            content_type="application/json",
            properties=properties,
        )

    async def wait_connected(self) -> None:
        """Return once the broker is running."""
        await self._broker.wait_started()

    async def __aenter__(self) -> EmbeddedBus:
        await self._broker.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._broker.stop()
