"""One network client's connection: bytes in and out, its state machine, keep-alive, acks."""

from __future__ import annotations

import asyncio
import collections
import functools
import logging
from typing import Final, Protocol, cast

from lorafox.bus.broker.access import ANONYMOUS, Identity
from lorafox.bus.broker.aliases import TopicAliases
from lorafox.bus.broker.limits import BrokerLimits
from lorafox.bus.broker.message import Message
from lorafox.bus.broker.session import Session
from lorafox.bus.mqtt_codec import (
    NO_PROPERTIES,
    PROTOCOL_LEVEL_311,
    Auth,
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
    ReasonCode,
    Subscribe,
    Unsubscribe,
    UnsupportedProtocolVersion,
    Will,
)

__all__ = ["AUTH", "CLOSED", "CONNECTED", "NEW", "Connection", "ConnectionOwner"]

_WRITE_HIGH: Final = 256 * 1024
"""Bytes buffered for one client before the broker considers it slow (pause_writing)."""
_WRITE_LOW: Final = 64 * 1024
_CORK_LIMIT: Final = 64 * 1024
"""Output gathered during one loop iteration is written at once, or when it reaches this size."""
_DROP_LOG_EVERY: Final = 10_000
_CLOSE_TIMEOUT: Final = 5.0
_LINGER: Final = 1.0
"""Seconds the broker keeps reading (and dropping) what a client sends after the broker's
DISCONNECT, so that the client reads the DISCONNECT rather than a reset connection."""
"""Seconds a closing connection may take to flush its output before it is aborted."""

NEW: Final = 0  # waiting for CONNECT
AUTH: Final = 1  # CONNECT received, credentials being checked
CONNECTED: Final = 2
CLOSED: Final = 3

PAUSE_WRITE: Final = 1
PAUSE_AUTH: Final = 2
PAUSE_HANDLERS: Final = 4

_PINGRESP: Final = b"\xd0\x00"


class _Ack:
    """A PUBACK or PUBREC waiting for the in-process handlers of its PUBLISH."""

    __slots__ = ("packet", "waiting")

    def __init__(self, packet: bytes, waiting: int) -> None:
        self.packet = packet
        self.waiting = waiting


class ConnectionOwner(Protocol):
    """What a connection asks of its broker."""

    log: logging.Logger
    limits: BrokerLimits

    def admit(self, connection: Connection) -> bool:
        """Count a new TCP connection in; False when it must be closed at once."""
        ...

    def on_connect(self, connection: Connection, connect: Connect) -> None: ...

    def on_publish(
        self, publish: Publish, connection: Connection
    ) -> list[asyncio.Task[None]] | None:
        """Route a client's PUBLISH; the in-process handler tasks to wait for before its ack
        (None: the client may not publish there)."""
        ...

    def on_subscribe(self, connection: Connection, session: Session, packet: Subscribe) -> None: ...

    def on_unsubscribe(
        self, connection: Connection, session: Session, packet: Unsubscribe
    ) -> None: ...

    def pump(self, session: Session) -> None:
        """Send what waits in ``session``'s queue while its client can take it."""
        ...

    def count_dropped_qos0(self) -> None: ...

    def connection_closed(self, connection: Connection, publish_will: bool) -> None:
        """``connection`` has just ended (its socket may still be flushing)."""
        ...

    def connection_gone(self, connection: Connection) -> None:
        """The socket of ``connection`` is closed."""
        ...

    def set_session_expiry(self, session: Session, seconds: int) -> None:
        """An MQTT 5 client changed its session expiry interval at DISCONNECT."""
        ...


