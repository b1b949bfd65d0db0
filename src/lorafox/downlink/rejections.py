"""Rejected MQTT downlink requests kept as ``downlink_rejected`` events, a bounded number.

A request refused on ``<topic>/rejected`` leaves an event (the device when its id is one, the
topic, the reason, the field at fault and the request's ``requestId``) that the console's
problem pages and ``GET /api/v2/devices/{id}/events`` show. A client repeating a bad request
in a loop must not fill the disk: at most ``per_minute`` events a minute are kept for one
device (for one topic when the request names no valid device); the next event kept says how
many were left out meanwhile (``suppressed``). The ``…/rejected`` publish and the log line are
made for every request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from lorafox.domain import Event, EventType, Severity

__all__ = ["PER_MINUTE", "DownlinkRejections"]

PER_MINUTE = 10
"""Events kept a minute for one device (or topic)."""
_KEYS_MAX = 10_000
"""Devices and topics followed at once (all are forgotten past it)."""


@dataclass(slots=True)
class _Window:
    start: float
    kept: int = 0
    suppressed: int = 0


class DownlinkRejections:
    """Turns rejections into events for ``report`` (the event log's ``record_later``)."""

    def __init__(
        self,
        report: Callable[[Event], None],
        *,
        per_minute: int = PER_MINUTE,
        clock: Callable[[], float] = time.monotonic,
        now_ms: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self._report = report
        self._per_minute = per_minute
        self._clock = clock
        self._now_ms = now_ms
        self._windows: dict[str, _Window] = {}

    def rejected(
        self,
        topic: str,
        device: str | None,
        reason: str,
        *,
        field: str | None = None,
        request_id: str | None = None,
    ) -> None:
        """A request on ``topic`` (for ``device``, None when it names no valid id) refused
        for ``reason``."""
        key = device or f"topic:{topic}"
        now = self._clock()
        window = self._windows.get(key)
        if window is None or now - window.start >= 60.0:
            if len(self._windows) >= _KEYS_MAX:
                self._windows.clear()
            suppressed = window.suppressed if window is not None else 0
            window = self._windows[key] = _Window(now, suppressed=suppressed)
        if window.kept >= self._per_minute:
            window.suppressed += 1
            return
        window.kept += 1
        data: dict[str, object] = {"topic": topic[:256], "reason": reason}
        if field:
            data["field"] = field
        if request_id is not None:
            data["requestId"] = request_id
        if window.suppressed:
            data["suppressed"] = window.suppressed
            window.suppressed = 0
        self._report(
            Event(
                type=EventType.DOWNLINK_REJECTED,
                severity=Severity.WARN,
                time=self._now_ms(),
                message=f"Downlink request on {topic[:200]} rejected: {reason}",
                device=device,
                data=data,
            )
        )
