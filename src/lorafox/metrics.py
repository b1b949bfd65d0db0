"""Prometheus metrics, one registry per running service.

The per-callback figures are plain integers bumped on the event loop (the hot path: a
``prometheus_client`` counter takes a lock per increment) and turned into metric families only
when ``/metrics`` is scraped. Everything else uses ``prometheus_client`` directly.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["CallbackCounters", "LoraCounters", "Metrics"]

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)
"""Upper bounds (seconds) of the callback latency histogram."""


class _Latency:
    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)  # the last one is +Inf
        self.total = 0.0


class CallbackCounters(Collector):
    """Uplinks stored/duplicate, callbacks by status, callback latency: cheap to bump."""

    def __init__(self) -> None:
        self.stored = 0
        self.duplicates = 0
        self._answers: dict[tuple[str, int], int] = {}
        self._latency: dict[str, _Latency] = {}

    def answered(self, endpoint: str, status: int, seconds: float) -> None:
        """Count one answered callback and how long it took."""
        key = (endpoint, status)
        self._answers[key] = self._answers.get(key, 0) + 1
        latency = self._latency.get(endpoint)
        if latency is None:
            latency = self._latency[endpoint] = _Latency()
        latency.counts[bisect_left(BUCKETS, seconds)] += 1
        latency.total += seconds

    def collect(self) -> Iterator[Metric]:
        uplinks = CounterMetricFamily("lorafox_uplinks", "Uplinks received", labels=["result"])
        uplinks.add_metric(["stored"], self.stored)
        uplinks.add_metric(["duplicate"], self.duplicates)
        yield uplinks
        answers = CounterMetricFamily(
            "lorafox_callbacks", "Sigfox callbacks answered", labels=["endpoint", "status"]
        )
        for (endpoint, status), count in sorted(self._answers.items()):
            answers.add_metric([endpoint, str(status)], count)
        yield answers
        histogram = HistogramMetricFamily(
            "lorafox_callback_duration_seconds",
            "Time to answer a Sigfox callback",
            labels=["endpoint"],
        )
        for endpoint, latency in sorted(self._latency.items()):
            cumulative, buckets = 0, []
            for bound, count in zip((*BUCKETS, float("inf")), latency.counts, strict=True):
                cumulative += count
                buckets.append(("+Inf" if bound == float("inf") else str(bound), cumulative))
            histogram.add_metric([endpoint], buckets, latency.total)
        yield histogram


class LoraCounters(Collector):
    """LoRa frames, uplinks stored or duplicate, and downlinks by event, per network server
    kind: plain integers bumped on the event loop."""

    def __init__(self) -> None:
        self._frames: dict[str, int] = {}
        self._uplinks: dict[tuple[str, str], int] = {}
        self._downlinks: dict[tuple[str, str], int] = {}

    def frame(self, kind: str, *, stored: bool) -> None:
        """One frame received from a network server of ``kind`` (stored, or a duplicate)."""
        self._frames[kind] = self._frames.get(kind, 0) + 1
        key = (kind, "stored" if stored else "duplicate")
        self._uplinks[key] = self._uplinks.get(key, 0) + 1

    def downlink(self, kind: str, event: str) -> None:
        """A downlink handed over to a network server of ``kind``, or moved to ``event``."""
        key = (kind, event)
        self._downlinks[key] = self._downlinks.get(key, 0) + 1

    def collect(self) -> Iterator[Metric]:
        frames = CounterMetricFamily("lorafox_lora_frames", "LoRa frames received", labels=["kind"])
        for kind, count in sorted(self._frames.items()):
            frames.add_metric([kind], count)
        yield frames
        uplinks = CounterMetricFamily(
            "lorafox_lora_uplinks", "LoRa uplinks stored or duplicate", labels=["kind", "result"]
        )
        for (kind, result), count in sorted(self._uplinks.items()):
            uplinks.add_metric([kind, result], count)
        yield uplinks
        downlinks = CounterMetricFamily(
            "lorafox_lora_downlinks",
            "LoRa downlinks handed over, sent, acked, failed or expired",
            labels=["kind", "event"],
        )
        for (kind, event), count in sorted(self._downlinks.items()):
            downlinks.add_metric([kind, event], count)
        yield downlinks


class Metrics:
    """The metrics lorafox keeps; ``render`` gives the text format for ``GET /metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.callbacks = CallbackCounters()
        self.registry.register(self.callbacks)
        self.lora = LoraCounters()
        self.registry.register(self.lora)
        self.downlinks = Counter(
            "lorafox_downlinks",
            "Downlinks by event (queued, sent, rejected, deleted)",
            ["event"],
            registry=self.registry,
        )
        self.auth_failures = Counter(
            "lorafox_auth_failures",
            "Wrong or unknown logins on /api/v2 and the MQTT broker",
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
