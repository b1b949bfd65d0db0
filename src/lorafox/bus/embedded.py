"""The embedded MQTT broker: a lean asyncio MQTT 3.1.1 / 3.1 broker inside the lorafox process.

``EmbeddedBroker`` listens for network clients (devices, dashboards, Node-RED, ...) and offers
the rest of lorafox an in-process API: ``publish_nowait`` (synchronous, one call per uplink,
allocation-light) and ``subscribe`` (a coroutine called for every message a network client
publishes). ``EmbeddedBus`` wraps it in the ``Bus`` protocol of ``lorafox.bus.base``.

What the broker does:

* MQTT 3.1.1 (level 4) and 3.1 (level 3); an MQTT 5 CONNECT gets CONNACK 0x01 and is closed;
  3.1 clients follow the 3.1.1 rules (client identifiers longer than 23 characters are fine,
  CONNACK never says "session present");
* client identifiers: an empty one with clean session gets a generated identifier, an empty one
  without clean session is refused (CONNACK 0x02); a second connection with the same
  identifier takes the session over and closes the first one (whose will is published);
* authentication through an async callback ``(username, password) -> bool``; without a user
  name a client is anonymous (refused with CONNACK 0x05 unless ``allow_anonymous``); wrong
  credentials get CONNACK 0x04; a failing callback gets 0x03 (server unavailable);
* QoS 0, 1 and 2 in both directions; a subscriber receives at min(publish QoS, granted QoS),
  once per message even with overlapping subscriptions (at the highest of their QoS);
* retained messages (kept in memory; an empty payload clears them), sent with the retain flag
  on subscription; live deliveries always carry retain 0;
* wills, published when a connection ends without DISCONNECT (closed by the peer, keep-alive
  timeout after 1.5 times the keep-alive, protocol error, takeover), not when the broker stops;
* persistent sessions (clean session 0) in memory: subscriptions survive disconnection, QoS 1
  and 2 messages queue while the client is away (at most ``max_queued_messages``, oldest
  dropped first), unacknowledged messages are re-sent with DUP on reconnection, CONNACK says
  whether a session was present. Sessions are not written to disk and never expire;
* slow consumers: each connection has write-buffer limits; while its buffer is full, QoS 0
  messages for it are dropped (counted, logged once per 10,000) and QoS 1/2 messages queue up
  to ``max_queued_messages`` (then the oldest are dropped), and the broker stops reading from
  it. The publisher never waits for a slow subscriber. QoS 0 messages are not queued for
  absent persistent sessions;
* in-process handlers (``subscribe``) run in tasks of their own; while more than 10,000 of them
  are pending the broker stops reading from the network clients that publish to them.

Not supported: MQTT 5, WebSockets, TLS (put a reverse proxy in front), ``$SYS`` topics, shared
subscriptions, per-topic authorisation, bridging, sessions on disk.

Everything runs on the event loop of ``start()``; call ``publish_nowait`` from that loop only.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final, cast

from lorafox.bus.base import MessageHandler
from lorafox.bus.mqtt_codec import (
    MAX_REMAINING_LENGTH,
    PROTOCOL_LEVEL_311,
    SUBACK_FAILURE,
    ConnAck,
    Connect,
    ConnectReturnCode,
    Disconnect,
    Packet,
    PacketDecoder,
    PingReq,
    ProtocolError,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    Subscribe,
    Unsubscribe,
    UnsupportedProtocolVersion,
    Will,
    encode_publish,
    encode_remaining_length,
)
from lorafox.bus.topics import (
    SubscriptionIndex,
    filter_matcher,
    has_wildcard,
    topic_name_bytes,
    validate_topic_filter,
)
from lorafox.errors import BusError, BusUnavailable, ConfigError, InvalidInput

__all__ = ["Authenticator", "BrokerStats", "EmbeddedBroker", "EmbeddedBus"]

Authenticator = Callable[[str | None, bytes | None], Awaitable[bool]]
"""Checks a CONNECT's (username, password); True lets the client in."""

_log = logging.getLogger(__name__)

