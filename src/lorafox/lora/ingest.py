"""``LoraIngest``: a LoRa frame from any network server into the shared uplink flow.

Each adapter (Semtech socket, ChirpStack, The Things Stack, AWS IoT Core for LoRaWAN) parses
its protocol into ``LoraUplink`` and authenticates its integration; this module dates the frame,
folds copies of one frame into one message, and hands it to ``UplinkService.receive`` as the
integration's principal (so it provisions only into the integration's group).

Copies of a frame (the same DevEUI and fCnt heard by several gateways, or a retry of the
network server) within ``DUPLICATE_WINDOW`` seconds get the first copy's time, so the store's
unique (device, time, seqNumber) keeps one row and answers the others as duplicates; a copy
heard by gateways the stored message does not list is another station's copy (``duplicate``,
for the ``sendDuplicate`` callbacks) and adds them to it (``extra.gateways``; what
was already published is not published again).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from lorafox.domain import Event, EventType, Severity, Uplink
from lorafox.errors import LorafoxError
from lorafox.lora.integrations import Sender
from lorafox.lora.model import MAX_GATEWAYS, LoraUplink, to_uplink
from lorafox.metrics import LoraCounters
from lorafox.ports.lora import LoraDeviceStore, LoraMessageStore
from lorafox.ports.store import Ingested
from lorafox.uplink.service import UplinkService

__all__ = ["DUPLICATE_WINDOW", "LoraIngest"]

log = logging.getLogger(__name__)

DUPLICATE_WINDOW = 120.0
_SEEN_MAX = 100_000
_FUTURE_MS = 2 * 24 * 3600 * 1000


@dataclass(slots=True)
class _Seen:
    """The first copy of a frame: until when copies count as its duplicates, its time, and
    the ``extra`` it was stored with (its gateways grow as copies come)."""

    until: float
    time: int
    extra: dict[str, Any]


class LoraIngest:
    """LoRa frames and network events → the uplink flow and the event log."""

    def __init__(
        self,
        uplinks: UplinkService,
        record_event: Callable[[Event], None] | None = None,
        messages: LoraMessageStore | None = None,
        devices: LoraDeviceStore | None = None,
        counters: LoraCounters | None = None,
    ) -> None:
        self._uplinks = uplinks
        self._record_event = record_event
        self._messages = messages
        self._devices = devices
        self.counters = counters or LoraCounters()
        self._seen: OrderedDict[tuple[str, int], _Seen] = OrderedDict()
        self.last_integration: dict[str, str] = {}
        """DevEUI → the integration that brought its latest uplink (where downlinks go)."""
        self.contexts: dict[str, dict[str, str]] = {}
        """DevEUI → what its network server's messages said that its downlinks need (the
        ChirpStack application, the TTS push URL and key, the AWS wireless device id)."""
        self.frames = 0
        self.duplicates = 0

    async def receive(self, sender: Sender, frame: LoraUplink) -> Ingested:
        uplink, seen, first = self._date(sender, frame)
        result = await self._uplinks.receive(uplink, sender=sender.principal)
        await self._after(sender, frame, uplink, seen, first, result)
        return result

    async def receive_many(
        self, sender: Sender, frames: Sequence[LoraUplink]
    ) -> list[Ingested | LorafoxError]:
        """``receive`` for frames that came together (one read of a socket): stored together,
        each one's result or the error that refused it, returned once all are stored."""
        dated = [self._date(sender, frame) for frame in frames]
        results = await self._uplinks.receive_many(
            [uplink for uplink, _, _ in dated], sender=sender.principal
        )
        moved: list[str] = []
        for frame, (uplink, seen, first), result in zip(frames, dated, results, strict=True):
            changed = isinstance(result, Ingested) and await self._after(
                sender, frame, uplink, seen, first, result, save=False
            )
            if changed:
                moved.append(frame.dev_eui)
        if moved and self._devices is not None:
            await self._devices.save_lora_devices(
                [(d, self.last_integration.get(d), self.contexts.get(d, {})) for d in moved]
            )
        return results

    def _date(self, sender: Sender, frame: LoraUplink) -> tuple[Uplink, _Seen, bool]:
        """The frame's ``Uplink``, dated as its first copy when it is a copy (and whether it
        is the first)."""
        now = time.time()
        key = (frame.dev_eui, frame.f_cnt)
        seen = self._seen.get(key)
        if seen is not None and seen.until > now:
            copy = to_uplink(frame, sender.integration, seen.time)
            known = {g.get("id") for g in seen.extra.get("gateways") or []}
            other = any(g.get("id") not in known for g in copy.extra.get("gateways", []))
            return dataclasses.replace(copy, duplicate=other), seen, False
        now_ms = int(now * 1000)
        time_ms = frame.time if frame.time and 0 < frame.time < now_ms + _FUTURE_MS else now_ms
        uplink = to_uplink(frame, sender.integration, time_ms)
        seen = _Seen(now + DUPLICATE_WINDOW, time_ms, dict(uplink.extra))
        self._seen[key] = seen
        self._seen.move_to_end(key)
        while len(self._seen) > _SEEN_MAX:
            self._seen.popitem(last=False)
        return uplink, seen, True

    async def _after(
        self,
        sender: Sender,
        frame: LoraUplink,
        uplink: Uplink,
        seen: _Seen,
        first: bool,
        result: Ingested,
        *,
        save: bool = True,
    ) -> bool:
        """Counters, a copy's gateways, and where the device's downlinks go (saved unless
        ``save`` is False: True when it changed)."""
        self.frames += 1
        self.counters.frame(sender.integration.kind.value, stored=bool(result.stored))
        if not result.stored:
            self.duplicates += 1
            if not first:
                await self._merge_gateways(uplink, seen)
        device = frame.dev_eui
        if self.last_integration.get(device) != sender.integration.id and (
            len(self.last_integration) < _SEEN_MAX or device in self.last_integration
        ):
            self.last_integration[device] = sender.integration.id
            if save:
                await self._save(device)
            return True
        return False

    async def locate(self, device: str, lat: float, lng: float, radius: int | None) -> None:
        """A position the network server solved: the device's latest message's location."""
        if self._messages is not None:
            await self._messages.locate_latest_message(device, lat, lng, radius)

    async def load(self) -> None:
        """Where each device's downlinks go, as saved before the last stop."""
        if self._devices is None:
            return
        for device, integration, context in await self._devices.lora_devices(limit=_SEEN_MAX):
            if integration is not None:
                self.last_integration.setdefault(device, integration)
            if context:
                self.contexts.setdefault(device, context)

    async def _save(self, device: str) -> None:
        if self._devices is not None:
            await self._devices.save_lora_device(
                device, self.last_integration.get(device), self.contexts.get(device, {})
            )

    async def _merge_gateways(self, copy: Uplink, seen: _Seen) -> None:
        known = seen.extra.get("gateways") or []
        ids = {g.get("id") for g in known}
        added = [g for g in copy.extra.get("gateways", []) if g.get("id") not in ids]
        if not added or self._messages is None or len(known) >= MAX_GATEWAYS:
            return
        seen.extra = {**seen.extra, "gateways": [*known, *added][:MAX_GATEWAYS]}
        await self._messages.set_message_extra(copy.device, seen.time, copy.seq_number, seen.extra)

    async def remember(self, device: str, context: dict[str, str]) -> None:
        """Keep what the device's downlinks need (saved when it changed)."""
        if not context or (len(self.contexts) >= _SEEN_MAX and device not in self.contexts):
            return
        known = self.contexts.setdefault(device, {})
        if any(known.get(k) != v for k, v in context.items()):
            known.update(context)
            await self._save(device)

    def event(
        self,
        sender: Sender,
        kind: str,
        message: str,
        *,
        device: str | None = None,
        severity: Severity = Severity.INFO,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Record what the network server reported (a join, a gateway's status, a log line)."""
        log.debug("LoRa %s from integration %s: %s", kind, sender.integration.id, message)
        if self._record_event is None:
            return
        self._record_event(
            Event(
                type=EventType.LORA,
                severity=severity,
                time=int(time.time() * 1000),
                message=message[:500],
                device=device,
                device_type_id=sender.integration.device_type_id,
                data={"event": kind, "integration": sender.integration.id, **(data or {})},
            )
        )
