"""What the SERVICE and ERROR callbacks change, and the events they raise.

Each report updates what it concerns in one transaction with its events (the downlink's state,
the device's status, the message's link quality and location), then ``forward`` owes it to the
callbacks that forward it (stored before the Back-End's callback is answered; one sent again
owes nothing more), then the events are published.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from lorafox.devices.registry import DeviceRegistry
from lorafox.domain import (
    Acknowledgement,
    AdvancedData,
    DeviceStatus,
    Downlink,
    ErrorReport,
    Event,
    EventType,
    Severity,
    Uplink,
)
from lorafox.errors import NotFound
from lorafox.events.log import EventLog, now_ms
from lorafox.ports.store import EventStore

__all__ = ["ServiceReports"]

log = logging.getLogger(__name__)

StoreUplink = Callable[[Uplink], Awaitable[object]]
Forward = Callable[[DeviceStatus | Acknowledgement | AdvancedData | ErrorReport], Awaitable[None]]
"""Told of each report once it is stored (the callbacks that forward it)."""


async def _nowhere(_: DeviceStatus | Acknowledgement | AdvancedData | ErrorReport) -> None:
    return None


class ServiceReports:
    """Applies STATUS, ACKNOWLEDGE, DATA_ADVANCED and ERROR callbacks."""

    def __init__(
        self,
        store: EventStore,
        registry: DeviceRegistry,
        events: EventLog,
        *,
        low_battery_volts: float,
        forward: Forward = _nowhere,
    ) -> None:
        self._store = store
        self._forward = forward
        self._registry = registry
        self._events = events
        self._low_battery = low_battery_volts

    def _type_of(self, device: str) -> str | None:
        return self._registry.device_type_of(device)

    async def status(self, status: DeviceStatus) -> list[Event]:
        """Keep the report; raise ``status``, and ``low_battery`` when the battery falls below
        the threshold (once, until a report above it)."""
        type_id = self._type_of(status.device)

        def found(previous: DeviceStatus | None) -> list[Event]:
            data = {"temperature": status.temperature, "battery": status.battery}
            if status.seq_number is not None:
                data["seqNumber"] = status.seq_number
            raised = [
                Event(
                    type=EventType.STATUS,
                    severity=Severity.INFO,
                    time=status.time,
                    message=f"Status: temperature {status.temperature} °C, "
                    f"battery {status.battery} V",
                    device=status.device,
                    device_type_id=type_id,
                    data=data,
                )
            ]
            low = status.battery is not None and status.battery < self._low_battery
            was_low = (
                previous is not None
                and previous.battery is not None
                and previous.battery < self._low_battery
            )
            if low and not was_low:
                raised.append(
                    Event(
                        type=EventType.LOW_BATTERY,
                        severity=Severity.WARN,
                        time=status.time,
                        message=f"Battery at {status.battery} V, below {self._low_battery} V",
                        device=status.device,
                        device_type_id=type_id,
                        data={"battery": status.battery, "threshold": self._low_battery},
                    )
                )
            return raised

        new, stored = await self._store.record_status(status, found, now_ms())
        if not new:
            log.info("STATUS of %s at %d was already stored", status.device, status.time)
        await self._forward(status)
        await self._events.publish(stored)
        return stored

    async def acknowledge(self, ack: Acknowledgement) -> Downlink | None:
        """Move the downlink to acked or failed; None when lorafox gave none (the Back-End
        also acknowledges a BIDIR callback answered with 204, with NO_ANSWER)."""
        type_id = self._type_of(ack.device)

        def found(downlink: Downlink | None) -> Sequence[Event]:
            if downlink is None:
                return []
            data = {
                "downlinkId": downlink.id,
                "data": downlink.data,
                "infoCode": ack.info_code,
                "info": ack.info_name,
                "infoMessage": ack.info_message,
                "downlinkAck": ack.downlink_ack,
                "downlinkOverusage": ack.overusage,
            }
            if ack.acked:
                kind, severity = EventType.DOWNLINK_ACKED, Severity.INFO
                message = f"Downlink {downlink.id} acknowledged by the network"
            else:
                kind, severity = EventType.DOWNLINK_FAILED, Severity.WARN
                text = f": {ack.info_message}" if ack.info_message else ""
                message = f"Downlink {downlink.id} failed ({ack.info_name}){text}"
            return [
                Event(
                    type=kind,
                    severity=severity,
                    time=ack.time,
                    message=message,
                    device=ack.device,
                    device_type_id=type_id,
                    data=data,
                )
            ]

        downlink, stored = await self._store.acknowledge(ack, found, now_ms())
        if downlink is None:  # e.g. NO_ANSWER to a BIDIR callback lorafox answered with 204
            log.info(
                "ACKNOWLEDGE %s for %s at %d: no downlink of lorafox's to update",
                ack.info_name,
                ack.device,
                ack.time // 1000,
            )
        await self._forward(ack)
        await self._events.publish(stored)
        return downlink

    async def advanced(self, advanced: AdvancedData, store_uplink: StoreUplink) -> None:
        """Put link quality, base stations and location on the message (storing it first with
        ``store_uplink``, as a DATA callback would, if its DATA callback has not come)."""
        raised: list[Event] = []
        if advanced.computed_lat is not None and advanced.computed_lng is not None:
            raised.append(
                Event(
                    type=EventType.LOCATION,
                    severity=Severity.INFO,
                    time=advanced.time,
                    message=f"Location computed: {advanced.computed_lat:.5f}, "
                    f"{advanced.computed_lng:.5f} (radius {advanced.computed_radius} m)",
                    device=advanced.device,
                    device_type_id=self._type_of(advanced.device),
                    data={
                        "lat": advanced.computed_lat,
                        "lng": advanced.computed_lng,
                        "radius": advanced.computed_radius,
                        "source": advanced.computed_source,
                        "seqNumber": advanced.seq_number,
                    },
                )
            )
        now = now_ms()
        stored = await self._store.attach_advanced(advanced, raised, now)
        if stored is None:
            if advanced.data is None:
                raise NotFound(
                    f"no message {advanced.seq_number} of {advanced.device} at "
                    f"{advanced.time // 1000}, and the callback has no data to store it from"
                )
            await store_uplink(
                Uplink(
                    device=advanced.device,
                    time=advanced.time,
                    seq_number=advanced.seq_number,
                    data=advanced.data,
                    device_type_id=advanced.details.get("deviceTypeId"),
                )
            )
            stored = await self._store.attach_advanced(advanced, raised, now)
            if stored is None:
                raise NotFound(f"message {advanced.seq_number} of {advanced.device} vanished")
        await self._forward(advanced)
        await self._events.publish(stored)

    async def error(self, report: ErrorReport) -> Event:
        """Keep an ERROR callback as an event, with the Back-End's own text (once: a retried
        callback finds its event)."""
        message = report.info or f"{report.severity.value} reported by Sigfox"
        for known in await self._store.list_events(
            device=report.device, since=report.time, before=report.time + 1, limit=100
        ):
            if known.type is EventType.ERROR and known.message == message:
                await self._forward(report)  # owed once: a retry after a failure owes it still
                return known
        (stored,) = await self._events.record(
            [
                Event(
                    type=EventType.ERROR,
                    severity=report.severity,
                    time=report.time,
                    message=message,
                    device=report.device,
                    device_type_id=self._type_of(report.device),
                    data={"severity": report.severity.value, "info": report.info, **report.extra},
                )
            ]
        )
        await self._forward(report)
        return stored