_WRITE_HIGH: Final = 256 * 1024
"""Bytes buffered for one client before the broker considers it slow (pause_writing)."""
_WRITE_LOW: Final = 64 * 1024
_CORK_LIMIT: Final = 64 * 1024
"""Output gathered during one loop iteration is written at once, or when it reaches this size."""
_MAX_INFLIGHT: Final = 1024
"""QoS 1/2 messages sent to one client and not acknowledged yet; more wait in its queue."""
_DROP_LOG_EVERY: Final = 10_000
_MAX_HANDLER_TASKS: Final = 10_000
"""In-process handler tasks running at once before the broker stops reading from publishers."""
_HANDLER_TASKS_LOW: Final = 5_000
_CLOSE_TIMEOUT: Final = 5.0
"""Seconds a closing connection may take to flush its output before it is aborted."""
_STOP_TIMEOUT: Final = 2.0

_NEW: Final = 0  # waiting for CONNECT
_AUTH: Final = 1  # CONNECT received, credentials being checked
_CONNECTED: Final = 2
_CLOSED: Final = 3

_PAUSE_WRITE: Final = 1
_PAUSE_AUTH: Final = 2
_PAUSE_HANDLERS: Final = 4

_PINGRESP: Final = b"\xd0\x00"


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


class _Message:
    """An application message ready to be encoded: the length-prefixed topic and the payload."""

    __slots__ = ("payload", "topic")

    def __init__(self, topic: bytes, payload: bytes) -> None:
        self.topic = topic
        self.payload = payload

    def encode(self, qos: int, packet_id: int, retain: bool, dup: bool) -> bytes:
        topic = self.topic
        payload = self.payload
        first = 0x30 | (qos << 1) | (8 if dup else 0) | (1 if retain else 0)
        return b"".join(
            (
                bytes((first,)),
                encode_remaining_length(len(topic) + 4 + len(payload)),
                len(topic).to_bytes(2, "big"),
                topic,
                packet_id.to_bytes(2, "big"),
                payload,
            )
        )


_Outgoing = tuple[_Message, int, bool]
"""(message, QoS, retain flag) of a QoS 1/2 message for one session."""


class _Session:
    """What the broker remembers about one client identifier."""

    __slots__ = (
        "clean_session",
        "client_id",
        "connection",
        "dropped",
        "inbound_qos2",
        "inflight",
        "next_packet_id",
        "pending",
        "subscriptions",
    )

    def __init__(self, client_id: str, clean_session: bool) -> None:
        self.client_id = client_id
        self.clean_session = clean_session
        self.connection: _Connection | None = None
        self.subscriptions: dict[str, int] = {}
        # packet id -> message sent and not acknowledged; None once PUBREC came (QoS 2)
        self.inflight: dict[int, _Outgoing | None] = {}
        self.pending: collections.deque[_Outgoing] = collections.deque()
        self.inbound_qos2: set[int] = set()
        self.next_packet_id = 0
        self.dropped = 0

    def allocate_packet_id(self) -> int:
        packet_id = self.next_packet_id
        inflight = self.inflight
        while True:
            packet_id = packet_id + 1 if packet_id < 0xFFFF else 1
            if packet_id not in inflight:
                self.next_packet_id = packet_id
                return packet_id


class _LocalSubscription:
    """One in-process ``subscribe`` call."""

    __slots__ = ("handler", "topic_filter")

    def __init__(self, topic_filter: str, handler: MessageHandler) -> None:
        self.topic_filter = topic_filter
        self.handler = handler


