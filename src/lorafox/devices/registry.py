"""Which devices and device types exist, in memory: the ingest path asks it, never the database.

Loaded when the service starts, then kept up to date by this process's own changes (the REST
API, bulk jobs, devices provisioned by callbacks). Another instance sharing a PostgreSQL
database changes the database only; this instance checks the database once when it hears a
device it does not know (``UnknownDevices``), and remembers the answer.
"""

from __future__ import annotations

from collections.abc import Iterable

from lorafox.domain import DeviceType
from lorafox.store.base import DeviceStore

__all__ = ["DeviceRegistry"]


class DeviceRegistry:
    """Device id → device type id, and device type id → device type."""

    def __init__(self) -> None:
        self._devices: dict[str, str] = {}
        self._types: dict[str, DeviceType] = {}

    @classmethod
    async def load(cls, store: DeviceStore) -> DeviceRegistry:
        registry = cls()
        for device_type in await store.all_device_types():
            registry.put_type(device_type)
        registry._devices.update(await store.device_index())
        return registry

    def __contains__(self, device: object) -> bool:
        return device in self._devices

    def __len__(self) -> int:
        return len(self._devices)

    def device_type_of(self, device: str) -> str | None:
        return self._devices.get(device)

    def device_type(self, device_type_id: str) -> DeviceType | None:
        return self._types.get(device_type_id)

    def find_type(self, name: str, group_id: str) -> DeviceType | None:
        """A device type of ``group_id`` named ``name`` (the oldest when several are)."""
        found = [t for t in self._types.values() if t.name == name and t.group_id == group_id]
        return min(found, key=lambda t: t.created_at, default=None)

    def put_device(self, device: str, device_type_id: str) -> None:
        self._devices[device] = device_type_id

    def put_devices(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._devices.update(pairs)

    def drop_device(self, device: str) -> None:
        self._devices.pop(device, None)

    def put_type(self, device_type: DeviceType) -> None:
        self._types[device_type.id] = device_type

    def drop_type(self, device_type_id: str) -> None:
        self._types.pop(device_type_id, None)
