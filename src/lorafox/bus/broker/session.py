"""What the broker remembers about one client identifier, and its queue of QoS 1/2 messages."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Callable
from typing import Protocol

from lorafox.bus.broker.access import Identity
from lorafox.bus.broker.message import Message, Outgoing

__all__ = ["Link", "Session"]


class Link(Protocol):
    """The connection a session is attached to, as routing and takeover use it."""

    peer: str
    paused: bool
    """The client's socket buffer is full: QoS 0 is dropped, QoS 1/2 queued."""
    v5: bool
    """The client speaks MQTT 5."""
    alias_limit_out: int
    """MQTT 5: topic aliases the broker may assign to the client."""
    max_packet_out: int
    """MQTT 5: the client's maximum packet size (0: none)."""

    def send(self, data: bytes) -> None: ...

    def encode5(
        self, message: Message, qos: int, packet_id: int, retain: bool, dup: bool
    ) -> bytes | None:
        """``message`` as an MQTT 5 PUBLISH for this client; None when it cannot take it
        (expired, or larger than the client's maximum packet size)."""
        ...

    def drop_qos0(self) -> None: ...

    def shutdown(self, *, publish_will: bool, abort: bool = False) -> None: ...


class Session:
    """One client identifier's subscriptions and messages, owned by the identity that made it.

    ``inflight`` maps a packet id to the message sent and not acknowledged (None once its
    PUBREC came: QoS 2 waits for PUBCOMP); ``pending`` holds what waits to be sent, bounded by
    count and bytes (``enqueue`` drops the oldest beyond). ``options`` holds the MQTT 5
    subscription options byte and identifier of the filters that have any; ``expiry`` is how
    long the session outlives its connection (0: it ends with it).
    """

    __slots__ = (
        "clean_session",
        "client_id",
        "connection",
        "dropped",
        "expires_at",
        "expiry",
        "expiry_timer",
        "identity",
        "inbound_qos2",
        "inflight",
        "max_inflight",
        "next_packet_id",
        "options",
        "pending",
        "pending_bytes",
        "pending_will",
        "subscriptions",
        "will_timer",
    )

    def __init__(
        self, client_id: str, clean_session: bool, identity: Identity, expiry: float = 0.0
    ) -> None:
        self.client_id = client_id
        self.clean_session = clean_session
        self.expiry = expiry
        self.max_inflight = 1024
        """QoS 1/2 messages in flight to the client at most (``max_inflight``, or an MQTT 5
        client's lower receive maximum): set at every connection."""
        self.options: dict[str, tuple[int, int]] = {}
        self.expiry_timer: asyncio.TimerHandle | None = None
        """MQTT 5: ends the session at its own expiry when shorter than the broker's."""
        self.will_timer: asyncio.TimerHandle | None = None
        """MQTT 5: the will waiting for its delay; ``pending_will`` publishes it."""
        self.pending_will: Callable[[], None] | None = None
        self.identity = identity
        self.connection: Link | None = None
        self.subscriptions: dict[str, int] = {}
        self.inflight: dict[int, Outgoing | None] = {}
        self.pending: collections.deque[Outgoing] = collections.deque()
        self.pending_bytes = 0
        self.inbound_qos2: set[int] = set()
        self.next_packet_id = 0
        self.dropped = 0
        self.expires_at: float | None = None
        """When an absent persistent session is forgotten (loop time); None while connected."""

    def allocate_packet_id(self) -> int:
        packet_id = self.next_packet_id
        inflight = self.inflight
        while True:
            packet_id = packet_id + 1 if packet_id < 0xFFFF else 1
            if packet_id not in inflight:
                self.next_packet_id = packet_id
                return packet_id

    def enqueue(self, outgoing: Outgoing, max_count: int, max_bytes: int) -> int:
        """Queue ``outgoing``; returns how many queued messages were dropped to make room
        (the oldest first; the new one itself when it alone is over the bounds)."""
        size = outgoing[0].size
        if max_count == 0 or size > max_bytes:
            self.dropped += 1
            return 1
        pending = self.pending
        dropped = 0
        while pending and (len(pending) >= max_count or self.pending_bytes + size > max_bytes):
            self.pending_bytes -= pending.popleft()[0].size
            dropped += 1
        pending.append(outgoing)
        self.pending_bytes += size
        self.dropped += dropped
        return dropped

    def next_pending(self) -> Outgoing:
        outgoing = self.pending.popleft()
        self.pending_bytes -= outgoing[0].size
        return outgoing

    def clear(self) -> None:
        self.subscriptions.clear()
        self.options.clear()
        self.pending.clear()
        self.pending_bytes = 0
        self.inflight.clear()
        self.inbound_qos2.clear()

    def ack(self, packet_id: int, qos: int) -> bool | None:
        """Settle the in-flight message ``packet_id`` at the step QoS ``qos`` expects (PUBACK: a
        QoS 1 message, PUBCOMP: a QoS 2 one after PUBREC): True when settled, None for an id not
        in flight (a late repeat: ignored), False for a message at another step (a PUBACK for a
        QoS 2 message): a protocol error."""
        inflight = self.inflight
        if packet_id not in inflight:
            return None
        entry = inflight[packet_id]
        if qos == 1 and (entry is None or entry[1] != 1):
            return False
        if qos == 2 and entry is not None:
            return False
        del inflight[packet_id]
        return True

    def received(self, packet_id: int) -> bool | None:
        """PUBREC for ``packet_id``: True for a QoS 2 message in flight (or a repeated PUBREC),
        then kept only as 'waiting for PUBCOMP'; None for an id not in flight; False for a
        QoS 1 message (a protocol error)."""
        inflight = self.inflight
        if packet_id not in inflight:
            return None
        entry = inflight[packet_id]
        if entry is not None and entry[1] != 2:
            return False
        inflight[packet_id] = None
        return True
