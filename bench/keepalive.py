"""Keep-alive benchmark: checking 100,000 devices against their device type's keepAlive.

Fills a SQLite store with 100,000 devices (one device type, keepAlive 30 minutes) and 10
messages each (1M rows), then times, in one run:

- loading the monitor at start: one query for every device's latest message, plus the alerts;
- a check where no device is silent (the in-memory scan that runs every minute);
- a check where 10 % of the devices fell silent (their events and alerts stored in one
  transaction);
- the baseline: one query per device for its latest message (what the check avoids).

    .venv/bin/python bench/keepalive.py             # 100,000 devices
    .venv/bin/python bench/keepalive.py --devices 20000
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lorafox.devices.registry import DeviceRegistry
from lorafox.domain import DeviceType, DownlinkMode, PayloadType
from lorafox.events.keepalive import ActivityMonitor
from lorafox.events.log import EventLog
from lorafox.settings import Settings
from lorafox.store.sql.sqlite_writer import _INSERT
from lorafox.store.sql.store import SqlStore

T0 = 1_700_000_000_000
MESSAGES_PER_DEVICE = 10
KEEP_ALIVE_S = 1800
SPREAD_MS = 3_600_000  # the devices' last messages are spread over an hour


def last_time(i: int, devices: int) -> int:
    return T0 + SPREAD_MS * i // devices


def fill(path: Path, devices: int) -> None:
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")  # filling only
    with db:
        db.executemany(
            "INSERT INTO devices (id, name, device_type_id, pac, activable, automatic_renewal,"
            " provisioned, created_at) VALUES (?, ?, 'bench', '0011223344556677', 1, 0, 0, ?)",
            ((f"{0x10000000 + i:X}", f"d{i}", T0) for i in range(devices)),
        )
        for k in range(MESSAGES_PER_DEVICE):
            back = (MESSAGES_PER_DEVICE - 1 - k) * 600_000
            db.executemany(
                _INSERT,
                (
                    (
                        f"{0x10000000 + i:X}",
                        last_time(i, devices) - back,
                        k,
                        "0102",
                        False,
                        False,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        None,
                        False,
                        None,
                        T0,
                        None,
                        None,
                    )
                    for i in range(devices)
                ),
            )
    db.close()


def per_device_queries(path: Path, devices: int) -> float:
    """The baseline: the latest message of each device, one query each."""
    db = sqlite3.connect(path)
    began = time.perf_counter()
    for i in range(devices):
        db.execute(
            "SELECT time, seq_number FROM messages WHERE device = ?"
            " ORDER BY time DESC, seq_number DESC LIMIT 1",
            (f"{0x10000000 + i:X}",),
        ).fetchone()
    took = time.perf_counter() - began
    db.close()
    return took


async def main(devices: int) -> None:
    with tempfile.TemporaryDirectory(prefix="lorafox-keepalive-") as tmp:
        settings = Settings.load(None, data_dir=Path(tmp))
        store = await SqlStore.open(settings.sqlalchemy_url)
        root = await store.identity.root_group()
        await store.devices.create_device_type(
            DeviceType(
                "bench",
                "bench",
                "",
                root.id,
                KEEP_ALIVE_S,
                None,
                DownlinkMode.CALLBACK,
                None,
                PayloadType.REGULAR,
                None,
                False,
                0,
                T0,
            )
        )
        path = Path(tmp) / "lorafox.db"
        began = time.perf_counter()
        fill(path, devices)
        print(f"filled {devices:,} devices, {devices * MESSAGES_PER_DEVICE:,} messages "
              f"in {time.perf_counter() - began:.1f} s")  # fmt: skip

        registry = await DeviceRegistry.load(store.devices)
        monitor = ActivityMonitor(
            store.events, registry, EventLog(store.events, None, "sigfox/events/{device}")
        )
        began = time.perf_counter()
        await monitor.load()
        load_s = time.perf_counter() - began

        quiet_now = T0 + KEEP_ALIVE_S * 1000  # nobody silent yet
        began = time.perf_counter()
        assert await monitor.check(quiet_now) == []
        quiet_s = time.perf_counter() - began

        some_now = quiet_now + SPREAD_MS // 10  # the first tenth fell silent
        began = time.perf_counter()
        raised = await monitor.check(some_now)
        raised_s = time.perf_counter() - began
        began = time.perf_counter()
        assert await monitor.check(some_now) == []  # reported once
        again_s = time.perf_counter() - began
        await store.close()

        baseline_s = per_device_queries(path, devices)

    print()
    print(f"keep-alive check, {devices:,} devices (SQLite)")
    print(f"  start: one query for every device's latest message   {1000 * load_s:9.1f} ms")
    print(f"  check, nobody silent (in-memory scan)                 {1000 * quiet_s:9.1f} ms")
    print(
        f"  check, {len(raised):,} fell silent (events + alerts stored)   {1000 * raised_s:9.1f} ms"
    )
    print(f"  check again, all already reported                     {1000 * again_s:9.1f} ms")
    print(f"  baseline: one query per device                        {1000 * baseline_s:9.1f} ms")
    print(f"  baseline / start-up query                             {baseline_s / load_s:9.1f} x")
    print(f"  baseline / in-memory check                            {baseline_s / quiet_s:9.1f} x")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, default=100_000)
    asyncio.run(main(parser.parse_args().devices))