class _Connection(asyncio.Protocol):
    """One network client connection."""

    def __init__(self, broker: EmbeddedBroker, loop: asyncio.AbstractEventLoop) -> None:
        self._broker = broker
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self._decoder = PacketDecoder(broker.max_packet_size)
        self.session: _Session | None = None
        self.state = _NEW
        self.client_id = ""
        self.peer = "?"
        self.will: Will | None = None
        self.protocol_level = PROTOCOL_LEVEL_311
        self.paused = False
        self.dropped = 0
        self.backlog: list[Packet] = []
        self._read_pause = 0
        self._out: list[bytes] = []
        self._out_size = 0
        self._flush_scheduled = False
        self._last_rx = 0.0
        self._keep_alive = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._close_timer: asyncio.TimerHandle | None = None
        self._lost = False

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        self._transport.set_write_buffer_limits(high=_WRITE_HIGH, low=_WRITE_LOW)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.peer = f"{peer[0]}:{peer[1]}"
        self._last_rx = self._loop.time()
        self._broker._connections.add(self)
        if not self._broker.running:
            self.shutdown(publish_will=False)
            return
        self._timer = self._loop.call_later(self._broker.connect_timeout, self._connect_timeout)

    def data_received(self, data: bytes) -> None:
        if self.state == _CLOSED:
            return
        self._last_rx = self._loop.time()
        try:
            packets = self._decoder.feed(data)
            for packet in packets:
                if self.state == _CONNECTED:
                    self._handle(packet)
                elif self.state == _NEW:
                    self._first_packet(packet)
                elif self.state == _AUTH:
                    self.backlog.append(packet)
                else:
                    return
        except UnsupportedProtocolVersion as exc:
            if self.state != _NEW:
                self.protocol_error(exc.message)
                return
            self._broker._log.info(
                "connection from %s refused: MQTT protocol level %d is not supported",
                self.peer,
                exc.level,
            )
            self.send(ConnAck(False, ConnectReturnCode.UNACCEPTABLE_PROTOCOL_VERSION).encode())
            self.shutdown(publish_will=False)
        except ProtocolError as exc:
            self.protocol_error(exc.message)
        except Exception:
            self._broker._log.exception(
                "client %s (%s): unexpected error; closing the connection",
                self.client_id or "?",
                self.peer,
            )
            self.shutdown(publish_will=True, abort=True)

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if self.state != _CLOSED:
            if self.state == _CONNECTED:
                self._broker._log.debug(
                    "client %s (%s): connection lost (%s)", self.client_id, self.peer, exc
                )
            self.shutdown(publish_will=True)
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        self._out.clear()
        self._broker._connection_gone(self)

    def pause_writing(self) -> None:
        self.paused = True
        self.pause_reading(_PAUSE_WRITE)

    def resume_writing(self) -> None:
        self.paused = False
        self.resume_reading(_PAUSE_WRITE)
        session = self.session
        if session is not None and self.state == _CONNECTED and session.pending:
            self._broker._pump(session)

    # -- output ---------------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        """Queue ``data`` for writing at the end of this loop iteration (or now if it is big)."""
        self._out.append(data)
        self._out_size += len(data)
        if self._out_size >= _CORK_LIMIT:
            self._flush()
        elif not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._scheduled_flush)

    def _scheduled_flush(self) -> None:
        self._flush_scheduled = False
        self._flush()

    def _flush(self) -> None:
        out = self._out
        if not out:
            return
        data = out[0] if len(out) == 1 else b"".join(out)
        out.clear()
        self._out_size = 0
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(data)

    def drop_qos0(self) -> None:
        self.dropped += 1
        self._broker._dropped_qos0 += 1
        if self.dropped % _DROP_LOG_EVERY == 1:
            self._broker._log.warning(
                "client %s (%s) reads too slowly: %d QoS 0 messages dropped so far",
                self.client_id,
                self.peer,
                self.dropped,
            )

    # -- reading pauses -------------------------------------------------------------------------

    def pause_reading(self, reason: int) -> None:
        if not self._read_pause and self._transport is not None and not self._lost:
            self._transport.pause_reading()
        self._read_pause |= reason

    def resume_reading(self, reason: int) -> None:
        if not self._read_pause & reason:
            return
        self._read_pause &= ~reason
        if not self._read_pause and self._transport is not None and not self._lost:
            self._last_rx = self._loop.time()  # it could not be heard while paused
            self._transport.resume_reading()

    # -- timers ---------------------------------------------------------------------------------

    def _connect_timeout(self) -> None:
        self._timer = None
        if self.state in (_NEW, _AUTH):
            self._broker._log.info("connection from %s: no CONNECT in time; closing", self.peer)
            self.shutdown(publish_will=False, abort=True)

    def start_keep_alive(self, seconds: int) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if seconds:
            self._keep_alive = seconds * 1.5
            self._timer = self._loop.call_at(
                self._last_rx + self._keep_alive, self._check_keep_alive
            )

    def _check_keep_alive(self) -> None:
        self._timer = None
        if self.state != _CONNECTED:
            return
        deadline = self._last_rx + self._keep_alive
        if self._loop.time() >= deadline - 0.005:
            self._broker._log.info(
                "client %s (%s): nothing received for %.1f s (keep-alive); closing",
                self.client_id,
                self.peer,
                self._keep_alive,
            )
            self.shutdown(publish_will=True, abort=True)
        else:
            self._timer = self._loop.call_at(deadline, self._check_keep_alive)

    # -- closing --------------------------------------------------------------------------------

    def protocol_error(self, reason: str) -> None:
        self._broker._log.warning(
            "client %s (%s): protocol error: %s; closing the connection",
            self.client_id or "?",
            self.peer,
            reason,
        )
        self.shutdown(publish_will=True)

    def shutdown(self, *, publish_will: bool, abort: bool = False) -> None:
        """End the connection now: detach it from its session, then close the socket."""
        if self.state == _CLOSED:
            return
        was_connected = self.state == _CONNECTED
        self.state = _CLOSED
        self.backlog.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._broker._connection_closed(self, publish_will and was_connected)
        transport = self._transport
        if transport is None or self._lost:
            return
        if abort:
            self._out.clear()
            transport.abort()
            return
        self._flush()
        transport.close()
        self._close_timer = self._loop.call_later(_CLOSE_TIMEOUT, transport.abort)

    # -- packets --------------------------------------------------------------------------------

    def _first_packet(self, packet: Packet) -> None:
        if type(packet) is not Connect:
            raise ProtocolError(f"the first packet must be CONNECT, not {type(packet).__name__}")
        self._broker._on_connect(self, packet)

    def _handle(self, packet: Packet) -> None:
        kind = type(packet)
        session = self.session
        if session is None:  # pragma: no cover - a connected connection has a session
            return
        broker = self._broker
        if kind is Publish:
            publish = cast(Publish, packet)
            qos = publish.qos
            packet_id = publish.packet_id or 0
            if qos == 0:
                broker._route_network(publish, self)
            elif qos == 1:
                broker._route_network(publish, self)
                self.send(bytes((0x40, 2, packet_id >> 8, packet_id & 0xFF)))
            else:
                if packet_id not in session.inbound_qos2:
                    session.inbound_qos2.add(packet_id)
                    broker._route_network(publish, self)
                self.send(bytes((0x50, 2, packet_id >> 8, packet_id & 0xFF)))
        elif kind is PubAck or kind is PubComp:
            packet_id = cast(PubAck | PubComp, packet).packet_id
            if session.inflight.pop(packet_id, False) is not False and session.pending:
                broker._pump(session)
        elif kind is PubRec:
            packet_id = cast(PubRec, packet).packet_id
            if session.inflight.get(packet_id) is not None:
                session.inflight[packet_id] = None
            self.send(PubRel(packet_id).encode())
        elif kind is PubRel:
            packet_id = cast(PubRel, packet).packet_id
            session.inbound_qos2.discard(packet_id)
            self.send(PubComp(packet_id).encode())
        elif kind is Subscribe:
            broker._on_subscribe(self, session, cast(Subscribe, packet))
        elif kind is Unsubscribe:
            broker._on_unsubscribe(self, session, cast(Unsubscribe, packet))
        elif kind is PingReq:
            self.send(_PINGRESP)
        elif kind is Disconnect:
            broker._log.debug("client %s (%s) disconnected", self.client_id, self.peer)
            self.will = None
            self.shutdown(publish_will=False)
        elif kind is Connect:
            raise ProtocolError("a second CONNECT on the same connection")
        else:
            raise ProtocolError(f"a client cannot send {kind.__name__}")


