"""Device types as a principal sees them: list, read, create, change, delete."""

from __future__ import annotations

import dataclasses
import logging
import time

from lorafox.auth import rbac
from lorafox.devices.registry import DeviceRegistry
from lorafox.devices.validation import (
    check_downlink_data,
    check_downlink_mode,
    check_keep_alive,
    check_max_uplinks,
    check_payload,
    check_retention,
)
from lorafox.domain import DeviceType, Principal, Profile, new_id
from lorafox.errors import Forbidden, InvalidInput, NotFound
from lorafox.identity.groups import Groups
from lorafox.identity.validation import (
    DESCRIPTION_MAX,
    check_email,
    check_name,
    check_text,
    is_id,
)
from lorafox.ports.store import DeviceStore, DeviceTypeQuery, IdentityStore

__all__ = ["DeviceTypeChanges", "DeviceTypes"]

log = logging.getLogger(__name__)


@dataclasses.dataclass(slots=True, frozen=True)
class DeviceTypeChanges:
    """What a create or an update sets; None leaves a field as it is (or at its default)."""

    name: str | None = None
    description: str | None = None
    keep_alive: int | None = None
    alert_email: str | None = None
    downlink_mode: int | None = None
    downlink_data: str | None = None
    payload_type: int | None = None
    payload_config: str | None = None
    automatic_renewal: bool | None = None
    max_uplinks_per_day: int | None = None
    retention_days: int | None = None
    retention_default: bool = False  # back to the instance's retention (retention_days None)


class DeviceTypes:
    """Device type use cases; every method checks what ``principal`` may see and do."""

    def __init__(
        self,
        store: DeviceStore,
        identity: IdentityStore,
        groups: Groups,
        registry: DeviceRegistry,
    ) -> None:
        self._store = store
        self._identity = identity
        self._groups = groups
        self._registry = registry

    async def get(
        self, principal: Principal, device_type_id: str, needed: Profile = rbac.READ
    ) -> DeviceType:
        found = await self._store.get_device_type(device_type_id) if is_id(device_type_id) else None
        group = await self._identity.get_group(found.group_id) if found else None
        if found is None or group is None:
            raise NotFound("device type not found")
        rbac.require(principal, group.path, needed, "device type")
        return found

    async def list(
        self,
        principal: Principal,
        *,
        group_ids: list[str],
        name: str | None = None,
        payload_type: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[DeviceType]:
        if group_ids:
            await self._groups.get_many(principal, group_ids)
        query = DeviceTypeQuery(
            paths=rbac.visible_roots(principal),
            group_ids=tuple(group_ids),
            name=check_text(name, "name") if name else None,
            payload_type=payload_type,
            limit=limit,
            offset=offset,
        )
        return await self._store.list_device_types(query)

    async def create(
        self,
        principal: Principal,
        group_id: str | None,
        changes: DeviceTypeChanges,
        *,
        device_type_id: str | None = None,
    ) -> DeviceType:
        """A new device type in ``group_id`` (DEVICE_MANAGER there); without a group, in the
        principal's own group when it has exactly one. The server chooses the id; only an ADMIN
        of the root group may choose ``device_type_id`` (to keep a Sigfox device type's id, so
        callbacks' ``deviceTypeId`` finds it): a chosen id decides where unknown devices that
        name it are provisioned, so a tenant choosing one could capture another's devices."""
        if device_type_id is not None and not is_id(device_type_id):
            raise InvalidInput("id: 24 lower-case hex digits", field="id")
        if device_type_id is not None and not rbac.is_root_admin(principal):
            raise Forbidden("id: only an ADMIN of the root group may choose a device type's id")
        if group_id is None:
            own = await self._groups.own(principal)
            if len(own) != 1:
                raise InvalidInput("groupId: which group is it for?", field="groupId")
            group_id = own[0].id
        group = await self._groups.get(principal, group_id, rbac.OPERATE)
        if changes.name is None:
            raise InvalidInput("name: needed", field="name")
        blank = DeviceType.blank(
            device_type_id or new_id(), "", group.id, int(time.time() * 1000), principal.id
        )
        device_type = _apply(blank, changes)
        await self._store.create_device_type(device_type)
        self._registry.put_type(device_type)
        log.info(
            "device type %s (%r) created in group %s by %s",
            device_type.id,
            device_type.name,
            group.id,
            principal.id,
        )
        return device_type

    async def update(
        self, principal: Principal, device_type_id: str, changes: DeviceTypeChanges
    ) -> DeviceType:
        current = await self.get(principal, device_type_id, rbac.OPERATE)
        updated = dataclasses.replace(
            _apply(current, changes),
            edited_at=int(time.time() * 1000),
            edited_by=principal.id,
        )
        await self._store.update_device_type(updated)
        self._registry.put_type(updated)
        log.info("device type %s updated by %s", current.id, principal.id)
        return updated

    async def delete(self, principal: Principal, device_type_id: str) -> None:
        """Delete a device type without devices (``Conflict`` while it has some)."""
        current = await self.get(principal, device_type_id, rbac.OPERATE)
        await self._store.delete_device_type(current.id)
        self._registry.drop_type(current.id)
        log.info("device type %s (%r) deleted by %s", current.id, current.name, principal.id)


def _apply(current: DeviceType, c: DeviceTypeChanges) -> DeviceType:
    """``current`` with the changes applied and checked as a whole."""
    mode = (
        current.downlink_mode if c.downlink_mode is None else check_downlink_mode(c.downlink_mode)
    )
    data = current.downlink_data if c.downlink_data is None else c.downlink_data
    payload_type = current.payload_type if c.payload_type is None else c.payload_type
    config = current.payload_config if c.payload_config is None else c.payload_config
    kind, config = check_payload(payload_type, config)
    email = current.alert_email if c.alert_email is None else c.alert_email
    return dataclasses.replace(
        current,
        name=current.name if c.name is None else check_name(c.name, "name", low=1),
        description=current.description
        if c.description is None
        else check_name(c.description, "description", high=DESCRIPTION_MAX, lines=True),
        keep_alive=current.keep_alive if c.keep_alive is None else check_keep_alive(c.keep_alive),
        alert_email=check_email(email, "alertEmail") if email and email.strip() else None,
        downlink_mode=mode,
        downlink_data=check_downlink_data(data, mode),
        payload_type=kind,
        payload_config=config,
        automatic_renewal=current.automatic_renewal
        if c.automatic_renewal is None
        else c.automatic_renewal,
        max_uplinks_per_day=current.max_uplinks_per_day
        if c.max_uplinks_per_day is None
        else check_max_uplinks(c.max_uplinks_per_day),
        retention_days=None
        if c.retention_default
        else current.retention_days
        if c.retention_days is None
        else check_retention(c.retention_days),
    )
