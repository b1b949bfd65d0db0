"""Devices as a principal sees them. A device sits in its device type's group: seeing it needs
VIEWER there, changing it DEVICE_MANAGER (on both groups when it moves to another type)."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

from lorafox.auth import rbac
from lorafox.devices.device_types import DeviceTypes
from lorafox.devices.registry import DeviceRegistry
from lorafox.devices.validation import (
    check_coordinate,
    check_device_id,
    check_device_name,
    check_pac,
)
from lorafox.domain import Device, DeviceType, Group, Principal, Profile
from lorafox.errors import Conflict, Forbidden, InvalidInput, LorafoxError, NotFound
from lorafox.identity.groups import Groups
from lorafox.identity.validation import check_text
from lorafox.ports.store import DeviceQuery, DeviceStore, IdentityStore

__all__ = ["DeviceChanges", "DeviceLine", "Devices", "LineError"]

log = logging.getLogger(__name__)

CHUNK = 200
"""Devices created per transaction by ``create_many``."""


@dataclasses.dataclass(slots=True, frozen=True)
class DeviceChanges:
    """What an update sets; None leaves a field as it is. ``lat``/``lng`` are set together."""

    name: str | None = None
    device_type_id: str | None = None
    location: tuple[float | None, float | None] | None = None
    activable: bool | None = None
    automatic_renewal: bool | None = None


@dataclasses.dataclass(slots=True, frozen=True)
class DeviceLine:
    """One device to create (a line of a bulk request or of a CSV file), as given."""

    line: int
    id: Any
    pac: Any
    name: Any
    device_type_id: str
    lat: float | None = None
    lng: float | None = None
    activable: bool = True
    automatic_renewal: bool = True


@dataclasses.dataclass(slots=True, frozen=True)
class LineError:
    line: int
    id: str
    message: str


class Devices:
    """Device use cases; every method checks what ``principal`` may see and do."""

    def __init__(
        self,
        store: DeviceStore,
        identity: IdentityStore,
        groups: Groups,
        types: DeviceTypes,
        registry: DeviceRegistry,
        root: Group,
    ) -> None:
        self._store = store
        self._identity = identity
        self._groups = groups
        self._types = types
        self._registry = registry
        self._root = root
        self._paths: dict[str, str] = {}
        """Group id → path: a group's place in the tree never changes (groups do not move)."""

    @property
    def types(self) -> DeviceTypes:
        return self._types

    async def group_of(self, device_type: DeviceType) -> Group:
        return await self._group(device_type.group_id)

    async def _group(self, group_id: str) -> Group:
        group = await self._identity.get_group(group_id)
        if group is None:
            raise NotFound("device not found")
        return group

    async def get(
        self, principal: Principal, device_id: str, needed: Profile = rbac.READ
    ) -> Device:
        device = await self._store.get_device(check_device_id(device_id))
        if device is None:
            raise NotFound("device not found")
        rbac.require(principal, (await self._group(device.group_id)).path, needed, "device")
        return device

    async def scope(self, principal: Principal, device_id: str, needed: Profile = rbac.READ) -> str:
        """The device id, once ``principal`` may act on its messages and downlinks with
        ``needed``: a registered device's group decides; an id that is not registered (heard
        by a callback, or not at all) counts as the root group's."""
        device = check_device_id(device_id)
        path = await self.registered_path(device)  # the fast path: no device row to read
        if path is None:
            found = await self._store.get_device(device)
            path = await self._path(None if found is None else found.group_id)
        rbac.require(principal, path, needed, "device")
        return device

    async def registered_path(self, device: str) -> str | None:
        """The path of the group of a device the in-memory registry knows, None for another;
        ``NotFound`` when its group went away."""
        type_id = self._registry.device_type_of(device)
        device_type = self._registry.device_type(type_id) if type_id else None
        return None if device_type is None else await self._path(device_type.group_id)

    async def registered_at(self, principal: Principal, device: str) -> int | None:
        """Where ``principal``'s view of the device's history starts: the current registration's
        creation (epoch ms), so a new owner of the id never reads an old one's; None (all of
        it) for an ADMIN of the root group or an id that is not registered."""
        if rbac.is_root_admin(principal):
            return None
        found = await self._store.get_device(device)
        return None if found is None else found.created_at

    async def _path(self, group_id: str | None) -> str:
        if group_id is None:
            return self._root.path
        path = self._paths.get(group_id)
        if path is None:
            path = (await self._group(group_id)).path
            if len(self._paths) > 100_000:
                self._paths.clear()
            self._paths[group_id] = path
        return path

    async def create(self, principal: Principal, line: DeviceLine) -> Device:
        device_type = await self._types.get(principal, line.device_type_id, rbac.OPERATE)
        device = self._checked(principal, line, device_type)
        [problem] = await self._store.create_devices([device])
        if problem is not None:
            raise _conflict(problem)
        self._registry.put_device(device.id, device.device_type_id)
        log.info("device %s created in type %s by %s", device.id, device_type.id, principal.id)
        return device

    async def create_many(
        self,
        principal: Principal,
        lines: Sequence[DeviceLine],
        progress: Callable[[int, int], None] | None = None,
    ) -> list[LineError]:
        """Create every valid line, CHUNK devices per transaction; the others are reported.
        ``progress(created, failed)`` is called after each chunk."""
        errors: list[LineError] = []
        allowed: dict[str, DeviceType | LorafoxError] = {}
        ready: list[tuple[DeviceLine, Device]] = []
        for line in lines:
            type_id = line.device_type_id
            if type_id not in allowed:
                try:
                    allowed[type_id] = await self._types.get(principal, type_id, rbac.OPERATE)
                except (NotFound, Forbidden) as exc:
                    allowed[type_id] = exc
            checked = allowed[type_id]
            if isinstance(checked, LorafoxError):
                errors.append(
                    LineError(line.line, str(line.id), f"deviceTypeId: {checked.message}")
                )
                continue
            try:
                ready.append((line, self._checked(principal, line, checked)))
            except InvalidInput as exc:
                errors.append(LineError(line.line, str(line.id), exc.message))
        created = 0
        if progress is not None:
            progress(created, len(errors))
        for start in range(0, len(ready), CHUNK):
            chunk = ready[start : start + CHUNK]
            problems = await self._store.create_devices([device for _, device in chunk])
            for (line, device), problem in zip(chunk, problems, strict=True):
                if problem is None:
                    created += 1
                    self._registry.put_device(device.id, device.device_type_id)
                else:
                    errors.append(LineError(line.line, device.id, problem))
            if progress is not None:
                progress(created, len(errors))
        log.info("%d devices created by %s, %d lines refused", created, principal.id, len(errors))
        return sorted(errors, key=lambda e: e.line)

    def _checked(self, principal: Principal, line: DeviceLine, device_type: DeviceType) -> Device:
        return device_type.device(
            check_device_id(line.id),
            check_device_name(str(line.name) if line.name is not None else ""),
            int(time.time() * 1000),
            pac=check_pac(str(line.pac) if line.pac is not None else ""),
            lat=check_coordinate(line.lat, "lat", 90),
            lng=check_coordinate(line.lng, "lng", 180),
            activable=line.activable,
            automatic_renewal=line.automatic_renewal,
            created_by=principal.id,
        )

    async def update(self, principal: Principal, device_id: str, changes: DeviceChanges) -> Device:
        current = await self.get(principal, device_id, rbac.OPERATE)
        device_type_id, group_id = current.device_type_id, current.group_id
        if changes.device_type_id is not None and changes.device_type_id != device_type_id:
            target = await self._types.get(principal, changes.device_type_id, rbac.OPERATE)
            device_type_id, group_id = target.id, target.group_id
        lat, lng = changes.location if changes.location is not None else (current.lat, current.lng)
        updated = dataclasses.replace(
            current,
            name=current.name if changes.name is None else check_device_name(changes.name),
            device_type_id=device_type_id,
            group_id=group_id,
            lat=check_coordinate(lat, "lat", 90),
            lng=check_coordinate(lng, "lng", 180),
            activable=current.activable if changes.activable is None else changes.activable,
            automatic_renewal=current.automatic_renewal
            if changes.automatic_renewal is None
            else changes.automatic_renewal,
        )
        await self._store.update_device(updated)
        self._registry.put_device(updated.id, updated.device_type_id)
        if updated.device_type_id != current.device_type_id:
            log.info(
                "device %s moved from type %s to %s by %s",
                current.id,
                current.device_type_id,
                updated.device_type_id,
                principal.id,
            )
        return updated

    async def delete(self, principal: Principal, device_id: str, *, purge: bool = False) -> int:
        """Delete the device; its messages and downlinks stay unless ``purge`` (their count);
        its queued downlinks end as expired either way (never delivered to a later owner)."""
        current = await self.get(principal, device_id, rbac.OPERATE)
        gone = await self._store.delete_device(current.id, purge=purge)
        self._registry.drop_device(current.id)
        log.info(
            "device %s deleted by %s (%s)",
            current.id,
            principal.id,
            f"{gone} messages purged" if purge else "messages kept",
        )
        return gone

    async def list(
        self,
        principal: Principal,
        *,
        group_ids: Sequence[str] = (),
        device_type_id: str | None = None,
        ids: Sequence[str] = (),
        name: str | None = None,
        activable: bool | None = None,
        seen_since: int | None = None,
        silent_since: int | None = None,
        sort: str = "id",
        limit: int = 100,
        offset: int = 0,
    ) -> list[Device]:
        """The devices ``principal`` sees, filtered: ``seen_since`` keeps those heard at or
        after a time (epoch ms), ``silent_since`` those not heard since (never heard too)."""
        if group_ids:
            await self._groups.get_many(principal, group_ids)
        if device_type_id is not None:
            await self._types.get(principal, device_type_id)
        query = DeviceQuery(
            paths=rbac.visible_roots(principal),
            group_ids=tuple(group_ids),
            device_type_id=device_type_id,
            ids=tuple(check_device_id(i) for i in ids),
            name=check_text(name, "name") if name else None,
            activable=activable,
            seen_since=seen_since,
            silent_since=silent_since,
            sort=sort,
            limit=limit,
            offset=offset,
        )
        return await self._store.list_devices(query)


def _conflict(problem: str) -> LorafoxError:
    if "not found" in problem:
        return NotFound(problem)
    return Conflict(problem)
