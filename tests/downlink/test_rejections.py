"""Rejected MQTT downlink requests as events: kept with their details, at most ``per_minute``
a minute per device (or topic), the next one kept counting those left out."""

from __future__ import annotations

from lorafox.domain import Event, EventType
from lorafox.downlink.rejections import DownlinkRejections


def test_rejections_are_events_bounded_per_device_and_minute() -> None:
    kept: list[Event] = []
    now = [1000.0]
    rejections = DownlinkRejections(kept.append, per_minute=3, clock=lambda: now[0])
    for _ in range(5):
        rejections.rejected("sigfox/downlink/1A", "1A", "not JSON", field="payload")
    rejections.rejected("sigfox/downlink/2B", "2B", "device not found", request_id="r1")
    rejections.rejected("bad/topic", None, "no device id")
    assert [e.device for e in kept] == ["1A", "1A", "1A", "2B", None]
    assert kept[0].type is EventType.DOWNLINK_REJECTED
    assert kept[0].data == {"topic": "sigfox/downlink/1A", "reason": "not JSON", "field": "payload"}
    assert kept[3].data["requestId"] == "r1"
    now[0] += 61  # a new minute: the next one says how many were left out
    rejections.rejected("sigfox/downlink/1A", "1A", "not JSON")
    assert kept[-1].data["suppressed"] == 2
    rejections.rejected("sigfox/downlink/1A", "1A", "not JSON")
    assert "suppressed" not in kept[-1].data
