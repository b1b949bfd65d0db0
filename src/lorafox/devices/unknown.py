"""Devices heard on a callback but not registered: refuse them, or provision them.

``sigfox.unknown_devices``:

- ``refuse`` (Sigfox's behaviour): the callback is answered 404 and a warning is logged.
- ``provision`` (the default): the device is created in the device type whose id is the
  callback's ``deviceTypeId`` when this lorafox has it, else in the "Unregistered" device type
  of the root group (created at start, and again if it was deleted). The device row is inserted
  in the same transaction as its first uplink.

Only the in-memory registry is asked for known devices, never the database. When provisioning,
a device the registry misses but the database has (created by another instance or the CLI) is
left as it is: the INSERT skips existing ids. When refusing, a miss is checked once against the
database and a refusal is remembered for ``REFUSED_TTL`` seconds, so a flood from one unknown
device costs one query a minute, not one per uplink.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from enum import StrEnum

from lorafox.devices.registry import DeviceRegistry
from lorafox.domain import Device, DeviceType, new_id
from lorafox.errors import NotFound
from lorafox.ports.store import DeviceStore

__all__ = ["REFUSED_TTL", "UNREGISTERED", "UnknownDevicePolicy", "UnknownDevices"]

log = logging.getLogger(__name__)

UNREGISTERED = "Unregistered"
"""Name of the root group's device type that takes devices provisioned without a known type."""
REFUSED_TTL = 60.0
"""Seconds a refusal is remembered (no database lookup for that device meanwhile)."""


class UnknownDevicePolicy(StrEnum):
    PROVISION = "provision"
    REFUSE = "refuse"


async def _fallback(store: DeviceStore, registry: DeviceRegistry, root_group_id: str) -> DeviceType:
    """The root group's "Unregistered" device type, created when missing."""
    found = registry.find_type(UNREGISTERED, root_group_id)
    if found is not None:
        return found
    made = dataclasses.replace(
        DeviceType.blank(new_id(), UNREGISTERED, root_group_id, int(time.time() * 1000)),
        description="Devices heard on a Sigfox callback before they were registered",
    )
    await store.create_device_type(made)
    registry.put_type(made)
    log.info("device type %r (%s) created for devices heard unregistered", UNREGISTERED, made.id)
    return made


class UnknownDevices:
    """Decides, for an uplink of a device the registry does not know, what to do."""

    def __init__(
        self,
        store: DeviceStore,
        registry: DeviceRegistry,
        policy: UnknownDevicePolicy,
        fallback: DeviceType | None,
    ) -> None:
        self._store = store
        self._registry = registry
        self.policy = policy
        self._fallback = fallback
        self._refused: dict[str, float] = {}
        self.on_refused: Callable[[str, str | None], None] | None = None
        """Told (device, deviceTypeId of the callback) when a device is refused (at most once
        per device every few minutes, as the log line)."""

    @classmethod
    async def create(
        cls,
        store: DeviceStore,
        registry: DeviceRegistry,
        policy: UnknownDevicePolicy,
        root_group_id: str,
    ) -> UnknownDevices:
        """With ``provision``, find or create the root group's "Unregistered" device type."""
        fallback = None
        if policy is UnknownDevicePolicy.PROVISION:
            fallback = await _fallback(store, registry, root_group_id)
        return cls(store, registry, policy, fallback)

    def knows(self, device: str) -> bool:
        """True when the registry has ``device`` (the fast path: one dict lookup)."""
        return device in self._registry

    async def check(
        self, device: str, device_type_id: str | None, *, group_id: str | None = None
    ) -> Device | None:
        """None when the device is registered; the device to create with its uplink when the
        policy provisions it; ``NotFound`` when it refuses it. ``group_id``: the group whose
        "Unregistered" type takes it when ``device_type_id`` names no type (the root's when
        None); the caller has checked that the sender may use ``device_type_id``."""
        if device in self._registry:
            return None
        fallback = self._fallback
        if self.policy is UnknownDevicePolicy.PROVISION and fallback is not None:
            if group_id is not None and group_id != fallback.group_id:
                fallback = await _fallback(self._store, self._registry, group_id)
            elif self._registry.device_type(fallback.id) is None:  # deleted through the API
                fallback = await _fallback(self._store, self._registry, fallback.group_id)
                self._fallback = fallback
            return self._provisioned(device, device_type_id, fallback)
        await self._refuse(device, device_type_id)
        return None

    def provisioned(self, device: Device) -> None:
        """The uplink that provisioned ``device`` is stored: the registry knows it now."""
        self._registry.put_device(device.id, device.device_type_id)
        log.info(
            "device %s heard unregistered: provisioned in device type %s",
            device.id,
            device.device_type_id,
        )

    async def _refuse(self, device: str, device_type_id: str | None) -> None:
        """Return if the database has the device after all, else raise ``NotFound``."""
        now = time.monotonic()
        refused = self._refused.get(device)
        if refused is None or refused < now:
            found = await self._store.get_device(device)
            if found is not None:
                self._registry.put_device(found.id, found.device_type_id)
                self._refused.pop(device, None)
                return
            if len(self._refused) > 100_000:
                self._refused.clear()
            self._refused[device] = now + REFUSED_TTL
            log.warning(
                "callback for device %s refused: it is not registered "
                "(sigfox.unknown_devices = refuse)",
                device,
            )
            if self.on_refused is not None:
                self.on_refused(device, device_type_id)
        raise NotFound(f"device {device} is not registered")

    def _provisioned(self, device: str, device_type_id: str | None, fallback: DeviceType) -> Device:
        known = self._registry.device_type(device_type_id) if device_type_id else None
        device_type = known or fallback
        return device_type.device(device, device, int(time.time() * 1000), provisioned=True)
