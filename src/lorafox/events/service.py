"""The events part of the service: the log and the keep-alive monitor."""

from __future__ import annotations

import asyncio

from lorafox.devices.registry import DeviceRegistry
from lorafox.devices.unknown import UnknownDevices
from lorafox.domain import Event, EventType, Severity
from lorafox.events.keepalive import ActivityMonitor
from lorafox.events.log import EventLog, now_ms
from lorafox.ports.bus import Bus
from lorafox.ports.store import EventStore
from lorafox.settings import Settings

__all__ = ["DeviceEvents", "registration_refused"]


def registration_refused(device: str, device_type_id: str | None) -> Event:
    """The event of a callback refused because its device is not registered."""
    return Event(
        type=EventType.REGISTRATION_REFUSED,
        severity=Severity.WARN,
        time=now_ms(),
        message=f"Callback for device {device} refused: it is not registered",
        device=device,
        device_type_id=device_type_id,
        data={"deviceTypeId": device_type_id} if device_type_id else {},
    )


class DeviceEvents:
    """Built once by the service; ``run`` until ``close``."""

    def __init__(
        self,
        store: EventStore,
        bus: Bus | None,
        registry: DeviceRegistry,
        settings: Settings,
    ) -> None:
        self.log = EventLog(store, bus, settings.mqtt.events_topic, qos=settings.mqtt.qos)
        self.monitor = ActivityMonitor(
            store,
            registry,
            self.log,
            check_seconds=settings.events.keepalive_check_seconds,
            downlink_expiry_seconds=settings.events.downlink_expiry_seconds,
        )

    async def load(self, unknown: UnknownDevices) -> None:
        """Read what the monitor needs, and report refused registrations."""
        await self.monitor.load()
        unknown.on_refused = lambda device, type_id: self.log.record_later(
            registration_refused(device, type_id)
        )

    async def run(self) -> None:
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.log.run())
            tasks.create_task(self.monitor.run())

    async def close(self) -> None:
        """Stop checking and store what is queued (after the last uplink is stored)."""
        self.monitor.stop()
        await self.log.close()
