"""Wills: the message a client left at CONNECT, published when its connection ends without a
DISCONNECT — at once, or for an MQTT 5 client after its will delay interval (bounded by the
session's expiry), unless the client is back in time."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable

from lorafox.bus.broker.connection import Connection
from lorafox.bus.broker.router import Router
from lorafox.bus.broker.session import Session
from lorafox.bus.mqtt_codec import Publish, Will

__all__ = ["Wills"]


class Wills:
    """Publishes the wills of ended connections while ``running()``."""

    def __init__(
        self,
        router: Router,
        sessions: dict[str, Session],
        log: logging.Logger,
        running: Callable[[], bool],
    ) -> None:
        self._router = router
        self._sessions = sessions
        self._log = log
        self._running = running
        self.loop: asyncio.AbstractEventLoop | None = None
        """Set when the broker starts."""

    def connection_ended(self, connection: Connection, will: Will, session: Session | None) -> None:
        """Publish ``will`` of ``connection`` (whose session was ``session``) now or after its
        delay."""
        if not self._running():
            return
        delay = will.properties.will_delay_interval if connection.v5 else None
        if (
            delay
            and session is not None
            and self._sessions.get(session.client_id) is session
            and self.loop is not None
        ):
            wait = min(float(delay), session.expiry)
            publish = functools.partial(self._publish, connection, will, session)
            session.pending_will = publish
            session.will_timer = self.loop.call_later(wait, publish)
            return
        self._publish(connection, will, None)

    def _publish(self, connection: Connection, will: Will, session: Session | None) -> None:
        if session is not None:
            session.will_timer = None
            session.pending_will = None
        if not self._running():
            return
        self._log.debug("client %s: publishing its will to %s", connection.client_id, will.topic)
        properties = will.properties if connection.v5 else None
        will_publish = Publish(
            will.topic, will.payload, will.qos, will.retain, False, None, properties
        )
        self._router.route_network(will_publish, connection)
