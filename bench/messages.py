"""Message history benchmark: "the last 100 messages of one device" as the store grows.

Fills a SQLite store (with the INSERT the SQLite writer uses, in large transactions) and a
PostgreSQL scratch database (COPY) with messages spread over 10,000 devices, and at each size
times ``SqlStore.list_messages(device, limit=100)`` for random devices (p50/p99), then once, at
the largest SQLite size, ``GET /api/v2/devices/{id}/messages`` through a running lorafox. Prints
the figures and the ratios between sizes (goal: p99 <= 10 ms, flat from 10k to 10M rows).

    .venv/bin/python bench/messages.py            # 10k, 1M, 10M (SQLite); 10k, 1M (PostgreSQL)
    .venv/bin/python bench/messages.py --quick    # 10k, 100k on both

PostgreSQL: 127.0.0.1:5432, trust auth; a scratch database is created and dropped. See
bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import http.client
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lorafox.store.sql.sqlite_writer import _INSERT
from lorafox.store.sql.store import SqlStore

DEVICES = 10_000
T0 = 1_700_000_000_000  # epoch ms of the first message
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"
COLUMNS = [
    "device",
    "time",
    "seq_number",
    "data",
    "ack",
    "long_polling",
    "snr",
    "rssi",
    "avg_snr",
    "station",
    "lat",
    "lng",
    "device_type_id",
    "duplicate",
    "extra",
    "received_at",
    "decoded",
    "decode_error",
]


def device_of(n: int) -> str:
    return f"{0x10000000 + n % DEVICES:X}"


def rows(start: int, stop: int) -> Iterator[tuple[Any, ...]]:
    """Message n: device n % 10,000, one message per device every minute."""
    for n in range(start, stop):
        round_ = n // DEVICES
        when = T0 + round_ * 60_000 + n % DEVICES
        yield (
            device_of(n), when, round_ % 4096, "0102030405060708", False, False,
            12.5, -120.0, 15.0, "1A2B", None, None, None, False, None, when + 500, None, None,
        )  # fmt: skip


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


async def create_schema(url: str) -> None:
    await (await SqlStore.open(url)).close()


def fill_sqlite(path: Path, start: int, stop: int, chunk: int = 500_000) -> float:
    began = time.perf_counter()
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=OFF")  # filling only; lorafox itself runs synchronous=FULL
    for lo in range(start, stop, chunk):
        with db:
            db.executemany(_INSERT, rows(lo, min(stop, lo + chunk)))
    db.close()
    return time.perf_counter() - began


async def fill_postgres(url: str, start: int, stop: int, chunk: int = 500_000) -> float:
    import asyncpg

    began = time.perf_counter()
    conn = await asyncpg.connect(url)
    try:
        for lo in range(start, stop, chunk):
            records = list(rows(lo, min(stop, lo + chunk)))
            await conn.copy_records_to_table("messages", records=records, columns=COLUMNS)
        await conn.execute("ANALYZE messages")  # what autovacuum does after such a load
    finally:
        await conn.close()
    return time.perf_counter() - began


async def time_store(url: str, queries: int) -> tuple[float, float]:
    store = await SqlStore.open(url)
    try:
        rng = random.Random(42)
        timings: list[float] = []
        for i in range(queries + 100):
            device = device_of(rng.randrange(DEVICES))
            began = time.perf_counter()
            found = await store.messages.list_messages(device, limit=100)
            elapsed = (time.perf_counter() - began) * 1000
            assert found, device
            if i >= 100:  # the first 100 warm the connection pool and caches
                timings.append(elapsed)
    finally:
        await store.close()
    return statistics.median(timings), percentile(timings, 99)


def time_http(data_dir: Path, queries: int) -> tuple[float, float]:
    """Start lorafox on the filled data dir and time the REST call as an API user."""
    from tests.conftest import ADMIN_PASSWORD, make_settings, start_lorafox

    running = start_lorafox(make_settings(data_dir, mqtt_port=0))
    try:
        conn = http.client.HTTPConnection("127.0.0.1", running.http_port, timeout=30)

        def call(method: str, url: str, auth: tuple[str, str], body: Any = None) -> Any:
            token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
            headers = {"authorization": f"Basic {token}", "content-type": "application/json"}
            conn.request(method, url, orjson.dumps(body) if body else None, headers)
            response = conn.getresponse()
            payload = response.read()
            assert response.status in (200, 201), (response.status, payload)
            return orjson.loads(payload)

        groups = call("GET", "/api/v2/groups", ("admin", ADMIN_PASSWORD))["data"]
        [root] = [g for g in groups if not g["path"]]
        made = call(
            "POST",
            "/api/v2/api-users",
            ("admin", ADMIN_PASSWORD),
            {"groupId": root["id"], "name": "bench", "profileIds": ["VIEWER"]},
        )
        auth = (made["id"], made["accessToken"])
        rng = random.Random(7)
        timings: list[float] = []
        for i in range(queries + 50):
            url = f"/api/v2/devices/{device_of(rng.randrange(DEVICES))}/messages?limit=100"
            began = time.perf_counter()
            assert call("GET", url, auth)["data"]
            if i >= 50:
                timings.append((time.perf_counter() - began) * 1000)
        conn.close()
    finally:
        running.stop()
    return statistics.median(timings), percentile(timings, 99)


def report(name: str, results: list[tuple[int, float, float, float]]) -> None:
    print(f"\n{name}: list_messages(device, limit=100), random devices")
    print(f"{'rows':>12} {'fill s':>8} {'p50 ms':>8} {'p99 ms':>8} {'p50 x':>7} {'p99 x':>7}")
    base = results[0]
    for size, fill, p50, p99 in results:
        print(
            f"{size:>12,} {fill:>8.1f} {p50:>8.2f} {p99:>8.2f} "
            f"{p50 / base[2]:>7.2f} {p99 / base[3]:>7.2f}"
        )


async def postgres(sizes: list[int], queries: int) -> list[tuple[int, float, float, float]]:
    import asyncpg

    name = f"lorafox_bench_{random.randrange(10**6)}"
    admin = await asyncpg.connect(PG_ADMIN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    results = []
    try:
        await create_schema(url.replace("postgresql:", "postgresql+asyncpg:"))
        filled = 0
        for size in sizes:
            fill = await fill_postgres(url, filled, size)
            filled = size
            p50, p99 = await time_store(url.replace("postgresql:", "postgresql+asyncpg:"), queries)
            results.append((size, fill, p50, p99))
            print(f"  postgres {size:,} rows: p50 {p50:.2f} ms, p99 {p99:.2f} ms", flush=True)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="10k and 100k rows only")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--queries", type=int, default=2000, help="timed queries per size")
    args = parser.parse_args()
    sizes = [10_000, 100_000] if args.quick else [10_000, 1_000_000, 10_000_000]
    pg_sizes = [10_000, 100_000] if args.quick else [10_000, 1_000_000]
    with tempfile.TemporaryDirectory(prefix="lorafox-bench-") as tmp:
        data_dir = Path(tmp)
        path = data_dir / "lorafox.db"
        url = f"sqlite+aiosqlite:///{path}"
        asyncio.run(create_schema(url))
        results = []
        filled = 0
        for size in sizes:
            fill = fill_sqlite(path, filled, size)
            filled = size
            p50, p99 = asyncio.run(time_store(url, args.queries))
            results.append((size, fill, p50, p99))
            print(f"  sqlite {size:,} rows: p50 {p50:.2f} ms, p99 {p99:.2f} ms", flush=True)
        http_p50, http_p99 = time_http(data_dir, min(args.queries, 1000))
    report("SQLite", results)
    print(
        f"  over HTTP at {sizes[-1]:,} rows (GET /api/v2/devices/{{id}}/messages?limit=100, "
        f"API user, keep-alive): p50 {http_p50:.2f} ms, p99 {http_p99:.2f} ms"
    )
    if not args.no_postgres:
        report("PostgreSQL", asyncio.run(postgres(pg_sizes, args.queries)))


if __name__ == "__main__":
    main()
