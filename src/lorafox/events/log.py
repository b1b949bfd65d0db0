"""The event log: events are stored first, then published on ``sigfox/events/{device}``.

The store is the record; the MQTT publish is a notification (a broker that is down loses the
notification, never the event: ``GET /api/v2/devices/{id}/events`` has it).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from lorafox.domain import Event
from lorafox.errors import LorafoxError
from lorafox.ports.bus import Bus
from lorafox.ports.store import EventStore

__all__ = ["EventLog", "event_json", "now_ms"]

log = logging.getLogger(__name__)


def now_ms() -> int:
    return int(time.time() * 1000)


def event_json(event: Event) -> dict[str, Any]:
    """An event as the API and MQTT show it (camelCase, times in epoch ms)."""
    return {
        "id": event.id,
        "type": event.type.value,
        "severity": event.severity.value,
        "time": event.time,
        "device": event.device,
        "deviceTypeId": event.device_type_id,
        "message": event.message,
        "data": event.data,
        "createdAt": event.created_at,
    }


class EventLog:
    """Stores events (``record`` now, ``record_later`` in the next batch) and publishes them."""

    def __init__(self, store: EventStore, bus: Bus | None, topic: str, *, qos: int = 1) -> None:
        self._store = store
        self._bus = bus
        self._topic = topic
        self._qos = qos
        self._pending: list[Event] = []
        self._clear: set[str] = set()
        self._wakeup = asyncio.Event()
        self._closing = False
        self.listeners: list[Callable[[Sequence[Event]], None]] = []
        """Told of the events once stored (alerts); they must not block."""

    async def record(
        self, found: Sequence[Event], *, raise_alerts: dict[str, int] | None = None
    ) -> list[Event]:
        """Store ``found`` (with the alerts, in one transaction), then publish them."""
        stored = await self._store.add_events(found, now=now_ms(), raise_alerts=raise_alerts)
        await self.publish(stored)
        return stored

    def record_later(self, event: Event, *, clear_alert: str | None = None) -> None:
        """Queue an event noticed on the ingest path; ``run`` stores the queue in batches."""
        self._pending.append(event)
        if clear_alert is not None:
            self._clear.add(clear_alert)
        self._wakeup.set()

    async def publish(self, found: Sequence[Event]) -> None:
        for listener in self.listeners:
            listener(found)
        if self._bus is None:
            return
        for event in found:
            topic = self._topic.replace("{device}", event.device or "-")
            try:
                await self._bus.publish(topic, orjson.dumps(event_json(event)), qos=self._qos)
            except LorafoxError as exc:
                log.warning("event %s not published on %s: %s", event.id, topic, exc)

    async def flush(self) -> None:
        """Store what ``record_later`` queued."""
        while self._pending or self._clear:
            batch, self._pending = self._pending, []
            clear, self._clear = self._clear, set()
            try:
                stored = await self._store.add_events(batch, now=now_ms(), clear_alerts=clear)
            except LorafoxError as exc:
                log.error("cannot store %d events, retrying: %s", len(batch), exc)
                self._pending[:0] = batch
                self._clear |= clear
                await asyncio.sleep(1)
                if self._closing:
                    return
                continue
            await self.publish(stored)

    async def run(self) -> None:
        while not self._closing:
            await self._wakeup.wait()
            self._wakeup.clear()
            await self.flush()

    async def close(self) -> None:
        """Store what is queued and stop ``run``."""
        self._closing = True
        self._wakeup.set()
        await self.flush()