class EmbeddedBroker:
    """An MQTT 3.1.1 / 3.1 broker running on the current event loop (see the module docstring).

    ``authenticate(username, password)`` decides for clients that give a user name; clients
    without one are anonymous and let in only when ``allow_anonymous``. Without a callback,
    every client is treated as anonymous (so ``allow_anonymous`` must be True).
    ``max_packet_size`` bounds the size of one packet from a client (fixed header included);
    ``max_queued_messages`` bounds the QoS 1/2 messages waiting for one client.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        authenticate: Authenticator | None,
        allow_anonymous: bool,
        max_packet_size: int = MAX_REMAINING_LENGTH,
        max_queued_messages: int = 10_000,
        logger: logging.Logger | None = None,
        connect_timeout: float = 10.0,
    ) -> None:
        if authenticate is None and not allow_anonymous:
            raise ConfigError(
                "the embedded MQTT broker refuses anonymous clients but has no way to check "
                "credentials: give it an authenticate callback or allow anonymous clients"
            )
        if max_packet_size < 2:
            raise ConfigError("max_packet_size must be at least 2 bytes")
        if max_queued_messages < 0:
            raise ConfigError("max_queued_messages cannot be negative")
        self._host = host
        self._port = port
        self._authenticate = authenticate
        self._allow_anonymous = allow_anonymous
        self.max_packet_size = max_packet_size
        self._max_queued = max_queued_messages
        self.connect_timeout = connect_timeout
        self._log = logger if logger is not None else _log
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._running = False
        self._started = asyncio.Event()
        self._connections: set[_Connection] = set()
        self._all_gone: asyncio.Future[None] | None = None
        self._sessions: dict[str, _Session] = {}
        self._index: SubscriptionIndex[_Session] = SubscriptionIndex()
        self._retained: dict[str, tuple[_Message, int]] = {}
        self._local_index: SubscriptionIndex[_LocalSubscription] = SubscriptionIndex()
        self._local: list[_LocalSubscription] = []
        self._auth_tasks: set[asyncio.Task[None]] = set()
        self._handler_tasks: set[asyncio.Task[None]] = set()
        self._handler_paused: set[_Connection] = set()
        self._received = 0
        self._published = 0
        self._dropped_qos0 = 0
        self._dropped_queued = 0

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
        self._loop = loop
        self._server = await loop.create_server(
            lambda: _Connection(self, loop), self._host, self._port, backlog=1024
        )
        self._running = True
        self._started.set()
        self._log.info("embedded MQTT broker listening on %s:%d", self._host, self.port)

    async def stop(self) -> None:
        """Stop listening and close every client connection (without publishing wills)."""
        server = self._server
        if server is None:
            return
        self._running = False
        self._started.clear()
        server.close()
        loop = asyncio.get_running_loop()
        for task in list(self._auth_tasks):
            task.cancel()
        connections = list(self._connections)
        if connections:
            self._all_gone = loop.create_future()
            for connection in connections:
                # A client that does not read would keep its connection open while flushing.
                connection.shutdown(publish_will=False, abort=connection.paused)
            try:
                await asyncio.wait_for(asyncio.shield(self._all_gone), _STOP_TIMEOUT)
            except TimeoutError:
                for connection in list(self._connections):
                    if connection._transport is not None:
                        connection._transport.abort()
                await asyncio.sleep(0)
            self._all_gone = None
        await server.wait_closed()
        if self._handler_tasks:
            _done, still_running = await asyncio.wait(
                list(self._handler_tasks), timeout=_STOP_TIMEOUT
            )
            for task in still_running:
                task.cancel()
            if still_running:
                await asyncio.wait(still_running)
        self._handler_paused.clear()
        self._server = None
        self._log.info("embedded MQTT broker stopped")

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
        return BrokerStats(
            connections=sum(1 for c in self._connections if c.state == _CONNECTED),
            sessions=len(self._sessions),
            subscriptions=len(self._index),
            retained=len(self._retained),
            received=self._received,
            published=self._published,
            dropped_qos0=self._dropped_qos0,
            dropped_queued=self._dropped_queued,
        )

    # -- in-process API -------------------------------------------------------------------------

    def publish_nowait(
        self, topic: str, payload: bytes, qos: int = 0, retain: bool = False
    ) -> None:
        """Publish to the network subscribers of ``topic`` now; never blocks.

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
        self._route(topic, raw_topic, payload, qos, retain)

    async def publish(self, topic: str, payload: bytes, qos: int = 0, retain: bool = False) -> None:
        """``publish_nowait`` as a coroutine."""
        self.publish_nowait(topic, payload, qos, retain)

    def subscribe(self, topic_filter: str, handler: MessageHandler) -> None:
        """Call ``handler(topic, payload)`` for every message a network client publishes to a
        topic matching ``topic_filter`` (in a task of its own; exceptions are logged).

        Each call is a separate subscription: a handler subscribed twice with overlapping
        filters is called twice. Raises ``InvalidInput`` for an invalid filter.
        """
        subscription = _LocalSubscription(topic_filter, handler)
        self._local_index.add(topic_filter, subscription)
        self._local.append(subscription)

    def unsubscribe(self, topic_filter: str, handler: MessageHandler) -> None:
        """Undo ``subscribe(topic_filter, handler)`` (every such subscription)."""
        keep = []
        for subscription in self._local:
            if subscription.topic_filter == topic_filter and subscription.handler == handler:
                self._local_index.remove(topic_filter, subscription)
            else:
                keep.append(subscription)
        self._local = keep

    def retained(self, topic: str) -> bytes | None:
        """The payload retained for ``topic``, if any."""
        entry = self._retained.get(topic)
        return None if entry is None else entry[0].payload

    # -- routing --------------------------------------------------------------------------------

    def _route(
        self,
        topic: str,
        raw_topic: bytes,
        payload: bytes,
        qos: int,
        retain: bool,
    ) -> None:
        """Deliver one message to the network subscribers of ``topic``."""
        message: _Message | None = None
        if retain:
            if payload:
                message = _Message(raw_topic, payload)
                self._retained[topic] = (message, qos)
            else:
                self._retained.pop(topic, None)
        subscribers = self._index.match(topic)
        if not subscribers:
            return
        packet: bytes | None = None
        for session, subscribed_qos in subscribers.items():
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
                    message = _Message(raw_topic, payload)
                self._deliver(session, message, granted, False)

    def _route_network(self, publish: Publish, origin: _Connection | None) -> None:
        """Deliver a PUBLISH (or a will) from a network client, in-process handlers included."""
        self._received += 1
        topic = publish.topic
        payload = publish.payload
        self._route(topic, topic.encode("utf-8"), payload, publish.qos, publish.retain)
        if self._local:
            subscriptions = self._local_index.match(topic)
            if subscriptions:
                loop = self._loop
                if loop is None:  # pragma: no cover - set by start()
                    return
                for subscription in subscriptions:
                    task = loop.create_task(self._run_handler(subscription.handler, topic, payload))
                    self._handler_tasks.add(task)
                    task.add_done_callback(self._handler_done)
                if origin is not None and len(self._handler_tasks) >= _MAX_HANDLER_TASKS:
                    self._throttle_publisher(origin)

    async def _run_handler(self, handler: MessageHandler, topic: str, payload: bytes) -> None:
        try:
            await handler(topic, payload)
        except Exception:
            self._log.exception("in-process MQTT handler %r failed for topic %s", handler, topic)

    def _handler_done(self, task: asyncio.Task[None]) -> None:
        self._handler_tasks.discard(task)
        if self._handler_paused and len(self._handler_tasks) <= _HANDLER_TASKS_LOW:
            for connection in self._handler_paused:
                connection.resume_reading(_PAUSE_HANDLERS)
            self._handler_paused.clear()

    def _throttle_publisher(self, connection: _Connection) -> None:
        """Stop reading from ``connection`` while in-process handlers are far behind."""
        if connection.state == _CONNECTED and connection not in self._handler_paused:
            self._handler_paused.add(connection)
            connection.pause_reading(_PAUSE_HANDLERS)

    def _deliver(self, session: _Session, message: _Message, qos: int, retain: bool) -> None:
        """Send a QoS 1/2 message to ``session`` now if it can take it, else queue it."""
        connection = session.connection
        if (
            connection is not None
            and not connection.paused
            and not session.pending
            and len(session.inflight) < _MAX_INFLIGHT
        ):
            packet_id = session.allocate_packet_id()
            session.inflight[packet_id] = (message, qos, retain)
            connection.send(message.encode(qos, packet_id, retain, False))
            return
        pending = session.pending
        if len(pending) >= self._max_queued:
            self._dropped_queued += 1
            session.dropped += 1
            if session.dropped % _DROP_LOG_EVERY == 1:
                self._log.warning(
                    "client %s: queue full (%d messages); %d dropped so far, oldest first",
                    session.client_id,
                    self._max_queued,
                    session.dropped,
                )
            if not pending:
                return
            pending.popleft()
        pending.append((message, qos, retain))

    def _pump(self, session: _Session) -> None:
        """Send queued messages while the client can take them."""
        connection = session.connection
        if connection is None:
            return
        pending = session.pending
        inflight = session.inflight
        while pending and not connection.paused and len(inflight) < _MAX_INFLIGHT:
            message, qos, retain = pending.popleft()
            packet_id = session.allocate_packet_id()
            inflight[packet_id] = (message, qos, retain)
            connection.send(message.encode(qos, packet_id, retain, False))

    # -- connections and sessions ---------------------------------------------------------------

    def _on_connect(self, connection: _Connection, connect: Connect) -> None:
        connection.protocol_level = connect.protocol_level
        client_id = connect.client_id
        if not client_id:
            if not connect.clean_session:
                self._refuse(connection, ConnectReturnCode.IDENTIFIER_REJECTED, "empty client id")
                return
            client_id = f"lorafox-{secrets.token_hex(8)}"
        connection.client_id = client_id
        if connect.username is None:
            if not self._allow_anonymous:
                self._refuse(connection, ConnectReturnCode.NOT_AUTHORIZED, "anonymous")
                return
            self._accept(connection, connect)
        elif self._authenticate is None:
            self._accept(connection, connect)
        else:
            connection.state = _AUTH
            connection.pause_reading(_PAUSE_AUTH)
            loop = self._loop
            if loop is None:  # pragma: no cover - set by start()
                return
            task = loop.create_task(self._check_credentials(connection, connect))
            self._auth_tasks.add(task)
            task.add_done_callback(self._auth_tasks.discard)

    async def _check_credentials(self, connection: _Connection, connect: Connect) -> None:
        authenticate = self._authenticate
        if authenticate is None:  # pragma: no cover - checked by the caller
            return
        code = ConnectReturnCode.ACCEPTED
        try:
            if not await authenticate(connect.username, connect.password):
                code = ConnectReturnCode.BAD_USERNAME_OR_PASSWORD
        except Exception:
            self._log.exception(
                "checking the credentials of MQTT client %s (user %r) failed",
                connection.client_id,
                connect.username,
            )
            code = ConnectReturnCode.SERVER_UNAVAILABLE
        if connection.state != _AUTH:
            return  # gone meanwhile
        if code != ConnectReturnCode.ACCEPTED:
            self._refuse(connection, code, f"user {connect.username!r}")
            return
        self._accept(connection, connect)
        connection.resume_reading(_PAUSE_AUTH)
        backlog = connection.backlog
        connection.backlog = []
        try:
            for packet in backlog:
                if connection.state != _CONNECTED:
                    break
                connection._handle(packet)
        except ProtocolError as exc:
            connection.protocol_error(exc.message)
        except Exception:
            self._log.exception(
                "client %s (%s): unexpected error; closing the connection",
                connection.client_id,
                connection.peer,
            )
            connection.shutdown(publish_will=True, abort=True)

    def _refuse(self, connection: _Connection, code: ConnectReturnCode, why: str) -> None:
        self._log.info(
            "MQTT client %s (%s) refused: %s (%s)",
            connection.client_id or "?",
            connection.peer,
            code.name.lower().replace("_", " "),
            why,
        )
        connection.send(ConnAck(False, code).encode())
        connection.shutdown(publish_will=False)

    def _accept(self, connection: _Connection, connect: Connect) -> None:
        client_id = connection.client_id
        existing = self._sessions.get(client_id)
        if existing is not None and existing.connection is not None:
            old = existing.connection
            self._log.info(
                "client %s: new connection from %s takes over the one from %s",
                client_id,
                connection.peer,
                old.peer,
            )
            old.shutdown(publish_will=True)
            existing = self._sessions.get(client_id)  # a clean session ended with it
        if connect.clean_session:
            if existing is not None:
                self._end_session(existing)
            session = _Session(client_id, True)
            present = False
        elif existing is not None:
            session = existing
            present = True
        else:
            session = _Session(client_id, False)
            present = False
        self._sessions[client_id] = session
        session.connection = connection
        connection.session = session
        connection.will = connect.will
        connection.state = _CONNECTED
        connection.start_keep_alive(connect.keep_alive)
        session_present = present and connect.protocol_level == PROTOCOL_LEVEL_311
        connection.send(ConnAck(session_present, ConnectReturnCode.ACCEPTED).encode())
        self._log.debug(
            "client %s connected from %s (clean session %s, keep-alive %d s, session present %s)",
            client_id,
            connection.peer,
            connect.clean_session,
            connect.keep_alive,
            present,
        )
        if present:
            for packet_id, entry in session.inflight.items():
                if entry is None:
                    connection.send(PubRel(packet_id).encode())
                else:
                    message, qos, retain = entry
                    connection.send(message.encode(qos, packet_id, retain, True))
            self._pump(session)

    def _connection_closed(self, connection: _Connection, publish_will: bool) -> None:
        """``connection`` has just ended (the socket may still be flushing)."""
        self._handler_paused.discard(connection)
        session = connection.session
        connection.session = None
        if session is not None and session.connection is connection:
            session.connection = None
            if session.clean_session:
                self._end_session(session)
        will = connection.will
        connection.will = None
        if publish_will and will is not None and self._running:
            self._log.debug(
                "client %s: publishing its will to %s", connection.client_id, will.topic
            )
            self._route_network(Publish(will.topic, will.payload, will.qos, will.retain), None)

    def _connection_gone(self, connection: _Connection) -> None:
        """The socket of ``connection`` is closed."""
        self._connections.discard(connection)
        if not self._connections and self._all_gone is not None and not self._all_gone.done():
            self._all_gone.set_result(None)

    def _end_session(self, session: _Session) -> None:
        for topic_filter in session.subscriptions:
            self._index.remove(topic_filter, session)
        session.subscriptions.clear()
        session.pending.clear()
        session.inflight.clear()
        if self._sessions.get(session.client_id) is session:
            del self._sessions[session.client_id]

    def _on_subscribe(self, connection: _Connection, session: _Session, packet: Subscribe) -> None:
        codes: list[int] = []
        granted: list[tuple[str, int]] = []
        for topic_filter, requested in packet.topics:
            try:
                validate_topic_filter(topic_filter)
            except InvalidInput:
                self._log.info(
                    "client %s: invalid topic filter %r refused", session.client_id, topic_filter
                )
                codes.append(SUBACK_FAILURE)
                continue
            qos = min(requested, 2)
            session.subscriptions[topic_filter] = qos
            self._index.add(topic_filter, session, qos)
            codes.append(qos)
            granted.append((topic_filter, qos))
        connection.send(
            bytes((0x90,))
            + encode_remaining_length(2 + len(codes))
            + packet.packet_id.to_bytes(2, "big")
            + bytes(codes)
        )
        if self._retained:
            for topic_filter, qos in granted:
                self._send_retained(session, topic_filter, qos)

    def _send_retained(self, session: _Session, topic_filter: str, granted: int) -> None:
        found: list[tuple[_Message, int]]
        if has_wildcard(topic_filter):
            match = filter_matcher(topic_filter)
            found = [stored for topic, stored in self._retained.items() if match(topic)]
        else:
            stored = self._retained.get(topic_filter)
            found = [] if stored is None else [stored]
        for message, stored_qos in found:
            qos = min(stored_qos, granted)
            if qos:
                self._deliver(session, message, qos, True)
                continue
            connection = session.connection
            if connection is None:
                continue
            if connection.paused:
                connection.drop_qos0()
                continue
            connection.send(encode_publish(message.topic, message.payload, 0, retain=True))

    def _on_unsubscribe(
        self, connection: _Connection, session: _Session, packet: Unsubscribe
    ) -> None:
        for topic_filter in packet.topic_filters:
            if session.subscriptions.pop(topic_filter, None) is not None:
                self._index.remove(topic_filter, session)
        packet_id = packet.packet_id
        connection.send(bytes((0xB0, 2, packet_id >> 8, packet_id & 0xFF)))


