"""Logins: a client's CONNECT refused or accepted — the anonymous rule, credentials checked in a
task of their own (reading paused meanwhile), session ownership and takeover, the MQTT 5 flow
limits and CONNACK properties, and what a resumed session had in flight sent again."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable

from lorafox.bus.broker.access import ANONYMOUS, Identity
from lorafox.bus.broker.admission import Admission
from lorafox.bus.broker.connack import connack_properties, reason_code_of
from lorafox.bus.broker.connection import AUTH, CONNECTED, PAUSE_AUTH, Connection
from lorafox.bus.broker.limits import BrokerLimits
from lorafox.bus.broker.router import Router
from lorafox.bus.broker.session import Session
from lorafox.bus.broker.sessions import SessionTable
from lorafox.bus.mqtt_codec import (
    PROTOCOL_LEVEL_5,
    PROTOCOL_LEVEL_311,
    ConnAck,
    Connect,
    ConnectReturnCode,
    Properties,
    PubRel,
    ReasonCode,
)

__all__ = ["Authenticator", "Logins"]

Authenticator = Callable[[str, bytes | None, str], Awaitable[Identity | None]]
"""Checks a CONNECT's (username, password) from an address: the client's identity, or None."""


class Logins:
    """The CONNECT packets of the broker's clients (see the module docstring)."""

    def __init__(
        self,
        authenticate: Authenticator | None,
        allow_anonymous: bool,
        *,
        limits: BrokerLimits,
        log: logging.Logger,
        table: SessionTable,
        admission: Admission,
        router: Router,
    ) -> None:
        self._authenticate = authenticate
        self._allow_anonymous = allow_anonymous
        self._limits = limits
        self._log = log
        self._table = table
        self._admission = admission
        self._router = router
        self.loop: asyncio.AbstractEventLoop | None = None
        """Set when the broker starts."""
        self.tasks: set[asyncio.Task[None]] = set()
        """The credential checks under way."""

    def on_connect(self, connection: Connection, connect: Connect) -> None:
        """Refuse ``connect``, accept it, or check its credentials first (in a task)."""
        connection.protocol_level = connect.protocol_level
        v5 = connection.v5 = connect.protocol_level == PROTOCOL_LEVEL_5
        if v5 and connect.properties.authentication_method is not None:
            self._refuse(
                connection,
                ReasonCode.BAD_AUTHENTICATION_METHOD,
                f"authentication method {connect.properties.authentication_method!r}",
            )
            return
        client_id = connect.client_id
        if not client_id:
            if not connect.clean_session and not v5:
                self._refuse(connection, ConnectReturnCode.IDENTIFIER_REJECTED, "empty client id")
                return
            client_id = f"lorafox-{secrets.token_hex(8)}"
            connection.assigned_client_id = v5
        connection.client_id = client_id
        if connect.username is None:
            if not self._allow_anonymous:
                self._refuse(connection, ConnectReturnCode.NOT_AUTHORIZED, "anonymous")
                return
            self._accept(connection, connect, ANONYMOUS)
        elif self._authenticate is None:
            self._accept(connection, connect, ANONYMOUS)
        else:
            connection.state = AUTH
            connection.pause_reading(PAUSE_AUTH)
            loop = self.loop
            if loop is None:  # pragma: no cover - set by start()
                return
            task = loop.create_task(self._check_credentials(connection, connect))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _check_credentials(self, connection: Connection, connect: Connect) -> None:
        authenticate = self._authenticate
        if authenticate is None or connect.username is None:  # pragma: no cover - see caller
            return
        identity: Identity | None = None
        code = ConnectReturnCode.ACCEPTED
        try:
            identity = await authenticate(connect.username, connect.password, connection.address)
            if identity is None:
                code = ConnectReturnCode.BAD_USERNAME_OR_PASSWORD
        except Exception:
            self._log.exception(
                "checking the credentials of MQTT client %s (user %r) failed",
                connection.client_id,
                connect.username,
            )
            code = ConnectReturnCode.SERVER_UNAVAILABLE
        if connection.state != AUTH:
            return  # gone meanwhile
        if identity is None:
            self._refuse(connection, code, f"user {connect.username!r}")
            return
        if not self._accept(connection, connect, identity):
            return
        connection.resume_reading(PAUSE_AUTH)
        connection.handle_backlog()

    def _refuse(self, connection: Connection, code: int, why: str) -> None:
        """Refuse a CONNECT with ``code`` (a 3.1.1 return code, or for MQTT 5 clients its
        reason code; an MQTT 5 reason code is only ever given for MQTT 5 clients)."""
        v5 = connection.v5
        reason = reason_code_of(code) if v5 else code
        self._log.info(
            "MQTT client %s (%s) refused: %s (%s)",
            connection.client_id or "?",
            connection.peer,
            ReasonCode(reason).name.lower().replace("_", " ")
            if v5
            else ConnectReturnCode(code).name.lower().replace("_", " "),
            why,
        )
        properties = Properties() if v5 else None
        connection.send(ConnAck(False, reason, properties).encode())
        connection.shutdown(publish_will=False)

    def _accept(self, connection: Connection, connect: Connect, identity: Identity) -> bool:
        client_id = connection.client_id
        existing = self._table.by_id.get(client_id)
        if existing is not None and existing.identity.name != identity.name:
            # a session belongs to the login that made it: no one else takes it over
            self._refuse(
                connection,
                ConnectReturnCode.NOT_AUTHORIZED,
                f"client id {client_id!r} is another login's session",
            )
            return False
        v5 = connection.v5
        if existing is None and len(self._table.by_id) >= self._limits.max_sessions:
            self._refuse(
                connection,
                ReasonCode.QUOTA_EXCEEDED if v5 else ConnectReturnCode.SERVER_UNAVAILABLE,
                f"{self._limits.max_sessions} sessions kept (max_sessions)",
            )
            return False
        if existing is not None and existing.will_timer is not None:
            # back before its will delay: no will, unless the session ends now (clean start)
            existing.will_timer.cancel()
            existing.will_timer = None
            if connect.clean_session and existing.pending_will is not None:
                existing.pending_will()
            existing.pending_will = None
        if existing is not None and existing.connection is not None:
            old = existing.connection
            self._log.info(
                "client %s: new connection from %s takes over the one from %s",
                client_id,
                connection.peer,
                old.peer,
            )
            if isinstance(old, Connection):
                old.disconnect(ReasonCode.SESSION_TAKEN_OVER, "session taken over")
            else:  # pragma: no cover - sessions are attached to connections
                old.shutdown(publish_will=True)
            existing = self._table.by_id.get(client_id)  # a clean session ended with it
        expiry = self._table.expiry_asked(connect)
        session, present = self._table.session_for(client_id, connect, identity, existing, expiry)
        self._table.by_id[client_id] = session
        session.connection = connection
        session.expires_at = None
        connection.session = session
        connection.identity = identity
        connection.will = connect.will
        connection.state = CONNECTED
        self._admission.logged_in(connection)
        keep_alive = connect.keep_alive
        session.max_inflight = self._limits.max_inflight
        if v5:
            self._set_up_v5(connection, session, connect)
            most = self._limits.server_keep_alive
            if most and (not keep_alive or keep_alive > most):
                keep_alive = most
            asked = connect.properties.session_expiry_interval
            properties = connack_properties(
                self._limits,
                connect,
                keep_alive=keep_alive,
                assigned_client_id=client_id if connection.assigned_client_id else None,
                session_expiry=int(expiry) if asked is not None and asked != expiry else None,
                client_id=client_id,
            )
            connection.send(ConnAck(present, ReasonCode.SUCCESS, properties).encode())
        else:
            session_present = present and connect.protocol_level == PROTOCOL_LEVEL_311
            connection.send(ConnAck(session_present, ConnectReturnCode.ACCEPTED).encode())
        connection.start_keep_alive(keep_alive)
        self._log.debug(
            "client %s connected from %s (clean session %s, keep-alive %d s, session present %s)",
            client_id,
            connection.peer,
            connect.clean_session,
            connect.keep_alive,
            present,
        )
        if present:
            self._resume(connection, session)
        return True

    def _resume(self, connection: Connection, session: Session) -> None:
        """Send again what a resumed session has in flight (with DUP), then its queue."""
        for packet_id, entry in list(session.inflight.items()):
            if entry is None:
                connection.send(PubRel(packet_id).encode())
                continue
            message, qos, retain = entry
            if connection.v5:
                data = connection.encode5(message, qos, packet_id, retain, True)
                if data is None:  # expired meanwhile, or too large for it now
                    del session.inflight[packet_id]
                else:
                    connection.send(data)
            else:
                connection.send(message.encode(qos, packet_id, retain, True))
        self._router.pump(session)

    def _set_up_v5(self, connection: Connection, session: Session, connect: Connect) -> None:
        asked = connect.properties
        limits = self._limits
        session.max_inflight = min(limits.max_inflight, asked.receive_maximum or 0xFFFF)
        connection.receive_maximum = limits.receive_maximum
        connection.topic_alias_maximum = limits.topic_alias_maximum
        connection.alias_limit_out = min(limits.topic_alias_maximum, asked.topic_alias_maximum or 0)
        connection.max_packet_out = asked.maximum_packet_size or 0
