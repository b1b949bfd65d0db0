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

``--history N`` first stores N older messages of the same devices (``--devices``, 10,000)
with raw INSERTs: a device's history then fills index pages of its own. The table also gives
the bytes written per uplink (WAL frames and checkpoints): what grows with history is the pages
each commit writes.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import tempfile
import time
from pathlib import Path

from lorafox.domain import Uplink
from lorafox.ports.store import DownlinkAsk
from lorafox.settings import Settings
from lorafox.store.sql.sqlite_writer import _INSERT
from lorafox.store.sql.store import SqlStore

T0 = 1_700_000_000_000
FILL_BATCH = 100_000


def device_id(n: int, devices: int) -> str:
    return f"{0x10000000 + n % devices:X}"


def fill_history(db_path: Path, messages: int, devices: int) -> None:
    """``messages`` older messages, ten minutes apart per device, before the measured ones."""
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA synchronous=OFF")  # filling only
    for start in range(0, messages, FILL_BATCH):
        with db:
            db.executemany(
                _INSERT,
                (
                    (
                        device_id(n, devices),
                        T0 - 600_000 * (1 + n // devices),
                        (n // devices) % 4096,
                        "0102030405060708",
                        0,
                        0,
                        12.0,
                        -110.0,
                        20.0,
                        "1D2C",
                        None,
                        None,
                        "bench",
                        0,
                        None,
                        T0,
                        None,
                        None,
                    )
                    for n in range(start, min(messages, start + FILL_BATCH))
                ),
            )
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def batches(
    size: int, count: int, start: int, devices: int
) -> list[list[tuple[Uplink, DownlinkAsk]]]:
    out = []
    for b in range(count):
        batch: list[tuple[Uplink, DownlinkAsk]] = []
        for i in range(size):
            n = start + b * size + i
            uplink = Uplink(
                device=device_id(n, devices),
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


def written_bytes() -> int:
    """What this process has handed to ``write`` so far (Linux's ``/proc/self/io``): the WAL's
    frames and the checkpoints' pages."""
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("wchar:"):
            return int(line.split()[1])
    return 0


async def measure(
    store: SqlStore, size: int, count: int, start: int, devices: int
) -> tuple[float, ...]:
    """uplinks/s, the loop's and the process's CPU µs and the bytes written per uplink."""
    work = batches(size, count, start, devices)
    written = written_bytes()
    wall, loop_cpu, cpu = time.perf_counter(), time.thread_time(), time.process_time()
    for batch in work:
        await store.messages.ingest(batch)
    n = size * count
    wall = time.perf_counter() - wall
    loop_cpu = time.thread_time() - loop_cpu
    cpu = time.process_time() - cpu
    written = written_bytes() - written
    return n / wall, loop_cpu / n * 1e6, cpu / n * 1e6, written / n


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uplinks", type=int, default=40_000, help="per batch size (40,000)")
    parser.add_argument("--sizes", default="64,500,2000", help="batch sizes (64,500,2000)")
    parser.add_argument("--history", type=int, default=0, help="older messages stored first (0)")
    parser.add_argument("--devices", type=int, default=10_000, help="the devices (10,000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.load(None, data_dir=Path(tmp))
        store = await SqlStore.open(settings.sqlalchemy_url)
        db_path = Path(tmp) / "lorafox.db"
        if args.history:
            t = time.perf_counter()
            fill_history(db_path, args.history, args.devices)
            print(f"history: {args.history:,} messages in {time.perf_counter() - t:.0f} s")
        try:
            await measure(
                store, 100, 20, 0, args.devices
            )  # warm up: statements prepared, pages cached
            start = 10_000
            head = f"{'batch':>6} {'uplinks/s':>10} {'loop CPU µs/uplink':>19}"
            print(f"{head} {'CPU µs/uplink':>14} {'KB written/uplink':>14}")
            for size in (int(s) for s in args.sizes.split(",")):
                count = max(1, args.uplinks // size)
                rate, loop_us, cpu_us, wal_per = await measure(
                    store, size, count, start, args.devices
                )
                start += size * count
                line = f"{size:>6} {rate:>10,.0f} {loop_us:>19.1f}"
                print(f"{line} {cpu_us:>14.1f} {wal_per / 1024:>17.2f}")
        finally:
            await store.close()


if __name__ == "__main__":
    asyncio.run(main())
