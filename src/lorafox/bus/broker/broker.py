"""The embedded MQTT broker: lifecycle, the in-process API, and the owner of its connections
(see the package doc); logins are ``logins.Logins``', wills ``wills.Wills``' and routing
``router.Router``'s."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Final

from lorafox.bus.broker.access import AccessPolicy, OpenAccess
from lorafox.bus.broker.admission import Admission
from lorafox.bus.broker.connection import CONNECTED, Connection
from lorafox.bus.broker.limits import BrokerLimits
from lorafox.bus.broker.logins import Authenticator, Logins
from lorafox.bus.broker.message import Audience, own_properties
from lorafox.bus.broker.router import Router
from lorafox.bus.broker.session import Session
from lorafox.bus.broker.sessions import SessionTable
from lorafox.bus.broker.subscriptions import Subscriptions
from lorafox.bus.broker.wills import Wills
from lorafox.bus.mqtt_codec import (
    MAX_REMAINING_LENGTH,
    Connect,
    Disconnect,
    Publish,
    ReasonCode,
    Subscribe,
    Unsubscribe,
)
from lorafox.bus.topics import topic_name_bytes
from lorafox.errors import BusError, BusUnavailable, ConfigError, InvalidInput
from lorafox.ports.bus import MessageHandler, PublishProperties

__all__ = ["Authenticator", "BrokerStats", "EmbeddedBroker"]

_log = logging.getLogger("lorafox.bus.broker")

_STOP_TIMEOUT: Final = 2.0


@dataclass(slots=True, frozen=True)
class BrokerStats:
    """A snapshot of the broker's counters."""

    connections: int
    sessions: int
    subscriptions: int
    retained: int
    received: int
    """PUBLISH packets received from network clients (wills included)."""
    published: int
    """Messages published in process (``publish_nowait``)."""
    dropped_qos0: int
    """QoS 0 messages not sent because the subscriber was too slow."""
    dropped_queued: int
    """QoS 1/2 messages dropped from a full queue (the oldest first)."""
    refused_publishes: int
    """Client publishes dropped by access control."""


