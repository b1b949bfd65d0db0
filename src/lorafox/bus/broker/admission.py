"""Admission: which TCP connections the broker takes, counted in total, per address and while
they are not logged in yet."""

from __future__ import annotations

import logging
import time
from typing import Final

from lorafox.bus.broker.connection import Connection
from lorafox.bus.broker.limits import BrokerLimits

__all__ = ["Admission"]

_REFUSE_LOG_EVERY: Final = 60.0
"""Seconds between two log lines about connections refused by a limit."""


class Admission:
    """The open connections and the counts the limits apply to."""

    def __init__(self, limits: BrokerLimits, log: logging.Logger) -> None:
        self.limits = limits
        self.log = log
        self.connections: set[Connection] = set()
        self._per_address: dict[str, int] = {}
        self.unauthenticated = 0
        self._refused_logged: float | None = None

    def admit(self, connection: Connection) -> bool:
        """Count a new TCP connection in; False (it is to be closed at once) over a limit."""
        limits = self.limits
        address = connection.address
        why = None
        if len(self.connections) >= limits.max_connections:
            why = f"{limits.max_connections} connections open (max_connections)"
        elif self._per_address.get(address, 0) >= limits.max_connections_per_address:
            why = (
                f"{limits.max_connections_per_address} connections open from {address} "
                "(max_connections_per_address)"
            )
        elif self.unauthenticated >= limits.max_unauthenticated:
            why = f"{limits.max_unauthenticated} connections not logged in (max_unauthenticated)"
        if why is not None:
            now = time.monotonic()
            if self._refused_logged is None or now - self._refused_logged >= _REFUSE_LOG_EVERY:
                self._refused_logged = now
                self.log.warning("MQTT connection from %s refused: %s", connection.peer, why)
            return False
        self.connections.add(connection)
        self._per_address[address] = self._per_address.get(address, 0) + 1
        self.unauthenticated += 1
        connection.logging_in = True
        return True

    def logged_in(self, connection: Connection) -> None:
        """``connection`` is logged in: it leaves the count of those that are not, and may
        send packets up to ``max_packet_size`` from now on."""
        if connection.logging_in:
            connection.logging_in = False
            self.unauthenticated -= 1
        connection.decoder.max_packet_size = self.limits.max_packet_size

    def gone(self, connection: Connection) -> None:
        """The socket of ``connection`` is closed."""
        if connection.logging_in:
            connection.logging_in = False
            self.unauthenticated -= 1
        if connection in self.connections:
            self.connections.discard(connection)
            address = connection.address
            left = self._per_address.get(address, 1) - 1
            if left > 0:
                self._per_address[address] = left
            else:
                self._per_address.pop(address, None)
