"""Topic names, topic filters, matching and the subscription index."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lorafox.bus.topics import (
    SubscriptionIndex,
    filter_matcher,
    matches,
    topic_name_bytes,
    validate_topic_filter,
    validate_topic_name,
)
from lorafox.errors import InvalidInput

MATCHING = [
    # (filter, topic, matches?)
    ("sport/tennis/player1", "sport/tennis/player1", True),
    ("sport/tennis/player1", "sport/tennis/player2", False),
    ("sport/tennis/player1/#", "sport/tennis/player1", True),
    ("sport/tennis/player1/#", "sport/tennis/player1/ranking", True),
    ("sport/tennis/player1/#", "sport/tennis/player1/score/wimbledon", True),
    ("sport/#", "sport", True),
    ("sport/#", "sports", False),
    ("#", "sport", True),
    ("#", "/", True),
    ("#", "a/b/c", True),
    ("sport/tennis/+", "sport/tennis/player1", True),
    ("sport/tennis/+", "sport/tennis/player1/ranking", False),
    ("sport/+", "sport", False),
    ("sport/+", "sport/", True),
    ("+/+", "/finance", True),
    ("/+", "/finance", True),
    ("+", "/finance", False),
    ("+", "finance", True),
    ("+/#", "sport", True),
    ("+/tennis/#", "sport/tennis", True),
    ("a/+/c", "a//c", True),
    ("a/b", "a/b/", False),
    ("A/b", "a/b", False),
    # $ topics are not matched by a leading wildcard
    ("#", "$SYS/broker/uptime", False),
    ("+/monitor/Clients", "$SYS/monitor/Clients", False),
    ("+", "$SYS", False),
    ("$SYS/#", "$SYS/broker/uptime", True),
    ("$SYS/#", "$SYS", True),
    ("$SYS/monitor/+", "$SYS/monitor/Clients", True),
    ("a/#", "a/$b", True),
    ("a/+", "a/$b", True),
    ("température/+", "température/salon", True),
]


@pytest.mark.parametrize(("topic_filter", "topic", "expected"), MATCHING)
def test_matches(topic_filter: str, topic: str, expected: bool) -> None:
    assert matches(topic_filter, topic) is expected
    assert filter_matcher(topic_filter)(topic) is expected


@pytest.mark.parametrize(("topic_filter", "topic", "expected"), MATCHING)
def test_index_agrees_with_matching_table(topic_filter: str, topic: str, expected: bool) -> None:
    index: SubscriptionIndex[str] = SubscriptionIndex()
    index.add(topic_filter, "s", 1)
    assert (dict(index.match(topic)) == {"s": 1}) is expected


@pytest.mark.parametrize(
    "topic_filter",
    ["#", "+", "/", "a/b", "a/+/c", "a/#", "+/+/#", "$SYS/#", "a//b", "/#", "x" * 65535],
)
def test_valid_filters(topic_filter: str) -> None:
    validate_topic_filter(topic_filter)


@pytest.mark.parametrize(
    "topic_filter",
    [
        "",
        "a/#/b",
        "#/a",
        "a#",
        "a/b#",
        "a+",
        "a/+b/c",
        "+a",
        "##",
        "a/\x00",
        "x" * 65536,
        "é" * 40000,  # 80,000 bytes of UTF-8
        "\ud800",  # a lone surrogate cannot be encoded
    ],
)
def test_invalid_filters(topic_filter: str) -> None:
    with pytest.raises(InvalidInput):
        validate_topic_filter(topic_filter)
    index: SubscriptionIndex[str] = SubscriptionIndex()
    with pytest.raises(InvalidInput):
        index.add(topic_filter, "s")


@pytest.mark.parametrize("topic", ["a", "/", "a/b/c", "$SYS/x", "a b", "x" * 65535, "é/ü"])
def test_valid_topic_names(topic: str) -> None:
    validate_topic_name(topic)
    assert topic_name_bytes(topic) == topic.encode("utf-8")


@pytest.mark.parametrize(
    "topic", ["", "a/+", "a/#", "#", "+", "a+b", "a\x00b", "x" * 65536, "\udcff"]
)
def test_invalid_topic_names(topic: str) -> None:
    with pytest.raises(InvalidInput):
        validate_topic_name(topic)


def test_matches_validates_its_arguments() -> None:
    with pytest.raises(InvalidInput):
        matches("a/#/b", "a/x/b")
    with pytest.raises(InvalidInput):
        matches("a/+", "a/+")


def test_index_gives_each_subscriber_once_with_its_highest_qos() -> None:
    index: SubscriptionIndex[str] = SubscriptionIndex()
    index.add("a/#", "s1", 0)
    index.add("a/b", "s1", 2)
    index.add("a/+", "s1", 1)
    index.add("+/b", "s2", 1)
    index.add("c", "s3", 2)
    assert dict(index.match("a/b")) == {"s1": 2, "s2": 1}
    assert dict(index.match("a/c")) == {"s1": 1}
    assert dict(index.match("a")) == {"s1": 0}
    assert dict(index.match("c")) == {"s3": 2}
    assert dict(index.match("d")) == {}
    assert len(index) == 5


def test_index_resubscribing_replaces_the_qos() -> None:
    index: SubscriptionIndex[str] = SubscriptionIndex()
    index.add("a", "s", 2)
    assert dict(index.match("a")) == {"s": 2}
    index.add("a", "s", 0)
    assert dict(index.match("a")) == {"s": 0}
    assert len(index) == 1


def test_index_remove_forgets_and_prunes() -> None:
    index: SubscriptionIndex[str] = SubscriptionIndex()
    index.add("a/b/c", "s", 1)
    index.add("a/#", "t", 1)
    assert dict(index.match("a/b/c")) == {"s": 1, "t": 1}  # cached now
    assert index.remove("a/b/c", "s") is True
    assert index.remove("a/b/c", "s") is False
    assert index.remove("a/x", "s") is False
    assert dict(index.match("a/b/c")) == {"t": 1}  # the cache was invalidated
    assert index.remove("a/#", "t") is True
    assert dict(index.match("a/b/c")) == {}
    assert len(index) == 0
    assert list(index.filters()) == []


def test_index_lists_its_filters() -> None:
    index: SubscriptionIndex[str] = SubscriptionIndex()
    entries = {("a/+/c", "s", 1), ("#", "t", 0), ("a", "s", 2), ("/", "u", 1)}
    for topic_filter, key, qos in entries:
        index.add(topic_filter, key, qos)
    assert set(index.filters()) == entries
    index.clear()
    assert len(index) == 0
    assert dict(index.match("a")) == {}


def test_index_cache_is_bounded() -> None:
    index: SubscriptionIndex[str] = SubscriptionIndex(cache_size=10)
    index.add("d/+", "s", 1)
    for n in range(100):
        assert dict(index.match(f"d/{n}")) == {"s": 1}
    assert len(index._cache) <= 10


# -- property: the tree gives exactly the filters ``matches`` accepts -------------------------

_LEVELS = st.sampled_from(["a", "b", "", "$x", "$SYS", "é"])
_TOPICS = st.lists(_LEVELS, min_size=1, max_size=5).map("/".join).filter(bool)


@st.composite
def _filters(draw: st.DrawFn) -> str:
    levels = draw(st.lists(st.one_of(_LEVELS, st.just("+")), min_size=1, max_size=5))
    if draw(st.booleans()):
        levels.append("#")
    return "/".join(levels) or "#"


@settings(max_examples=300, deadline=None)
@given(
    filters=st.lists(_filters(), max_size=25, unique=True), topics=st.lists(_TOPICS, max_size=20)
)
def test_index_returns_exactly_the_matching_filters(filters: list[str], topics: list[str]) -> None:
    index: SubscriptionIndex[str] = SubscriptionIndex()
    for topic_filter in filters:
        index.add(topic_filter, topic_filter)
    for topic in topics:
        expected = {f for f in filters if matches(f, topic)}
        assert set(index.match(topic)) == expected
    # and after removing half of them
    for topic_filter in filters[::2]:
        assert index.remove(topic_filter, topic_filter)
    kept = filters[1::2]
    for topic in topics:
        assert set(index.match(topic)) == {f for f in kept if matches(f, topic)}
    assert len(index) == len(kept)
