"""MQTT 5 topic aliases of one connection, both ways: those the client sets on its PUBLISH
packets, and those the broker assigns to the topics it sends it."""

from __future__ import annotations

import dataclasses

from lorafox.bus.mqtt_codec import ProtocolError, Publish, ReasonCode

__all__ = ["TopicAliases"]


class TopicAliases:
    """Alias → topic from the client; topic → alias towards it (first come, first assigned)."""

    __slots__ = ("_in", "_out")

    def __init__(self) -> None:
        self._in: dict[int, str] = {}
        self._out: dict[bytes, int] = {}

    def resolve(self, publish: Publish, maximum: int) -> Publish:
        """``publish`` with its topic: an alias with a topic sets it, an alias alone uses it.
        An alias over ``maximum`` (DISCONNECT 0x94) or never set (0x82) is a ``ProtocolError``."""
        properties = publish.properties
        alias = None if properties is None else properties.topic_alias
        if alias is None:
            return publish
        if not 0 < alias <= maximum:
            raise ProtocolError(f"topic alias {alias}", ReasonCode.TOPIC_ALIAS_INVALID)
        if publish.topic:
            self._in[alias] = publish.topic
            return publish
        topic = self._in.get(alias)
        if topic is None:
            raise ProtocolError(f"topic alias {alias} was never set", ReasonCode.PROTOCOL_ERROR)
        return dataclasses.replace(publish, topic=topic)

    def outgoing(self, topic: bytes, maximum: int) -> tuple[int, bool]:
        """(alias, new) for a message to the client on ``topic``: (0, False) when every alias
        it allows is taken by other topics."""
        alias = self._out.get(topic, 0)
        if alias:
            return alias, False
        if len(self._out) < maximum:
            alias = self._out[topic] = len(self._out) + 1
            return alias, True
        return 0, False

    def forget(self, topic: bytes) -> None:
        """Take back the alias just assigned to ``topic`` (its message was not sent)."""
        self._out.pop(topic, None)
