"""The outbox: every stored uplink reaches the broker, at least once.

Uplinks are stored before anything else happens to them. The publisher then hands them to the
bus in id order and records, in the store, the id of the last one handed over (``published``
cursor). While the broker is unreachable it waits; what arrives meanwhile stays in memory up to
``max_memory`` messages and beyond that is read back from the store, so neither a long outage
nor a restart loses a publish.

Instances sharing a PostgreSQL database use ``SharedOutbox`` instead: a trigger queues every
stored message (``publish_queue``) and any instance connected to the broker publishes the
queue, one batch at a time among them (``PublishQueue.claim``), its rows removed in the claim's
transaction once the broker took them. An instance that dies rolls its claim back; another
publishes those rows again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Sequence

from lorafox.domain import StoredUplink
from lorafox.errors import LorafoxError
from lorafox.ports.bus import Bus
from lorafox.ports.cluster import Claimed, PublishQueue
from lorafox.ports.store import MessageStore

__all__ = ["Outbox", "SharedOutbox"]

log = logging.getLogger(__name__)

CURSOR = "published"


class Outbox:
    """Publishes stored uplinks on the bus; ``render`` gives (topic, payload) for one."""

    def __init__(
        self,
        store: MessageStore,
        bus: Bus,
        render: Callable[[StoredUplink], tuple[str, bytes]],
        *,
        qos: int = 1,
        max_memory: int = 100_000,
        cursor_interval: float = 1.0,
    ) -> None:
        self._store = store
        self._bus = bus
        self._render = render
        self._qos = qos
        self._max_memory = max_memory
        self._cursor_interval = cursor_interval
        self._queue: deque[StoredUplink] = deque()
        self._from_store = False  # the backlog is in the store, not (all) in memory
        self._left_to_store = 0  # batches ``add`` left to the store reader
        self._published = 0  # highest id handed to the broker
        self._saved = 0  # highest id recorded in the store
        self._wakeup = asyncio.Event()
        self._drained = asyncio.Event()
        self._closing = False

    @property
    def backlog(self) -> int:
        """Messages waiting in memory for the broker."""
        return len(self._queue)

    async def start(self) -> None:
        """Read the cursor; anything stored after it (a previous run's backlog) is replayed."""
        cursor = await self._store.get_cursor(CURSOR)
        if cursor is None:  # first run: nothing to replay
            cursor = await self._store.last_message_id()
            await self._store.set_cursor(CURSOR, cursor)
        self._published = self._saved = cursor
        self._from_store = cursor < await self._store.last_message_id()
        if self._from_store:
            log.info("replaying stored messages above id %d to the broker", cursor)

    def add(self, stored: Sequence[StoredUplink]) -> None:
        """Queue newly stored uplinks (called right after their commit)."""
        if self._from_store:
            self._left_to_store += 1  # the reader will find them in the store
            return
        if len(self._queue) + len(stored) > self._max_memory:
            log.warning(
                "broker backlog over %d messages: reading it back from the store", self._max_memory
            )
            self._queue.clear()
            self._from_store = True
        else:
            self._queue.extend(stored)
        self._wakeup.set()

    async def run(self) -> None:
        """Publish until ``close``; saves the cursor regularly and on the way out."""
        saver = asyncio.create_task(self._save_cursor_regularly())
        try:
            while not self._closing:
                if self._from_store:
                    await self._replay_from_store()
                elif self._queue:
                    await self._publish_queue()
                else:
                    self._wakeup.clear()
                    await self._wakeup.wait()
        finally:
            saver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await saver
            await self._save_cursor()

    async def _publish(self, batch: Sequence[StoredUplink]) -> bool:
        """Hand ``batch`` over in order; False (and nothing lost) when the broker went away."""
        if self._bus.max_in_flight <= 1:
            for stored in batch:
                try:
                    await self._bus.publish(*self._render(stored), qos=self._qos)
                except LorafoxError:
                    return False
                self._published = stored.id
            return True
        for start in range(0, len(batch), self._bus.max_in_flight):
            window = batch[start : start + self._bus.max_in_flight]
            results = await asyncio.gather(
                *(self._bus.publish(*self._render(s), qos=self._qos) for s in window),
                return_exceptions=True,
            )
            for stored, result in zip(window, results, strict=True):
                if isinstance(result, BaseException):
                    if not isinstance(result, LorafoxError):
                        log.error("publishing message %d failed: %r", stored.id, result)
                    return False
                self._published = max(self._published, stored.id)
        return True

    async def _wait_for_bus(self) -> None:
        if not self._bus.connected:
            log.info("waiting for the MQTT broker; %d messages held", len(self._queue))
            await self._bus.wait_connected()

    async def _publish_queue(self) -> None:
        batch = [self._queue.popleft() for _ in range(min(len(self._queue), 1000))]
        ok = self._bus.connected and await self._publish(batch)
        if ok and not self._queue:
            self._drained.set()
        if not ok:
            # put back what the broker did not take, then wait for it
            self._queue.extendleft(reversed([s for s in batch if s.id > self._published]))
            await self._wait_for_bus()

    async def _replay_from_store(self) -> None:
        await self._wait_for_bus()
        left = self._left_to_store
        try:
            batch = await self._store.messages_after(self._published, limit=1000)
        except LorafoxError as exc:
            log.error("cannot read the backlog: %s", exc)
            await asyncio.sleep(1)
            return
        if not batch:
            # caught up, unless messages stored while it read were left to it: read again
            if left == self._left_to_store:
                self._from_store = False
            return
        await self._publish(batch)

    async def _save_cursor(self) -> None:
        if self._published > self._saved:
            value = self._published
            try:
                await self._store.set_cursor(CURSOR, value)
            except LorafoxError as exc:
                log.warning("cannot save the publish cursor: %s", exc)
                return
            self._saved = value

    async def _save_cursor_regularly(self) -> None:
        while True:
            await asyncio.sleep(self._cursor_interval)
            await self._save_cursor()

    def close(self) -> None:
        """Stop after the current batch; unpublished messages are replayed at next start."""
        self._closing = True
        self._wakeup.set()

    async def drain(self, seconds: float) -> None:
        """Wait up to ``seconds`` for the in-memory backlog to reach the broker."""
        if not self._queue or not self._bus.connected:
            return
        self._drained.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._drained.wait()


class SharedOutbox:
    """Publishes the database's queue of stored messages on the bus, in turn with the other
    instances."""

    def __init__(
        self,
        queue: PublishQueue,
        bus: Bus,
        render: Callable[[StoredUplink], tuple[str, bytes]],
        *,
        qos: int = 1,
        batch: int = 500,
        poll_interval: float = 0.2,
    ) -> None:
        self._queue = queue
        self._bus = bus
        self._render = render
        self._qos = qos
        self._batch = batch
        self._poll_interval = poll_interval
        self._wakeup = asyncio.Event()
        self._closing = False

    @property
    def backlog(self) -> int:
        """Messages waiting in memory: none, the queue is in the database."""
        return 0

    async def start(self) -> None:
        """Nothing to read: the queue is the database's."""

    def add(self, stored: Sequence[StoredUplink]) -> None:
        """This instance stored messages (the trigger queued them): look at the queue now."""
        self._wakeup.set()

    async def run(self) -> None:
        """Publish the queue until ``close`` while the broker is connected."""
        while not self._closing:
            published = 0
            if self._bus.connected:
                try:
                    published = await self._publish_some()
                except LorafoxError as exc:
                    log.error("cannot read the queue of messages to publish: %s", exc)
            if published:
                continue
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_interval):
                    await self._wakeup.wait()

    async def _publish_some(self) -> int:
        async with self._queue.claim(self._batch) as claimed:
            await self._publish(claimed)
        return len(claimed.published)

    async def _publish(self, claimed: Claimed) -> None:
        """Hand the claim's messages over in order, up to the first the broker did not take."""
        step = max(1, self._bus.max_in_flight)
        for start in range(0, len(claimed.messages), step):
            window = claimed.messages[start : start + step]
            results = await asyncio.gather(
                *(self._bus.publish(*self._render(s), qos=self._qos) for s in window),
                return_exceptions=True,
            )
            for stored, result in zip(window, results, strict=True):
                if isinstance(result, BaseException):
                    if not isinstance(result, LorafoxError):
                        log.error("publishing message %d failed: %r", stored.id, result)
                    return
                claimed.published.append(stored.id)

    def close(self) -> None:
        """Stop after the current claim; what is left stays queued for the other instances."""
        self._closing = True
        self._wakeup.set()

    async def drain(self, seconds: float) -> None:
        """Nothing held in memory: the queue outlives the instance."""
