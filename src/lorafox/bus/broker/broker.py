"""The embedded MQTT broker: lifecycle, admission, logins and sessions (see the package doc);
routing is ``router.Router``'s."""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from lorafox.bus.broker.access import ANONYMOUS, AccessPolicy, Identity, OpenAccess
from lorafox.bus.broker.admission import Admission
from lorafox.bus.broker.connack import connack_properties, reason_code_of
from lorafox.bus.broker.connection import (
    AUTH,
    CONNECTED,
    PAUSE_AUTH,
    Connection,
)
from lorafox.bus.broker.limits import BrokerLimits
from lorafox.bus.broker.message import Audience, own_properties
from lorafox.bus.broker.router import Router
from lorafox.bus.broker.session import Session
from lorafox.bus.broker.sessions import SessionTable
from lorafox.bus.broker.subscriptions import Subscriptions
from lorafox.bus.mqtt_codec import (
    MAX_REMAINING_LENGTH,
    PROTOCOL_LEVEL_5,
    PROTOCOL_LEVEL_311,
    ConnAck,
    Connect,
    ConnectReturnCode,
    Disconnect,
    Properties,
    Publish,
    PubRel,
    ReasonCode,
    Subscribe,
    Unsubscribe,
    Will,
)
from lorafox.bus.topics import (
    topic_name_bytes,
)
from lorafox.errors import BusError, BusUnavailable, ConfigError, InvalidInput
from lorafox.ports.bus import MessageHandler, PublishProperties

__all__ = ["Authenticator", "BrokerStats", "EmbeddedBroker"]

Authenticator = Callable[[str, bytes | None, str], Awaitable[Identity | None]]
"""Checks a CONNECT's (username, password) from an address: the client's identity, or None."""

_log = logging.getLogger("lorafox.bus.broker")

