"""How long device history is kept: messages and events older than their device type's
``retention_days`` (or the instance's ``retention_days``) are deleted by a periodic round.

A registered device's rows follow its device type; the rows of a device no longer registered
follow the device type each names (a message's ``deviceTypeId``), and the rows of types without
a setting or of no known type follow the instance's default. A round walks
the devices in batches, one short transaction each, so ingest goes on between them; it runs on
the leader only when several instances share a database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from lorafox.domain import DeviceType
from lorafox.errors import StoreError
from lorafox.ports.retention import Cutoffs, HistoryStore, HistoryTable

__all__ = ["DAY_MS", "HistoryRetention"]

log = logging.getLogger(__name__)

DAY_MS = 86_400_000
_TABLES: tuple[HistoryTable, ...] = ("messages", "events")


class HistoryRetention:
    """The periodic deletion of history past its retention."""

    def __init__(
        self,
        store: HistoryStore,
        device_types: Callable[[], Awaitable[Sequence[DeviceType]]],
        *,
        default_days: int,
        interval: float = 3600.0,
        batch: int = 500,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._device_types = device_types
        self._default_days = default_days
        self._interval = interval
        self._batch = batch
        self._clock = clock
        #: whether this instance runs the rounds now (one leader among several instances)
        self.leads: Callable[[], bool] = lambda: True

    def cutoffs(self, types: Sequence[DeviceType]) -> Cutoffs:
        """Each type's cutoff (epoch ms; 0: kept forever) from now and the settings."""
        now = int(self._clock() * 1000)

        def cutoff(days: int) -> int:
            return now - days * DAY_MS if days > 0 else 0

        return Cutoffs(
            by_type={t.id: cutoff(t.retention_days) for t in types if t.retention_days is not None},
            default=cutoff(self._default_days),
        )

    async def step(self, stop: asyncio.Event | None = None) -> int:
        """One round; the rows deleted (not counting those of partitions dropped whole)."""
        await self._store.prepare_history(int(self._clock() * 1000))
        cutoffs = self.cutoffs(await self._device_types())
        if cutoffs.latest == 0:
            return 0  # everything is kept
        await self._store.drop_history(cutoffs.earliest)
        deleted = 0
        for table in _TABLES:
            after: str | None = None
            while stop is None or not stop.is_set():
                after, gone = await self._store.purge_history(
                    table, cutoffs, after=after, limit=self._batch
                )
                deleted += gone
                if after is None:
                    break
                await asyncio.sleep(0)  # ingest's batches go between ours
        if deleted:
            log.info("retention: %d old messages and events deleted", deleted)
        return deleted

    async def run(self, stop: asyncio.Event) -> None:
        """Rounds every ``interval`` until ``stop``; a failed round is logged and retried."""
        while not stop.is_set():
            try:
                if self.leads():
                    await self.step(stop)
            except StoreError as exc:
                log.warning("retention round failed, retrying later: %s", exc)
            except Exception:
                log.exception("retention round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._interval)
