"""Routing: who is subscribed to what, and delivering each message to those allowed to read it.

Network subscriptions live in a trie of sessions; in-process subscriptions (``subscribe``) in
a second trie of handlers, each run in a task of its own with ``publisher`` set to the client
that published. QoS 0 goes straight to the socket (dropped for a slow client); QoS 1/2 goes
through the session (in flight up to ``max_inflight``, then queued).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Final

from lorafox.bus.broker.access import ANONYMOUS, AccessPolicy, may_receive
from lorafox.bus.broker.connection import CONNECTED, PAUSE_HANDLERS, Connection
from lorafox.bus.broker.limits import BrokerLimits
from lorafox.bus.broker.message import Message
from lorafox.bus.broker.retained import RetainedStore
from lorafox.bus.broker.session import Session
from lorafox.bus.mqtt_codec import Publish, encode_publish
from lorafox.bus.topics import SubscriptionIndex
from lorafox.ports.bus import Audience, MessageHandler, publisher, publisher_client

__all__ = ["Router"]

_DROP_LOG_EVERY: Final = 10_000
_MAX_HANDLER_TASKS: Final = 10_000
"""In-process handler tasks running at once before the broker stops reading from publishers."""
_HANDLER_TASKS_LOW: Final = 5_000


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
    ) -> None:
        """Deliver one message to the network subscribers of ``topic`` allowed to read it."""
        message: Message | None = None
        if retain:
            message = Message(raw_topic, payload, audience)
            if not self.retained.put(topic, message, qos):
                self.log.warning(
                    "retained messages at their limit (%d messages, %d bytes): %s not retained",
                    self.limits.max_retained,
                    self.limits.max_retained_bytes,
                    topic,
                )
        subscribers = self.sessions.match(topic)
        if not subscribers:
            return
        packet: bytes | None = None
        for session, subscribed_qos in subscribers.items():
            if session.identity.reads is not None and not may_receive(session.identity, audience):
                continue
            granted = qos if qos < subscribed_qos else subscribed_qos
            if granted == 0:
                connection = session.connection
                if connection is None:
                    continue  # an absent persistent session: QoS 0 is not queued
                if connection.paused:
                    connection.drop_qos0()
                    continue
                if packet is None:
                    packet = encode_publish(raw_topic, payload)
                connection.send(packet)
            else:
                if message is None:
                    message = Message(raw_topic, payload, audience)
                self.deliver(session, message, granted, False)

    def route_network(
        self, publish: Publish, origin: Connection | None
    ) -> list[asyncio.Task[None]]:
        """Deliver a PUBLISH (or a will) from a network client, in-process handlers included;
        the handler tasks it started. A publish the client may not make is dropped."""
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
            return []
        self.received += 1
        payload = publish.payload
        audience = self.access.audience_of_client(identity)
        self.route(topic, topic.encode("utf-8"), payload, publish.qos, publish.retain, audience)
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

    def deliver(self, session: Session, message: Message, qos: int, retain: bool) -> None:
        """Send a QoS 1/2 message to ``session`` now if it can take it, else queue it."""
        connection = session.connection
        limits = self.limits
        if (
            connection is not None
            and not connection.paused
            and not session.pending
            and len(session.inflight) < limits.max_inflight
        ):
            packet_id = session.allocate_packet_id()
            session.inflight[packet_id] = (message, qos, retain)
            connection.send(message.encode(qos, packet_id, retain, False))
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
        most = self.limits.max_inflight
        while session.pending and not connection.paused and len(inflight) < most:
            message, qos, retain = outgoing = session.next_pending()
            packet_id = session.allocate_packet_id()
            inflight[packet_id] = outgoing
            connection.send(message.encode(qos, packet_id, retain, False))

    # -- network subscriptions ------------------------------------------------------------------

    def add(self, session: Session, topic_filter: str, qos: int) -> None:
        session.subscriptions[topic_filter] = qos
        self.sessions.add(topic_filter, session, qos)

    def remove(self, session: Session, topic_filter: str) -> None:
        if session.subscriptions.pop(topic_filter, None) is not None:
            self.sessions.remove(topic_filter, session)

    def remove_all(self, session: Session) -> None:
        for topic_filter in session.subscriptions:
            self.sessions.remove(topic_filter, session)
        session.clear()

    def send_retained(self, session: Session, topic_filter: str, granted: int) -> None:
        """The retained messages matching a new subscription, to those allowed to read them."""
        identity = session.identity
        for message, stored_qos in self.retained.matching(topic_filter):
            if identity.reads is not None and not may_receive(identity, message.audience):
                continue
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
            connection.send(encode_publish(message.topic, message.payload, 0, retain=True))