class EmbeddedBroker:
    """An MQTT 5, 3.1.1 and 3.1 broker running on the current event loop.

    ``authenticate(username, password, address)`` decides for clients that give a user name;
    clients without one are anonymous and let in only when ``allow_anonymous``. ``access``
    decides what a logged-in client may publish and subscribe to; ``limits`` bound everything
    the broker keeps.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        authenticate: Authenticator | None,
        allow_anonymous: bool,
        access: AccessPolicy | None = None,
        limits: BrokerLimits | None = None,
        logger: logging.Logger | None = None,
        refused_filters: tuple[str, ...] = (),
    ) -> None:
        if authenticate is None and not allow_anonymous:
            raise ConfigError(
                "the embedded MQTT broker refuses anonymous clients but has no way to check "
                "credentials: give it an authenticate callback or allow anonymous clients"
            )
        self._host = host
        self._port = port
        self.access: AccessPolicy = access if access is not None else OpenAccess()
        self.limits = limits if limits is not None else BrokerLimits()
        self.log = logger if logger is not None else _log
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._running = False
        self._started = asyncio.Event()
        self._admission = Admission(self.limits, self.log)
        self._connections = self._admission.connections
        self._all_gone: asyncio.Future[None] | None = None
        self._router = Router(self.access, self.limits, self.log)
        self._table = SessionTable(self._router, self.limits, self.log)
        self._sessions = self._table.by_id
        self._published = 0
        self._subscriptions = Subscriptions(self._router, self.access, refused_filters, self.log)
        self._logins = Logins(
            authenticate,
            allow_anonymous,
            limits=self.limits,
            log=self.log,
            table=self._table,
            admission=self._admission,
            router=self._router,
        )
        self._wills = Wills(self._router, self._sessions, self.log, lambda: self._running)

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True between ``start()`` and ``stop()``."""
        return self._running

    @property
    def port(self) -> int:
        """The TCP port listened on (the one the system chose when constructed with port 0)."""
        if self._server is not None and self._server.sockets:
            return int(self._server.sockets[0].getsockname()[1])
        return self._port

    @property
    def host(self) -> str:
        """The address listened on."""
        return self._host

    async def start(self) -> None:
        """Listen for clients. An ``OSError`` from binding (port in use, ...) propagates as is."""
        if self._server is not None:
            raise BusError("the embedded MQTT broker is already running")
        loop = asyncio.get_running_loop()
        self._loop = self._router.loop = self._logins.loop = self._wills.loop = loop
        self._server = await loop.create_server(
            lambda: Connection(self, loop), self._host, self._port, backlog=1024
        )
        self._running = True
        self._started.set()
        self._table.start(loop)
        self.log.info("embedded MQTT broker listening on %s:%d", self._host, self.port)

    async def stop(self) -> None:
        """Stop listening and close every client connection (without publishing wills)."""
        server = self._server
        if server is None:
            return
        self._running = False
        self._started.clear()
        self._table.stop()
        server.close()
        loop = asyncio.get_running_loop()
        for task in list(self._logins.tasks):
            task.cancel()
        connections = list(self._connections)
        if connections:
            self._all_gone = loop.create_future()
            for connection in connections:
                if connection.v5 and connection.state == CONNECTED and not connection.paused:
                    connection.send(Disconnect(ReasonCode.SERVER_SHUTTING_DOWN).encode())
                # A client that does not read would keep its connection open while flushing.
                connection.shutdown(publish_will=False, abort=connection.paused)
            try:
                await asyncio.wait_for(asyncio.shield(self._all_gone), _STOP_TIMEOUT)
            except TimeoutError:
                for connection in list(self._connections):
                    connection.abort()
                await asyncio.sleep(0)
            self._all_gone = None
        await server.wait_closed()
        if self._router.handler_tasks:
            _done, still_running = await asyncio.wait(
                list(self._router.handler_tasks), timeout=_STOP_TIMEOUT
            )
            for running in still_running:
                running.cancel()
            if still_running:
                await asyncio.wait(still_running)
        self._server = None
        self.log.info("embedded MQTT broker stopped")

    async def __aenter__(self) -> EmbeddedBroker:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    async def wait_started(self) -> None:
        """Return once the broker is listening."""
        await self._started.wait()

    def stats(self) -> BrokerStats:
        """The broker's counters now."""
        router = self._router
        return BrokerStats(
            connections=sum(1 for c in self._connections if c.state == CONNECTED),
            sessions=len(self._sessions),
            subscriptions=len(router.sessions),
            retained=len(router.retained),
            received=router.received,
            published=self._published,
            dropped_qos0=router.dropped_qos0,
            dropped_queued=router.dropped_queued,
            refused_publishes=router.refused_publishes,
        )

    # -- in-process API -------------------------------------------------------------------------

    def publish_nowait(
        self,
        topic: str,
        payload: bytes,
        qos: int = 0,
        retain: bool = False,
        audience: Audience = None,
        content_type: str | None = None,
        properties: PublishProperties | None = None,
    ) -> None:
        """Publish to the network subscribers of ``topic`` (among ``audience``) now; never
        blocks. MQTT 5 subscribers get ``content_type`` and a correlation id of 8 bytes (a
        counter of this broker's messages) as properties, or ``properties`` when given (their
        content type and correlation data in place of those, their message expiry counted
        from now).

        Messages for slow subscribers are dropped (QoS 0) or queued (QoS 1/2) rather than
        waited for. In-process handlers do not see these messages. Raises ``InvalidInput`` for
        a bad topic, QoS or payload and ``BusUnavailable`` when the broker is not running.
        """
        if not self._running:
            raise BusUnavailable("the embedded MQTT broker is not running")
        if qos not in (0, 1, 2):
            raise InvalidInput(f"QoS must be 0, 1 or 2, not {qos!r}", field="qos")
        if type(payload) is not bytes:
            if not isinstance(payload, bytes | bytearray | memoryview):
                raise InvalidInput("the payload must be bytes", field="payload")
            payload = bytes(payload)
        raw_topic = topic_name_bytes(topic)
        if len(raw_topic) + len(payload) + 4 > MAX_REMAINING_LENGTH:
            raise InvalidInput("the message is too large for MQTT", field="payload")
        self._published += 1
        block = own_properties(self._published, content_type, properties)
        expires_at = None
        if properties is not None and properties.message_expiry_interval is not None:
            expires_at = asyncio.get_running_loop().time() + properties.message_expiry_interval
        self._router.route(topic, raw_topic, payload, qos, retain, audience, block, expires_at)

    async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        """``publish_nowait`` as a coroutine (to every client that reads everything)."""
        self.publish_nowait(topic, payload, qos, retain)

    def subscribe(self, topic_filter: str, handler: MessageHandler) -> None:
        """Call ``handler(topic, payload)`` for every message a network client publishes to a
        topic matching ``topic_filter`` (in a task of its own; exceptions are logged). While it
        runs, ``lorafox.ports.bus.publisher`` holds the publishing client's principal.

        Each call is a separate subscription: a handler subscribed twice with overlapping
        filters is called twice. Raises ``InvalidInput`` for an invalid filter.
        """
        self._router.subscribe_local(topic_filter, handler)

    def unsubscribe(self, topic_filter: str, handler: MessageHandler) -> None:
        """Undo ``subscribe(topic_filter, handler)`` (every such subscription)."""
        self._router.unsubscribe_local(topic_filter, handler)

    def retained(self, topic: str) -> bytes | None:
        """The payload retained for ``topic``, if any."""
        entry = self._router.retained.get(topic)
        return None if entry is None else entry[0].payload

    # -- the connections' owner (``ConnectionOwner``) -------------------------------------------

    def on_publish(
        self, publish: Publish, connection: Connection
    ) -> list[asyncio.Task[None]] | None:
        return self._router.route_network(publish, connection)

    def set_session_expiry(self, session: Session, seconds: int) -> None:
        session.expiry = min(float(seconds), self.limits.session_expiry)
        session.clean_session = seconds == 0

    def pump(self, session: Session) -> None:
        self._router.pump(session)

    def count_dropped_qos0(self) -> None:
        self._router.dropped_qos0 += 1

    # -- admission ------------------------------------------------------------------------------

    def admit(self, connection: Connection) -> bool:
        return self._running and self._admission.admit(connection)

    def connection_gone(self, connection: Connection) -> None:
        self._admission.gone(connection)
        if not self._connections and self._all_gone is not None and not self._all_gone.done():
            self._all_gone.set_result(None)

    # -- connections and sessions ---------------------------------------------------------------

    def on_connect(self, connection: Connection, connect: Connect) -> None:
        self._logins.on_connect(connection, connect)

    def connection_closed(self, connection: Connection, publish_will: bool) -> None:
        """``connection`` has just ended (the socket may still be flushing)."""
        self._router.forget(connection)
        session = connection.session
        connection.session = None
        if session is not None and session.connection is connection:
            session.connection = None
            self._table.detached(session)
        will = connection.will
        connection.will = None
        if publish_will and will is not None:
            self._wills.connection_ended(connection, will, session)

    def on_subscribe(self, connection: Connection, session: Session, packet: Subscribe) -> None:
        self._subscriptions.subscribe(connection, session, packet)

    def on_unsubscribe(self, connection: Connection, session: Session, packet: Unsubscribe) -> None:
        self._subscriptions.unsubscribe(connection, session, packet)
