"""One network client's connection: bytes in and out, its state machine, keep-alive, reading
pauses and closing; what it sends is handled in ``inbound``, acknowledged through ``acks``."""

from __future__ import annotations

import asyncio
from typing import Final, cast

from lorafox.bus.broker.access import ANONYMOUS, Identity
from lorafox.bus.broker.acks import OrderedAcks
from lorafox.bus.broker.aliases import TopicAliases
from lorafox.bus.broker.inbound import handle
from lorafox.bus.broker.message import Message
from lorafox.bus.broker.owner import ConnectionOwner
from lorafox.bus.broker.session import Session
from lorafox.bus.mqtt_codec import (
    PROTOCOL_LEVEL_311,
    ConnAck,
    Connect,
    ConnectReturnCode,
    Disconnect,
    Packet,
    PacketDecoder,
    ProtocolError,
    ReasonCode,
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
"""Seconds a closing connection may take to flush its output before it is aborted."""
_LINGER: Final = 1.0
"""Seconds the broker keeps reading (and dropping) what a client sends after the broker's
DISCONNECT, so that the client reads the DISCONNECT rather than a reset connection."""

NEW: Final = 0  # waiting for CONNECT
AUTH: Final = 1  # CONNECT received, credentials being checked
CONNECTED: Final = 2
CLOSED: Final = 3

PAUSE_WRITE: Final = 1
PAUSE_AUTH: Final = 2
PAUSE_HANDLERS: Final = 4


class Connection(asyncio.Protocol):
    """One network client connection.

    Keep-alive counts whole packets only (a trickle of bytes does not keep a client alive) and
    never runs out while the broker itself has stopped reading. A QoS 1/2 PUBLISH is
    acknowledged once the in-process handlers it reached are done (a downlink request is
    stored before its PUBACK), in the order the PUBLISH packets came.
    """

    def __init__(self, broker: ConnectionOwner, loop: asyncio.AbstractEventLoop) -> None:
        self.owner = broker
        self.acks = OrderedAcks(self.send)
        """PUBACK/PUBREC packets waiting for the in-process handlers of their PUBLISH."""
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
        if not self.owner.admit(self):
            self.shutdown(publish_will=False, abort=True)
            return
        self._timer = self._loop.call_later(
            self.owner.limits.connect_timeout, self._connect_timeout
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
                    handle(self, packet)
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
            self.owner.log.info(
                "connection from %s refused: MQTT protocol level %d is not supported",
                self.peer,
                exc.level,
            )
            self.send(ConnAck(False, ConnectReturnCode.UNACCEPTABLE_PROTOCOL_VERSION).encode())
            self.shutdown(publish_will=False)
        except ProtocolError as exc:
            self.protocol_error(exc.message, exc.reason_code)
        except Exception:
            self.owner.log.exception(
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
                self.owner.log.debug(
                    "client %s (%s): connection lost (%s)", self.client_id, self.peer, exc
                )
            self.shutdown(publish_will=True)
        if self._close_timer is not None:
            self._close_timer.cancel()
            self._close_timer = None
        self._out.clear()
        self.owner.connection_gone(self)

    def pause_writing(self) -> None:
        self.paused = True
        self.pause_reading(PAUSE_WRITE)

    def resume_writing(self) -> None:
        self.paused = False
        self.resume_reading(PAUSE_WRITE)
        session = self.session
        if session is not None and self.state == CONNECTED and session.pending:
            self.owner.pump(session)

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
        self.owner.log.info(
            "client %s: a message of %d bytes is over its maximum packet size; not sent",
            self.client_id,
            size,
        )

    def disconnect(self, reason_code: int, why: str, *, publish_will: bool = True) -> None:
        """Close the connection for ``why``, telling an MQTT 5 client ``reason_code`` first."""
        self.owner.log.info(
            "client %s (%s): %s; closing the connection", self.client_id or "?", self.peer, why
        )
        if self.v5 and self.state == CONNECTED:
            self.send(Disconnect(reason_code).encode())
            self.shutdown(publish_will=publish_will, linger=True)
            return
        self.shutdown(publish_will=publish_will)

    def drop_qos0(self) -> None:
        self.dropped += 1
        self.owner.count_dropped_qos0()
        if self.dropped % _DROP_LOG_EVERY == 1:
            self.owner.log.warning(
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
        if self.state in (NEW, AUTH):
            self.owner.log.info("connection from %s: no CONNECT in time; closing", self.peer)
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
            self.owner.log.info(
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
        self.owner.log.warning(
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
        self.acks.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.owner.connection_closed(self, publish_will and was_connected)
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
        self.owner.on_connect(self, packet)

    def handle_backlog(self) -> None:
        """Handle what arrived while the login was checked."""
        backlog = self.backlog
        self.backlog = []
        try:
            for packet in backlog:
                if self.state != CONNECTED:
                    break
                handle(self, packet)
        except ProtocolError as exc:
            self.protocol_error(exc.message, exc.reason_code)
        except Exception:
            self.owner.log.exception(
                "client %s (%s): unexpected error; closing the connection",
                self.client_id,
                self.peer,
            )
            self.shutdown(publish_will=True, abort=True)