class EmbeddedBus:
    """The ``Bus`` protocol on an ``EmbeddedBroker``: entering starts the broker, leaving stops it.

    ``publish`` hands the message to the broker's subscribers at once; it raises
    ``BusUnavailable`` only when the broker is not running.
    """

    def __init__(self, broker: EmbeddedBroker) -> None:
        self._broker = broker

    @classmethod
    def create(
        cls,
        host: str,
        port: int,
        *,
        authenticate: Authenticator | None,
        allow_anonymous: bool,
        max_packet_size: int = MAX_REMAINING_LENGTH,
        max_queued_messages: int = 10_000,
        logger: logging.Logger | None = None,
    ) -> EmbeddedBus:
        """A bus on a new broker built with these arguments (those of ``EmbeddedBroker``)."""
        return cls(
            EmbeddedBroker(
                host,
                port,
                authenticate=authenticate,
                allow_anonymous=allow_anonymous,
                max_packet_size=max_packet_size,
                max_queued_messages=max_queued_messages,
                logger=logger,
            )
        )

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
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False
    ) -> None:
        """Hand one message to the broker's subscribers."""
        self._broker.publish_nowait(topic, payload, qos, retain)

    async def wait_connected(self) -> None:
        """Return once the broker is running."""
        await self._broker.wait_started()

    async def __aenter__(self) -> EmbeddedBus:
        await self._broker.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._broker.stop()
