"""Alert subscriptions as a principal sees them: list, read, create, change, delete. An alert
belongs to a group; reading needs VIEWER there, changing DEVICE_MANAGER. One narrowed to a
device type or a device needs that type or device to be in the group (or below)."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from lorafox.alerts.targets import NotificationTargets, mail_addresses
from lorafox.auth import rbac
from lorafox.devices import DeviceManagement
from lorafox.domain import Alert, EventType, Principal, Profile, new_id
from lorafox.errors import Conflict, InvalidInput, NotFound
from lorafox.identity.groups import Groups
from lorafox.identity.validation import is_id
from lorafox.ports.alerts import AlertStore
from lorafox.ports.store import IdentityStore

__all__ = ["ALERT_EVENTS", "AlertChanges", "AlertSubscriptions", "Notified"]

log = logging.getLogger(__name__)

ALERT_EVENTS = (
    EventType.COMMUNICATION_LOST,
    EventType.COMMUNICATION_RESTORED,
    EventType.DOWNLINK_FAILED,
    EventType.DOWNLINK_EXPIRED,
    EventType.LOW_BATTERY,
    EventType.MESSAGES_LOST,
    EventType.ERROR,
    EventType.REGISTRATION_REFUSED,
    EventType.CALLBACK_FAILING,
    EventType.CALLBACK_RESTORED,
    EventType.RULE_FAILING,
    EventType.RULE_RESTORED,
    EventType.INTEGRATION_DOWN,
    EventType.INTEGRATION_RESTORED,
)
"""The events an alert can subscribe to."""
MAX_ALERTS = 1000
"""Alerts in all (they are matched in memory)."""


@dataclasses.dataclass(slots=True, frozen=True)
class Notified:
    """What a notification did: the mail queued (None: none asked for, False: no mail server),
    the URLs reached, and what failed."""

    mail_sent: bool | None
    notified: int
    errors: tuple[str, ...] = ()


@dataclasses.dataclass(slots=True, frozen=True)
class AlertChanges:
    """What a create or an update sets; None leaves a field as it is (or at its default)."""

    name: str | None = None
    group_id: str | None = None
    event_types: Sequence[str] | None = None
    device_type_id: str | None = None
    device: str | None = None
    emails: Sequence[str] | None = None
    urls: Sequence[str] | None = None
    enabled: bool | None = None
    digest_seconds: int | None = None
    max_per_hour: int | None = None


def _event_types(values: Sequence[str]) -> tuple[str, ...]:
    known = {e.value for e in ALERT_EVENTS}
    if not values:
        raise InvalidInput("eventTypes: at least one", field="eventTypes")
    for value in values:
        if value not in known:
            names = ", ".join(sorted(known))
            raise InvalidInput(f"eventTypes: {value!r} is not one of {names}", field="eventTypes")
    return tuple(dict.fromkeys(values))


def _masked(alert: Alert) -> Alert:
    """``alert`` as a VIEWER sees it: its URLs' schemes only (they hold the services' tokens)."""
    urls = tuple(url.split("://", 1)[0] + "://…" for url in alert.urls)
    return dataclasses.replace(alert, urls=urls)


class AlertSubscriptions:
    """Alert use cases; ``on_change`` reloads the notifier's alerts."""

    def __init__(
        self,
        store: AlertStore,
        identity: IdentityStore,
        groups: Groups,
        devices: DeviceManagement,
        targets: NotificationTargets,
        on_change: Callable[[], Awaitable[None]],
        tester: Callable[[Alert], Awaitable[Notified]],
    ) -> None:
        self._store = store
        self._identity = identity
        self._groups = groups
        self._devices = devices
        self._targets = targets
        self._on_change = on_change
        self._tester = tester

    async def list(self, principal: Principal, group_id: str | None = None) -> list[Alert]:
        """The alerts of the groups ``principal`` sees (of ``group_id`` and below, if given)."""
        found = await self._store.all_alerts()
        paths = {
            g.id: g.path
            for g in (await self._identity.get_groups({a.group_id for a in found})).values()
        }
        under = None if group_id is None else (await self._groups.get(principal, group_id)).path
        return [
            self._as_seen(principal, a, paths[a.group_id])
            for a in found
            if a.group_id in paths
            and rbac.visible(principal, paths[a.group_id])
            and (under is None or rbac.is_within(paths[a.group_id], under))
        ]

    def _as_seen(self, principal: Principal, alert: Alert, path: str) -> Alert:
        held = rbac.profile_at(principal, path)
        changes = held is not None and held.rank >= rbac.OPERATE.rank
        return alert if changes else _masked(alert)

    async def get(self, principal: Principal, alert_id: str, needed: Profile = rbac.READ) -> Alert:
        found = await self._store.get_alert(alert_id) if is_id(alert_id) else None
        group = await self._identity.get_group(found.group_id) if found else None
        if found is None or group is None:
            raise NotFound("alert not found")
        rbac.require(principal, group.path, needed, "alert")
        return self._as_seen(principal, found, group.path)

    async def _checked(self, principal: Principal, alert: Alert) -> Alert:
        if not alert.name.strip() or len(alert.name) > 128:
            raise InvalidInput("name: 1 to 128 characters", field="name")
        group = await self._groups.get(principal, alert.group_id, rbac.OPERATE)
        if alert.device is not None:
            try:
                device = await self._devices.devices.scope(principal, alert.device)
            except InvalidInput as exc:
                raise InvalidInput(f"device: {exc.message}", field="device") from None
            type_id = self._devices.registry.device_type_of(device)
            if type_id is None:
                raise InvalidInput("device: not a registered device", field="device")
            alert = dataclasses.replace(alert, device=device, device_type_id=None)
            await self._within(principal, type_id, group.path, "device")
        elif alert.device_type_id is not None:
            await self._within(principal, alert.device_type_id, group.path, "deviceTypeId")
        if not alert.emails and not alert.urls:
            raise InvalidInput("emails or urls: where to send the alerts", field="emails")
        if not 0 <= alert.digest_seconds <= 86_400:
            raise InvalidInput("digestSeconds: 0 to 86400", field="digestSeconds")
        if not 1 <= alert.max_per_hour <= 3600:
            raise InvalidInput("maxPerHour: 1 to 3600", field="maxPerHour")
        return alert

    async def _within(self, principal: Principal, type_id: str, path: str, field: str) -> None:
        device_type = await self._devices.types.get(principal, type_id)
        group = await self._identity.get_group(device_type.group_id)
        if group is None or not rbac.is_within(group.path, path):
            raise InvalidInput(f"{field}: not in the alert's group", field=field)

    def _apply(self, current: Alert, c: AlertChanges) -> Alert:
        changed: dict[str, Any] = {
            "name": c.name,
            "event_types": None if c.event_types is None else _event_types(c.event_types),
            "emails": None if c.emails is None else mail_addresses(c.emails),
            "urls": None if c.urls is None else self._targets.checked(c.urls),
            "enabled": c.enabled,
            "digest_seconds": c.digest_seconds,
            "max_per_hour": c.max_per_hour,
        }
        updated = dataclasses.replace(
            current, **{k: v for k, v in changed.items() if v is not None}
        )
        if c.device is not None:  # "" clears it
            updated = dataclasses.replace(updated, device=c.device.upper() or None)
        if c.device_type_id is not None:
            updated = dataclasses.replace(updated, device_type_id=c.device_type_id or None)
        return updated

    async def create(self, principal: Principal, changes: AlertChanges) -> Alert:
        home = rbac.home(principal)
        group_id = changes.group_id or (home.group_id if home else None)
        if group_id is None or changes.name is None or changes.event_types is None:
            raise InvalidInput("name and eventTypes are needed", field="name")
        if len(await self._store.all_alerts()) >= MAX_ALERTS:
            raise Conflict(f"at most {MAX_ALERTS} alerts")
        blank = Alert(
            id=new_id(),
            group_id=group_id,
            name="",
            event_types=(),
            created_at=int(time.time() * 1000),
            created_by=principal.id,
        )
        alert = await self._checked(principal, self._apply(blank, changes))
        await self._store.create_alert(alert)
        await self._on_change()
        log.info("alert %s of group %s created by %s", alert.id, group_id, principal.id)
        return alert

    async def update(self, principal: Principal, alert_id: str, changes: AlertChanges) -> Alert:
        current = await self.get(principal, alert_id, rbac.OPERATE)
        if changes.group_id is not None and changes.group_id != current.group_id:
            raise InvalidInput("groupId: an alert stays in its group", field="groupId")
        alert = await self._checked(principal, self._apply(current, changes))
        await self._store.update_alert(alert)
        await self._on_change()
        return alert

    async def delete(self, principal: Principal, alert_id: str) -> None:
        found = await self.get(principal, alert_id, rbac.OPERATE)
        await self._store.delete_alert(found.id)
        await self._on_change()
        log.info("alert %s deleted by %s", found.id, principal.id)

    async def test(self, principal: Principal, alert_id: str) -> Notified:
        """Send the alert's test notification (DEVICE_MANAGER)."""
        found = await self.get(principal, alert_id, rbac.OPERATE)
        log.info("alert %s tested by %s", found.id, principal.id)
        return await self._tester(found)
