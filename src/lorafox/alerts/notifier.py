"""``AlertNotifier``: stored events → the alerts they match → notifications, gathered.

Each alert (and each device type's ``alertEmail``) has a digest: the first matching event opens
it, and ``digest_seconds`` later everything it gathered goes out as one notification (by mail
through the outbox, and to the alert's apprise URLs), so a network outage that loses a thousand
devices at once is one message. An alert sends ``max_per_hour`` notifications at most; beyond,
its digest keeps gathering until the hour allows another. Digests are kept in memory; when
lorafox stops, what each has gathered goes out at once (beyond the hourly limit if need be)
instead of waiting for its time, so a restart loses no notification. A crash does: the events
are in the event log, but those of open digests are not notified.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from lorafox.alerts.config import ALERT_EVENTS, Notified
from lorafox.alerts.targets import NotificationTargets
from lorafox.auth import rbac
from lorafox.devices.registry import DeviceRegistry
from lorafox.domain import Alert, DeviceType, Event, Mail
from lorafox.errors import Conflict, LorafoxError
from lorafox.mail import Mailer
from lorafox.ports.alerts import AlertStore, Notifications

__all__ = ["AlertNotifier", "TypeAlerts", "compose"]

log = logging.getLogger(__name__)

SHOWN = 50
"""Events listed one by one in a digest (the others are counted)."""
_KEPT = 200
RELOAD_SECONDS = 60.0
"""How often the alerts are read again from the store."""


@dataclass(slots=True, frozen=True)
class TypeAlerts:
    """How a device type's ``alertEmail`` is told of its devices' events."""

    digest_seconds: float = 60.0
    max_per_hour: int = 10


@dataclass(slots=True)
class _Digest:
    events: list[Event] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    due: float | None = None
    sent: deque[float] = field(default_factory=deque)


def _time(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _who(event: Event) -> str:
    """The device, the rule or integration, or the device type an event is about."""
    data = event.data
    named = data.get("rule") or data.get("integrationName")
    return event.device or (str(named) if named else None) or event.device_type_id or ""


def _line(event: Event) -> str:
    who = _who(event) or "-"
    return f"{_time(event.time)}  {event.type.value}  {who}  {event.message}"


def compose(name: str, events: Sequence[Event], counts: Counter[str]) -> tuple[str, str]:
    """The title and text of a notification of ``events`` (``counts`` counts all of them)."""
    total = sum(counts.values())
    if total == 1 and events:
        e = events[0]
        title = f"lorafox: {e.type.value} {_who(e)}".strip()
        return title, f"{name}\n\n{_line(e)}\n"
    kinds = ", ".join(f"{n} {kind}" for kind, n in counts.most_common())
    lines = [f"{name}: {total} events", "", *(f"{kind}: {n}" for kind, n in counts.most_common())]
    lines += ["", *(_line(e) for e in events[:SHOWN])]
    if total > SHOWN:
        lines.append(f"… and {total - min(SHOWN, len(events))} more (GET /api/v2/…/events)")
    return f"lorafox: {total} events — {kinds}", "\n".join(lines) + "\n"


class AlertNotifier:
    """Matches events to alerts and sends their digests; ``observe`` is an event log listener."""

    def __init__(
        self,
        store: AlertStore,
        registry: DeviceRegistry,
        group_path: Callable[[str], Awaitable[str | None]],
        mailer: Mailer,
        chat: Notifications,
        targets: NotificationTargets,
        type_alerts: TypeAlerts = TypeAlerts(),
    ) -> None:
        self._store = store
        self._registry = registry
        self._group_path = group_path
        self._mailer = mailer
        self._chat = chat
        self._targets = targets
        self._type_alerts = type_alerts
        self._alerts: list[Alert] = []
        self._paths: dict[str, str | None] = {}
        self._digests: dict[str, _Digest] = {}
        self._incoming: list[Event] = []
        self._wakeup = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    async def load(self) -> None:
        self._alerts = [a for a in await self._store.all_alerts() if a.enabled]
        self._paths.clear()

    def observe(self, events: Sequence[Event]) -> None:
        """Stored events (queued: nothing is awaited here)."""
        wanted = {e.value for e in ALERT_EVENTS}
        found = [e for e in events if e.type.value in wanted]
        if found:
            self._incoming.extend(found)
            self._wakeup.set()

    async def _path(self, group_id: str) -> str | None:
        if group_id not in self._paths:
            self._paths[group_id] = await self._group_path(group_id)
        return self._paths[group_id]

    async def _targets_of(self, event: Event) -> list[tuple[str, Alert | None]]:
        type_id = event.device_type_id
        if type_id is None and event.device is not None:
            type_id = self._registry.device_type_of(event.device)
        device_type = self._registry.device_type(type_id) if type_id else None
        type_path = await self._group_of(event, device_type)
        found: list[tuple[str, Alert | None]] = []
        for alert in self._alerts:
            if event.type.value not in alert.event_types:
                continue
            if alert.device is not None:
                hit = event.device == alert.device
            elif alert.device_type_id is not None:
                hit = type_id == alert.device_type_id
            else:
                path = await self._path(alert.group_id)
                hit = type_path is not None and path is not None and rbac.is_within(type_path, path)
            if hit:
                found.append((alert.id, alert))
        if device_type is not None and device_type.alert_email:
            found.append((f"type:{device_type.id}", None))
        return found

    async def _group_of(self, event: Event, device_type: DeviceType | None) -> str | None:
        """The path of the group ``event`` belongs to: its device type's, else the one its
        data names (a rule's ``groupPath``, an integration's ``groupId``)."""
        if device_type is not None:
            return await self._path(device_type.group_id)
        path, group_id = event.data.get("groupPath"), event.data.get("groupId")
        if isinstance(path, str):
            return path
        return await self._path(group_id) if isinstance(group_id, str) else None

    def _limits(self, key: str) -> tuple[float, int]:
        alert = self._alert(key)
        if alert is None:
            return self._type_alerts.digest_seconds, self._type_alerts.max_per_hour
        return float(alert.digest_seconds), alert.max_per_hour

    def _alert(self, key: str) -> Alert | None:
        return next((a for a in self._alerts if a.id == key), None)

    async def _gather(self, now: float) -> None:
        batch, self._incoming = self._incoming, []
        for event in batch:
            for key, _ in await self._targets_of(event):
                digest = self._digests.setdefault(key, _Digest())
                if len(digest.events) < _KEPT:
                    digest.events.append(event)
                digest.counts[event.type.value] += 1
                if digest.due is None:
                    digest.due = now + self._limits(key)[0]

    def _allowed_at(self, digest: _Digest, max_per_hour: int, now: float) -> float:
        while digest.sent and digest.sent[0] <= now - 3600:
            digest.sent.popleft()
        return now if len(digest.sent) < max_per_hour else digest.sent[0] + 3600

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        loaded = loop.time()
        while not self._closing:
            now = loop.time()
            if now - loaded > RELOAD_SECONDS:  # alerts gone with their group, another instance's
                loaded = now
                with contextlib.suppress(LorafoxError):
                    await self.load()
            try:
                await self._gather(now)
            except LorafoxError as exc:
                log.error("alerts: cannot match events: %s", exc)
            for key, digest in list(self._digests.items()):
                if digest.due is None or digest.due > now:
                    continue
                allowed = self._allowed_at(digest, self._limits(key)[1], now)
                if allowed > now:
                    digest.due = allowed
                    continue
                self._digests.pop(key)
                digest.sent.append(now)
                self._digests[key] = _Digest(sent=digest.sent)
                self._spawn(self._send(key, digest))
            dues = [d.due for d in self._digests.values() if d.due is not None]
            wait = max(0.0, min(dues) - loop.time()) if dues else RELOAD_SECONDS
            self._wakeup.clear()
            if self._incoming:
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wakeup.wait()
        await self._flush()

    async def _flush(self) -> None:
        """Send every digest that gathered something, now (lorafox stops)."""
        try:
            await self._gather(asyncio.get_running_loop().time())
        except LorafoxError as exc:
            log.error("alerts: cannot match the last events: %s", exc)
        for key, digest in list(self._digests.items()):
            if digest.events:
                del self._digests[key]
                self._spawn(self._send(key, digest))
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)

    def _spawn(self, work: Awaitable[object]) -> None:
        async def run() -> None:
            await work

        task = asyncio.create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send(self, key: str, digest: _Digest) -> Notified:
        alert = self._alert(key)
        if alert is None:
            device_type = self._registry.device_type(key.removeprefix("type:"))
            if device_type is None or not device_type.alert_email:
                return Notified(None, 0)
            name = f"Device type {device_type.name}"
            emails: Sequence[str] = (device_type.alert_email,)
            urls: Sequence[str] = ()
        else:
            name, emails, urls = f"Alert {alert.name}", alert.emails, alert.urls
        title, body = compose(name, digest.events, digest.counts)
        return await self._notify(emails, urls, title, body)

    async def _notify(
        self, emails: Sequence[str], urls: Sequence[str], title: str, body: str
    ) -> Notified:
        mail_sent: bool | None = None
        errors: list[str] = []
        if emails:
            try:
                mail_sent = await self._mailer.send([Mail(",".join(emails), title, body, "alert")])
            except LorafoxError as exc:
                mail_sent = False
                errors.append(f"mail: {exc.message}")
        notified = 0
        for index, url in enumerate(urls):
            try:
                await self._targets.check(url)
                await self._chat.notify([url], title, body)
                notified += 1
            except LorafoxError as exc:  # the URL itself is not shown: it holds tokens
                log.warning("alerts: notification URL %d not reached: %s", index + 1, exc.message)
                errors.append(f"urls[{index}]: {exc.message}")
        return Notified(mail_sent, notified, tuple(errors))

    async def test(self, alert: Alert) -> Notified:
        """Send a test notification now (it counts against the alert's hourly limit)."""
        now = asyncio.get_running_loop().time()
        digest = self._digests.setdefault(alert.id, _Digest())
        if self._allowed_at(digest, alert.max_per_hour, now) > now:
            raise Conflict(f"the alert sent its {alert.max_per_hour} notifications this hour")
        digest.sent.append(now)
        title = f"lorafox: test of alert {alert.name}"
        body = (
            f"This is a test of the alert {alert.name}: its events "
            f"({', '.join(alert.event_types)}) are notified here.\n"
        )
        return await self._notify(alert.emails, alert.urls, title, body)

    async def close(self) -> None:
        """Stop; ``run`` then sends what the digests gathered and returns."""
        self._closing = True
        self._wakeup.set()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
