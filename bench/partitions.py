"""Partitions benchmark: a device's message listing as PostgreSQL's history grows.

Makes a fresh database (lorafox's own schema and monthly partitions), gives it the partitions of
the last ``--months`` months, then fills ``messages`` with SQL (``generate_series``: devices in
turn, times spread evenly over those months, the oldest written first) in steps up to each
``--rows`` figure. After each
step (and ``ANALYZE``) it times lorafox's own listing — ``MessageRepository.list_messages``, a
page of 100, newest first, as ``GET /api/v2/devices/{id}/messages`` reads it — for random
devices, with no time bounds and with a one-day window, and prints p50 / p99 and each as a ratio
of the first step's (the baseline: the goal is a flat curve).

    .venv/bin/python bench/partitions.py                         # 100k, 10M rows
    .venv/bin/python bench/partitions.py --rows 100000 10000000 100000000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from lorafox.store.sql.partitions import Month, ensure_months, month_of
from lorafox.store.sql.store import SqlStore

DAY_MS = 86_400_000
NOW = int(time.time() * 1000)

_FILL = """
INSERT INTO messages (device, time, seq_number, data, ack, long_polling, snr, rssi, station,
                      device_type_id, duplicate, received_at)
SELECT upper(lpad(to_hex(1048576 + n % $3), 8, '0')),
       $4::bigint - ((($6::bigint - 1 - n) * $5::bigint) / $6::bigint),
       (n / $3) % 4096, '0102030405060708090a0b0c', false, false, 12.5, -110.0, '1A2B',
       '5f0f0f0f0f0f0f0f0f0f0f0f', false, $4::bigint
FROM generate_series($1::bigint, $2::bigint - 1) AS n
ON CONFLICT DO NOTHING
"""


async def _fill(
    pg: asyncpg.Connection, start: int, end: int, total: int, devices: int, span: int
) -> float:
    """Rows ``start`` to ``end`` of ``total``: the oldest first, the last one at ``NOW``."""
    began = time.perf_counter()
    step = 1_000_000
    for low in range(start, end, step):
        await pg.execute(_FILL, low, min(end, low + step), devices, NOW, span, total)
    await pg.execute("ANALYZE messages")
    return time.perf_counter() - began


async def _time_listing(
    store: SqlStore, devices: int, calls: int, window: bool
) -> tuple[float, float]:
    rng = random.Random(7)
    took: list[float] = []
    for _ in range(calls):
        device = f"{1048576 + rng.randrange(devices):08X}"
        since = before = None
        if window:
            before = NOW - rng.randrange(30) * DAY_MS
            since = before - DAY_MS
        began = time.perf_counter()
        await store.messages.list_messages(device, limit=100, since=since, before=before)
        took.append(time.perf_counter() - began)
    took.sort()
    return took[len(took) // 2] * 1000, took[int(len(took) * 0.99)] * 1000


async def main(args: argparse.Namespace) -> None:
    admin = await asyncpg.connect(args.admin_url)
    await admin.execute(f"DROP DATABASE IF EXISTS {args.database}")
    await admin.execute(f"CREATE DATABASE {args.database}")
    await admin.close()
    base = args.admin_url.rsplit("/", 1)[0]
    url = f"{base}/{args.database}"
    store = await SqlStore.open(url.replace("postgresql://", "postgresql+asyncpg://"))
    pg = await asyncpg.connect(url)
    try:
        await pg.execute("ALTER TABLE messages DISABLE TRIGGER USER")  # no publisher here
        current = month_of(NOW)
        months: list[Month] = [current.plus(-n) for n in range(args.months)]
        async with store.database.writing() as conn:
            await ensure_months(conn, months)
        span = args.months * 30 * DAY_MS
        count = int(
            await pg.fetchval(
                "SELECT count(*) FROM pg_inherits WHERE inhparent = 'messages'::regclass"
            )
        )
        print(
            f"PostgreSQL {await pg.fetchval('SHOW server_version')}: {count} partitions of "
            f"messages, {args.devices:,} devices, times over the last {args.months} months"
        )
        print(
            f"{'rows':>13} {'fill s':>8} {'size':>9} | {'p50 ms':>7} {'p99 ms':>7} {'p99/base':>8}"
            f" | window: {'p50 ms':>7} {'p99 ms':>7} {'p99/base':>8}"
        )
        done = 0
        base_p99: tuple[float, float] | None = None
        for rows in sorted(args.rows):
            filled = await _fill(pg, done, rows, max(args.rows), args.devices, span)
            done = rows
            size = await pg.fetchval(
                "SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid))) FROM pg_inherits"
                " WHERE inhparent = 'messages'::regclass"
            )
            await _time_listing(store, args.devices, 50, window=False)  # warm the caches
            p50, p99 = await _time_listing(store, args.devices, args.calls, window=False)
            w50, w99 = await _time_listing(store, args.devices, args.calls, window=True)
            if base_p99 is None:
                base_p99 = (p99, w99)
            print(
                f"{rows:>13,} {filled:>8.1f} {size:>9} | {p50:>7.2f} {p99:>7.2f}"
                f" {p99 / base_p99[0]:>8.2f} | window: {w50:>7.2f} {w99:>7.2f}"
                f" {w99 / base_p99[1]:>8.2f}",
                flush=True,
            )
    finally:
        await pg.close()
        await store.close()
        if not args.keep:
            admin = await asyncpg.connect(args.admin_url)
            await admin.execute(f"DROP DATABASE IF EXISTS {args.database}")
            await admin.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[100_000, 10_000_000])
    parser.add_argument("--devices", type=int, default=100_000, help="devices (100,000)")
    parser.add_argument("--months", type=int, default=24, help="months of history (24)")
    parser.add_argument("--calls", type=int, default=1000, help="listings timed per step")
    parser.add_argument(
        "--admin-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL database to create the benchmark's database from",
    )
    parser.add_argument("--database", default="lorafox_partitions_bench")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
