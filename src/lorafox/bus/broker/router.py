"""Routing: who is subscribed to what, and delivering each message to those allowed to read it.

Network subscriptions live in a trie of sessions; in-process subscriptions (``subscribe``) in
a second trie of handlers, each run in a task of its own with ``publisher`` set to the client
that published; shared subscriptions in ``shared``. QoS 0 goes straight to the socket (dropped
for a slow client); QoS 1/2 goes through the session (in flight up to ``max_inflight`` or the
client's receive maximum, then queued).

MQTT 5 clients get their messages with the properties passed through (payload format,
content type, response topic, correlation data, user properties), the message expiry left,
their subscription identifiers, and the retain flag as published for "retain as published"
subscriptions; "no local" subscriptions do not get their own client's messages.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from collections.abc import Callable
from typing import Final

from lorafox.bus.broker.access import ANONYMOUS, AccessPolicy, may_receive
from lorafox.bus.broker.connection import CONNECTED, PAUSE_HANDLERS, Connection
from lorafox.bus.broker.limits import BrokerLimits
from lorafox.bus.broker.message import Message, encode_publish5
from lorafox.bus.broker.retained import RetainedStore
from lorafox.bus.broker.session import Link, Session
from lorafox.bus.broker.shared import SharedSubscriptions, parse_shared
from lorafox.bus.mqtt_codec import NO_PROPERTIES, Properties, Publish, encode_publish
from lorafox.bus.mqtt_codec.properties import encode_properties
from lorafox.bus.topics import SubscriptionIndex, filter_matcher
from lorafox.ports.bus import Audience, MessageHandler, publisher, publisher_client

__all__ = ["Router"]

_DROP_LOG_EVERY: Final = 10_000
_MAX_HANDLER_TASKS: Final = 10_000
"""In-process handler tasks running at once before the broker stops reading from publishers."""
_HANDLER_TASKS_LOW: Final = 5_000
NO_LOCAL: Final = 0x04
RETAIN_AS_PUBLISHED: Final = 0x08

_matcher: Callable[[str], Callable[[str], bool]] = functools.lru_cache(maxsize=4096)(filter_matcher)


def forwarded_properties(properties: Properties) -> bytes:
    """The properties of a client's PUBLISH passed on to subscribers (encoded, without their
    length): payload format, content type, response topic, correlation data, user properties."""
    if properties is NO_PROPERTIES:
        return b""
    block = encode_properties(
        Properties(
            payload_format_indicator=properties.payload_format_indicator,
            content_type=properties.content_type,
            response_topic=properties.response_topic,
            correlation_data=properties.correlation_data,
            user_properties=properties.user_properties,
        )
    )
    length_bytes = 1
    while block[length_bytes - 1] & 0x80:
        length_bytes += 1
    return block[length_bytes:]


def _send_qos0_v5(
    connection: Link, message: Message, sub_ids: tuple[int, ...], retain: bool
) -> None:
    """Send a QoS 0 message to an MQTT 5 client with its own identifiers, retain flag, topic
    alias or expiry left."""
    data = connection.encode5(message.for_subscription(sub_ids), 0, 0, retain, False)
    if data is not None:
        connection.send(data)


class _LocalSubscription:
    """One in-process ``subscribe`` call."""

    __slots__ = ("handler", "topic_filter")

    def __init__(self, topic_filter: str, handler: MessageHandler) -> None:
        self.topic_filter = topic_filter
        self.handler = handler


class Router:
    """Subscriptions, retained messages and delivery (see the module docstring)."""

    def __init__(self, access: AccessPolicy, limits: BrokerLimits, log: logging.Logger) -> None:
        self.access = access
        self.limits = limits
        self.log = log
        self.loop: asyncio.AbstractEventLoop | None = None
        self.sessions: SubscriptionIndex[Session] = SubscriptionIndex()
        self.retained = RetainedStore(limits.max_retained, limits.max_retained_bytes)
        self.shared = SharedSubscriptions()
        self._local_index: SubscriptionIndex[_LocalSubscription] = SubscriptionIndex()
        self._local: list[_LocalSubscription] = []
        self.handler_tasks: set[asyncio.Task[None]] = set()
        self._handler_paused: set[Connection] = set()
        self.received = 0
        self.dropped_qos0 = 0
        self.dropped_queued = 0
        self.refused_publishes = 0

    # -- in-process subscriptions ---------------------------------------------------------------

    def subscribe_local(self, topic_filter: str, handler: MessageHandler) -> None:
        subscription = _LocalSubscription(topic_filter, handler)
        self._local_index.add(topic_filter, subscription)
        self._local.append(subscription)

    def unsubscribe_local(self, topic_filter: str, handler: MessageHandler) -> None:
        keep = []
        for subscription in self._local:
            if subscription.topic_filter == topic_filter and subscription.handler == handler:
                self._local_index.remove(topic_filter, subscription)
            else:
                keep.append(subscription)
        self._local = keep

    def forget(self, connection: Connection) -> None:
        """``connection`` is gone: no reading to resume for it."""
        self._handler_paused.discard(connection)

    # -- delivery -------------------------------------------------------------------------------

    def route(
        self,
        topic: str,
        raw_topic: bytes,
        payload: bytes,
        qos: int,
        retain: bool,
        audience: Audience,
        properties: bytes = b"",
        expires_at: float | None = None,
        origin: Session | None = None,
    ) -> bool:
        """Deliver one message to the network subscribers of ``topic`` allowed to read it;
        False when it was to be retained and the retained messages are at their limit."""
        message: Message | None = None
        kept = True
        if retain:
            message = Message(raw_topic, payload, audience, properties, expires_at)
            kept = self._retain(topic, message, qos)
        subscribers = self.sessions.match(topic)
        if self.shared.groups:
            self._route_shared(topic, raw_topic, payload, qos, audience, properties, expires_at)
        if not subscribers:
            return kept
        packet: bytes | None = None
        packet5: bytes | None = None
        for session, most in subscribers.items():
            if session.identity.reads is not None and not may_receive(session.identity, audience):
                continue
            sub_ids: tuple[int, ...] = ()
            live_retain = False
            subscribed_qos = most
            if session.options:
                found = self._options(session, topic, origin, retain)
                if found is None:
                    continue
                subscribed_qos, sub_ids, live_retain = found
            granted = qos if qos < subscribed_qos else subscribed_qos
            connection = session.connection
            if granted == 0:
                if connection is None:
                    continue  # an absent persistent session: QoS 0 is not queued
                if connection.paused:
                    connection.drop_qos0()
                    continue
                if connection.v5:
                    if (
                        sub_ids
                        or live_retain
                        or connection.alias_limit_out
                        or expires_at is not None
                    ):
                        message = message or Message(
                            raw_topic, payload, audience, properties, expires_at
                        )
                        _send_qos0_v5(connection, message, sub_ids, live_retain)
                        continue
                    if packet5 is None:  # the same packet for every client: encoded once
                        packet5 = encode_publish5(raw_topic, payload, properties)
                    if not connection.max_packet_out or len(packet5) <= connection.max_packet_out:
                        connection.send(packet5)
                    continue
                if packet is None:
                    packet = encode_publish(raw_topic, payload)
                connection.send(packet)
            else:
                if message is None:
                    message = Message(raw_topic, payload, audience, properties, expires_at)
                if sub_ids:
                    self.deliver(session, message.for_subscription(sub_ids), granted, live_retain)
                else:
                    self.deliver(session, message, granted, live_retain)
        return kept

    def _retain(self, topic: str, message: Message, qos: int) -> bool:
        kept = self.retained.put(topic, message, qos)
        if not kept:
            self.log.warning(
                "retained messages at their limit (%d messages, %d bytes): %s not retained",
                self.limits.max_retained,
                self.limits.max_retained_bytes,
                topic,
            )
        return kept

    def _options(
        self, session: Session, topic: str, origin: Session | None, retain: bool
    ) -> tuple[int, tuple[int, ...], bool] | None:
        """(QoS, subscription identifiers, retain flag) of the subscriptions of ``session``
        matching ``topic`` that apply (not "no local" ones of its own messages); None: none."""
        best = -1
        sub_ids: list[int] = []
        live_retain = False
        options = session.options
        for topic_filter, granted in session.subscriptions.items():
            if topic_filter.startswith("$share/") or not _matcher(topic_filter)(topic):
                continue
            byte, sub_id = options.get(topic_filter, (granted, 0))
            if byte & NO_LOCAL and origin is session:
                continue
            best = max(best, granted)
            if sub_id:
                sub_ids.append(sub_id)
            if byte & RETAIN_AS_PUBLISHED and retain:
                live_retain = True
        if best < 0:
            return None
        return best, tuple(sub_ids), live_retain

    def _route_shared(
        self,
        topic: str,
        raw_topic: bytes,
        payload: bytes,
        qos: int,
        audience: Audience,
        properties: bytes,
        expires_at: float | None,
    ) -> None:
        for group in self.shared.match(topic):
            picked = group.pick()
            if picked is None:
                continue
            session, subscribed_qos = picked
            if session.identity.reads is not None and not may_receive(session.identity, audience):
                continue
            message = Message(raw_topic, payload, audience, properties, expires_at)
            granted = min(qos, subscribed_qos)
            if granted:
                self.deliver(session, message, granted, False)
                continue
            connection = session.connection
            if connection is None:
                continue
            if connection.paused:
                connection.drop_qos0()
                continue
            data = (
                connection.encode5(message, 0, 0, False, False)
                if connection.v5
                else encode_publish(raw_topic, payload)
            )
            if data is not None:
                connection.send(data)

    def route_network(
        self, publish: Publish, origin: Connection | None
    ) -> list[asyncio.Task[None]] | None:
        """Deliver a PUBLISH (or a will) from a network client, in-process handlers included;
        the handler tasks it started. A publish the client may not make is dropped (None)."""
        topic = publish.topic
        identity = origin.identity if origin is not None else ANONYMOUS
        if topic.startswith("$") or not self.access.may_publish(identity, topic):
            self.refused_publishes += 1
            self.log.warning(
                "client %s (%s) may not publish to %s: message dropped",
                origin.client_id if origin is not None else "?",
                origin.peer if origin is not None else "?",
                topic,
            )
            return None
        self.received += 1
        payload = publish.payload
        audience = self.access.audience_of_client(identity)
        properties = b""
        expires_at = None
        if publish.properties is not None and publish.properties is not NO_PROPERTIES:
            properties = forwarded_properties(publish.properties)
            interval = publish.properties.message_expiry_interval
            if interval is not None and self.loop is not None:
                expires_at = self.loop.time() + interval
        self.route(
            topic,
            topic.encode("utf-8"),
            payload,
            publish.qos,
            publish.retain,
            audience,
            properties,
            expires_at,
            origin.session if origin is not None else None,
        )
        if not self._local:
            return []
        subscriptions = self._local_index.match(topic)
        loop = self.loop
        if not subscriptions or loop is None:
            return []
        context = contextvars.copy_context()
        context.run(publisher.set, identity.principal)
        if origin is not None:
            context.run(publisher_client.set, (origin.client_id, origin.peer))
        tasks = []
        for subscription in subscriptions:
            task = loop.create_task(
                self._run_handler(subscription.handler, topic, payload), context=context
            )
            self.handler_tasks.add(task)
            task.add_done_callback(self._handler_done)
            tasks.append(task)
        if origin is not None and len(self.handler_tasks) >= _MAX_HANDLER_TASKS:
            self._throttle_publisher(origin)
        return tasks

    async def _run_handler(self, handler: MessageHandler, topic: str, payload: bytes) -> None:
        try:
            await handler(topic, payload)
        except Exception:
            self.log.exception("in-process MQTT handler %r failed for topic %s", handler, topic)

    def _handler_done(self, task: asyncio.Task[None]) -> None:
        self.handler_tasks.discard(task)
        if self._handler_paused and len(self.handler_tasks) <= _HANDLER_TASKS_LOW:
            for connection in self._handler_paused:
                connection.resume_reading(PAUSE_HANDLERS)
            self._handler_paused.clear()

    def _throttle_publisher(self, connection: Connection) -> None:
        """Stop reading from ``connection`` while in-process handlers are far behind."""
        if connection.state == CONNECTED and connection not in self._handler_paused:
            self._handler_paused.add(connection)
            connection.pause_reading(PAUSE_HANDLERS)

    def _packet(
        self, session: Session, message: Message, qos: int, packet_id: int, retain: bool
    ) -> bytes | None:
        connection = session.connection
        if connection is None:  # pragma: no cover - callers check
            return None
        if connection.v5:
            return connection.encode5(message, qos, packet_id, retain, False)
        return message.encode(qos, packet_id, retain, False)

    def deliver(self, session: Session, message: Message, qos: int, retain: bool) -> None:
        """Send a QoS 1/2 message to ``session`` now if it can take it, else queue it."""
        connection = session.connection
        limits = self.limits
        if (
            connection is not None
            and not connection.paused
            and not session.pending
            and len(session.inflight) < session.max_inflight
        ):
            packet_id = session.allocate_packet_id()
            if connection.v5:
                data = connection.encode5(message, qos, packet_id, retain, False)
                if data is None:
                    return
            else:
                data = message.encode(qos, packet_id, retain, False)
            session.inflight[packet_id] = (message, qos, retain)
            connection.send(data)
            return
        dropped = session.enqueue(
            (message, qos, retain), limits.max_queued_messages, limits.max_queued_bytes
        )
        if dropped:
            before = session.dropped - dropped
            self.dropped_queued += dropped
            if before // _DROP_LOG_EVERY != session.dropped // _DROP_LOG_EVERY or not before:
                self.log.warning(
                    "client %s: queue full (%d messages, %d bytes at most); %d dropped so far, "
                    "oldest first",
                    session.client_id,
                    limits.max_queued_messages,
                    limits.max_queued_bytes,
                    session.dropped,
                )

    def pump(self, session: Session) -> None:
        """Send queued messages while the client can take them."""
        connection = session.connection
        if connection is None:
            return
        inflight = session.inflight
        most = session.max_inflight
        while session.pending and not connection.paused and len(inflight) < most:
            message, qos, retain = outgoing = session.next_pending()
            packet_id = session.allocate_packet_id()
            data = self._packet(session, message, qos, packet_id, retain)
            if data is not None:
                inflight[packet_id] = outgoing
                connection.send(data)

    # -- network subscriptions ------------------------------------------------------------------

    def add(self, session: Session, topic_filter: str, qos: int) -> bool:
        """Subscribe ``session`` (``$share/…`` filters to their group); True when it was not
        subscribed to ``topic_filter`` yet."""
        new = topic_filter not in session.subscriptions
        session.subscriptions[topic_filter] = qos
        shared = parse_shared(topic_filter)
        if shared is not None:
            self.shared.add(shared[0], shared[1], session, qos)
        else:
            self.sessions.add(topic_filter, session, qos)
        return new

    def remove(self, session: Session, topic_filter: str) -> bool:
        """Unsubscribe; False when ``session`` was not subscribed to ``topic_filter``."""
        session.options.pop(topic_filter, None)
        if session.subscriptions.pop(topic_filter, None) is None:
            return False
        self._unindex(session, topic_filter)
        return True

    def _unindex(self, session: Session, topic_filter: str) -> None:
        shared = parse_shared(topic_filter)
        if shared is not None:
            self.shared.remove(shared[0], shared[1], session)
        else:
            self.sessions.remove(topic_filter, session)

    def remove_all(self, session: Session) -> None:
        for topic_filter in session.subscriptions:
            self._unindex(session, topic_filter)
        session.clear()

    def send_retained(
        self, session: Session, topic_filter: str, granted: int, sub_id: int = 0
    ) -> None:
        """The retained messages matching a new subscription, to those allowed to read them."""
        identity = session.identity
        now = self.loop.time() if self.loop is not None else 0.0
        for stored, stored_qos in self.retained.matching(topic_filter):
            if identity.reads is not None and not may_receive(identity, stored.audience):
                continue
            if stored.expired(now):
                continue
            message = stored.for_subscription((sub_id,)) if sub_id else stored
            qos = min(stored_qos, granted)
            if qos:
                self.deliver(session, message, qos, True)
                continue
            connection = session.connection
            if connection is None:
                continue
            if connection.paused:
                connection.drop_qos0()
                continue
            data = (
                connection.encode5(message, 0, 0, True, False)
                if connection.v5
                else encode_publish(message.topic, message.payload, 0, retain=True)
            )
            if data is not None:
                connection.send(data)
