"""Device types and devices: the use cases behind the REST API and the CLI, the in-memory
registry the ingest path asks, the bulk jobs, and the rule for devices heard unregistered.

Every use case takes the acting ``Principal`` and applies ``lorafox.auth.rbac`` on the group of
the device type (a device is in its type's group).
"""

from __future__ import annotations

from dataclasses import dataclass

from lorafox.devices.bulk import BulkJob, BulkJobs
from lorafox.devices.device_types import DeviceTypeChanges, DeviceTypes
from lorafox.devices.devices import DeviceChanges, DeviceLine, Devices, LineError
from lorafox.devices.history import DeviceHistory
from lorafox.devices.problems import Problem, ProblemKind, Problems
from lorafox.devices.registry import DeviceRegistry
from lorafox.devices.unknown import UNREGISTERED, UnknownDevicePolicy, UnknownDevices
from lorafox.domain import Group
from lorafox.identity.groups import Groups
from lorafox.ports.store import Store

__all__ = [
    "UNREGISTERED",
    "BulkJob",
    "BulkJobs",
    "DeviceChanges",
    "DeviceLine",
    "DeviceManagement",
    "DeviceRegistry",
    "DeviceTypeChanges",
    "DeviceTypes",
    "Devices",
    "LineError",
    "Problem",
    "ProblemKind",
    "Problems",
    "UnknownDevicePolicy",
    "UnknownDevices",
]


@dataclass(slots=True)
class DeviceManagement:
    registry: DeviceRegistry
    types: DeviceTypes
    devices: Devices
    bulk: BulkJobs
    history: DeviceHistory
    problems: Problems

    @classmethod
    async def create(cls, store: Store, groups: Groups, root: Group) -> DeviceManagement:
        """Load the registry from ``store`` and build the use cases on it."""
        registry = await DeviceRegistry.load(store.devices)
        types = DeviceTypes(store.devices, store.identity, groups, registry)
        devices = Devices(store.devices, store.identity, groups, types, registry, root)
        return cls(
            registry,
            types,
            devices,
            BulkJobs(devices),
            DeviceHistory(store, devices, types),
            Problems(store.events, devices, root),
        )
