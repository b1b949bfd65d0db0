"""The outbox: order, at-least-once, memory bound, replay after restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from lorafox.bus.outbox import CURSOR, Outbox
from lorafox.domain import StoredUplink, Uplink
from lorafox.errors import BusUnavailable
from lorafox.ports.bus import PublishProperties
from lorafox.store.sql.store import SqlStore
from tests.conftest import store_url


class FlakyBus:
    """A bus that can go away; remembers every publish it accepted."""

    def __init__(self, max_in_flight: int = 1) -> None:
        self.max_in_flight = max_in_flight
        self.accepted: list[str] = []
        self._up = asyncio.Event()
        self._up.set()

    @property
    def connected(self) -> bool:
        return self._up.is_set()

    def down(self) -> None:
        self._up.clear()

    def up(self) -> None:
        self._up.set()

    async def wait_connected(self) -> None:
        await self._up.wait()

    async def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        properties: PublishProperties | None = None,
    ) -> None:
        if not self._up.is_set():
            raise BusUnavailable("down")
        self.accepted.append(topic)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    opened = await SqlStore.open(store_url(tmp_path))
    yield opened
    await opened.close()


def render(stored: StoredUplink) -> tuple[str, bytes]:
    return f"up/{stored.uplink.seq_number}", b"{}"


async def add(store: SqlStore, outbox: Outbox | None, seqs: range) -> None:
    results = await store.messages.ingest([(Uplink("AB", 1000 * s, s, ""), False) for s in seqs])
    if outbox is not None:
        outbox.add([r.stored for r in results if r.stored is not None])


async def wait_for(predicate: Callable[[], bool], seconds: float = 5) -> None:
    async with asyncio.timeout(seconds):
        while not predicate():  # noqa: ASYNC110 (polling what the outbox does)
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("in_flight", [1, 4])
async def test_in_order_and_nothing_lost_across_an_outage(store: SqlStore, in_flight: int) -> None:
    bus = FlakyBus(in_flight)
    outbox = Outbox(store.messages, bus, render, cursor_interval=0.05)  # type: ignore[arg-type]
    await outbox.start()
    task = asyncio.create_task(outbox.run())
    await add(store, outbox, range(1, 4))
    await wait_for(lambda: len(bus.accepted) == 3)
    bus.down()
    await add(store, outbox, range(4, 8))
    await asyncio.sleep(0.05)
    assert len(bus.accepted) == 3 and outbox.backlog == 4
    bus.up()
    await wait_for(lambda: len(bus.accepted) == 7)
    assert bus.accepted == [f"up/{i}" for i in range(1, 8)]
    await wait_for(lambda: outbox.backlog == 0)
    outbox.close()
    await task
    assert await store.messages.get_cursor(CURSOR) == await store.messages.last_message_id()


async def test_overflow_goes_back_to_the_store_and_restart_replays(store: SqlStore) -> None:
    bus = FlakyBus()
    bus.down()
    outbox = Outbox(store.messages, bus, render, max_memory=5)  # type: ignore[arg-type]
    await outbox.start()
    task = asyncio.create_task(outbox.run())
    await add(store, outbox, range(1, 11))  # 10 > max_memory: read back from the store
    assert outbox.backlog == 0
    outbox.close()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)

    # a new process: the cursor says nothing was published; the store has it all
    bus.up()
    restarted = Outbox(store.messages, bus, render)  # type: ignore[arg-type]
    await restarted.start()
    task = asyncio.create_task(restarted.run())
    await add(store, restarted, range(11, 13))
    await wait_for(lambda: len(bus.accepted) == 12)
    assert bus.accepted == [f"up/{i}" for i in range(1, 13)]
    restarted.close()
    await task


class SlowEmptyReads:
    """The message store, but the first read of the backlog that finds nothing answers only
    once ``release`` is set: messages can be stored while it reads."""

    def __init__(self, messages: Any) -> None:
        self._messages = messages
        self.found_nothing = asyncio.Event()
        self.release = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._messages, name)

    async def messages_after(self, message_id: int, *, limit: int) -> list[StoredUplink]:
        found: list[StoredUplink] = await self._messages.messages_after(message_id, limit=limit)
        if not found and not self.release.is_set():
            self.found_nothing.set()
            await self.release.wait()
        return found


async def test_messages_stored_while_the_backlog_reader_catches_up_are_published(
    store: SqlStore,
) -> None:
    bus = FlakyBus()
    reads = SlowEmptyReads(store.messages)
    outbox = Outbox(reads, bus, render, max_memory=2)  # type: ignore[arg-type]
    await outbox.start()
    task = asyncio.create_task(outbox.run())
    await add(store, outbox, range(1, 4))  # over max_memory: read back from the store
    await asyncio.wait_for(reads.found_nothing.wait(), 5)  # 1-3 published, the reader caught up
    await add(store, outbox, range(4, 6))  # stored after its read, left to it all the same
    reads.release.set()
    await wait_for(lambda: len(bus.accepted) == 5)
    assert bus.accepted == [f"up/{i}" for i in range(1, 6)]
    outbox.close()
    await task


async def test_first_start_does_not_replay_history(store: SqlStore) -> None:
    await add(store, None, range(1, 4))
    bus = FlakyBus()
    outbox = Outbox(store.messages, bus, render)  # type: ignore[arg-type]
    await outbox.start()
    task = asyncio.create_task(outbox.run())
    await asyncio.sleep(0.05)
    assert bus.accepted == []
    outbox.close()
    await task
