"""The DynamoDB-compatible API through boto3: lorafox against moto's server, in one run.

For each table size (default 10,000 and 1,000,000 items) and each server:

- PutItem/s: ``--clients`` processes, each with its own boto3 client, put new items one after
  the other (``--puts`` in all); the rate is the total over the wall time;
- GetItem p50/p99: ``--gets`` GetItem of random existing items, one at a time;
- Query(Limit 100) p50/p99: ``--queries`` Queries of a random partition from a random sort key,
  ``Limit=100``, each returning 100 items.

A latency series stops early after ``--budget`` seconds (moto's Query reads the whole table:
seconds each at 1M items); the table shows how many samples each figure rests on. The server's
CPU time per PutItem (from /proc) gives its capacity per core whatever the clients' share of
the machine: with 2 cores, the boto3 clients (≈1 ms of CPU per call) are the limit of the
PutItem/s they see.

Every request is signed by boto3 and the signature verified by lorafox (an API user's
credentials); moto accepts any. lorafox runs as ``lorafox serve`` (SQLite, no MQTT) in a temp
dir; its items are loaded beforehand through the store (the bulk of 1M items through HTTP would
take as long as the benchmark). moto runs as ``moto_server`` and is loaded through boto3's
BatchWriteItem (``--load-clients`` processes); sizes above ``--moto-max-items`` are not loaded
into moto (the table says so). Items: partition ``device`` (S), sort ``time`` (N), four more
attributes (~90 bytes); a partition holds ``--partition-size`` items.

    .venv/bin/python bench/dynamodb.py [--sizes 10000,1000000] [--moto-max-items 200000]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3  # type: ignore[import-untyped]
import httpx
from botocore.config import Config  # type: ignore[import-untyped]

from lorafox.ports.tables import ItemRow
from lorafox.settings import Settings
from lorafox.store.sql.store import SqlStore
from lorafox.tables.keys import encode_key_value
from lorafox.tables.operations import TableOperations
from lorafox.tables.values import item_size

TABLE = "history"
ADMIN_PASSWORD = "bench-admin-password"
_CONFIG = Config(retries={"total_max_attempts": 1}, max_pool_connections=4)


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    url: str
    key: str
    secret: str
    pid: int  # the server's process: its CPU time is read from /proc


@dataclass(frozen=True, slots=True)
class Figures:
    puts_per_s: float
    put_cpu_ms: float  # server CPU per PutItem
    get_p50: float
    get_p99: float
    query_p50: float
    query_p99: float
    gets: int  # samples
    queries: int


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _client(target: Target) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=target.url,
        region_name="us-east-1",
        aws_access_key_id=target.key,
        aws_secret_access_key=target.secret,
        config=_CONFIG,
    )


def _item(device: int, t: int) -> dict[str, Any]:
    return {
        "device": {"S": f"dev-{device:06d}"},
        "time": {"N": str(1_700_000_000 + t)},
        "temp": {"N": f"{20 + (t % 150) / 10}"},
        "rssi": {"N": str(-80 - t % 40)},
        "data": {"S": f"{(device * 7919 + t) & 0xFFFFFFFF:08x}{t:016x}"},
        "ok": {"BOOL": t % 3 != 0},
    }


def _table_params() -> dict[str, Any]:
    return {
        "TableName": TABLE,
        "KeySchema": [
            {"AttributeName": "device", "KeyType": "HASH"},
            {"AttributeName": "time", "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [
            {"AttributeName": "device", "AttributeType": "S"},
            {"AttributeName": "time", "AttributeType": "N"},
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


# -- servers -----------------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def _process(command: list[str], env: dict[str, str], log: Path) -> Iterator[int]:
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield proc.pid
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _wait_http(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


async def _preload(data_dir: Path, size: int, partition: int) -> None:
    """CreateTable and ``size`` items straight into lorafox's store (5,000 a transaction)."""
    store = await SqlStore.open(Settings.load(None, data_dir=data_dir).sqlalchemy_url)
    try:
        ops = TableOperations(store.items)
        await ops.run("CreateTable", _table_params(), "us-east-1")
        table = await store.items.get_table(TABLE)
        assert table is not None
        batch: list[ItemRow] = []
        for n in range(size):
            item = _item(n // partition, n % partition)
            pk, sk = encode_key_value(item["device"]), encode_key_value(item["time"])
            batch.append(ItemRow(pk, sk, item, item_size(item)))
            if len(batch) == 5000:
                await store.items.write_items(table.id, batch, [])
                batch = []
        if batch:
            await store.items.write_items(table.id, batch, [])
    finally:
        await store.close()


@contextmanager
def lorafox(workdir: Path, size: int, partition: int) -> Iterator[Target]:
    data_dir = workdir / f"lorafox-{size}"
    started = time.monotonic()
    data_dir.mkdir(parents=True, exist_ok=True)
    asyncio.run(_preload(data_dir, size, partition))
    print(
        f"  lorafox: {size:,} items loaded through the store in {time.monotonic() - started:.0f} s"
    )
    port = _free_port()
    env = {**os.environ, "LORAFOX_ADMIN_PASSWORD": ADMIN_PASSWORD, "LORAFOX_LOG_LEVEL": "WARNING"}
    command = [
        str(Path(sys.executable).with_name("lorafox")),
        "serve",
        "--data-dir",
        str(data_dir),
        "--http-port",
        str(port),
        "--mqtt-port",
        "0",
        "--semtech-port",
        "0",
    ]
    with _process(command, env, workdir / f"lorafox-{size}.log") as pid:
        url = f"http://127.0.0.1:{port}"
        _wait_http(url + "/healthz")
        with httpx.Client(base_url=url, auth=("admin", ADMIN_PASSWORD)) as http:
            groups = http.get("/api/v2/groups").json()["data"]
            [root] = [g for g in groups if not g["path"]]
            made = http.post(
                "/api/v2/api-users",
                json={"groupId": root["id"], "name": "bench", "profileIds": ["ADMIN"]},
            ).json()
        yield Target("lorafox", url, made["id"], made["accessToken"], pid)


def _load_worker(args: tuple[Target, int, int, int, int]) -> None:
    target, start, stop, partition, _ = args
    client = _client(target)
    requests = [
        {"PutRequest": {"Item": _item(n // partition, n % partition)}} for n in range(start, stop)
    ]
    for offset in range(0, len(requests), 25):
        pending: dict[str, Any] = {TABLE: requests[offset : offset + 25]}
        while pending:
            pending = client.batch_write_item(RequestItems=pending)["UnprocessedItems"]


@contextmanager
def moto(workdir: Path, size: int, partition: int, loaders: int) -> Iterator[Target]:
    port = _free_port()
    command = [str(Path(sys.executable).with_name("moto_server")), "-p", str(port)]
    with _process(command, dict(os.environ), workdir / f"moto-{size}.log") as pid:
        url = f"http://127.0.0.1:{port}"
        _wait_http(url + "/moto-api/")
        target = Target("moto", url, "AKIDBENCH", "bench-secret", pid)
        _client(target).create_table(**_table_params())
        started = time.monotonic()
        step = -(-size // loaders)
        jobs = [
            (target, start, min(size, start + step), partition, i)
            for i, start in enumerate(range(0, size, step))
        ]
        with multiprocessing.get_context("fork").Pool(loaders) as pool:
            pool.map(_load_worker, jobs)
        print(
            f"  moto: {size:,} items loaded through BatchWriteItem in "
            f"{time.monotonic() - started:.0f} s"
        )
        yield target


# -- measurements ------------------------------------------------------------------------------


def _put_worker(args: tuple[Target, int, int, Any]) -> None:
    target, worker, count, barrier = args
    client = _client(target)
    client.describe_table(TableName=TABLE)  # connection and credentials warm
    barrier.wait()
    for n in range(count):
        client.put_item(TableName=TABLE, Item=_item(900_000 + worker, n))


def put_rate(target: Target, puts: int, clients: int) -> tuple[float, float]:
    """(PutItem/s seen by the clients, server CPU ms per PutItem)."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(clients + 1)
    procs = [
        context.Process(target=_put_worker, args=((target, w, puts // clients, barrier),))
        for w in range(clients)
    ]
    for proc in procs:
        proc.start()
    barrier.wait()
    started = time.perf_counter()
    cpu = _cpu_seconds(target.pid)
    for proc in procs:
        proc.join()
    elapsed = time.perf_counter() - started
    cpu = _cpu_seconds(target.pid) - cpu
    if any(proc.exitcode for proc in procs):
        raise RuntimeError(f"a PutItem client failed against {target.name}")
    done = (puts // clients) * clients
    return done / elapsed, cpu / done * 1000


def _rounds(count: int, *, warmup: int, least: int, budget: float) -> Iterator[int]:
    """The numbers of ``warmup`` + ``count`` rounds (one timing each); once ``budget`` seconds
    have passed, it stops as soon as ``least`` rounds past the warm-up are done."""
    deadline = time.monotonic() + budget
    for n in range(warmup + count):
        if time.monotonic() > deadline and n >= warmup + least:
            return
        yield n


def get_latency(
    target: Target, size: int, partition: int, count: int, budget: float
) -> list[float]:
    client = _client(target)
    rng = random.Random(1)
    timings: list[float] = []
    for _ in _rounds(count, warmup=50, least=30, budget=budget):
        n = rng.randrange(size)
        item = _item(n // partition, n % partition)
        key = {"device": item["device"], "time": item["time"]}
        started = time.perf_counter()
        found = client.get_item(TableName=TABLE, Key=key)
        timings.append(time.perf_counter() - started)
        assert found["Item"]["data"] == item["data"]
    return timings[50:]


def query_latency(
    target: Target, size: int, partition: int, count: int, budget: float
) -> list[float]:
    client = _client(target)
    rng = random.Random(2)
    partitions = size // partition
    timings: list[float] = []
    for _ in _rounds(count, warmup=5, least=20, budget=budget):
        device = rng.randrange(partitions)
        start = rng.randrange(max(1, partition - 100))
        started = time.perf_counter()
        found = client.query(
            TableName=TABLE,
            KeyConditionExpression="device = :d AND #t >= :t",
            ExpressionAttributeNames={"#t": "time"},
            ExpressionAttributeValues={
                ":d": {"S": f"dev-{device:06d}"},
                ":t": {"N": str(1_700_000_000 + start)},
            },
            Limit=100,
        )
        timings.append(time.perf_counter() - started)
        assert found["Count"] == 100, found["Count"]
    return timings[5:]


def measure(target: Target, size: int, partition: int, args: argparse.Namespace) -> Figures:
    gets = get_latency(target, size, partition, args.gets, args.budget)
    queries = query_latency(target, size, partition, args.queries, args.budget)
    rate, cpu = put_rate(target, args.puts, args.clients)
    figures = Figures(
        rate,
        cpu,
        _percentile(gets, 0.5) * 1000,
        _percentile(gets, 0.99) * 1000,
        _percentile(queries, 0.5) * 1000,
        _percentile(queries, 0.99) * 1000,
        len(gets),
        len(queries),
    )
    print(
        f"  {target.name:8} PutItem {figures.puts_per_s:8,.0f}/s ({figures.put_cpu_ms:.2f} ms "
        f"server CPU each)   GetItem p50 "
        f"{figures.get_p50:6.2f} ms p99 {figures.get_p99:6.2f} ms   Query(100) p50 "
        f"{figures.query_p50:6.2f} ms p99 {figures.query_p99:6.2f} ms "
        f"({figures.gets} GetItem, {figures.queries} Query)"
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--moto-max-items", type=int, default=1_000_000)
    parser.add_argument("--partition-size", type=int, default=1000)
    parser.add_argument("--puts", type=int, default=4000)
    parser.add_argument("--gets", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument(
        "--budget",
        type=float,
        default=120,
        help="seconds at most for each latency series (fewer samples past it)",
    )
    parser.add_argument("--load-clients", type=int, default=2)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results: dict[tuple[str, int], Figures] = {}
    workdir = Path(tempfile.mkdtemp(prefix="lorafox-ddb-bench-"))
    try:
        for size in sizes:
            partition = min(args.partition_size, size)
            print(f"{size:,} items ({size // partition:,} partitions of {partition:,})")
            with lorafox(workdir, size, partition) as target:
                results[("lorafox", size)] = measure(target, size, partition, args)
            if size > args.moto_max_items:
                print(f"  moto: not loaded ({size:,} items > --moto-max-items)")
                continue
            with moto(workdir, size, partition, args.load_clients) as target:
                results[("moto", size)] = measure(target, size, partition, args)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print()
    print(
        "| items | server | PutItem/s (boto3) | server CPU per PutItem (ms) | PutItem/s per "
        "server core | GetItem p50 / p99 (ms) | Query(Limit 100) p50 / p99 (ms) | samples "
        "(GetItem / Query) |"
    )
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for (name, size), f in results.items():
        print(
            f"| {size:,} | {name} | {f.puts_per_s:,.0f} | {f.put_cpu_ms:.2f} | "
            f"{1000 / f.put_cpu_ms:,.0f} | {f.get_p50:.2f} / {f.get_p99:.2f} | "
            f"{f.query_p50:.2f} / {f.query_p99:.2f} | {f.gets:,} / {f.queries:,} |"
        )
    print()
    for size in sizes:
        mine, theirs = results.get(("lorafox", size)), results.get(("moto", size))
        if mine is None or theirs is None:
            continue
        print(
            f"{size:,} items, lorafox/moto: PutItem/s x {mine.puts_per_s / theirs.puts_per_s:.1f} "
            f"(boto3 clients), x {theirs.put_cpu_ms / mine.put_cpu_ms:.1f} (server CPU per "
            f"PutItem), GetItem p99 x {theirs.get_p99 / mine.get_p99:.1f} faster, Query p99 "
            f"x {theirs.query_p99 / mine.query_p99:.1f} faster"
        )


if __name__ == "__main__":
    main()
