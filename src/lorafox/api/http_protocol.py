"""The HTTP connection edge: what a client may hold before a request reaches the app.

uvicorn's httptools protocol buffers an unfinished request head without limit, never times it
out and accepts every connection. ``bounded_http_protocol`` gives it three limits
(``EdgeLimits``), all enforced before routing or authentication:

- a request head (request line and headers) larger than ``max_head_bytes`` is answered ``431``
  with the API's JSON error body, counted as its bytes arrive (nothing past the limit is
  parsed); a head that a pipelining client starts in the middle of a read, right after the
  previous request, is counted from the next read, so it stays under twice the limit;
- a request head must be complete ``head_timeout`` seconds after the connection opened, or after
  the previous response on a keep-alive connection: a deadline, not an idle timer, so a trickle
  of bytes does not extend it. Part of a head arrived: ``408`` with a JSON body; nothing: the
  connection is closed without a word (idle keep-alive connections are closed sooner by
  uvicorn's ``timeout_keep_alive``);
- beyond ``max_connections`` open connections a new one is answered ``503`` with a JSON body and
  ``Retry-After`` at once, without parsing anything; refusals are logged at most once a minute.

After any of these answers the connection parses nothing more and sends its end of stream; it
closes when the client's next bytes (a refused connection's request) or its end of stream
arrive, or a second later: closing with unread bytes would reset the connection and lose the
answer. At most ``max_connections`` refused connections wait so; beyond, they close at once.

The subclass relies on these parts of uvicorn's ``HttpToolsProtocol``: ``connection_made``,
``connection_lost``, ``data_received``, the parser callbacks ``on_headers_complete`` and
``on_message_complete``, ``on_response_complete``, and the attributes ``transport``, ``loop``,
``connections``, ``pipeline``, ``cycle`` and ``server_state`` (unchanged from uvicorn 0.30 to
0.55); ``tests/integration/test_http_edge.py`` checks them over real sockets.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, ClassVar

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from lorafox.api.errors import error_body

__all__ = ["EdgeLimits", "bounded_http_protocol"]

log = logging.getLogger(__name__)

LINGER_SECONDS = 1.0
REFUSAL_NOTE_SECONDS = 60.0
RETRY_AFTER_SECONDS = 5

Headers = Sequence[tuple[bytes, bytes]]


@dataclass(frozen=True, slots=True)
class EdgeLimits:
    max_head_bytes: int = 16384
    head_timeout: float = 10.0
    max_connections: int = 1024


class _Refusals:
    """Connections refused for the connection cap: one log line a minute at most."""

    def __init__(self) -> None:
        self.last_note = -math.inf
        self.unnoted = 0
        self.lingering = 0  # refused connections waiting for their request before closing

    def refused(self, open_connections: int) -> None:
        self.unnoted += 1
        now = time.monotonic()
        if now - self.last_note >= REFUSAL_NOTE_SECONDS:
            log.warning(
                "%d HTTP connections open (http_max_connections): refusing new ones with 503 "
                "(%d refused since the last note)",
                open_connections,
                self.unnoted,
            )
            self.last_note = now
            self.unnoted = 0


def _answer(status: int, message: str, default_headers: Headers, extra: Headers = ()) -> bytes:
    """A complete ``Connection: close`` response with the API's JSON error body."""
    body = error_body(message)
    lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n".encode()]
    for name, value in (*default_headers, *extra):
        lines += [name, b": ", value, b"\r\n"]
    lines += [
        b"content-type: application/json\r\n",
        b"content-length: %d\r\n" % len(body),
        b"connection: close\r\n\r\n",
        body,
    ]
    return b"".join(lines)


