"""``sendDuplicate``: another station's copy of a stored message, forwarded to the callbacks
that ask for duplicates, with ``{duplicate}`` true, as the Sigfox Back-End does.

A copy is not stored as a message (the store keeps one per device, time and sequence number),
so ``DuplicateForwarder.forward`` stores its deliveries, with its variables, before the copy
is acknowledged — only when its device type has such a callback: otherwise a copy costs one
look-up. A copy from a station already forwarded (a retried callback) owes nothing more.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable

from lorafox.callbacks.directory import CallbackDirectory
from lorafox.callbacks.lanes import fires
from lorafox.callbacks.templates import uplink_values
from lorafox.domain import CallbackChannel, Delivery, StoredUplink, Uplink
from lorafox.ports.callbacks import CallbackStore

__all__ = ["DuplicateForwarder"]


class DuplicateForwarder:
    """Stores the deliveries a duplicate owes; ``on_enqueued`` wakes the sender."""

    def __init__(
        self,
        store: CallbackStore,
        directory: CallbackDirectory,
        clock: Callable[[], int],
        on_enqueued: Callable[[], None],
    ) -> None:
        self._store = store
        self._directory = directory
        self._clock = clock
        self._on_enqueued = on_enqueued

    async def forward(self, uplink: Uplink, device_type_id: str | None) -> None:
        """Owe the copy ``uplink`` to its device type's sendDuplicate callbacks
        (``StoreError``)."""
        wanted = [c for c in self._directory.of_type(device_type_id) if c.send_duplicate]
        if not wanted:
            return
        now = self._clock()
        copy = StoredUplink(0, now, dataclasses.replace(uplink, duplicate=True))
        where = f"{uplink.device}:{uplink.time}:{uplink.seq_number}:{uplink.station or ''}"
        key = "duplicate:" + hashlib.sha256(where.encode()).hexdigest()[:40]
        deliveries = [
            Delivery.owed(
                c,
                uplink.device,
                uplink.time,
                now,
                report_key=key,
                variables=uplink_values(copy, c.device_type_id),
            )
            for c in wanted
            if c.channel in (CallbackChannel.URL, CallbackChannel.EMAIL) and fires(c, copy)
        ]
        if deliveries:
            await self._store.enqueue(deliveries, None)
            self._on_enqueued()
