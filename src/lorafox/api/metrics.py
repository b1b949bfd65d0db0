"""Prometheus metrics, one registry per running service."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["Metrics"]


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

    def watch_backlog(self, read: Callable[[], int]) -> None:
        self.publish_backlog.set_function(read)

    def render(self) -> bytes:
        return generate_latest(self.registry)