class _BoundedHttpToolsProtocol(HttpToolsProtocol):
    limits: ClassVar[EdgeLimits]
    refusals: ClassVar[_Refusals]

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self._in_head = True  # the next bytes parsed belong to a request head
        self._head_bytes = 0
        self._deadline: asyncio.TimerHandle | None = None
        self._linger: asyncio.TimerHandle | None = None
        self._refused = False  # answered by the edge: nothing more is parsed
        self._waits_for_request = False  # refused for the cap, waiting for its request

    # connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            self._refuse_connection(transport)
            return
        super().connection_made(transport)
        self._arm_deadline()

    def _refuse_connection(self, transport: asyncio.Transport) -> None:
        """503 at once. Closing before the client's request is read would reset the connection
        and lose the answer, so the connection waits for the request (a second at most) unless
        as many refused connections wait already as the cap allows open ones."""
        self.transport = transport
        self._refused = True
        self.refusals.refused(len(self.connections))
        transport.write(
            _answer(
                503,
                "too many open connections, try again later",
                self.server_state.default_headers,
                [(b"retry-after", str(RETRY_AFTER_SECONDS).encode())],
            )
        )
        if self.refusals.lingering >= self.limits.max_connections or not transport.can_write_eof():
            transport.close()
            return
        transport.write_eof()
        self.refusals.lingering += 1
        self._waits_for_request = True
        self._linger = self.loop.call_later(LINGER_SECONDS, transport.close)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_deadline()
        if self._linger is not None:
            self._linger.cancel()
            self._linger = None
        if self._waits_for_request:
            self._waits_for_request = False
            self.refusals.lingering -= 1
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:  # after an answer of the edge: dropped unread
            if self._waits_for_request:
                self.transport.close()  # its request is read: closed without a reset
            return
        limit = self.limits.max_head_bytes
        while data:
            room = limit
            if self._in_head:
                room -= self._head_bytes
                if room <= 0:
                    self._refuse(431, f"request headers larger than {limit} bytes")
                    return
            if len(data) <= room:  # the usual case: no copy
                piece, data = data, b""
            else:
                piece, data = data[:room], data[room:]
            if self._in_head:
                self._head_bytes += len(piece)
            super().data_received(piece)
            if not data or self._refused or self.transport.is_closing():
                return
            protocol = self.transport.get_protocol()
            if protocol is not self:  # upgraded: the rest is the new protocol's
                protocol.data_received(data)  # type: ignore[attr-defined]
                return

    # parser callbacks

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        self._disarm_deadline()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._in_head = True
        self._head_bytes = 0

    def on_response_complete(self) -> None:
        queued = bool(self.pipeline)  # a queued request's head is already complete
        super().on_response_complete()
        if not queued and not self.transport.is_closing():
            self._arm_deadline()

    # the head deadline

    def _arm_deadline(self) -> None:
        self._disarm_deadline()
        self._deadline = self.loop.call_later(self.limits.head_timeout, self._head_overdue)

    def _disarm_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _head_overdue(self) -> None:
        self._deadline = None
        if self.transport.is_closing() or self._refused:
            return
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a request is being answered: the app's business, not the head's
        if self._in_head and self._head_bytes > 0:
            seconds = f"{self.limits.head_timeout:g}"
            self._refuse(408, f"request headers not complete within {seconds} s")
        else:
            self.transport.close()

    # answers of the edge

    def _refuse(self, status: int, message: str) -> None:
        """Answer ``status`` (unless a response is under way), end the stream and close after
        reading what the client still sends for a moment."""
        self._refused = True
        self._disarm_deadline()
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()  # a response is under way (pipelining): no room for ours
            return
        self.transport.write(_answer(status, message, self.server_state.default_headers))
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()
        self._linger = self.loop.call_later(LINGER_SECONDS, self.transport.close)


def bounded_http_protocol(limits: EdgeLimits) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol with ``limits``: pass it as ``uvicorn.Config(http=...)``
    (one class per server: the refusal log note is shared by its connections)."""
    return type(
        "BoundedHttpToolsProtocol",
        (_BoundedHttpToolsProtocol,),
        {"limits": limits, "refusals": _Refusals(), "__module__": __name__},
    )
