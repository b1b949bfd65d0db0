"""Topic filters of rules (``FROM 'a/+/#'``), AWS IoT's way: ``#`` matches one level or more,
so ``sensor/#`` does not match ``sensor`` itself."""

from __future__ import annotations

__all__ = ["check_filter", "filter_matches"]


def check_filter(topic_filter: str) -> str | None:
    """Why ``topic_filter`` is not a valid filter, None when it is."""
    if not topic_filter:
        return "the topic filter is empty"
    if len(topic_filter.encode()) > 256:
        return "the topic filter is longer than 256 bytes"
    levels = topic_filter.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return "'#' must be a whole level, and the last"
        if "+" in level and level != "+":
            return "'+' must be a whole level"
    return None


def filter_matches(topic_filter: str, topic: str) -> bool:
    """Whether ``topic`` matches ``topic_filter``."""
    filter_levels = topic_filter.split("/")
    levels = topic.split("/")
    for i, wanted in enumerate(filter_levels):
        if wanted == "#":
            return len(levels) > i
        if i >= len(levels):
            return False
        if wanted not in ("+", levels[i]):
            return False
    return len(levels) == len(filter_levels)
