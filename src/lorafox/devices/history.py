"""What a device or a device type has said and been sent, as a principal may see it.

``DeviceHistory.device(principal, id)`` checks access once and returns a ``DeviceRecord``
bound to that device and to the registration the principal may read from (a new owner of an id
never reads an old one's messages, downlinks, events or positions); ``device_type`` does the
same for a type. Routes read histories only through these, never from the store.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from lorafox.auth import rbac
from lorafox.devices.device_types import DeviceTypes
from lorafox.devices.devices import Devices
from lorafox.domain import (
    Device,
    DeviceStatus,
    DeviceType,
    Downlink,
    Event,
    Principal,
    Profile,
    StoredUplink,
)
from lorafox.ports.locations import MessagePosition, StationPosition
from lorafox.ports.statistics import StatisticsBucket
from lorafox.ports.store import Store

__all__ = ["DeviceHistory", "DeviceRecord", "DeviceTypeRecord"]


@dataclass(slots=True, frozen=True)
class DeviceRecord:
    """One device's history from ``registered_at`` on (None: all of it)."""

    _store: Store
    device: str
    registered_at: int | None

    async def messages(
        self, *, limit: int, since: int | None = None, before: int | None = None
    ) -> list[StoredUplink]:
        return await self._store.messages.list_messages(
            self.device,
            limit=limit,
            since=since,
            before=before,
            registered_at=self.registered_at,
        )

    async def count_messages(self, since: Sequence[int]) -> list[int]:
        return await self._store.messages.count_messages(self.device, since)

    async def downlinks(self) -> list[Downlink]:
        return await self._store.downlinks.list_downlinks(
            self.device, registered_at=self.registered_at
        )

    async def delete_downlink(self, downlink_id: int) -> None:
        await self._store.downlinks.delete_downlink(self.device, downlink_id)

    async def events(
        self,
        *,
        limit: int,
        since: int | None = None,
        before: int | None = None,
        before_id: int | None = None,
    ) -> list[Event]:
        return await self._store.events.list_events(
            device=self.device,
            limit=limit,
            since=since,
            before=before,
            before_id=before_id,
            registered_at=self.registered_at,
        )

    async def registration(self) -> Device | None:
        return await self._store.devices.get_device(self.device)

    async def latest_status(self) -> DeviceStatus | None:
        return await self._store.events.latest_status(self.device)

    async def latest_computed_location(
        self,
    ) -> tuple[int, float, float, int | None, int | None] | None:
        return await self._store.events.latest_computed_location(self.device)

    async def message_positions(
        self, *, limit: int, before: tuple[int, int] | None = None
    ) -> list[MessagePosition]:
        return await self._store.locations.message_positions(
            self.device, limit=limit, before=before, registered_at=self.registered_at
        )

    async def station_positions(self) -> dict[str, StationPosition]:
        return await self._store.locations.station_positions(self.device)

    async def statistics(self, *, since: int, before: int, width: int) -> list[StatisticsBucket]:
        return await self._store.statistics.device_statistics(
            self.device, since=since, before=before, width=width
        )


@dataclass(slots=True, frozen=True)
class DeviceTypeRecord:
    """The history of the devices of one device type."""

    _store: Store
    device_type: DeviceType

    async def messages(
        self, *, limit: int, since: int | None = None, before: int | None = None
    ) -> list[StoredUplink]:
        return await self._store.messages.list_type_messages(
            self.device_type.id, limit=limit, since=since, before=before
        )

    async def events(
        self,
        *,
        limit: int,
        since: int | None = None,
        before: int | None = None,
        before_id: int | None = None,
    ) -> list[Event]:
        return await self._store.events.list_events(
            device_type_id=self.device_type.id,
            limit=limit,
            since=since,
            before=before,
            before_id=before_id,
        )

    async def statistics(self, *, since: int, before: int, width: int) -> list[StatisticsBucket]:
        return await self._store.statistics.device_type_statistics(
            self.device_type.id, since=since, before=before, width=width
        )


class DeviceHistory:
    """Histories, each handed out once the principal may read (or ``needed``) them."""

    def __init__(self, store: Store, devices: Devices, types: DeviceTypes) -> None:
        self._store = store
        self._devices = devices
        self._types = types

    async def device(
        self, principal: Principal, device_id: str, needed: Profile = rbac.READ
    ) -> DeviceRecord:
        """The device's history (``NotFound``/``Forbidden`` when the principal may not)."""
        device = await self._devices.scope(principal, device_id, needed)
        registered_at = await self._devices.registered_at(principal, device)
        return DeviceRecord(self._store, device, registered_at)

    async def device_type(self, principal: Principal, device_type_id: str) -> DeviceTypeRecord:
        return DeviceTypeRecord(self._store, await self._types.get(principal, device_type_id))
