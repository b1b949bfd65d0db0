"""``ConnectionOwner``: what a client connection asks of its broker (the broker implements it;
the connection knows it only as this protocol, so the modules import one way)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Protocol

from lorafox.bus.broker.limits import BrokerLimits
from lorafox.bus.broker.session import Session
from lorafox.bus.mqtt_codec import Connect, Publish, Subscribe, Unsubscribe

if TYPE_CHECKING:
    from lorafox.bus.broker.connection import Connection

__all__ = ["ConnectionOwner"]


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
