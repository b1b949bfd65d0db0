"""``LoraNetwork``: one message of an HTTP or MQTT network server, whatever it reports."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Protocol

from lorafox.domain import LoraKind
from lorafox.errors import LorafoxError
from lorafox.lora.downlinks import LoraDownlinks
from lorafox.lora.ingest import LoraIngest
from lorafox.lora.integrations import LoraIntegrations, Sender
from lorafox.lora.reports import Report

__all__ = ["DestinationConfirmer", "Handled", "LoraNetwork"]

log = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class Handled:
    """What became of a report (the HTTP answer's body)."""

    kind: str
    stored: bool | None = None
    message_id: int | None = None


class DestinationConfirmer(Protocol):
    async def confirm(self, integration_id: str, enable_url: str) -> bool: ...


class LoraNetwork:
    def __init__(
        self, ingest: LoraIngest, downlinks: LoraDownlinks, integrations: LoraIntegrations
    ) -> None:
        self._ingest = ingest
        self._downlinks = downlinks
        self._integrations = integrations
        self.confirmer: DestinationConfirmer | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def confirm_destination(self, integration_id: str, enable_url: str) -> None:
        """An AWS IoT destination confirmation for ``integration_id`` (unauthenticated: AWS
        sends it without the rule's headers): confirmed in the background when the integration
        is an ``aws-iotwireless`` one and the URL an AWS one."""
        if self.confirmer is None or len(self._tasks) > 16:
            return
        task = asyncio.get_running_loop().create_task(
            self._confirm(self.confirmer, integration_id, enable_url)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _confirm(
        self, confirmer: DestinationConfirmer, integration_id: str, enable_url: str
    ) -> None:
        try:
            sender = await self._integrations.sender_by_id(integration_id)
        except LorafoxError:
            return
        if sender.integration.kind is LoraKind.AWS_IOTWIRELESS:
            await confirmer.confirm(integration_id, enable_url)

    async def handle(self, sender: Sender, report: Report) -> Handled:
        """Store the uplink (durably, before this returns), move the downlink, record the
        event; remember what the device's downlinks need."""
        uplink = report.uplink
        device = uplink.dev_eui if uplink is not None else None
        if device is None and report.feedback is not None:
            device = report.feedback.device
        if device is None and report.event is not None:
            device = report.event.device
        if device is not None:
            await self._ingest.remember(device, report.context)
        handled = Handled("ignored")
        if uplink is not None:
            result = await self._ingest.receive(sender, uplink)
            stored = result.stored
            handled = Handled(
                "uplink", stored=stored is not None, message_id=stored.id if stored else None
            )
        if report.feedback is not None:
            await self._downlinks.report(sender, report.feedback)
            if uplink is None:
                handled = Handled("downlink")
        if report.event is not None:
            e = report.event
            self._ingest.event(
                sender, e.kind, e.message, device=e.device, severity=e.severity, data=e.data
            )
            handled = Handled("event")
        if report.position is not None and device is not None:
            where = report.position
            await self._ingest.locate(device, where.lat, where.lng, where.radius)
        if uplink is not None:
            await self._downlinks.after_uplink(uplink.dev_eui)
        return handled
