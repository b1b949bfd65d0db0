"""Every message crossing the bus, handed to the rules engine (``RulesEngine.offer``).

* On the embedded broker, ``bus`` is the broker's ``Bus`` with its ``publish`` tapped (what
  lorafox publishes: uplinks, events, rejections, republished messages) and in-process
  subscriptions to the enabled rules' filters, following them (what clients publish, with the
  publishing principal and its groups as the message's audience).
* On an external broker, ``on_broker_message``, called by the rules' own connection to it
  (``lorafox.bus.rules_source``: a shared subscription, or the one instance feeding the rules),
  so that each message runs through the rules on one instance: the broker hands back what
  lorafox publishes too, and what other clients publish (no audience is known: the group of a
  device topic's device is used, else only the root group's rules see it).

``publish_as`` is the HTTPS publish (iot-data): checked against the caller's MQTT permissions
on the embedded broker, then published and offered with the caller as its principal; on the
embedded broker it also reaches the in-process handlers registered with ``also_on_https`` (the
downlink requests), as if the caller had published it over MQTT.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Callable

from lorafox.bus.access import TopicAccess
from lorafox.bus.broker import EmbeddedBus
from lorafox.bus.topics import filter_matcher
from lorafox.domain import Principal
from lorafox.errors import Forbidden, InvalidInput
from lorafox.ports.bus import (
    Audience,
    Bus,
    MessageHandler,
    PublishProperties,
    publisher,
    publisher_client,
)
from lorafox.rules.engine import BusMessage, RulesEngine

__all__ = ["RulesFeed"]

log = logging.getLogger(__name__)


def _now() -> int:
    return int(time.time() * 1000)


class _TappedBus:
    """A ``Bus`` whose ``publish`` also offers each message to the rules."""

    def __init__(self, inner: EmbeddedBus, feed: RulesFeed) -> None:
        self._inner = inner
        self._feed = feed

    @property
    def connected(self) -> bool:
        return self._inner.connected

    @property
    def max_in_flight(self) -> int:
        return self._inner.max_in_flight

    def subscribe(self, topic_filter: str, handler: MessageHandler) -> None:
        self._inner.subscribe(topic_filter, handler)

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
        await self._inner.publish(
            topic, payload, qos=qos, retain=retain, audience=audience, properties=properties
        )
        await self._feed.offer_own(topic, payload, audience)

    async def wait_connected(self) -> None:
        await self._inner.wait_connected()

    async def __aenter__(self) -> Bus:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._inner.__aexit__(*exc_info)


class RulesFeed:
    """Feeds ``engine`` from ``bus`` (see the module docstring); use ``bus`` in its place."""

    def __init__(self, bus: Bus, engine: RulesEngine, access: TopicAccess) -> None:
        self._engine = engine
        self._access = access
        self._embedded = isinstance(bus, EmbeddedBus)
        self._raw = bus
        self.bus: Bus = _TappedBus(bus, self) if isinstance(bus, EmbeddedBus) else bus
        self._subscribed: dict[str, tuple[MessageHandler, Callable[[str], bool]]] = {}
        self._https_handlers: list[tuple[Callable[[str], bool], MessageHandler]] = []
        if isinstance(bus, EmbeddedBus):
            self._broker = bus.broker
            engine.listeners.append(self._follow_filters)
            self._follow_filters()

    def _follow_filters(self) -> None:
        """Subscribe in-process to the enabled rules' filters only (nothing when there are no
        rules: the broker's path stays as it is)."""
        wanted = self._engine.filters()
        for topic_filter in [f for f in self._subscribed if f not in wanted]:
            handler, _ = self._subscribed.pop(topic_filter)
            self._broker.unsubscribe(topic_filter, handler)
        for topic_filter in sorted(wanted - self._subscribed.keys()):
            handler = self._handler_for(topic_filter)
            try:
                self._broker.subscribe(topic_filter, handler)
            except InvalidInput as exc:  # a filter the broker takes no subscription to
                log.warning("rules on %s see no client message: %s", topic_filter, exc)
                continue
            self._subscribed[topic_filter] = (handler, filter_matcher(topic_filter))

    def _handler_for(self, topic_filter: str) -> MessageHandler:
        async def handle(topic: str, payload: bytes) -> None:
            # overlapping filters each get the message: the first that matches offers it
            for subscribed, (_, match) in self._subscribed.items():
                if match(topic):
                    if subscribed == topic_filter:
                        await self._on_client_message(topic, payload)
                    return

        return handle

    def also_on_https(self, topic_filter: str, handler: MessageHandler) -> None:
        """Hand ``handler`` the HTTPS publishes to ``topic_filter`` too, with ``publisher`` set to
        the caller (on the embedded broker; an external broker hands them back by itself)."""
        if self._embedded:
            self._https_handlers.append((filter_matcher(topic_filter), handler))

    async def offer_own(self, topic: str, payload: bytes, audience: Audience) -> None:
        """A message lorafox published on the embedded broker."""
        if not self._engine.wants(topic):
            return
        if audience is None:
            audience = await self._access.audience_of(topic)
        self._engine.offer(BusMessage(topic, payload, audience, received_at=_now()))

    async def on_broker_message(self, topic: str, payload: bytes) -> None:
        """A message of the external broker, taken by the rules' own connection to it."""
        await self._on_client_message(topic, payload)

    async def _on_client_message(self, topic: str, payload: bytes) -> None:
        if not self._engine.wants(topic):
            return
        principal = publisher.get()
        if isinstance(principal, Principal):
            audience = self._access.identity(principal).reads
            name: str | None = principal.name
        elif self._embedded:
            audience, name = None, None  # an anonymous client: whoever reads everything
        else:
            audience, name = await self._access.audience_of(topic), None
        client = publisher_client.get()
        self._engine.offer(
            BusMessage(
                topic,
                payload,
                audience,
                client_id=client[0] if client else None,
                principal=name,
                source_ip=client[1].rsplit(":", 1)[0] if client else None,
                received_at=_now(),
            )
        )

    async def publish_as(
        self,
        caller: Principal,
        topic: str,
        payload: bytes,
        qos: int,
        retain: bool,
        source_ip: str | None = None,
    ) -> None:
        """Publish for ``caller`` (HTTPS publish); ``Forbidden`` where its MQTT login could not."""
        identity = self._access.identity(caller)
        if not self._access.may_publish(identity, topic):
            raise Forbidden(f"{caller.name} may not publish to {topic}")
        await self._raw.publish(topic, payload, qos=qos, retain=retain, audience=identity.reads)
        for match, handler in self._https_handlers:
            if match(topic):
                context = contextvars.copy_context()
                context.run(publisher.set, caller)
                context.run(publisher_client.set, None)
                await asyncio.create_task(handler(topic, payload), context=context)
        if self._embedded:
            self._engine.offer(
                BusMessage(
                    topic,
                    payload,
                    identity.reads,
                    principal=caller.name,
                    source_ip=source_ip,
                    received_at=_now(),
                )
            )
