"""MQTT topic names, topic filters and the subscription index.

The rules are those of MQTT 3.1.1 (section 4.7):

* a topic name or filter is 1 to 65,535 bytes of UTF-8 and never contains U+0000;
* a topic name (what is published to) contains no wildcard;
* in a topic filter ``+`` fills a whole level and ``#`` fills the whole last level;
* a filter starting with a wildcard does not match a topic starting with ``$`` (``$SYS/...``);
* ``sport/#`` also matches ``sport`` (``#`` includes the parent level).

``SubscriptionIndex`` is a topic tree: finding the subscribers of a topic walks the levels of
the topic once, whatever the number of subscriptions, and remembers recent answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Generic, TypeVar

from lorafox.errors import InvalidInput

__all__ = [
    "MAX_TOPIC_BYTES",
    "SubscriptionIndex",
    "filter_matcher",
    "has_wildcard",
    "matches",
    "topic_name_bytes",
    "validate_topic_filter",
    "validate_topic_name",
]

MAX_TOPIC_BYTES = 65535
"""The longest topic name or filter, in bytes of UTF-8 (a 16-bit length prefix)."""

K = TypeVar("K")


def _encode(text: str, what: str) -> bytes:
    if not isinstance(text, str):
        raise InvalidInput(f"the {what} must be a string", field=what)
    if not text:
        raise InvalidInput(f"the {what} is empty", field=what)
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(f"the {what} is not valid UTF-8", field=what) from None
    if len(raw) > MAX_TOPIC_BYTES:
        raise InvalidInput(f"the {what} is longer than {MAX_TOPIC_BYTES} bytes", field=what)
    if "\x00" in text:
        raise InvalidInput(f"the {what} contains U+0000", field=what)
    return raw


def topic_name_bytes(topic: str) -> bytes:
    """Check ``topic`` is a valid topic name and return it as UTF-8.

    Raises ``InvalidInput`` for an empty or too long name, a wildcard, U+0000 or a lone surrogate.
    """
    raw = _encode(topic, "topic")
    if "+" in topic or "#" in topic:
        raise InvalidInput("a topic name cannot contain the wildcards + or #", field="topic")
    return raw


def validate_topic_name(topic: str) -> None:
    """Raise ``InvalidInput`` unless ``topic`` is a valid MQTT topic name (one publishes to it)."""
    topic_name_bytes(topic)


def validate_topic_filter(topic_filter: str) -> None:
    """Raise ``InvalidInput`` unless ``topic_filter`` is a valid MQTT topic filter."""
    _encode(topic_filter, "topic_filter")
    if "+" not in topic_filter and "#" not in topic_filter:
        return
    levels = topic_filter.split("/")
    last = len(levels) - 1
    for i, level in enumerate(levels):
        if level in ("+", "#"):
            if level == "#" and i != last:
                raise InvalidInput("# must be the last level of a filter", field="topic_filter")
        elif "+" in level or "#" in level:
            raise InvalidInput("a wildcard must fill a whole level", field="topic_filter")


def has_wildcard(topic_filter: str) -> bool:
    """True when ``topic_filter`` contains ``+`` or ``#`` (so it may match more than one topic)."""
    return "+" in topic_filter or "#" in topic_filter


def _levels_match(filter_levels: list[str], topic_levels: list[str]) -> bool:
    if topic_levels[0].startswith("$") and filter_levels[0] in ("+", "#"):
        return False
    n = len(topic_levels)
    for i, level in enumerate(filter_levels):
        if level == "#":
            return True
        if i >= n:
            return False
        if level != "+" and level != topic_levels[i]:
            return False
    return len(filter_levels) == n


def matches(topic_filter: str, topic: str) -> bool:
    """True when the topic name ``topic`` matches ``topic_filter``.

    Both are validated first (``InvalidInput`` when one is not valid).
    """
    validate_topic_filter(topic_filter)
    validate_topic_name(topic)
    return _levels_match(topic_filter.split("/"), topic.split("/"))


def filter_matcher(topic_filter: str) -> Callable[[str], bool]:
    """A function telling whether a (valid) topic name matches ``topic_filter``.

    Faster than ``matches`` when one filter is tried against many topics: the filter is
    validated and split once, the topics are not validated.
    """
    validate_topic_filter(topic_filter)
    filter_levels = topic_filter.split("/")

    def match(topic: str) -> bool:
        return _levels_match(filter_levels, topic.split("/"))

    return match


