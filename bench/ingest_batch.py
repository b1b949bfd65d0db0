"""Ingest batch benchmark: what one SQLite batch costs the event loop and the process.

Stores batches of unique uplinks (half of them with decoded fields, a tenth BIDIR asking for a
downlink) through ``SqlStore.messages.ingest`` on a temporary SQLite file with the fast path,
one batch at a time, as the uplink pipeline does under load. Prints, per batch size: uplinks/s,
the event loop thread's CPU per uplink (``time.thread_time`` of that thread: the share the HTTP
and MQTT work can no longer use) and the whole process's CPU per uplink (the loop plus the
writer's thread). CPU times are much steadier than rates on a shared machine; to compare two
versions of the store, run this script on each, alternately, a few times:

    PYTHONPATH=src .venv/bin/python bench/ingest_batch.py            # this tree
    PYTHONPATH=../other/src .venv/bin/python bench/ingest_batch.py   # another one
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from lorafox.domain import Uplink
from lorafox.ports.store import DownlinkAsk
from lorafox.settings import Settings
from lorafox.store.sql.store import SqlStore

T0 = 1_700_000_000_000


def batches(size: int, count: int, start: int) -> list[list[tuple[Uplink, DownlinkAsk]]]:
    out = []
    for b in range(count):
        batch: list[tuple[Uplink, DownlinkAsk]] = []
        for i in range(size):
            n = start + b * size + i
            uplink = Uplink(
                device=f"{0x10000000 + n % 10_000:X}",
                time=T0 + n,
                seq_number=n % 4096,
                data="0102030405060708",
                snr=12.5,
                rssi=-110.0,
                avg_snr=20.1,
                station="1D2C",
                device_type_id="bench",
                extra={"lqi": "Good"} if n % 2 else {},
                decoded={"temperature": 21.5} if n % 2 else None,
            )
            batch.append((uplink, n % 10 == 0))
        out.append(batch)
    return out


async def measure(store: SqlStore, size: int, count: int, start: int) -> tuple[float, ...]:
    work = batches(size, count, start)
    wall, loop_cpu, cpu = time.perf_counter(), time.thread_time(), time.process_time()
    for batch in work:
        await store.messages.ingest(batch)
    n = size * count
    wall = time.perf_counter() - wall
    loop_cpu = time.thread_time() - loop_cpu
    cpu = time.process_time() - cpu
    return n / wall, loop_cpu / n * 1e6, cpu / n * 1e6


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uplinks", type=int, default=40_000, help="per batch size (40,000)")
    parser.add_argument("--sizes", default="64,500,2000", help="batch sizes (64,500,2000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        store = await SqlStore.open(Settings.load(None, data_dir=Path(tmp)).sqlalchemy_url)
        try:
            await measure(store, 100, 20, 0)  # warm up: statements prepared, pages cached
            start = 10_000
            head = f"{'batch':>6} {'uplinks/s':>10} {'loop CPU µs/uplink':>19}"
            print(f"{head} {'CPU µs/uplink':>14}")
            for size in (int(s) for s in args.sizes.split(",")):
                count = max(1, args.uplinks // size)
                rate, loop_us, cpu_us = await measure(store, size, count, start)
                start += size * count
                print(f"{size:>6} {rate:>10,.0f} {loop_us:>19.1f} {cpu_us:>14.1f}")
        finally:
            await store.close()


if __name__ == "__main__":
    asyncio.run(main())
