"""What a connected client sends: each packet's handling, MQTT 5 PUBLISH (topic aliases, receive
maximum, reason codes on its ack), the QoS 2 handshakes and DISCONNECT (with its session expiry).

A QoS 1/2 PUBLISH is acknowledged through the connection's ``OrderedAcks``, once the in-process
handlers it reached are done. A packet a client may not send raises ``ProtocolError``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, cast

from lorafox.bus.broker.session import Session
from lorafox.bus.mqtt_codec import (
    NO_PROPERTIES,
    Auth,
    Connect,
    Disconnect,
    Packet,
    PingReq,
    ProtocolError,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    ReasonCode,
    Subscribe,
    Unsubscribe,
)

if TYPE_CHECKING:
    from lorafox.bus.broker.connection import Connection

__all__ = ["handle"]

_PINGRESP: Final = b"\xd0\x00"


def handle(connection: Connection, packet: Packet) -> None:
    """Handle one packet of a connected client."""
    kind = type(packet)
    session = connection.session
    if session is None:  # pragma: no cover - a connected connection has a session
        return
    broker = connection.owner
    if kind is Publish:
        publish = cast(Publish, packet)
        if connection.v5:
            _publish5(connection, publish, session)
            return
        qos = publish.qos
        if qos == 0:
            broker.on_publish(publish, connection)
            return
        packet_id = publish.packet_id or 0
        if qos == 1:
            handlers = broker.on_publish(publish, connection) or []
            connection.acks.add(bytes((0x40, 2, packet_id >> 8, packet_id & 0xFF)), handlers)
        else:
            handlers = []
            if packet_id not in session.inbound_qos2:
                session.inbound_qos2.add(packet_id)
                handlers = broker.on_publish(publish, connection) or []
            connection.acks.add(bytes((0x50, 2, packet_id >> 8, packet_id & 0xFF)), handlers)
    elif kind is PubAck or kind is PubComp:
        packet_id = cast(PubAck | PubComp, packet).packet_id
        settled = session.ack(packet_id, 1 if kind is PubAck else 2)
        if settled is False:
            name = "PUBACK" if kind is PubAck else "PUBCOMP"
            raise ProtocolError(f"{name} for packet {packet_id}, sent at another QoS")
        if settled and session.pending:
            broker.pump(session)
    elif kind is PubRec:
        _pubrec(connection, cast(PubRec, packet), session)
    elif kind is PubRel:
        _pubrel(connection, cast(PubRel, packet).packet_id, session)
    elif kind is Subscribe:
        broker.on_subscribe(connection, session, cast(Subscribe, packet))
    elif kind is Unsubscribe:
        broker.on_unsubscribe(connection, session, cast(Unsubscribe, packet))
    elif kind is PingReq:
        connection.send(_PINGRESP)
    elif kind is Disconnect:
        _disconnect(connection, cast(Disconnect, packet), session)
    elif kind is Auth:
        raise ProtocolError(
            "AUTH without an authentication method at CONNECT", ReasonCode.PROTOCOL_ERROR
        )
    elif kind is Connect:
        raise ProtocolError("a second CONNECT on the same connection")
    else:
        raise ProtocolError(f"a client cannot send {kind.__name__}")


def _publish5(connection: Connection, publish: Publish, session: Session) -> None:
    """An MQTT 5 PUBLISH: topic alias, receive maximum, reason codes on its ack."""
    properties = publish.properties
    if properties is not NO_PROPERTIES and properties is not None:
        publish = connection.aliases.resolve(publish, connection.topic_alias_maximum)
        if properties.subscription_identifiers:
            raise ProtocolError(
                "a client PUBLISH with a subscription identifier", ReasonCode.PROTOCOL_ERROR
            )
    broker = connection.owner
    qos = publish.qos
    if qos == 0:
        if broker.on_publish(publish, connection) is None:
            connection.disconnect(ReasonCode.NOT_AUTHORIZED, f"may not publish to {publish.topic}")
        return
    packet_id = publish.packet_id or 0
    if qos == 2 and packet_id in session.inbound_qos2:  # sent again: already taken
        connection.acks.add(PubRec(packet_id).encode(), [])
        return
    if len(connection.acks.waiting) + len(session.inbound_qos2) >= connection.receive_maximum:
        raise ProtocolError(
            f"more than {connection.receive_maximum} QoS 1/2 messages unacknowledged",
            ReasonCode.RECEIVE_MAXIMUM_EXCEEDED,
        )
    if qos == 1:
        handlers = broker.on_publish(publish, connection)
        if handlers is None:
            connection.acks.add(PubAck(packet_id, ReasonCode.NOT_AUTHORIZED).encode(), [])
        else:
            connection.acks.add(bytes((0x40, 2, packet_id >> 8, packet_id & 0xFF)), handlers)
        return
    handlers = broker.on_publish(publish, connection)
    if handlers is None:
        connection.acks.add(PubRec(packet_id, ReasonCode.NOT_AUTHORIZED).encode(), [])
        return
    session.inbound_qos2.add(packet_id)
    connection.acks.add(PubRec(packet_id).encode(), handlers)


def _pubrec(connection: Connection, pubrec: PubRec, session: Session) -> None:
    packet_id = pubrec.packet_id
    if pubrec.reason_code >= 0x80:  # MQTT 5: the client refused it; it is settled
        if session.inflight.pop(packet_id, 0) != 0 and session.pending:
            connection.owner.pump(session)
        return
    if session.received(packet_id) is False:
        raise ProtocolError(f"PUBREC for packet {packet_id}, a QoS 1 message")
    connection.send(PubRel(packet_id).encode())


def _pubrel(connection: Connection, packet_id: int, session: Session) -> None:
    if connection.v5 and packet_id not in session.inbound_qos2:
        connection.send(PubComp(packet_id, ReasonCode.PACKET_IDENTIFIER_NOT_FOUND).encode())
        return
    session.inbound_qos2.discard(packet_id)
    connection.send(PubComp(packet_id).encode())


def _disconnect(connection: Connection, disconnect: Disconnect, session: Session) -> None:
    connection.owner.log.debug("client %s (%s) disconnected", connection.client_id, connection.peer)
    properties = disconnect.properties
    expiry = None if properties is None else properties.session_expiry_interval
    if expiry is not None:
        if expiry and not session.expiry:
            raise ProtocolError(
                "a session expiry set at DISCONNECT after 0 at CONNECT",
                ReasonCode.PROTOCOL_ERROR,
            )
        connection.owner.set_session_expiry(session, expiry)
    if disconnect.reason_code == ReasonCode.DISCONNECT_WITH_WILL:
        connection.shutdown(publish_will=True)
        return
    connection.will = None
    connection.shutdown(publish_will=False)
