"""First attempts of the callbacks when several instances share one PostgreSQL database: each
stored message's deliveries owed once, as rows of the outbox, which the leader delivers.

``Lanes`` (one instance) keeps a cursor per callback over message ids. Several instances cannot
share such a cursor: ids are drawn from one sequence when a message is inserted, but the
instances' transactions commit in their own order, so a message with a smaller id may become
visible after a reader has passed it. Here a trigger queues the id of every stored message in
the transaction that stores it (``callback_queue``, while a DATA callback is enabled); any
instance claims the oldest queued messages no other holds, and in one transaction writes the
rows their callbacks owe (chosen in SQL as ``lanes.fires`` chooses, on the callbacks as the
database has them then) and deletes them from the queue. The outbox's rows are delivered by the
leader only (``CallbackSender.leads``), each deleted once its destination answered 2xx
(``forgets_delivered``: nothing can owe its message again). So a message's first attempts are
made by one instance; an instance killed while claiming rolls its claim back (another claims it
again), a leader killed while delivering leaves the rows in flight pending (the next leader
makes them again): nothing acknowledged is lost and only what was in flight at the kill may
repeat.

Every instance owes the messages it stores at once (woken by its pipeline), the others' within
``poll_interval``; a claim that wrote rows tells the other instances (``Changes``, topic
``callbacks_owed``) so that the leader reads them at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence

from lorafox.callbacks.lanes import BATCH_EVERY_MS
from lorafox.domain import StoredUplink
from lorafox.errors import LorafoxError
from lorafox.ports.cluster import CallbackQueue, Changes

__all__ = ["OWED", "SharedLanes"]

log = logging.getLogger(__name__)

OWED = "callbacks_owed"
"""The topic telling the other instances that rows of the outbox were written (no keys)."""
_COALESCE_S = 0.02
"""How long the messages of a wake-up are gathered before a claim."""


class SharedLanes:
    """Claims the queue of stored messages and owes their callbacks' first attempts."""

    def __init__(
        self,
        queue: CallbackQueue,
        clock: Callable[[], int],
        wake: Callable[[], None],
        *,
        batch: int = 500,
        poll_interval: float = 0.5,
    ) -> None:
        self._queue = queue
        self._clock = clock
        self._wake = wake
        self._batch = batch
        self._poll_interval = poll_interval
        self._changes: Changes | None = None
        self._wakeup = asyncio.Event()
        self._closing = False

    def tell(self, changes: Changes) -> None:
        """Tell the other instances of the rows written; wake the sender when they do."""

        async def heard(_: Sequence[str] | None) -> None:
            self._wake()

        self._changes = changes
        changes.on(OWED, heard)

    def add(self, stored: Sequence[StoredUplink]) -> None:
        """A pipeline sink: this instance stored messages (the trigger queued them)."""
        if stored:
            self._wakeup.set()

    async def owe_some(self) -> int:
        """Claim queued messages and owe their deliveries; how many messages were claimed."""
        owed = await self._queue.owe(self._batch, self._clock(), BATCH_EVERY_MS)
        if owed.deliveries:
            self._wake()
            if self._changes is not None:
                self._changes.changed(OWED)
        return owed.messages

    async def run(self) -> None:
        """Owe the queued messages until ``close``."""
        while not self._closing:
            try:
                claimed = await self.owe_some()
            except LorafoxError as exc:
                log.error("callbacks: cannot read the queue of stored messages: %s", exc)
                claimed = 0
            if claimed >= self._batch:
                continue
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_interval):
                    await self._wakeup.wait()
                    await asyncio.sleep(_COALESCE_S)

    def close(self) -> None:
        """Stop after the current claim; what is queued stays for the other instances."""
        self._closing = True
        self._wakeup.set()
