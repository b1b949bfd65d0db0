"""SUBSCRIBE and UNSUBSCRIBE: which filters a client gets (validation, refused filters, access
control), with what options, the answer in its protocol's words, and the retained messages."""

from __future__ import annotations

import logging

from lorafox.bus.broker.access import AccessPolicy
from lorafox.bus.broker.connection import Connection
from lorafox.bus.broker.router import NO_LOCAL, Router
from lorafox.bus.broker.session import Session
from lorafox.bus.broker.shared import parse_shared
from lorafox.bus.mqtt_codec import (
    SUBACK_FAILURE,
    Properties,
    ProtocolError,
    ReasonCode,
    SubAck,
    Subscribe,
    UnsubAck,
    Unsubscribe,
    encode_remaining_length,
)
from lorafox.bus.topics import filter_matcher, has_wildcard, validate_topic_filter
from lorafox.errors import InvalidInput

__all__ = ["Subscriptions"]


class Subscriptions:
    """Answers SUBSCRIBE and UNSUBSCRIBE. ``refused_filters``: filters no client may subscribe
    to, nor to a topic one of them matches (SUBACK 0x80, for MQTT 5 clients too); a filter the
    access policy refuses gets 0x80 (MQTT 5: 0x87 not authorized)."""

    def __init__(
        self,
        router: Router,
        access: AccessPolicy,
        refused_filters: tuple[str, ...],
        log: logging.Logger,
    ) -> None:
        for topic_filter in refused_filters:
            validate_topic_filter(topic_filter)
        self._router = router
        self._access = access
        self._refused_filters = tuple((f, filter_matcher(f)) for f in refused_filters)
        self.log = log

    def subscribe(self, connection: Connection, session: Session, packet: Subscribe) -> None:
        v5 = connection.v5
        refused = ReasonCode.NOT_AUTHORIZED if v5 else SUBACK_FAILURE
        sub_id = 0
        if v5 and packet.properties is not None and packet.properties.subscription_identifiers:
            sub_id = packet.properties.subscription_identifiers[0]
        codes: list[int] = []
        granted: list[tuple[str, int]] = []
        for topic_filter, options in packet.topics:
            try:
                shared = parse_shared(topic_filter)
                if shared is None:
                    validate_topic_filter(topic_filter)
            except InvalidInput:
                self.log.info(
                    "client %s: invalid topic filter %r refused", session.client_id, topic_filter
                )
                codes.append(ReasonCode.TOPIC_FILTER_INVALID if v5 else SUBACK_FAILURE)
                continue
            inner = topic_filter if shared is None else shared[1]
            if self._refused(inner):
                self.log.info(
                    "client %s: subscription to %s refused (refused_filters)",
                    session.client_id,
                    topic_filter,
                )
                codes.append(SUBACK_FAILURE)  # 0x80 in MQTT 5 too: unspecified error
                continue
            if not self._access.may_subscribe(session.identity, inner):
                self.log.warning(
                    "client %s (%s) may not subscribe to %s: refused",
                    session.client_id,
                    connection.peer,
                    topic_filter,
                )
                codes.append(refused)
                continue
            if shared is not None and v5 and options & NO_LOCAL:
                raise ProtocolError("no local on a shared subscription", ReasonCode.PROTOCOL_ERROR)
            qos = min(options & 0x03, 2)
            new = self._router.add(session, topic_filter, qos)
            if v5 and (options & ~0x03 or sub_id):
                session.options[topic_filter] = (options, sub_id)
            else:
                session.options.pop(topic_filter, None)
            codes.append(qos)
            handling = (options >> 4) & 0x03 if v5 else 0
            if shared is None and (handling == 0 or (handling == 1 and new)):
                granted.append((topic_filter, qos))
        if v5:
            connection.send(SubAck(packet.packet_id, tuple(codes), Properties()).encode())
        else:
            connection.send(
                bytes((0x90,))
                + encode_remaining_length(2 + len(codes))
                + packet.packet_id.to_bytes(2, "big")
                + bytes(codes)
            )
        if self._router.retained:
            for topic_filter, qos in granted:
                self._router.send_retained(session, topic_filter, qos, sub_id)

    def _refused(self, topic_filter: str) -> bool:
        """A subscription to a filter of ``refused_filters`` (or to a topic one matches)."""
        for refused, match in self._refused_filters:
            if topic_filter == refused or (not has_wildcard(topic_filter) and match(topic_filter)):
                return True
        return False

    def unsubscribe(self, connection: Connection, session: Session, packet: Unsubscribe) -> None:
        codes = [
            ReasonCode.SUCCESS
            if self._router.remove(session, topic_filter)
            else ReasonCode.NO_SUBSCRIPTION_EXISTED
            for topic_filter in packet.topic_filters
        ]
        packet_id = packet.packet_id
        if connection.v5:
            connection.send(UnsubAck(packet_id, tuple(codes), Properties()).encode())
        else:
            connection.send(bytes((0xB0, 2, packet_id >> 8, packet_id & 0xFF)))