_STOP_TIMEOUT: Final = 2.0
_NEVER_EXPIRES: Final = 0xFFFFFFFF


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
        self._authenticate = authenticate
        self._allow_anonymous = allow_anonymous
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
        self._auth_tasks: set[asyncio.Task[None]] = set()
        self._published = 0
        self._subscriptions = Subscriptions(self._router, self.access, refused_filters, self.log)

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
        self._loop = self._router.loop = loop
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
        for task in list(self._auth_tasks):
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
        connection.protocol_level = connect.protocol_level
        v5 = connection.v5 = connect.protocol_level == PROTOCOL_LEVEL_5
        if v5 and connect.properties.authentication_method is not None:
            self._refuse(
                connection,
                ReasonCode.BAD_AUTHENTICATION_METHOD,
                f"authentication method {connect.properties.authentication_method!r}",
            )
            return
        client_id = connect.client_id
        if not client_id:
            if not connect.clean_session and not v5:
                self._refuse(connection, ConnectReturnCode.IDENTIFIER_REJECTED, "empty client id")
                return
            client_id = f"lorafox-{secrets.token_hex(8)}"
            connection.assigned_client_id = v5
        connection.client_id = client_id
        if connect.username is None:
            if not self._allow_anonymous:
                self._refuse(connection, ConnectReturnCode.NOT_AUTHORIZED, "anonymous")
                return
            self._accept(connection, connect, ANONYMOUS)
        elif self._authenticate is None:
            self._accept(connection, connect, ANONYMOUS)
        else:
            connection.state = AUTH
            connection.pause_reading(PAUSE_AUTH)
            loop = self._loop
            if loop is None:  # pragma: no cover - set by start()
                return
            task = loop.create_task(self._check_credentials(connection, connect))
            self._auth_tasks.add(task)
            task.add_done_callback(self._auth_tasks.discard)

    async def _check_credentials(self, connection: Connection, connect: Connect) -> None:
        authenticate = self._authenticate
        if authenticate is None or connect.username is None:  # pragma: no cover - see caller
            return
        identity: Identity | None = None
        code = ConnectReturnCode.ACCEPTED
        try:
            identity = await authenticate(connect.username, connect.password, connection.address)
            if identity is None:
                code = ConnectReturnCode.BAD_USERNAME_OR_PASSWORD
        except Exception:
            self.log.exception(
                "checking the credentials of MQTT client %s (user %r) failed",
                connection.client_id,
                connect.username,
            )
            code = ConnectReturnCode.SERVER_UNAVAILABLE
        if connection.state != AUTH:
            return  # gone meanwhile
        if identity is None:
            self._refuse(connection, code, f"user {connect.username!r}")
            return
        if not self._accept(connection, connect, identity):
            return
        connection.resume_reading(PAUSE_AUTH)
        connection.handle_backlog()

    def _refuse(self, connection: Connection, code: int, why: str) -> None:
        """Refuse a CONNECT with ``code`` (a 3.1.1 return code, or for MQTT 5 clients its
        reason code; an MQTT 5 reason code is only ever given for MQTT 5 clients)."""
        v5 = connection.v5
        reason = reason_code_of(code) if v5 else code
        self.log.info(
            "MQTT client %s (%s) refused: %s (%s)",
            connection.client_id or "?",
            connection.peer,
            ReasonCode(reason).name.lower().replace("_", " ")
            if v5
            else ConnectReturnCode(code).name.lower().replace("_", " "),
            why,
        )
        properties = Properties() if v5 else None
        connection.send(ConnAck(False, reason, properties).encode())
        connection.shutdown(publish_will=False)

    def _accept(self, connection: Connection, connect: Connect, identity: Identity) -> bool:
        client_id = connection.client_id
        existing = self._sessions.get(client_id)
        if existing is not None and existing.identity.name != identity.name:
            # a session belongs to the login that made it: no one else takes it over
            self._refuse(
                connection,
                ConnectReturnCode.NOT_AUTHORIZED,
                f"client id {client_id!r} is another login's session",
            )
            return False
        v5 = connection.v5
        if existing is None and len(self._sessions) >= self.limits.max_sessions:
            self._refuse(
                connection,
                ReasonCode.QUOTA_EXCEEDED if v5 else ConnectReturnCode.SERVER_UNAVAILABLE,
                f"{self.limits.max_sessions} sessions kept (max_sessions)",
            )
            return False
        if existing is not None and existing.will_timer is not None:
            # back before its will delay: no will, unless the session ends now (clean start)
            existing.will_timer.cancel()
            existing.will_timer = None
            if connect.clean_session and existing.pending_will is not None:
                existing.pending_will()
            existing.pending_will = None
        if existing is not None and existing.connection is not None:
            old = existing.connection
            self.log.info(
                "client %s: new connection from %s takes over the one from %s",
                client_id,
                connection.peer,
                old.peer,
            )
            if isinstance(old, Connection):
                old.disconnect(ReasonCode.SESSION_TAKEN_OVER, "session taken over")
            else:  # pragma: no cover - sessions are attached to connections
                old.shutdown(publish_will=True)
            existing = self._sessions.get(client_id)  # a clean session ended with it
        expiry = self._table.expiry_asked(connect)
        session, present = self._table.session_for(client_id, connect, identity, existing, expiry)
        self._sessions[client_id] = session
        session.connection = connection
        session.expires_at = None
        connection.session = session
        connection.identity = identity
        connection.will = connect.will
        connection.state = CONNECTED
        self._admission.logged_in(connection)
        keep_alive = connect.keep_alive
        session.max_inflight = self.limits.max_inflight
        if v5:
            self._set_up_v5(connection, session, connect)
            most = self.limits.server_keep_alive
            if most and (not keep_alive or keep_alive > most):
                keep_alive = most
            asked = connect.properties.session_expiry_interval
            properties = connack_properties(
                self.limits,
                connect,
                keep_alive=keep_alive,
                assigned_client_id=client_id if connection.assigned_client_id else None,
                session_expiry=int(expiry) if asked is not None and asked != expiry else None,
                client_id=client_id,
            )
            connection.send(ConnAck(present, ReasonCode.SUCCESS, properties).encode())
        else:
            session_present = present and connect.protocol_level == PROTOCOL_LEVEL_311
            connection.send(ConnAck(session_present, ConnectReturnCode.ACCEPTED).encode())
        connection.start_keep_alive(keep_alive)
        self.log.debug(
            "client %s connected from %s (clean session %s, keep-alive %d s, session present %s)",
            client_id,
            connection.peer,
            connect.clean_session,
            connect.keep_alive,
            present,
        )
        if present:
            self._resume(connection, session)
        return True

    def _resume(self, connection: Connection, session: Session) -> None:
        """Send again what a resumed session has in flight (with DUP), then its queue."""
        for packet_id, entry in list(session.inflight.items()):
            if entry is None:
                connection.send(PubRel(packet_id).encode())
                continue
            message, qos, retain = entry
            if connection.v5:
                data = connection.encode5(message, qos, packet_id, retain, True)
                if data is None:  # expired meanwhile, or too large for it now
                    del session.inflight[packet_id]
                else:
                    connection.send(data)
            else:
                connection.send(message.encode(qos, packet_id, retain, True))
        self._router.pump(session)

    def _set_up_v5(self, connection: Connection, session: Session, connect: Connect) -> None:
        asked = connect.properties
        limits = self.limits
        session.max_inflight = min(limits.max_inflight, asked.receive_maximum or 0xFFFF)
        connection.receive_maximum = limits.receive_maximum
        connection.topic_alias_maximum = limits.topic_alias_maximum
        connection.alias_limit_out = min(limits.topic_alias_maximum, asked.topic_alias_maximum or 0)
        connection.max_packet_out = asked.maximum_packet_size or 0

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
        if publish_will and will is not None and self._running:
            delay = will.properties.will_delay_interval if connection.v5 else None
            if (
                delay
                and session is not None
                and self._sessions.get(session.client_id) is session
                and self._loop is not None
            ):
                wait = min(float(delay), session.expiry)
                publish = functools.partial(self._publish_will, connection, will, session)
                session.pending_will = publish
                session.will_timer = self._loop.call_later(wait, publish)
                return
            self._publish_will(connection, will, None)

    def _publish_will(self, connection: Connection, will: Will, session: Session | None) -> None:
        if session is not None:
            session.will_timer = None
            session.pending_will = None
        if not self._running:
            return
        self.log.debug("client %s: publishing its will to %s", connection.client_id, will.topic)
        properties = will.properties if connection.v5 else None
        will_publish = Publish(
            will.topic, will.payload, will.qos, will.retain, False, None, properties
        )
        self._router.route_network(will_publish, connection)

    def on_subscribe(self, connection: Connection, session: Session, packet: Subscribe) -> None:
        self._subscriptions.subscribe(connection, session, packet)

    def on_unsubscribe(self, connection: Connection, session: Session, packet: Unsubscribe) -> None:
        self._subscriptions.unsubscribe(connection, session, packet)
