"""Prometheus metrics, one registry per running service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CounterChild", "Metrics"]

CounterChild = Counter
"""A counter with its labels bound (``Counter.labels(...)`` returns the same type)."""


class Metrics:
    """The counters lorafox keeps; ``render`` gives the text format for ``GET /metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.uplinks = Counter(
            "lorafox_uplinks", "Uplinks received", ["result"], registry=self.registry
        )
        self.downlinks = Counter(
            "lorafox_downlinks",
            "Downlinks by event (queued, sent, rejected, deleted)",
            ["event"],
            registry=self.registry,
        )
        self.callbacks = Counter(
            "lorafox_callbacks",
            "Sigfox callbacks answered",
            ["endpoint", "status"],
            registry=self.registry,
        )
        self.callback_seconds = Histogram(
            "lorafox_callback_duration_seconds",
            "Time to answer a Sigfox callback",
            ["endpoint"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
            registry=self.registry,
        )
        self.publish_backlog = Gauge(
            "lorafox_publish_backlog",
            "Stored uplinks waiting for the MQTT broker (in memory)",
            registry=self.registry,
        )
        self._callback_children: dict[tuple[str, int], tuple[Any, Any]] = {}

    def callback_done(self, endpoint: str, status: int, seconds: float) -> None:
        """Count one answered callback and its duration (label children cached: hot path)."""
        key = (endpoint, status)
        children = self._callback_children.get(key)
        if children is None:
            children = (
                self.callbacks.labels(endpoint, str(status)),
                self.callback_seconds.labels(endpoint),
            )
            self._callback_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def watch_backlog(self, read: Callable[[], int]) -> None:
        self.publish_backlog.set_function(read)

    def render(self) -> bytes:
        return generate_latest(self.registry)