class _Node(Generic[K]):
    __slots__ = ("children", "subscribers")

    def __init__(self) -> None:
        self.children: dict[str, _Node[K]] = {}
        self.subscribers: dict[K, int] = {}


class SubscriptionIndex(Generic[K]):
    """Topic filters and their subscribers, arranged as a tree of topic levels.

    Each subscriber (any hashable key) has one QoS per filter. ``match(topic)`` returns every
    subscriber with at least one matching filter, with the highest QoS among its matching
    filters, so a subscriber with overlapping filters appears once.
    """

    __slots__ = ("_cache", "_cache_limit", "_count", "_root")

    def __init__(self, *, cache_size: int = 8192) -> None:
        self._root: _Node[K] = _Node()
        self._count = 0
        self._cache: dict[str, Mapping[K, int]] = {}
        self._cache_limit = cache_size

    def __len__(self) -> int:
        """The number of (filter, subscriber) pairs."""
        return self._count

    def add(self, topic_filter: str, key: K, qos: int = 0) -> None:
        """Subscribe ``key`` to ``topic_filter`` with ``qos`` (replacing its former QoS for it).

        Raises ``InvalidInput`` when the filter is not valid.
        """
        validate_topic_filter(topic_filter)
        node = self._root
        for level in topic_filter.split("/"):
            child = node.children.get(level)
            if child is None:
                child = node.children[level] = _Node()
            node = child
        if key not in node.subscribers:
            self._count += 1
        node.subscribers[key] = qos
        self._cache.clear()

    def remove(self, topic_filter: str, key: K) -> bool:
        """Unsubscribe ``key`` from ``topic_filter``; False when it was not subscribed."""
        path: list[tuple[_Node[K], str]] = []
        node = self._root
        for level in topic_filter.split("/"):
            child = node.children.get(level)
            if child is None:
                return False
            path.append((node, level))
            node = child
        if node.subscribers.pop(key, None) is None:
            return False
        self._count -= 1
        self._cache.clear()
        # Prune the branches left empty, deepest first.
        for parent, level in reversed(path):
            child = parent.children[level]
            if child.subscribers or child.children:
                break
            del parent.children[level]
        return True

    def clear(self) -> None:
        """Forget every subscription."""
        self._root = _Node()
        self._count = 0
        self._cache.clear()

    def match(self, topic: str) -> Mapping[K, int]:
        """The subscribers of the topic name ``topic``, each with its highest granted QoS.

        ``topic`` is not validated (the caller has done it). The mapping returned must not be
        modified; it stays valid after later subscriptions change.
        """
        cached = self._cache.get(topic)
        if cached is not None:
            return cached
        result: dict[K, int] = {}
        root = self._root
        if root.children:
            self._walk(topic, result)
        if len(self._cache) >= self._cache_limit:
            self._cache.clear()
        self._cache[topic] = result
        return result

    def _walk(self, topic: str, result: dict[K, int]) -> None:
        nodes = [self._root]
        dollar = topic.startswith("$")
        first = True
        for level in topic.split("/"):
            next_nodes: list[_Node[K]] = []
            for node in nodes:
                children = node.children
                if not children:
                    continue
                if not (first and dollar):
                    hash_node = children.get("#")
                    if hash_node is not None:
                        _merge(result, hash_node.subscribers)
                    plus_node = children.get("+")
                    if plus_node is not None:
                        next_nodes.append(plus_node)
                child = children.get(level)
                if child is not None:
                    next_nodes.append(child)
            if not next_nodes:
                return
            nodes = next_nodes
            first = False
        for node in nodes:
            _merge(result, node.subscribers)
            hash_node = node.children.get("#")
            if hash_node is not None:
                _merge(result, hash_node.subscribers)

    def filters(self) -> Iterator[tuple[str, K, int]]:
        """Every (filter, subscriber, QoS) in the index, in no particular order."""
        stack: list[tuple[str | None, _Node[K]]] = [(None, self._root)]
        while stack:
            prefix, node = stack.pop()
            if prefix is not None:
                for key, qos in node.subscribers.items():
                    yield prefix, key, qos
            for level, child in node.children.items():
                stack.append((level if prefix is None else f"{prefix}/{level}", child))


def _merge(result: dict[K, int], subscribers: dict[K, int]) -> None:
    for key, qos in subscribers.items():
        if result.get(key, -1) < qos:
            result[key] = qos