class Connection(asyncio.Protocol):
    """One network client connection.

    Keep-alive counts whole packets only (a trickle of bytes does not keep a client alive) and
    never runs out while the broker itself has stopped reading. A QoS 1/2 PUBLISH is
    acknowledged once the in-process handlers it reached are done (a downlink request is
    stored before its PUBACK), in the order the PUBLISH packets came.
    """

    def __init__(self, broker: ConnectionOwner, loop: asyncio.AbstractEventLoop) -> None:
        self._broker = broker
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        self.decoder = PacketDecoder(broker.limits.max_connect_bytes)
        self.session: Session | None = None
        self.identity: Identity = ANONYMOUS
        self.state = NEW
        self.logging_in = False
        """Counted among the connections not logged in yet (``max_unauthenticated``)."""
        self.client_id = ""
        self.address = "?"
        self.peer = "?"
        self.will: Will | None = None
        self.protocol_level = PROTOCOL_LEVEL_311
        self.v5 = False
        self.assigned_client_id = False
        """The broker chose the client id (an MQTT 5 client sent none)."""
        """MQTT 5: the fields below apply."""
        self.receive_maximum = 0xFFFF
        """QoS 1/2 PUBLISH packets from the client not acknowledged yet, at most (ours)."""
        self.topic_alias_maximum = 0
        """Topic aliases the client may use (ours)."""
        self.aliases = TopicAliases()
        self.alias_limit_out = 0
        """Topic aliases the broker assigns to this client, at most."""
        self.max_packet_out = 0
        """The client's maximum packet size (0: no limit)."""
        self.paused = False
        self.dropped = 0
        self.backlog: list[Packet] = []
        self._read_pause = 0
        self._out: list[bytes] = []
        self._out_size = 0
        self._flush_scheduled = False
        self._acks: collections.deque[_Ack] = collections.deque()
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
            self.address = str(peer[0])
            self.peer = f"{peer[0]}:{peer[1]}"
        self._last_rx = self._loop.time()
        if not self._broker.admit(self):
            self.shutdown(publish_will=False, abort=True)
            return
        self._timer = self._loop.call_later(
            self._broker.limits.connect_timeout, self._connect_timeout
        )

    def data_received(self, data: bytes) -> None:
        if self.state == CLOSED:
            return
        try:
            packets = self.decoder.feed(data)
            if packets:
                self._last_rx = self._loop.time()
            for packet in packets:
                if self.state == CONNECTED:
                    self._handle(packet)
                elif self.state == NEW:
                    self._first_packet(packet)
                elif self.state == AUTH:
                    self.backlog.append(packet)
                else:
                    return
        except UnsupportedProtocolVersion as exc:
            if self.state != NEW:
                self.protocol_error(exc.message)
                return
            self._broker.log.info(
                "connection from %s refused: MQTT protocol level %d is not supported",
                self.peer,
                exc.level,
            )
            self.send(ConnAck(False, ConnectReturnCode.UNACCEPTABLE_PROTOCOL_VERSION).encode())
            self.shutdown(publish_will=False)
        except ProtocolError as exc:
            self.protocol_error(exc.message, exc.reason_code)
        except Exception:
            self._broker.log.exception(
                "client %s (%s): unexpected error; closing the connection",
                self.client_id or "?",
                self.peer,
            )
            self.shutdown(publish_will=True, abort=True)

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        if self.state != CLOSED:
            if self.state == CONNECTED:
                self._broker.log.debug(
                    "client %s (%s): connection lost (%s)", self.client_id, self.peer, exc
                )
            self.shutdown(publish_will=True)
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        self._out.clear()
        self._broker.connection_gone(self)

    def pause_writing(self) -> None:
        self.paused = True
        self.pause_reading(PAUSE_WRITE)

    def resume_writing(self) -> None:
        self.paused = False
        self.resume_reading(PAUSE_WRITE)
        session = self.session
        if session is not None and self.state == CONNECTED and session.pending:
            self._broker.pump(session)

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

    def encode5(
        self, message: Message, qos: int, packet_id: int, retain: bool, dup: bool
    ) -> bytes | None:
        """``message`` as an MQTT 5 PUBLISH for this client, with a topic alias when it takes
        them; None when it has expired or is larger than the client's maximum packet size."""
        now = 0.0
        if message.expires_at is not None:
            now = self._loop.time()
            if message.expires_at <= now:
                return None
        if not self.alias_limit_out:
            data = message.encode5(qos, packet_id, retain, dup, now)
            if not self.max_packet_out or len(data) <= self.max_packet_out:
                return data
            self._too_large(len(data))
            return None
        alias, new_alias = self.aliases.outgoing(message.topic, self.alias_limit_out)
        data = message.encode5(qos, packet_id, retain, dup, now, alias, new_alias or not alias)
        if self.max_packet_out and len(data) > self.max_packet_out:
            if new_alias:
                self.aliases.forget(message.topic)
            self._too_large(len(data))
            return None
        return data

    def _too_large(self, size: int) -> None:
        self._broker.log.info(
            "client %s: a message of %d bytes is over its maximum packet size; not sent",
            self.client_id,
            size,
        )

    def disconnect(self, reason_code: int, why: str, *, publish_will: bool = True) -> None:
        """Close the connection for ``why``, telling an MQTT 5 client ``reason_code`` first."""
        self._broker.log.info(
            "client %s (%s): %s; closing the connection", self.client_id or "?", self.peer, why
        )
        if self.v5 and self.state == CONNECTED:
            self.send(Disconnect(reason_code).encode())
            self.shutdown(publish_will=publish_will, linger=True)
            return
        self.shutdown(publish_will=publish_will)

    def drop_qos0(self) -> None:
        self.dropped += 1
        self._broker.count_dropped_qos0()
        if self.dropped % _DROP_LOG_EVERY == 1:
            self._broker.log.warning(
                "client %s (%s) reads too slowly: %d QoS 0 messages dropped so far",
                self.client_id,
                self.peer,
                self.dropped,
            )

    # -- acknowledgements of what the client published ----------------------------------------

    def acknowledge(self, packet: bytes, handlers: list[asyncio.Task[None]]) -> None:
        """Send ``packet`` (PUBACK/PUBREC) once ``handlers`` are done (a handler's failure is
        logged by the broker), after the acknowledgements of earlier messages."""
        if not handlers and not self._acks:
            self.send(packet)
            return
        ack = _Ack(packet, len(handlers))
        self._acks.append(ack)
        for task in handlers:
            task.add_done_callback(functools.partial(self._handled, ack))
        if not handlers:
            self._send_ready_acks()

    def _handled(self, ack: _Ack, task: asyncio.Task[None]) -> None:
        ack.waiting -= 1
        self._send_ready_acks()

    def _send_ready_acks(self) -> None:
        acks = self._acks
        while acks and acks[0].waiting <= 0:
            packet = acks.popleft().packet
            if self.state == CONNECTED:
                self.send(packet)

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
        if self.state in (NEW, AUTH):
            self._broker.log.info("connection from %s: no CONNECT in time; closing", self.peer)
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
        if self.state != CONNECTED:
            return
        now = self._loop.time()
        if self._read_pause:
            # the broker is not reading: the client's packets wait in the socket, unheard
            self._last_rx = now
        deadline = self._last_rx + self._keep_alive
        if now >= deadline - 0.005:
            self._broker.log.info(
                "client %s (%s): no packet for %.1f s (keep-alive); closing",
                self.client_id,
                self.peer,
                self._keep_alive,
            )
            if self.v5:
                self.send(Disconnect(ReasonCode.KEEP_ALIVE_TIMEOUT).encode())
                self.shutdown(publish_will=True, linger=True)
            else:
                self.shutdown(publish_will=True, abort=True)
        else:
            self._timer = self._loop.call_at(deadline, self._check_keep_alive)

    # -- closing --------------------------------------------------------------------------------

    def protocol_error(self, reason: str, reason_code: int = ReasonCode.PROTOCOL_ERROR) -> None:
        self._broker.log.warning(
            "client %s (%s): protocol error: %s; closing the connection",
            self.client_id or "?",
            self.peer,
            reason,
        )
        if self.v5 and self.state == CONNECTED:
            self.send(Disconnect(reason_code).encode())
            self.shutdown(publish_will=True, linger=True)
            return
        self.shutdown(publish_will=True)

    def shutdown(self, *, publish_will: bool, abort: bool = False, linger: bool = False) -> None:
        """End the connection now: detach it from its session, then close the socket (with
        ``linger``, write end first, reading on for a second)."""
        if self.state == CLOSED:
            return
        was_connected = self.state == CONNECTED
        self.state = CLOSED
        self.backlog.clear()
        self._acks.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._broker.connection_closed(self, publish_will and was_connected)
        transport = self._transport
        if transport is None or self._lost:
            return
        if abort:
            self._out.clear()
            transport.abort()
            return
        self._flush()
        if linger and transport.can_write_eof():
            try:
                transport.write_eof()
            except OSError:  # the peer is gone already
                transport.abort()
                return
            self.resume_reading(self._read_pause)
            self._close_timer = self._loop.call_later(_LINGER, self._close_after_linger)
            return
        transport.close()
        self._close_timer = self._loop.call_later(_CLOSE_TIMEOUT, transport.abort)

    def _close_after_linger(self) -> None:
        transport = self._transport
        if transport is not None and not self._lost:
            transport.close()
            self._close_timer = self._loop.call_later(_CLOSE_TIMEOUT, transport.abort)

    def abort(self) -> None:
        """Drop the socket at once (the broker is stopping and this client does not read)."""
        if self._transport is not None:
            self._transport.abort()

    # -- packets --------------------------------------------------------------------------------

    def _first_packet(self, packet: Packet) -> None:
        if type(packet) is not Connect:
            raise ProtocolError(f"the first packet must be CONNECT, not {type(packet).__name__}")
        self._broker.on_connect(self, packet)

    def handle_backlog(self) -> None:
        """Handle what arrived while the login was checked."""
        backlog = self.backlog
        self.backlog = []
        try:
            for packet in backlog:
                if self.state != CONNECTED:
                    break
                self._handle(packet)
        except ProtocolError as exc:
            self.protocol_error(exc.message, exc.reason_code)
        except Exception:
            self._broker.log.exception(
                "client %s (%s): unexpected error; closing the connection",
                self.client_id,
                self.peer,
            )
            self.shutdown(publish_will=True, abort=True)

    def _handle(self, packet: Packet) -> None:
        kind = type(packet)
        session = self.session
        if session is None:  # pragma: no cover - a connected connection has a session
            return
        broker = self._broker
        if kind is Publish:
            publish = cast(Publish, packet)
            if self.v5:
                self._publish5(publish, session)
                return
            qos = publish.qos
            if qos == 0:
                broker.on_publish(publish, self)
                return
            packet_id = publish.packet_id or 0
            if qos == 1:
                handlers = broker.on_publish(publish, self) or []
                self.acknowledge(bytes((0x40, 2, packet_id >> 8, packet_id & 0xFF)), handlers)
            else:
                handlers = []
                if packet_id not in session.inbound_qos2:
                    session.inbound_qos2.add(packet_id)
                    handlers = broker.on_publish(publish, self) or []
                self.acknowledge(bytes((0x50, 2, packet_id >> 8, packet_id & 0xFF)), handlers)
        elif kind is PubAck or kind is PubComp:
            packet_id = cast(PubAck | PubComp, packet).packet_id
            settled = session.ack(packet_id, 1 if kind is PubAck else 2)
            if settled is False:
                name = "PUBACK" if kind is PubAck else "PUBCOMP"
                raise ProtocolError(f"{name} for packet {packet_id}, sent at another QoS")
            if settled and session.pending:
                broker.pump(session)
        elif kind is PubRec:
            self._pubrec(cast(PubRec, packet), session)
        elif kind is PubRel:
            self._pubrel(cast(PubRel, packet).packet_id, session)
        elif kind is Subscribe:
            broker.on_subscribe(self, session, cast(Subscribe, packet))
        elif kind is Unsubscribe:
            broker.on_unsubscribe(self, session, cast(Unsubscribe, packet))
        elif kind is PingReq:
            self.send(_PINGRESP)
        elif kind is Disconnect:
            self._disconnect(cast(Disconnect, packet), session)
        elif kind is Auth:
            raise ProtocolError(
                "AUTH without an authentication method at CONNECT", ReasonCode.PROTOCOL_ERROR
            )
        elif kind is Connect:
            raise ProtocolError("a second CONNECT on the same connection")
        else:
            raise ProtocolError(f"a client cannot send {kind.__name__}")

    def _publish5(self, publish: Publish, session: Session) -> None:
        """An MQTT 5 PUBLISH: topic alias, receive maximum, reason codes on its ack."""
        properties = publish.properties
        if properties is not NO_PROPERTIES and properties is not None:
            publish = self.aliases.resolve(publish, self.topic_alias_maximum)
            if properties.subscription_identifiers:
                raise ProtocolError(
                    "a client PUBLISH with a subscription identifier", ReasonCode.PROTOCOL_ERROR
                )
        broker = self._broker
        qos = publish.qos
        if qos == 0:
            if broker.on_publish(publish, self) is None:
                self.disconnect(ReasonCode.NOT_AUTHORIZED, f"may not publish to {publish.topic}")
            return
        packet_id = publish.packet_id or 0
        if qos == 2 and packet_id in session.inbound_qos2:  # sent again: already taken
            self.acknowledge(PubRec(packet_id).encode(), [])
            return
        if len(self._acks) + len(session.inbound_qos2) >= self.receive_maximum:
            raise ProtocolError(
                f"more than {self.receive_maximum} QoS 1/2 messages unacknowledged",
                ReasonCode.RECEIVE_MAXIMUM_EXCEEDED,
            )
        if qos == 1:
            handlers = broker.on_publish(publish, self)
            if handlers is None:
                self.acknowledge(PubAck(packet_id, ReasonCode.NOT_AUTHORIZED).encode(), [])
            else:
                self.acknowledge(bytes((0x40, 2, packet_id >> 8, packet_id & 0xFF)), handlers)
            return
        handlers = broker.on_publish(publish, self)
        if handlers is None:
            self.acknowledge(PubRec(packet_id, ReasonCode.NOT_AUTHORIZED).encode(), [])
            return
        session.inbound_qos2.add(packet_id)
        self.acknowledge(PubRec(packet_id).encode(), handlers)

    def _pubrec(self, pubrec: PubRec, session: Session) -> None:
        packet_id = pubrec.packet_id
        if pubrec.reason_code >= 0x80:  # MQTT 5: the client refused it; it is settled
            if session.inflight.pop(packet_id, 0) != 0 and session.pending:
                self._broker.pump(session)
            return
        if session.received(packet_id) is False:
            raise ProtocolError(f"PUBREC for packet {packet_id}, a QoS 1 message")
        self.send(PubRel(packet_id).encode())

    def _pubrel(self, packet_id: int, session: Session) -> None:
        if self.v5 and packet_id not in session.inbound_qos2:
            self.send(PubComp(packet_id, ReasonCode.PACKET_IDENTIFIER_NOT_FOUND).encode())
            return
        session.inbound_qos2.discard(packet_id)
        self.send(PubComp(packet_id).encode())

    def _disconnect(self, disconnect: Disconnect, session: Session) -> None:
        self._broker.log.debug("client %s (%s) disconnected", self.client_id, self.peer)
        properties = disconnect.properties
        expiry = None if properties is None else properties.session_expiry_interval
        if expiry is not None:
            if expiry and not session.expiry:
                raise ProtocolError(
                    "a session expiry set at DISCONNECT after 0 at CONNECT",
                    ReasonCode.PROTOCOL_ERROR,
                )
            self._broker.set_session_expiry(session, expiry)
        if disconnect.reason_code == ReasonCode.DISCONNECT_WITH_WILL:
            self.shutdown(publish_will=True)
            return
        self.will = None
        self.shutdown(publish_will=False)
