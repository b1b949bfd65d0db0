"""Mails the Sigfox Back-End sends that are not callbacks: a device type in the CALLBACK
downlink mode mails each arriving message to the address of its information block
(``alertEmail``), with the variables of an EMAIL callback.

A pipeline sink: the uplinks are only queued on the ingest path. Each device type's messages
of ``gather_seconds`` are mailed one by one when they are few; beyond ``digest_over`` they make
one digest mail (a line each), so a burst never floods the mailbox or the mail server. The mails
then go through the durable outbox; the messages of the last moments before a crash are in the
message store, not mailed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from lorafox.callbacks.templates import render, uplink_values
from lorafox.devices.registry import DeviceRegistry
from lorafox.domain import DeviceType, DownlinkMode, Mail, StoredUplink
from lorafox.errors import LorafoxError
from lorafox.mail import Mailer

__all__ = ["MESSAGE_BODY", "MESSAGE_SUBJECT", "MessageMails"]

log = logging.getLogger(__name__)

MESSAGE_SUBJECT = "Message from {device} (seq {seqNumber})"
MESSAGE_BODY = (
    "device: {device}\ndeviceTypeId: {deviceTypeId}\ntime: {time}\ndata: {data}\n"
    "seqNumber: {seqNumber}\nstation: {station}\nrssi: {rssi}\nsnr: {snr}\navgSnr: {avgSnr}\n"
    "lat: {lat}\nlng: {lng}\n"
)
DIGEST_LINE = "{time}  {device}  {seqNumber}  {data}  {station}  {rssi}"
MAX_QUEUED = 100_000
"""Messages held for the next mails (beyond, dropped with a warning)."""
MAX_LINES = 1000
"""Messages listed in one digest (beyond, counted)."""


class MessageMails:
    """Queues the messages of CALLBACK-mode device types (``add``) and mails them (``run``)."""

    def __init__(
        self,
        registry: DeviceRegistry,
        mailer: Mailer,
        *,
        gather_seconds: float = 1.0,
        digest_over: int = 5,
    ) -> None:
        self._registry = registry
        self._mailer = mailer
        self._gather = gather_seconds
        self._digest_over = digest_over
        self._queued: list[StoredUplink] = []
        self._overflow = 0
        self._wakeup = asyncio.Event()
        self._closing = False

    def _mailed_type(self, device: str) -> DeviceType | None:
        type_id = self._registry.device_type_of(device)
        found = self._registry.device_type(type_id) if type_id else None
        if found is None or found.downlink_mode is not DownlinkMode.CALLBACK:
            return None
        return found if found.alert_email else None

    def add(self, stored: Sequence[StoredUplink]) -> None:
        """A pipeline sink (nothing is awaited; the device types are looked at when mailing,
        once a newly provisioned device is registered)."""
        if not self._mailer.configured:
            return
        if len(self._queued) < MAX_QUEUED:
            self._queued.extend(stored)
            self._wakeup.set()
        else:
            self._overflow += len(stored)

    def _sort(self) -> tuple[dict[str, list[StoredUplink]], dict[str, int]]:
        queued, self._queued = self._queued, []
        if self._overflow:
            log.warning("callbacks: %d messages not mailed (backlog)", self._overflow)
            self._overflow = 0
        pending: dict[str, list[StoredUplink]] = {}
        dropped: dict[str, int] = {}
        for message in queued:
            device_type = self._mailed_type(message.uplink.device)
            if device_type is None:
                continue
            found = pending.setdefault(device_type.id, [])
            if len(found) < MAX_LINES:
                found.append(message)
            else:
                dropped[device_type.id] = dropped.get(device_type.id, 0) + 1
        return pending, dropped

    def _mails(self, type_id: str, messages: list[StoredUplink], dropped: int) -> list[Mail]:
        device_type = self._registry.device_type(type_id)
        if device_type is None or not device_type.alert_email:
            return []
        to = device_type.alert_email
        values = [uplink_values(m, type_id) for m in messages]
        if len(messages) <= self._digest_over and not dropped:
            return [
                Mail(to, render(MESSAGE_SUBJECT, v), render(MESSAGE_BODY, v), "message")
                for v in values
            ]
        total = len(messages) + dropped
        lines = [render(DIGEST_LINE, v) for v in values]
        if total > len(lines):
            lines.append(f"… and {total - len(lines)} more (GET /api/v2/device-types/…/messages)")
        subject = f"{total} messages of device type {device_type.name}"
        header = "time  device  seqNumber  data  station  rssi"
        return [Mail(to, subject, "\n".join([header, *lines]) + "\n", "message")]

    async def run(self) -> None:
        while not self._closing:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1.0):
                    await self._wakeup.wait()
            if not self._queued:
                continue
            if not self._closing:
                await asyncio.sleep(self._gather)
            await self._flush()

    async def _flush(self) -> None:
        self._wakeup.clear()
        pending, dropped = self._sort()
        mails = [
            m for t, found in pending.items() for m in self._mails(t, found, dropped.get(t, 0))
        ]
        try:
            await self._mailer.send(mails)
        except LorafoxError as exc:
            log.error("callbacks: %d message mails not queued: %s", len(mails), exc)

    async def close(self) -> None:
        self._closing = True
        self._wakeup.set()
        await self._flush()
