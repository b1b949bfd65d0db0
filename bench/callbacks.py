"""Callbacks benchmark: the uplink rate with outgoing callbacks to a slow receiver, against the
rate without callbacks, in one run.

Two runs of the same wrk load (bench/uplink.lua posting DATA callbacks, as bench/uplink.py's
(a)), each on a fresh ``lorafox serve``: first with no callback, then with three URL callbacks
on the device type the load's devices are provisioned into, all three to an HTTP receiver that
answers every request after 1 s. It prints both rates, their ratio (the goal: ≥ 0.8), and how
many deliveries the receiver got and how many were still waiting when the load ended.
``--rounds N`` alternates N such pairs (the machine's other load drifts between runs) and
prints each pair's ratio and their median. ``--postgres URL`` runs lorafox on a fresh database
of that PostgreSQL server for each run (dropped afterwards) instead of SQLite.

    .venv/bin/python bench/callbacks.py [--duration 10] [--connections 64] [--rounds 1]
                                        [--postgres postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import secrets
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent / "src"))

from harness import (  # noqa: E402 (the bench directory on the path first)
    ADMIN_USERNAME,
    SIGFOX_USERNAME,
    Server,
    WrkLoad,
    basic_auth,
    default_service_cmd,
    free_port,
    serve_command,
    two_ports,
)

TYPE_ID = "5f0f0f0f0f0f0f0f0f0f0f0f"  # the deviceTypeId bench/uplink.lua sends
CALLBACKS = 3
ANSWER_AFTER_S = 1.0


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _receiver(port: int, received: Any) -> None:
    """An HTTP server answering 204 to every request after ``ANSWER_AFTER_S``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":", 1)[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                await reader.readexactly(length)
                await asyncio.sleep(ANSWER_AFTER_S)
                with received.get_lock():
                    received.value += 1
                writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def _configure(http_port: int, admin_password: str, receiver_port: int, callbacks: int) -> None:
    with httpx.Client(
        base_url=f"http://127.0.0.1:{http_port}", auth=(ADMIN_USERNAME, admin_password)
    ) as http:
        r = http.post("/api/v2/device-types", json={"id": TYPE_ID, "name": "bench"})
        r.raise_for_status()
        for n in range(callbacks):
            spec = {
                "channel": "URL",
                "callbackType": 0,
                "callbackSubtype": 2,
                "url": f"http://127.0.0.1:{receiver_port}/{n}/{{device}}",
                "bodyTemplate": '{"device":"{device}","data":"{data}","seq":{seqNumber}}',
            }
            http.post(f"/api/v2/device-types/{TYPE_ID}/callbacks", json=spec).raise_for_status()


def _waiting(data_dir: Path) -> int:
    """Deliveries owed: the outbox's pending rows, and each callback's messages after its
    cursor (every message of the load is of the callbacks' device type)."""
    db = sqlite3.connect(data_dir / "lorafox.db")
    try:
        pending = db.execute(
            "SELECT count(*) FROM callback_deliveries WHERE state = 'pending'"
        ).fetchone()[0]
        behind = db.execute(
            "SELECT coalesce(sum((SELECT count(*) FROM messages WHERE id > c.value)), 0)"
            " FROM cursors c WHERE c.name LIKE 'callback:%'"
        ).fetchone()[0]
        return int(pending) + int(behind)
    finally:
        db.close()


def _postgres(admin_url: str, statement: str) -> None:
    async def execute() -> None:
        conn = await asyncpg.connect(admin_url)
        try:
            await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(execute())


def _waiting_postgres(url: str) -> int:
    """Deliveries owed on PostgreSQL: the outbox's pending rows, the messages still queued for
    the callbacks (one per message: a lower bound), and each callback's messages after its
    cursor."""

    async def count() -> int:
        conn = await asyncpg.connect(url)
        try:
            pending = await conn.fetchval(
                "SELECT count(*) FROM callback_deliveries WHERE state = 'pending'"
            )
            queued = 0
            if await conn.fetchval("SELECT to_regclass('callback_queue') IS NOT NULL"):
                queued = await conn.fetchval("SELECT count(*) FROM callback_queue")
            behind = await conn.fetchval(
                "SELECT coalesce(sum((SELECT count(*) FROM messages WHERE id > c.value)), 0)"
                " FROM cursors c WHERE c.name LIKE 'callback:%'"
            )
        finally:
            await conn.close()
        return int(pending) + int(queued) + int(behind)

    return asyncio.run(count())


def run(
    workdir: Path,
    load: WrkLoad,
    callbacks: int,
    receiver_port: int,
    round_: int = 0,
    postgres: str | None = None,
) -> tuple[float, float | None, int]:
    """The uplink rate with ``callbacks`` callbacks, lorafox's CPU time per uplink (µs), and
    the deliveries left waiting."""
    data_dir = workdir / f"data-{round_}-{callbacks}"
    data_dir.mkdir(mode=0o700)
    http_port, mqtt_port = two_ports()
    admin, password = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    argv, env = serve_command(
        default_service_cmd(), data_dir, http_port, mqtt_port, admin, password,
        "--log-level", "WARNING",
    )  # fmt: skip
    env["LORAFOX_CALLBACKS__ALLOWED_NETWORKS"] = "127.0.0.0/8"
    env["LORAFOX_CALLBACKS__PER_DESTINATION"] = "64"
    database = None
    if postgres is not None:
        name = f"lorafox_callbacks_bench_{secrets.token_hex(4)}"
        _postgres(postgres, f'CREATE DATABASE "{name}"')
        database = env["LORAFOX_DATABASE_URL"] = postgres.rsplit("/", 1)[0] + f"/{name}"
    server = Server("lorafox", argv, env, workdir / f"lorafox-{round_}-{callbacks}.log")
    try:
        server.wait_ready(http_port, "/healthz", 60.0, lambda status: status == 200)
        _configure(http_port, admin, receiver_port, callbacks)
        log(f"{callbacks} callbacks; wrk {load.duration_s} s")
        result = load.run(
            http_port, basic_auth(SIGFOX_USERNAME, password), int(time.time()), server
        )
        waiting = 0
        if callbacks:
            waiting = _waiting(data_dir) if database is None else _waiting_postgres(database)
    finally:
        server.stop()
        if database is not None:
            _postgres(postgres or "", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    cpu = None
    if result.server_cpu_s is not None and result.ok:
        cpu = result.server_cpu_s / result.ok * 1e6
    return result.ok_per_s, cpu, waiting


def _cpu(micros: float | None) -> str:
    return "" if micros is None else f"  ({micros:,.0f} µs of lorafox CPU per uplink)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--duration", type=int, default=10, help="wrk seconds per run (10)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (64)")
    parser.add_argument(
        "--rounds", type=int, default=1, help="pairs of runs, alternating (1; the median ratio)"
    )
    parser.add_argument(
        "--postgres", metavar="URL", help="a PostgreSQL server: a fresh database per run"
    )
    args = parser.parse_args()
    wrk = shutil.which("wrk")
    if wrk is None:
        print("error: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    load = WrkLoad(wrk, 1, args.connections, args.duration)
    received = multiprocessing.Value("q", 0)
    receiver_port = free_port()
    receiver = multiprocessing.Process(target=_receiver, args=(receiver_port, received))
    receiver.start()
    pairs: list[tuple[tuple[float, float | None, int], tuple[float, float | None, int]]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="lorafox-callbacks-") as tmp:
            for round_ in range(args.rounds):
                without = run(Path(tmp), load, 0, receiver_port, round_, args.postgres)
                with_ = run(Path(tmp), load, CALLBACKS, receiver_port, round_, args.postgres)
                pairs.append((without, with_))
    finally:
        receiver.terminate()
        receiver.join()
    print("=" * 80)
    where = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"lorafox callbacks benchmark ({where}): "
        f"wrk 1 thread x {args.connections} x {args.duration} s"
    )
    for round_, ((base, base_cpu, _), (rate, cpu, waiting)) in enumerate(pairs, 1):
        print(f"round {round_}:")
        print(f"  uplinks/s without callbacks:                  {base:>10,.0f}{_cpu(base_cpu)}")
        print(
            f"  uplinks/s with {CALLBACKS} callbacks (receiver answers in {ANSWER_AFTER_S:g} s): "
            f"{rate:>10,.0f}{_cpu(cpu)}"
        )
        print(f"  ratio: {rate / base:.2f}; waiting when the load ended: {waiting:,}")
        if base_cpu and cpu:
            print(f"  CPU per uplink, without / with callbacks: {base_cpu / cpu:.2f}")
    ratios = [w[0] / b[0] for b, w in pairs]
    print(f"ratio (median of {len(ratios)}): {statistics.median(ratios):.2f} (goal: 0.8)")
    print(f"deliveries received: {received.value:,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
