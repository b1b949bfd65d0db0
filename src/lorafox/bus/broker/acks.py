"""The acknowledgements of what one client publishes, sent in the order of its PUBLISH packets,
each once the in-process handlers its message reached are done (a downlink request is stored
before its PUBACK)."""

from __future__ import annotations

import asyncio
import collections
import functools
from collections.abc import Callable

__all__ = ["OrderedAcks"]


class _Ack:
    """A PUBACK or PUBREC waiting for the in-process handlers of its PUBLISH."""

    __slots__ = ("handlers", "packet")

    def __init__(self, packet: bytes, handlers: int) -> None:
        self.packet = packet
        self.handlers = handlers
        """Handlers still running."""


class OrderedAcks:
    """PUBACK/PUBREC packets of one connection, waiting for handlers, sent through ``send``."""

    __slots__ = ("_send", "waiting")

    def __init__(self, send: Callable[[bytes], None]) -> None:
        self._send = send
        self.waiting: collections.deque[_Ack] = collections.deque()
        """The acknowledgements not sent yet, oldest first."""

    def add(self, packet: bytes, handlers: list[asyncio.Task[None]]) -> None:
        """Send ``packet`` once ``handlers`` are done (a handler's failure is logged by the
        broker), after the acknowledgements of earlier messages."""
        if not handlers and not self.waiting:
            self._send(packet)
            return
        ack = _Ack(packet, len(handlers))
        self.waiting.append(ack)
        for task in handlers:
            task.add_done_callback(functools.partial(self._handled, ack))
        if not handlers:
            self._send_ready()

    def clear(self) -> None:
        """Forget every waiting acknowledgement (the connection is closed)."""
        self.waiting.clear()

    def _handled(self, ack: _Ack, task: asyncio.Task[None]) -> None:
        ack.handlers -= 1
        self._send_ready()

    def _send_ready(self) -> None:
        queue = self.waiting
        while queue and queue[0].handlers <= 0:
            self._send(queue.popleft().packet)
