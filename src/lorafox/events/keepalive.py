"""Keep-alive and lost messages: what the stream of uplinks says about each device.

In memory, per device: its latest message (time, seqNumber) and whether its silence was
reported. Loaded at start with one query (``EventStore.device_activity``) and the stored alerts,
then kept up to date from each stored batch on the event loop (two dict operations per uplink).
A periodic check walks the dict — no query per device — and reports, once per silence, every
device heard nothing from for longer than its device type's keepAlive; its next uplink reports
the communication restored. A restart keeps both: a device that fell silent while lorafox was
down is reported at the first check, and one already reported is not reported again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from lorafox.devices.registry import DeviceRegistry
from lorafox.domain import Downlink, Event, EventType, Severity, StoredUplink
from lorafox.errors import LorafoxError
from lorafox.events.log import EventLog, now_ms
from lorafox.ports.store import EventStore

__all__ = ["SEQUENCE_MODULO", "ActivityMonitor"]

log = logging.getLogger(__name__)

SEQUENCE_MODULO = 4096
"""Sigfox sequence numbers are 12 bits and wrap."""
_MAX_GAP = SEQUENCE_MODULO // 2  # a larger jump is a counter reset, not lost messages


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class ActivityMonitor:
    """Raises communication lost/restored and lost-message events."""

    def __init__(
        self,
        store: EventStore,
        registry: DeviceRegistry,
        events: EventLog,
        *,
        check_seconds: float = 60,
        downlink_expiry_seconds: int = 0,
    ) -> None:
        self._store = store
        self._registry = registry
        self._events = events
        self._check_seconds = check_seconds
        self._downlink_expiry_ms = downlink_expiry_seconds * 1000
        self._last: dict[str, tuple[int, int]] = {}
        self._silent: dict[str, int] = {}
        self._stopped = asyncio.Event()
        #: whether this instance runs the checks now (one leader among several instances)
        self.leads: Callable[[], bool] = lambda: True
        #: several instances share the store: read their devices' activity before a check
        self.shared = False

    async def load(self) -> None:
        self._last = await self._store.device_activity()
        self._silent = await self._store.alerts()

    async def _refresh(self) -> None:
        """Take in the uplinks other instances stored, and the alerts they raised."""
        last = self._last
        for device, seen in (await self._store.device_activity()).items():
            previous = last.get(device)
            if previous is None or seen[0] > previous[0]:
                last[device] = seen
        # The stored alerts and this instance's own (one it just raised may not be stored yet:
        # forgetting it would raise it again); an alert whose device was heard since is being
        # cleared (its restored event queued).
        alerts = {**self._silent, **await self._store.alerts()}
        self._silent = {d: since for d, since in alerts.items() if last.get(d, (0, 0))[0] <= since}

    def observe(self, stored: Sequence[StoredUplink]) -> None:
        """Called with each newly stored batch (on the event loop)."""
        last = self._last
        for message in stored:
            uplink = message.uplink
            device = uplink.device
            previous = last.get(device)
            if previous is not None and uplink.time <= previous[0]:
                continue  # late or replayed: it says nothing about now
            last[device] = (uplink.time, uplink.seq_number)
            if device in self._silent:
                self._restored(device, uplink.time)
            if previous is not None:
                gap = (uplink.seq_number - previous[1] - 1) % SEQUENCE_MODULO
                if 0 < gap < _MAX_GAP:
                    self._lost(device, previous, uplink.seq_number, uplink.time, gap)

    def _type_of(self, device: str) -> str | None:
        return self._registry.device_type_of(device)

    def _restored(self, device: str, time: int) -> None:
        since = self._silent.pop(device)
        self._events.record_later(
            Event(
                type=EventType.COMMUNICATION_RESTORED,
                severity=Severity.INFO,
                time=time,
                message=f"Message received after a silence since {_when(since)}",
                device=device,
                device_type_id=self._type_of(device),
                data={"silentSince": since, "silenceSeconds": (time - since) // 1000},
            ),
            clear_alert=device,
        )

    def _lost(
        self, device: str, previous: tuple[int, int], seq: int, time: int, count: int
    ) -> None:
        self._events.record_later(
            Event(
                type=EventType.MESSAGES_LOST,
                severity=Severity.WARN,
                time=time,
                message=f"{count} message(s) lost between sequence numbers {previous[1]} and {seq}",
                device=device,
                device_type_id=self._type_of(device),
                data={"count": count, "fromSeqNumber": previous[1], "toSeqNumber": seq},
            )
        )

    async def check(self, now: int | None = None) -> list[Event]:
        """Report every device silent for longer than its keepAlive (once per silence)."""
        now = now_ms() if now is None else now
        found: list[Event] = []
        alerts: dict[str, int] = {}
        registry = self._registry
        for device, (last_time, _) in self._last.items():
            if device in self._silent:
                continue
            type_id = registry.device_type_of(device)
            device_type = registry.device_type(type_id) if type_id else None
            if device_type is None or device_type.keep_alive <= 0:
                continue
            if now - last_time <= device_type.keep_alive * 1000:
                continue
            alerts[device] = last_time
            found.append(
                Event(
                    type=EventType.COMMUNICATION_LOST,
                    severity=Severity.ERROR,
                    time=now,
                    message=f"No message received since {_when(last_time)}",
                    device=device,
                    device_type_id=type_id,
                    data={"lastMessage": last_time, "keepAlive": device_type.keep_alive},
                )
            )
        if not found:
            return []
        stored = await self._events.record(found, raise_alerts=alerts)
        self._silent.update(alerts)
        return stored

    async def expire_downlinks(self, now: int | None = None) -> list[Event]:
        if not self._downlink_expiry_ms:
            return []
        now = now_ms() if now is None else now

        def expired(downlink: Downlink) -> Event:
            return Event(
                type=EventType.DOWNLINK_EXPIRED,
                severity=Severity.WARN,
                time=now,
                message=f"Downlink {downlink.id} expired: no BIDIR callback took it",
                device=downlink.device,
                device_type_id=self._type_of(downlink.device),
                data={"downlinkId": downlink.id, "data": downlink.data},
            )

        stored = await self._store.expire_downlinks(now - self._downlink_expiry_ms, expired, now)
        await self._events.publish(stored)
        return stored

    async def run(self) -> None:
        """Check now, then every ``check_seconds``, until ``stop``."""
        while not self._stopped.is_set():
            try:
                if self.leads():
                    if self.shared:
                        await self._refresh()
                    await self.check()
                    await self.expire_downlinks()
            except LorafoxError as exc:
                log.error("keep-alive check failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), self._check_seconds)

    def stop(self) -> None:
        self._stopped.set()
