"""The Semtech customer-server socket: the network server connects and streams NUL-framed JSON.

``SemtechServer`` listens on ``--semtech-port``. A connection is accepted only from an address
listed by a ``semtech`` integration (its ``addresses``), whose uplinks it then brings. Frames
are cut by ``NulFramer`` however TCP splits or joins them; a broken frame is logged and skipped,
the connection stays. The uplinks of the frames received so far go to the shared flow as one
batch (at most ``max_batch`` uplinks, stored in one transaction), several batches concurrently
(at most ``max_in_flight`` frames per connection; reading pauses beyond a backlog);
``{"ackreq":N}`` is answered ``{"ack":N}`` once everything before it is stored. It is also the
``LoraTransport`` of Semtech integrations: downlinks are written on the integration's newest
connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import time
from collections import deque
from typing import Any, cast

from lorafox.domain import Downlink, DownlinkState, LoraKind
from lorafox.errors import InvalidInput, LorafoxError, NotFound
from lorafox.lora.downlinks import LoraDownlinks
from lorafox.lora.ingest import LoraIngest
from lorafox.lora.integrations import LoraIntegrations, Sender
from lorafox.lora.model import LoraUplink
from lorafox.lora.semtech_frames import (
    MAX_FRAME,
    NulFramer,
    SemtechMessage,
    ack_frame,
    downlink_frame,
    parse_frame,
)

__all__ = ["SemtechServer"]

log = logging.getLogger(__name__)

_BACKLOG_PAUSE = 10_000
_BACKLOG_RESUME = 1_000
_BACKLOG_BYTES = 4 * 1024 * 1024
"""Frames (or bytes of frames) waiting on one connection beyond which it is not read."""
_WRITE_BUFFER_MAX = 1024 * 1024
"""Bytes of answers a peer may leave unread before its connection is dropped."""
_RECHECK_SECONDS = 1.0
"""How often a connection checks that its integration still exists (a cached lookup)."""
_LOGGED_BROKEN = 10
"""Broken frames logged per connection at WARNING (the rest at DEBUG)."""


class SemtechServer:
    """The asyncio server and its connections."""

    def __init__(
        self,
        host: str,
        port: int,
        integrations: LoraIntegrations,
        ingest: LoraIngest,
        downlinks: LoraDownlinks,
        *,
        max_connections: int = 64,
        max_in_flight: int = 4000,
        max_batch: int = 1000,
        max_frame: int = MAX_FRAME,
    ) -> None:
        self._host = host
        self._port = port
        self.integrations = integrations
        self.ingest = ingest
        self.downlinks = downlinks
        self.max_connections = max_connections
        self.max_in_flight = max_in_flight
        self.max_batch = max_batch
        self.max_frame = max_frame
        self._server: asyncio.Server | None = None
        self.connections: dict[str, list[_Connection]] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        """Each connection's reader of frames."""
        self.count = 0
        self.frames = 0
        self.broken = 0

    @property
    def port(self) -> int | None:
        if self._server is None or not self._server.sockets:
            return None
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Connection(self), self._host, self._port)
        log.info("Semtech customer-server socket on %s:%d", self._host, self.port)

    async def close(self) -> None:
        """Stop listening, close the connections, and give the frames they already sent up to
        5 s to be stored (then they are dropped, not acked)."""
        if self._server is not None:
            self._server.close()
            for connections in list(self.connections.values()):
                for connection in connections:
                    connection.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(5):
                    await self._server.wait_closed()
                    if self.tasks:
                        await asyncio.wait(set(self.tasks))
            for task in self.tasks:
                task.cancel()

    async def admit(self, address: str) -> Sender | None:
        """The Semtech integration listing ``address``, None when none does."""
        try:
            peer = ipaddress.ip_address(address)
        except ValueError:
            return None
        for integration in await self.integrations.of_kind(LoraKind.SEMTECH):
            for network in integration.config.get("addresses", []):
                if peer in ipaddress.ip_network(network, strict=False):
                    return await self.integrations.sender(integration)
        return None

    # -- LoraTransport --------------------------------------------------------------------------

    async def deliver(self, sender: Sender, downlink: Downlink) -> str | None:
        connections = [c for c in self.connections.get(sender.integration.id, []) if c.open]
        if not connections:
            return None
        token = downlink.id % 0xFFFF + 1
        connection = connections[-1]
        connection.write(
            downlink_frame(downlink.device, token, downlink.port or 1, bytes.fromhex(downlink.data))
        )
        connection.last_token[downlink.device] = token
        return str(token)


