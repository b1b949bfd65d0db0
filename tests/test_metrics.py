"""The hot-path counters render as Prometheus counters and a cumulative histogram."""

from __future__ import annotations

from lorafox.metrics import Metrics


def test_render() -> None:
    metrics = Metrics()
    metrics.callbacks.stored += 2
    metrics.callbacks.duplicates += 1
    metrics.callbacks.answered("uplink", 204, 0.001)  # on a bound: counted in that bucket
    metrics.callbacks.answered("uplink", 204, 0.003)
    metrics.callbacks.answered("bidir", 200, 20.0)
    metrics.downlinks.labels("queued").inc()
    metrics.watch_backlog(lambda: 7)
    text = metrics.render().decode()
    for line in (
        'lorafox_uplinks_total{result="stored"} 2.0',
        'lorafox_uplinks_total{result="duplicate"} 1.0',
        'lorafox_callbacks_total{endpoint="uplink",status="204"} 2.0',
        'lorafox_callbacks_total{endpoint="bidir",status="200"} 1.0',
        'lorafox_callback_duration_seconds_bucket{endpoint="uplink",le="0.001"} 1.0',
        'lorafox_callback_duration_seconds_bucket{endpoint="uplink",le="0.0025"} 1.0',
        'lorafox_callback_duration_seconds_bucket{endpoint="uplink",le="0.005"} 2.0',
        'lorafox_callback_duration_seconds_bucket{endpoint="bidir",le="10.0"} 0.0',
        'lorafox_callback_duration_seconds_bucket{endpoint="bidir",le="+Inf"} 1.0',
        'lorafox_callback_duration_seconds_count{endpoint="uplink"} 2.0',
        'lorafox_callback_duration_seconds_sum{endpoint="bidir"} 20.0',
        'lorafox_downlinks_total{event="queued"} 1.0',
        "lorafox_publish_backlog 7.0",
    ):
        assert line in text, line
