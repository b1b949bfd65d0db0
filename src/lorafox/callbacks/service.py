"""``OutgoingCallbacks``: the callback parts built once, started, run and stopped together."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from lorafox.callbacks.config import DeviceTypeCallbacks
from lorafox.callbacks.destinations import DestinationGuard
from lorafox.callbacks.directory import CallbackDirectory
from lorafox.callbacks.downlink_hook import DownlinkHooks
from lorafox.callbacks.duplicates import DuplicateForwarder
from lorafox.callbacks.failures import NotDelivered
from lorafox.callbacks.lanes import Lanes
from lorafox.callbacks.mails import MessageMails
from lorafox.callbacks.reports import ReportForwarder
from lorafox.callbacks.sender import CallbackSender, Delivering
from lorafox.callbacks.shared_lanes import SharedLanes
from lorafox.devices import DeviceManagement
from lorafox.domain import Event, StoredUplink
from lorafox.mail import Mailer
from lorafox.ports.callbacks import CallbackStore
from lorafox.ports.cluster import CallbackQueue
from lorafox.ports.store import MessageStore
from lorafox.settings import CallbacksSettings

__all__ = ["OutgoingCallbacks"]


@dataclass(slots=True)
class OutgoingCallbacks:
    config: DeviceTypeCallbacks
    directory: CallbackDirectory
    not_delivered: NotDelivered
    hooks: DownlinkHooks
    reports: ReportForwarder
    duplicates: DuplicateForwarder
    lanes: Lanes | None
    """One instance: the first attempts from a cursor per callback."""
    shared: SharedLanes | None
    """Instances sharing the database: the first attempts owed as rows of the outbox."""
    sender: CallbackSender
    mails: MessageMails

    @classmethod
    async def create(
        cls,
        store: CallbackStore,
        messages: MessageStore,
        devices: DeviceManagement,
        settings: CallbacksSettings,
        clock: Callable[[], int],
        report: Callable[[Event], None],
        mailer: Mailer,
        queue: CallbackQueue | None = None,
    ) -> OutgoingCallbacks:
        """Build the parts and read what they start from (the callbacks, their cursors).
        With ``queue`` (instances sharing a database) the first attempts are owed as rows of
        the outbox, delivered by the leader, instead of made from this instance's lanes."""
        s = settings
        guard = DestinationGuard(
            [ipaddress.ip_network(n, strict=False) for n in s.allowed_networks]
        )
        delivering = Delivering(
            timeout=s.timeout_seconds,
            retry_for=s.retry_for_seconds,
            backoff=s.backoff_seconds,
            max_backoff=s.max_backoff_seconds,
            per_destination=s.per_destination,
            max_in_flight=s.max_in_flight,
        )
        directory = CallbackDirectory(store)
        await directory.load()
        lanes = None
        if queue is None:
            lanes = Lanes(store, directory, messages, devices.registry.device_type_of)
            await lanes.start()
        sender = CallbackSender(
            store, directory, guard, delivering, clock, report, mail=mailer.send, lanes=lanes
        )
        await sender.start()
        shared = None
        if queue is not None:
            sender.forgets_delivered = True
            shared = SharedLanes(queue, clock, sender.wake)

        async def changed(device_type_id: str) -> None:
            await directory.refresh(device_type_id)
            if lanes is not None:
                await lanes.changed()

        return cls(
            config=DeviceTypeCallbacks(store, devices.types, guard, changed),
            directory=directory,
            not_delivered=NotDelivered(store, devices, clock, sender.wake),
            hooks=DownlinkHooks(directory, guard, clock, timeout=s.downlink_timeout_seconds),
            reports=ReportForwarder(
                store, directory, devices.registry.device_type_of, clock, sender.wake
            ),
            duplicates=DuplicateForwarder(store, directory, clock, sender.wake),
            lanes=lanes,
            shared=shared,
            sender=sender,
            mails=MessageMails(devices.registry, mailer),
        )

    def add(self, stored: Sequence[StoredUplink]) -> None:
        """A pipeline sink: newly committed uplinks, for the first attempts."""
        if self.shared is not None:
            self.shared.add(stored)
        else:
            self.sender.add(stored)

    async def callbacks_changed(self) -> None:
        """Another instance changed callbacks (the directory has read them again)."""
        if self.lanes is not None:
            await self.lanes.changed()

    async def run(self) -> None:
        """Deliver until ``close``."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.sender.run())
            tasks.create_task(self.mails.run())
            if self.shared is not None:
                tasks.create_task(self.shared.run())

    async def close(self, run: asyncio.Task[None]) -> None:
        """Stop delivering (``run`` is its task): the attempts in flight get a moment to finish
        and the cursors are stored."""
        if self.shared is not None:
            self.shared.close()
        self.sender.close()
        await self.mails.close()
        await run
        await self.hooks.close()