class _Connection(asyncio.Protocol):
    """One network server's connection."""

    def __init__(self, server: SemtechServer) -> None:
        self._server = server
        self._framer = NulFramer(server.max_frame)
        self._frames: deque[bytes] = deque()
        self._queued_bytes = 0
        self._wakeup = asyncio.Event()
        self._transport: asyncio.Transport | None = None
        self._sender: Sender | None = None
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Task[None]] = set()
        self._in_flight = 0
        """Frames handed to the uplink flow and not stored yet."""
        self._room = asyncio.Event()
        self._paused = False
        self._closed = False
        self._broken = 0
        self._peer = "?"
        self.last_token: dict[str, int] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a TCP server's transport (uvloop's is one without subclassing asyncio's)
        self._transport = transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        self._peer = str(peer[0]) if isinstance(peer, tuple) else "?"
        server = self._server
        if server.count >= server.max_connections:
            log.warning("Semtech connection from %s refused: too many connections", self._peer)
            self._closed = True  # never counted
            transport.abort()
            return
        server.count += 1
        transport.pause_reading()  # until the address is admitted
        self._task = task = asyncio.get_running_loop().create_task(self._run())
        server.tasks.add(task)
        task.add_done_callback(server.tasks.discard)

    def data_received(self, data: bytes) -> None:
        frames = self._framer.feed(data)
        if frames:
            self._frames.extend(frames)
            self._queued_bytes += sum(len(f) for f in frames)
            self._wakeup.set()
            full = len(self._frames) > _BACKLOG_PAUSE or self._queued_bytes > _BACKLOG_BYTES
            if full and not self._paused and self._transport:
                self._paused = True
                self._transport.pause_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._closed:
            return
        self._closed = True
        self._server.count -= 1
        self._wakeup.set()
        if self._sender is not None:
            mine = self._server.connections.get(self._sender.integration.id, [])
            if self in mine:
                mine.remove(self)
        log.info("Semtech connection from %s closed", self._peer)

    @property
    def open(self) -> bool:
        return self._transport is not None and not self._transport.is_closing()

    def write(self, data: bytes) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        if transport.get_write_buffer_size() > _WRITE_BUFFER_MAX:
            log.warning("Semtech connection from %s closed: it does not read", self._peer)
            transport.abort()
            return
        transport.write(data)

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    async def _run(self) -> None:
        server = self._server
        try:
            sender = await server.admit(self._peer)
        except LorafoxError as exc:
            log.error("Semtech connection from %s: %s", self._peer, exc.message)
            sender = None
        if sender is None or self._transport is None or self._closed:
            log.warning(
                "Semtech connection from %s refused: no semtech integration lists it", self._peer
            )
            if self._transport is not None:
                self._transport.abort()
            return
        self._sender = sender
        server.connections.setdefault(sender.integration.id, []).append(self)
        log.info("Semtech connection from %s for integration %s", self._peer, sender.integration.id)
        self._transport.resume_reading()
        try:
            await self._consume(sender)
        finally:
            for task in list(self._pending):
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _consume(self, sender: Sender) -> None:
        checked = time.monotonic()
        while not self._closed or self._frames:
            if not self._frames:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            if time.monotonic() - checked > _RECHECK_SECONDS:
                checked = time.monotonic()
                if not await self._still_admitted(sender):
                    return
            await self._take(sender)

    async def _take(self, sender: Sender) -> None:
        """Parse the frames received so far (up to ``max_batch`` uplinks) and hand their
        uplinks over as one batch; a frame that asks for more than an uplink (``ackreq``,
        feedback, events) first hands over the uplinks before it, in order."""
        frames = self._frames
        batch: list[LoraUplink] = []
        limit = self._server.max_batch
        taken = 0
        size = 0
        while frames and len(batch) < limit:
            frame = frames.popleft()
            taken += 1
            size += len(frame)
            try:
                message = parse_frame(frame)
            except InvalidInput as exc:
                self._skip(frame, exc)
                continue
            if message.uplink is not None:
                batch.append(message.uplink)
            if not message.plain_uplink:
                await self._submit(sender, batch)
                batch = []
                await self._handle(sender, message)
        self._server.frames += taken
        self._queued_bytes -= size
        drained = len(frames) < _BACKLOG_RESUME and self._queued_bytes < _BACKLOG_BYTES // 4
        if self._paused and drained and self._transport:
            self._paused = False
            self._transport.resume_reading()
        await self._submit(sender, batch)

    async def _still_admitted(self, sender: Sender) -> bool:
        """False (and the connection closed) once its integration is deleted."""
        try:
            await self._server.integrations.sender_by_id(sender.integration.id)
        except NotFound:
            log.warning(
                "Semtech connection from %s closed: integration %s was deleted",
                self._peer,
                sender.integration.id,
            )
            self._frames.clear()
            self.close()
            return False
        except LorafoxError as exc:
            log.warning("cannot check integration %s: %s", sender.integration.id, exc.message)
        return True

    def _skip(self, frame: bytes, exc: InvalidInput) -> None:
        self._server.broken += 1
        self._broken += 1
        level = logging.WARNING if self._broken <= _LOGGED_BROKEN else logging.DEBUG
        log.log(
            level,
            "Semtech frame from %s skipped: %s (%d bytes, starting %r)",
            self._peer,
            exc.message,
            len(frame),
            frame[:60],
        )

    async def _submit(self, sender: Sender, batch: list[LoraUplink]) -> None:
        """Store ``batch`` in the background, once fewer than ``max_in_flight`` frames of this
        connection are waiting to be stored."""
        if not batch:
            return
        while self._in_flight and self._in_flight + len(batch) > self._server.max_in_flight:
            self._room.clear()
            await self._room.wait()
        self._in_flight += len(batch)
        task = asyncio.get_running_loop().create_task(self._receive(sender, batch))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _handle(self, sender: Sender, message: SemtechMessage) -> None:
        """What a frame asks for besides its uplink (already submitted)."""
        ingest = self._server.ingest
        for kind, device, details in message.events:
            ingest.event(
                sender, kind, f"Semtech {kind}: {_brief(details)}", device=device, data=details
            )
        downlinks = self._server.downlinks
        device = message.feedback_device
        if device is not None and message.sent_token is not None:
            await _quietly(downlinks.feedback(device, str(message.sent_token), DownlinkState.SENT))
        if message.acked is not None:
            token = self.last_token.get(message.acked)
            if token is not None:
                await _quietly(downlinks.feedback(message.acked, str(token), DownlinkState.ACKED))
        if message.ackreq is not None:
            if self._pending:
                await asyncio.gather(*self._pending, return_exceptions=True)
            self.write(ack_frame(message.ackreq))

    async def _receive(self, sender: Sender, batch: list[LoraUplink]) -> None:
        server = self._server
        try:
            results = await server.ingest.receive_many(sender, batch)
            for uplink, result in zip(batch, results, strict=True):
                if isinstance(result, LorafoxError):
                    log.warning(
                        "Semtech uplink of %s not stored: %s", uplink.dev_eui, result.message
                    )
                else:
                    await server.downlinks.after_uplink(uplink.dev_eui)
        except LorafoxError as exc:
            log.warning("%d Semtech uplinks not stored: %s", len(batch), exc.message)
        except Exception:
            log.exception("%d Semtech uplinks failed", len(batch))
        finally:
            self._in_flight -= len(batch)
            self._room.set()


async def _quietly(work: Any) -> None:
    try:
        await work
    except LorafoxError as exc:
        log.warning("Semtech feedback not recorded: %s", exc.message)


def _brief(details: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in list(details.items())[:6])[:200]
