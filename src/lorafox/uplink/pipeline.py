"""Group commit: many concurrent callbacks, one transaction.

Each uplink is handed to ``UplinkPipeline.submit``, whose caller waits (a BIDIR callback also
asks for its downlink, handed out in the same transaction). One task takes everything that
queued up while the previous transaction ran, stores it in one transaction (one fsync), then
wakes the callers and gives the new messages to the sinks (the publisher, the activity
monitor). The devices a committed transaction provisioned are announced before either, so that
a sink reading the registry finds them. Under light load a batch is one message and nothing
waits; under heavy load batches grow and the fsync cost is shared.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from typing import TypeAlias

from lorafox.domain import Device, StoredUplink, Uplink
from lorafox.errors import StoreError
from lorafox.ports.store import DownlinkAsk, Ingested, MessageStore

__all__ = ["ProvisionedSink", "StoredSink", "UplinkPipeline"]

log = logging.getLogger(__name__)

StoredSink = Callable[[Sequence[StoredUplink]], None]
"""Told of the uplinks of each committed transaction (newly stored ones only)."""
ProvisionedSink = Callable[[Device], None]
"""Told of each device a committed transaction provisioned, before the ``StoredSink``s."""


class _Group:
    """The uplinks of one ``submit_many``: their results, and one future for all of them (a
    future per uplink, awaited together, costs more than storing it)."""

    __slots__ = ("done", "remaining", "results")

    def __init__(self, size: int, done: asyncio.Future[None]) -> None:
        self.results: list[Ingested | StoreError | None] = [None] * size
        self.remaining = size
        self.done = done

    def settle(self, index: int, result: Ingested | StoreError) -> None:
        self.results[index] = result
        self.remaining -= 1
        if not self.remaining and not self.done.done():
            self.done.set_result(None)


_Waiter: TypeAlias = "asyncio.Future[Ingested] | tuple[_Group, int]"
_Pending = tuple[Uplink, DownlinkAsk, "Device | None", _Waiter]


class UplinkPipeline:
    """Stores uplinks durably in batches; ``submit`` returns once the uplink is committed."""

    def __init__(self, store: MessageStore, *, max_batch: int = 2000) -> None:
        self._store = store
        self._sinks: list[StoredSink] = []
        self._provisioned: list[ProvisionedSink] = []
        self._max_batch = max_batch
        self._pending: list[_Pending] = []
        self._wakeup = asyncio.Event()
        self._closing = False

    def add_sink(self, sink: StoredSink) -> None:
        """Tell ``sink`` of the new uplinks of every committed transaction, right after it (in
        the order the sinks were added; a sink must not block)."""
        self._sinks.append(sink)

    def add_provisioned_sink(self, sink: ProvisionedSink) -> None:
        """Tell ``sink`` of every device a committed transaction provisioned, before its
        callers and the other sinks hear of its uplinks."""
        self._provisioned.append(sink)

    async def submit(
        self, uplink: Uplink, *, downlink: DownlinkAsk = False, provision: Device | None = None
    ) -> Ingested:
        """Store one uplink (with the downlink it asks for, and creating ``provision``, in the
        same transaction). Raises ``StoreError``."""
        if self._closing:
            raise StoreError("lorafox is shutting down")
        future: asyncio.Future[Ingested] = asyncio.get_running_loop().create_future()
        self._pending.append((uplink, downlink, provision, future))
        self._wakeup.set()
        return await future

    async def submit_many(
        self, entries: Sequence[tuple[Uplink, Device | None]]
    ) -> list[Ingested | StoreError]:
        """Store several uplinks (each creating its ``provision``) queued together, so they
        are committed in one transaction when they fit in one batch; each one's result, or
        the ``StoreError`` that kept it from being stored. Asks for no downlink."""
        if self._closing:
            raise StoreError("lorafox is shutting down")
        if not entries:
            return []
        group = _Group(len(entries), asyncio.get_running_loop().create_future())
        self._pending.extend(
            (uplink, False, provision, (group, index))
            for index, (uplink, provision) in enumerate(entries)
        )
        self._wakeup.set()
        await group.done
        return [r for r in group.results if r is not None]

    async def run(self) -> None:
        """Commit batches until ``close`` is called and everything submitted is stored."""
        while True:
            if not self._pending:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            await self._commit(batch)

    async def _commit(self, batch: list[_Pending]) -> None:
        try:
            provision = {d.id: d for _, _, d, _ in batch if d is not None}
            results = await self._store.ingest(
                [(uplink, wants) for uplink, wants, _, _ in batch], list(provision.values())
            )
        except StoreError as exc:
            _fail(batch, exc)
            return
        except Exception as exc:
            log.exception("storing %d uplinks failed", len(batch))
            _fail(batch, StoreError(f"storing failed: {exc}"))
            return
        for device in provision.values():
            for announce in self._provisioned:
                announce(device)
        for (*_, waiter), result in zip(batch, results, strict=True):
            if isinstance(waiter, tuple):
                waiter[0].settle(waiter[1], result)
            elif not waiter.done():
                waiter.set_result(result)
        new = [r.stored for r in results if r.stored is not None]
        if new:
            for sink in self._sinks:
                sink(new)

    def close(self) -> None:
        """Refuse new uplinks; ``run`` returns once the queued ones are stored."""
        self._closing = True
        self._wakeup.set()


def _fail(batch: list[_Pending], exc: StoreError) -> None:
    for *_, waiter in batch:
        if isinstance(waiter, tuple):
            waiter[0].settle(waiter[1], exc)
        elif not waiter.done():
            waiter.set_exception(exc)
