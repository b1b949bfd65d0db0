"""The sessions a broker keeps, by client id: which session a CONNECT gets, how long it outlives
its connection, and forgetting it when that time is over."""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from lorafox.bus.broker.access import Identity
from lorafox.bus.broker.limits import BrokerLimits
from lorafox.bus.broker.router import Router
from lorafox.bus.broker.session import Session
from lorafox.bus.mqtt_codec import PROTOCOL_LEVEL_5, Connect

__all__ = ["SessionTable"]

_NEVER_EXPIRES: Final = 0xFFFFFFFF


class SessionTable:
    """Client id → session. Sessions absent for longer than their expiry are forgotten: checked
    every quarter of ``session_expiry`` (at most every minute), and at its own time for an MQTT
    5 session with a shorter expiry."""

    def __init__(self, router: Router, limits: BrokerLimits, log: logging.Logger) -> None:
        self.by_id: dict[str, Session] = {}
        self._router = router
        self._limits = limits
        self._log = log
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._schedule()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._loop = None

    def expiry_asked(self, connect: Connect) -> float:
        """Seconds the session is to outlive its connection: an MQTT 5 client's session expiry
        interval (0 when absent), bounded by ``session_expiry``; for 3.1.1 clients 0 with
        clean session, else ``session_expiry``."""
        limit = self._limits.session_expiry
        if connect.protocol_level != PROTOCOL_LEVEL_5:
            return 0.0 if connect.clean_session else limit
        asked = connect.properties.session_expiry_interval or 0
        return limit if asked == _NEVER_EXPIRES else min(float(asked), limit)

    def session_for(
        self,
        client_id: str,
        connect: Connect,
        identity: Identity,
        existing: Session | None,
        expiry: float,
    ) -> tuple[Session, bool]:
        """The session of a new connection (a new one with clean start), and whether it was
        there before."""
        if connect.clean_session:
            if existing is not None:
                self.end(existing)
            return Session(client_id, expiry == 0, identity, expiry), False
        if existing is not None:
            existing.identity = identity  # the same login; its grants may have changed
            existing.expiry = expiry
            existing.clean_session = expiry == 0
            return existing, True
        return Session(client_id, expiry == 0, identity, expiry), False

    def detached(self, session: Session) -> None:
        """``session`` has lost its connection: it ends now, or expires later."""
        if session.clean_session:
            self.end(session)
            return
        loop = self._loop
        if loop is None:
            return
        session.expires_at = loop.time() + session.expiry
        if session.expiry < self._limits.session_expiry:
            if session.expiry_timer is not None:  # one timer per session, however often it goes
                session.expiry_timer.cancel()
            session.expiry_timer = loop.call_later(session.expiry, self._expire_if_due, session)

    def end(self, session: Session) -> None:
        if session.expiry_timer is not None:
            session.expiry_timer.cancel()
            session.expiry_timer = None
        self._router.remove_all(session)
        if self.by_id.get(session.client_id) is session:
            del self.by_id[session.client_id]

    def _expire_if_due(self, session: Session) -> None:
        session.expiry_timer = None
        loop = self._loop
        if loop is None or self.by_id.get(session.client_id) is not session:
            return
        if session.expires_at is not None and session.expires_at <= loop.time() + 0.001:
            self._log.info("client %s: session expired", session.client_id)
            self.end(session)

    def _schedule(self) -> None:
        loop = self._loop
        if loop is None:
            return
        every = min(60.0, max(self._limits.session_expiry / 4, 0.05))
        self._timer = loop.call_later(every, self._expire)

    def _expire(self) -> None:
        """Forget the persistent sessions absent for longer than their expiry."""
        loop = self._loop
        if loop is None:
            return
        now = loop.time()
        expired = [
            s for s in self.by_id.values() if s.expires_at is not None and s.expires_at <= now
        ]
        for session in expired:
            self._log.info("client %s: persistent session expired", session.client_id)
            self.end(session)
        self._schedule()
