"""Shared subscriptions: ``$share/{group}/{filter}``. Each message matching ``filter`` goes to
one session of the group, in turn (connected sessions first), whatever protocol level its
client speaks."""

from __future__ import annotations

from lorafox.bus.broker.session import Session
from lorafox.bus.topics import SubscriptionIndex, validate_topic_filter
from lorafox.errors import InvalidInput

__all__ = ["SHARE_PREFIX", "SharedGroup", "SharedSubscriptions", "parse_shared"]

SHARE_PREFIX = "$share/"


def parse_shared(topic_filter: str) -> tuple[str, str] | None:
    """(group, filter) of a shared subscription's filter; None for an ordinary filter.
    ``InvalidInput`` for a malformed one."""
    if not topic_filter.startswith(SHARE_PREFIX):
        return None
    group, _, inner = topic_filter[len(SHARE_PREFIX) :].partition("/")
    if not group or "+" in group or "#" in group or not inner:
        raise InvalidInput("a shared subscription is $share/{group}/{filter}", field="topic")
    validate_topic_filter(inner)
    return group, inner


class SharedGroup:
    """The sessions of one (group, filter), with their granted QoS."""

    __slots__ = ("members", "turn")

    def __init__(self) -> None:
        self.members: dict[Session, int] = {}
        self.turn = 0

    def pick(self) -> tuple[Session, int] | None:
        """The next session to receive a message (a connected one when there is any)."""
        members = list(self.members.items())
        if not members:
            return None
        count = len(members)
        for step in range(count):
            session, qos = members[(self.turn + step) % count]
            if session.connection is not None:
                self.turn = (self.turn + step + 1) % count
                return session, qos
        self.turn = (self.turn + 1) % count
        return members[self.turn % count]


class SharedSubscriptions:
    """Every shared group, indexed by its filter."""

    def __init__(self) -> None:
        self.groups: dict[tuple[str, str], SharedGroup] = {}
        """Every group by (name, filter); empty: no shared subscription at all."""
        self._index: SubscriptionIndex[SharedGroup] = SubscriptionIndex()

    def __bool__(self) -> bool:
        return bool(self.groups)

    def add(self, group: str, topic_filter: str, session: Session, qos: int) -> None:
        key = (group, topic_filter)
        shared = self.groups.get(key)
        if shared is None:
            shared = self.groups[key] = SharedGroup()
            self._index.add(topic_filter, shared)
        shared.members[session] = qos

    def remove(self, group: str, topic_filter: str, session: Session) -> None:
        key = (group, topic_filter)
        shared = self.groups.get(key)
        if shared is None:
            return
        shared.members.pop(session, None)
        if not shared.members:
            del self.groups[key]
            self._index.remove(topic_filter, shared)

    def match(self, topic: str) -> list[SharedGroup]:
        return list(self._index.match(topic))
