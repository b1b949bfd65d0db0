"""Retained messages: the last retained message of each topic, bounded in count and bytes."""

from __future__ import annotations

from lorafox.bus.broker.message import Message
from lorafox.bus.topics import filter_matcher, has_wildcard

__all__ = ["RetainedStore"]


class RetainedStore:
    """Topic → (message, QoS). ``put`` with an empty payload clears a topic."""

    __slots__ = ("_bytes", "_max_bytes", "_max_count", "_messages")

    def __init__(self, max_count: int, max_bytes: int) -> None:
        self._messages: dict[str, tuple[Message, int]] = {}
        self._bytes = 0
        self._max_count = max_count
        self._max_bytes = max_bytes

    def __len__(self) -> int:
        return len(self._messages)

    def __bool__(self) -> bool:
        return bool(self._messages)

    @property
    def bytes(self) -> int:
        return self._bytes

    def put(self, topic: str, message: Message, qos: int) -> bool:
        """Retain ``message`` for ``topic`` (an empty payload clears it). False when it would
        go over the bounds: the message is then not retained (the previous one is kept)."""
        old = self._messages.get(topic)
        freed = 0 if old is None else old[0].size
        if not message.payload:
            if old is not None:
                del self._messages[topic]
                self._bytes -= freed
            return True
        count = len(self._messages) + (0 if old is not None else 1)
        if count > self._max_count or self._bytes - freed + message.size > self._max_bytes:
            return False
        self._messages[topic] = (message, qos)
        self._bytes += message.size - freed
        return True

    def get(self, topic: str) -> tuple[Message, int] | None:
        return self._messages.get(topic)

    def matching(self, topic_filter: str) -> list[tuple[Message, int]]:
        """The retained messages whose topic matches ``topic_filter``."""
        if not has_wildcard(topic_filter):
            found = self._messages.get(topic_filter)
            return [] if found is None else [found]
        match = filter_matcher(topic_filter)
        return [stored for topic, stored in self._messages.items() if match(topic)]
