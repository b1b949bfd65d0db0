"""The SQLite fast path's message batches (statements on the event loop, ``COMMIT`` in the
writer's thread): a batch that fails fails every one of its callers and leaves nothing of
itself behind, and a caller that goes away does not undo what its batch committed."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from lorafox.domain import DownlinkState, Uplink
from lorafox.errors import StoreError
from lorafox.settings import Settings
from lorafox.store.sql.store import SqlStore
from lorafox.uplink.pipeline import UplinkPipeline

TIME = 1_700_000_000_000


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    opened = await SqlStore.open(Settings.load(None, data_dir=tmp_path).sqlalchemy_url)
    assert opened.database.fast_writer is not None
    yield opened
    await opened.close()


def _database_file(tmp_path: Path) -> sqlite3.Connection:
    (path,) = tmp_path.glob("*.db")
    return sqlite3.connect(path, isolation_level=None)


def _uplink(device: str, seq: int) -> Uplink:
    return Uplink(device=device, time=TIME + seq, seq_number=seq, data="0102", device_type_id="t1")


async def test_a_failing_batch_fails_each_caller_and_stores_nothing(
    store: SqlStore, tmp_path: Path
) -> None:
    queued = await store.downlinks.enqueue_downlink("1A2B", "0000000000000001", source="api")
    raw = _database_file(tmp_path)
    raw.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON messages WHEN NEW.device = 'BAD'"
        " BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )
    pipeline = UplinkPipeline(store.messages)
    runner = asyncio.create_task(pipeline.run())
    try:
        results = await asyncio.gather(
            pipeline.submit(_uplink("1A2B", 1), downlink=True),
            pipeline.submit(_uplink("3C4D", 2)),
            pipeline.submit(_uplink("BAD", 3)),
            pipeline.submit_many([(_uplink("5E6F", 4), None)]),
            return_exceptions=True,
        )
        assert [type(r) for r in results[:3]] == [StoreError] * 3
        assert [type(r) for r in results[3]] == [StoreError]  # type: ignore[union-attr]
        # nothing of the batch: no message, no hourly figure, the downlink still queued
        assert raw.execute("SELECT count(*) FROM messages").fetchone() == (0,)
        assert raw.execute("SELECT count(*) FROM type_hourly").fetchone() == (0,)
        (left,) = await store.downlinks.list_downlinks("1A2B")
        assert left.id == queued.id and left.state is DownlinkState.QUEUED

        # the writer goes on with the next batch
        raw.execute("DROP TRIGGER refuse")
        taken = await pipeline.submit(_uplink("1A2B", 1), downlink=True)
        assert taken.stored is not None
        assert taken.downlink is not None and taken.downlink.id == queued.id
        assert raw.execute("SELECT count(*) FROM messages").fetchone() == (1,)
    finally:
        pipeline.close()
        await runner
        raw.close()


async def test_a_cancelled_caller_does_not_undo_its_committed_batch(store: SqlStore) -> None:
    write = asyncio.create_task(store.messages.ingest([(_uplink("1A2B", 1), False)]))
    await asyncio.sleep(0)  # its statements ran; its COMMIT is in the writer's thread
    write.cancel()
    with pytest.raises(asyncio.CancelledError):
        await write
    (after,) = await store.messages.ingest([(_uplink("1A2B", 2), False)])
    assert after.stored is not None
    listed = await store.messages.list_messages("1A2B", limit=10)
    assert sorted(s.uplink.seq_number for s in listed) == [1, 2]
