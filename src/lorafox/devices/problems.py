"""``Problems``: the failures a user must diagnose, of the groups the user sees.

Three kinds, each kept as events: ``downlink_rejected`` (an MQTT downlink request refused),
``rule_failing`` (a topic rule's action failing again and again) and
``registration_refused`` (a callback of a device that is not registered, refused). Each is
listed newest first, optionally for one device, with the fix in plain words.

An event is shown to whoever sees its group: a rule's ``groupPath``; else, for a refused
registration, the group of the device type the callback named; else its device's group (a
device the in-memory registry does not have counts as the root group's, as for
``Devices.scope``, without a query per event), and only from the device's current registration
on; else its device type's group; else the root group's. The newest ``SCAN`` events of the
kind are read and filtered so: a user of a small group among many busy ones may see fewer than
there are (the page says so).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from lorafox.auth import rbac
from lorafox.devices.devices import Devices
from lorafox.devices.validation import check_device_id
from lorafox.domain import Event, EventType, Group, Principal
from lorafox.errors import LorafoxError
from lorafox.ports.store import EventStore

__all__ = ["SCAN", "Problem", "ProblemKind", "Problems"]

_View = int | bool | None
"""What a principal sees of a device: False nothing, else the epoch ms its view starts at
(None: all of it); of a device type (keyed ``type:<id>``): True or False."""

SCAN = 500
"""The newest events of a kind read for one listing or count."""


class ProblemKind(StrEnum):
    """The problem pages, by the path of each (``/console/problems/<kind>``)."""

    DOWNLINKS = "downlinks"
    RULES = "rules"
    REGISTRATIONS = "registrations"

    @property
    def event_types(self) -> tuple[EventType, ...]:
        return _TYPES[self]


_TYPES = {
    ProblemKind.DOWNLINKS: (EventType.DOWNLINK_REJECTED,),
    ProblemKind.RULES: (EventType.RULE_FAILING,),
    ProblemKind.REGISTRATIONS: (EventType.REGISTRATION_REFUSED,),
}


@dataclass(slots=True, frozen=True)
class Problem:
    """One failure: its event and the fix, in words."""

    event: Event
    fix: str


def fix_of(event: Event) -> str:
    """What to do about ``event``, in plain words."""
    data = event.data
    if event.type is EventType.DOWNLINK_REJECTED:
        field = data.get("field")
        reason = str(data.get("reason", "")).lower()
        if "not found" in reason or "not registered" in reason:
            return "Register the device, or send the request on the topic of a device you have."
        if "is needed" in reason or "forbidden" in reason:
            return "Send it as a user or API user with DEVICE_MANAGER on the device's group."
        if field == "requestId":
            return "Give requestId as a string of 1 to 64 printable characters, or leave it out."
        if field:
            return f"Correct the request's {field} field and publish it again."
        return "Publish a JSON object with the downlink's data field, on the device's topic."
    if event.type is EventType.RULE_FAILING:
        action = data.get("action", "the action")
        resource = data.get("resource")
        where = f" ({resource})" if resource else ""
        return (
            f"Check that {action}{where} can be reached and accepts the request; the rule "
            "recovers by itself at the action's next success."
        )
    if event.type is EventType.REGISTRATION_REFUSED:
        return (
            "Register the device in its device type (or import it with the others), or set "
            "sigfox.unknown_devices = provision to create devices when first heard."
        )
    return "See the message."


class Problems:
    """The problem listings, each checking what the principal sees."""

    def __init__(self, store: EventStore, devices: Devices, root: Group) -> None:
        self._store = store
        self._devices = devices
        self._root = root

    async def newest(
        self,
        principal: Principal,
        kind: ProblemKind,
        *,
        device: str | None = None,
        limit: int = 50,
        since: int | None = None,
    ) -> tuple[list[Problem], bool]:
        """The newest ``limit`` problems of ``kind`` the principal sees (for ``device`` only,
        when given: ``InvalidInput`` when it is no device id), and whether more events were
        there than were read (``SCAN``)."""
        if device is not None:
            device = check_device_id(device)
        found = await self._store.list_events(
            types=kind.event_types, device=device, limit=SCAN, since=since
        )
        shown = await self._visible(principal, found, limit)
        return [Problem(e, fix_of(e)) for e in shown], len(found) == SCAN

    async def counts(self, principal: Principal, since: int) -> dict[ProblemKind, int]:
        """How many problems of each kind since ``since`` (epoch ms) the principal sees (at
        most ``SCAN`` each)."""
        counts = {}
        for kind in ProblemKind:
            found = await self._store.list_events(types=kind.event_types, limit=SCAN, since=since)
            counts[kind] = len(await self._visible(principal, found, SCAN))
        return counts

    async def _visible(
        self, principal: Principal, found: Sequence[Event], limit: int
    ) -> list[Event]:
        shown: list[Event] = []
        seen: dict[str, _View] = {}  # the views of the devices and types met so far
        for event in found:
            if len(shown) >= limit:
                break
            if await self._sees(principal, event, seen):
                shown.append(event)
        return shown

    async def _sees(self, principal: Principal, event: Event, seen: dict[str, _View]) -> bool:
        path = event.data.get("groupPath")
        if isinstance(path, str):
            return rbac.visible(principal, path)
        if event.type is EventType.REGISTRATION_REFUSED and event.device_type_id is not None:
            return await self._sees_type(principal, event.device_type_id, seen)
        if event.device is not None:
            if event.device not in seen:
                seen[event.device] = await self._view_of(principal, event.device)
            since = seen[event.device]
            if since is False:
                return False
            return since is None or (event.created_at or event.time) >= since
        if event.device_type_id is not None:
            return await self._sees_type(principal, event.device_type_id, seen)
        return rbac.visible(principal, self._root.path)

    async def _view_of(self, principal: Principal, device: str) -> _View:
        """False when ``principal`` does not see ``device``, else where its view starts."""
        try:
            path = await self._devices.registered_path(device)
        except LorafoxError:  # its group went away
            return False
        if path is None:  # not registered (the registry has every device): the root group's
            return None if rbac.visible(principal, self._root.path) else False
        if not rbac.visible(principal, path):
            return False
        return await self._devices.registered_at(principal, device)

    async def _sees_type(
        self, principal: Principal, device_type_id: str, seen: dict[str, _View]
    ) -> bool:
        key = f"type:{device_type_id}"
        if key not in seen:
            try:
                await self._devices.types.get(principal, device_type_id)
            except LorafoxError:
                seen[key] = False
            else:
                seen[key] = True
        return seen[key] is True
