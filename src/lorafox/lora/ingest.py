"""``LoraIngest``: a LoRa frame from any network server into the shared uplink flow.

Each adapter (Semtech socket, ChirpStack, The Things Stack, AWS IoT Core for LoRaWAN) parses
its protocol into ``LoraUplink`` and authenticates its integration; this module dates the frame,
folds copies of one frame into one message, and hands it to ``UplinkService.receive`` as the
integration's principal (so it provisions only into the integration's group).

Copies of a frame (the same DevEUI and fCnt heard by several gateways, or a retry of the
network server) within ``DUPLICATE_WINDOW`` seconds get the first copy's time, so the store's
unique (device, time, seqNumber) keeps one row and answers the others as duplicates.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from lorafox.domain import Event, EventType, Severity
from lorafox.lora.integrations import Sender
from lorafox.lora.model import LoraUplink, to_uplink
from lorafox.ports.store import Ingested
from lorafox.uplink.service import UplinkService

__all__ = ["DUPLICATE_WINDOW", "LoraIngest"]

log = logging.getLogger(__name__)

DUPLICATE_WINDOW = 120.0
_SEEN_MAX = 100_000
_FUTURE_MS = 2 * 24 * 3600 * 1000


class LoraIngest:
    """LoRa frames and network events → the uplink flow and the event log."""

    def __init__(
        self,
        uplinks: UplinkService,
        record_event: Callable[[Event], None] | None = None,
    ) -> None:
        self._uplinks = uplinks
        self._record_event = record_event
        self._seen: OrderedDict[tuple[str, int], tuple[float, int]] = OrderedDict()
        self.last_integration: dict[str, str] = {}
        """DevEUI → the integration that brought its latest uplink (where downlinks go)."""
        self.contexts: dict[str, dict[str, str]] = {}
        """DevEUI → what its network server's messages said that its downlinks need (the
        ChirpStack application, the TTS push URL and key, the AWS wireless device id)."""
        self.frames = 0
        self.duplicates = 0

    async def receive(self, sender: Sender, frame: LoraUplink) -> Ingested:
        now = time.time()
        now_ms = int(now * 1000)
        key = (frame.dev_eui, frame.f_cnt)
        seen = self._seen.get(key)
        if seen is not None and seen[0] > now:
            time_ms = seen[1]
        else:
            time_ms = frame.time if frame.time and 0 < frame.time < now_ms + _FUTURE_MS else now_ms
            self._seen[key] = (now + DUPLICATE_WINDOW, time_ms)
            self._seen.move_to_end(key)
            while len(self._seen) > _SEEN_MAX:
                self._seen.popitem(last=False)
        uplink = to_uplink(frame, sender.integration, time_ms)
        result = await self._uplinks.receive(uplink, sender=sender.principal)
        self.frames += 1
        if not result.stored:
            self.duplicates += 1
        if len(self.last_integration) < _SEEN_MAX or frame.dev_eui in self.last_integration:
            self.last_integration[frame.dev_eui] = sender.integration.id
        return result

    def remember(self, device: str, context: dict[str, str]) -> None:
        if context and (len(self.contexts) < _SEEN_MAX or device in self.contexts):
            self.contexts.setdefault(device, {}).update(context)

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
