"""Uplinks/s of one instance on SQLite, one on PostgreSQL and two on one PostgreSQL database.

Each run starts its ``lorafox serve`` processes (embedded MQTT broker each), registers the
devices of its load (one uplink each), then runs one wrk with bench/uplink.lua per instance, all
at the same time, each on devices of its own (so no uplink is a duplicate of another). It prints,
per run, the 2xx answers per second, the stored rows, the CPU of the lorafox processes and of the
wrk processes (100 % = one core), and the server CPU per uplink: on a machine whose cores the
load generators share with the servers, that last figure is the one that compares.

PostgreSQL runs use a fresh database of their own on ``--postgres`` (dropped at the end).

    .venv/bin/python bench/instances.py            # about 1.5 minutes
    .venv/bin/python bench/instances.py --quick    # about 40 s
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from cryptography.fernet import Fernet

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from harness import (  # noqa: E402 (the bench directory on the path first)
    HOST,
    LUA_SCRIPT,
    UPLINK_DEVICES,
    UPLINK_PATH,
    WRK_DEVICE_BASE,
    BenchError,
    Server,
    basic_auth,
    children_cpu_seconds,
    count_stored,
    default_service_cmd,
    log,
    machine_cpu_seconds,
    parse_wrk,
    register_devices,
    run_async,
    serve_command,
    two_ports,
)

POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
INSTANCE_DEVICES = 0x1000000  # each instance's devices start this far from the previous one's


@dataclass
class Outcome:
    name: str
    ok: int
    duration_s: float
    errors: int
    stored: int
    server_cpu_s: float
    wrk_cpu_s: float
    machine_busy_s: float
    wall_s: float

    @property
    def rate(self) -> float:
        return self.ok / self.duration_s

    @property
    def server_us_per_uplink(self) -> float:
        return self.server_cpu_s / self.ok * 1e6 if self.ok else float("nan")


async def _postgres(url: str, *statements: str) -> int:
    """Run statements on ``url``; the first column of the last one's first row, if any."""
    conn = await asyncpg.connect(url)
    try:
        value = None
        for statement in statements:
            value = await conn.fetchval(statement)
        return int(value or 0)
    finally:
        await conn.close()


def rows_stored(database_url: str | None, data_dirs: list[Path]) -> int:
    if database_url is not None:
        return run_async(_postgres(database_url, "SELECT count(*) FROM messages"))
    return sum(max(count_stored(d).values(), default=0) for d in data_dirs)


def wrk_argv(wrk: str, args: argparse.Namespace, port: int, auth: str, base: int) -> list[str]:
    return [
        wrk,
        "-t1",
        f"-c{args.connections}",
        f"-d{args.duration}s",
        "--timeout",
        "5s",
        "-s",
        str(LUA_SCRIPT),
        "-H",
        f"Authorization: {auth}",
        "-H",
        "Content-Type: application/json",
        f"http://{HOST}:{port}",
        "--",
        UPLINK_PATH,
        str(int(time.time()) - 3600),
        f"{base:X}",
        str(UPLINK_DEVICES),
    ]


def run(
    name: str, count: int, database_url: str | None, args: argparse.Namespace, wrk: str
) -> Outcome:
    """``count`` instances on ``database_url`` (None: SQLite, one instance), one wrk each."""
    log(f"{name}: starting {count} instance(s)")
    with contextlib.ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="lorafox-instances-"))
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        admin, sigfox = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
        secret_key = Fernet.generate_key().decode()
        servers: list[tuple[Server, int, Path]] = []
        for n in range(count):
            data_dir = workdir / f"i{n}"
            data_dir.mkdir()
            http_port, mqtt_port = two_ports()
            argv, env = serve_command(
                default_service_cmd(), data_dir, http_port, mqtt_port, admin, sigfox
            )
            env["LORAFOX_SECRET_KEY"] = secret_key
            if database_url is not None:
                env["LORAFOX_DATABASE_URL"] = database_url
            server = Server(f"lorafox {n}", argv, env, workdir / f"i{n}.log")
            stack.callback(server.stop)
            server.wait_ready(http_port, "/healthz", 60, lambda s: s == 200)
            servers.append((server, http_port, data_dir))
        auth = basic_auth("sigfox", sigfox)
        time0 = int(time.time()) - 7200
        for n, (_, port, _) in enumerate(servers):
            run_async(register_devices(port, auth, WRK_DEVICE_BASE + n * INSTANCE_DEVICES, time0))
        data_dirs = [d for _, _, d in servers]
        rows0 = rows_stored(database_url, data_dirs)

        log(f"{name}: {count} wrk, {args.connections} connections each, {args.duration} s")
        cpu0 = [s.cpu_seconds() or 0.0 for s, _, _ in servers]
        wrk0, (busy0, _), t0 = children_cpu_seconds(), machine_cpu_seconds(), time.monotonic()
        loads = [
            subprocess.Popen(
                wrk_argv(wrk, args, port, auth, WRK_DEVICE_BASE + n * INSTANCE_DEVICES),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            for n, (_, port, _) in enumerate(servers)
        ]
        outputs = [load.communicate(timeout=args.duration + 60)[0] for load in loads]
        wall = time.monotonic() - t0
        server_cpu = sum(
            (s.cpu_seconds() or 0.0) - c for (s, _, _), c in zip(servers, cpu0, strict=True)
        )
        wrk_cpu, (busy1, _) = children_cpu_seconds() - wrk0, machine_cpu_seconds()
        for load, output in zip(loads, outputs, strict=True):
            if load.returncode != 0:
                raise BenchError(f"wrk failed ({load.returncode}):\n{output}")
        results = [parse_wrk(output) for output in outputs]
        time.sleep(1)  # the last commits
        stored = rows_stored(database_url, data_dirs) - rows0
    outcome = Outcome(
        name=name,
        ok=sum(r.ok for r in results),
        duration_s=max(r.duration_s for r in results),
        errors=sum(r.socket_errors + r.non_2xx for r in results),
        stored=stored,
        server_cpu_s=server_cpu,
        wrk_cpu_s=wrk_cpu,
        machine_busy_s=busy1 - busy0,
        wall_s=wall,
    )
    log(f"{name}: {outcome.rate:,.0f} uplinks/s, {outcome.server_us_per_uplink:,.0f} µs/uplink")
    return outcome


def fresh_database(admin_url: str) -> str:
    name = f"lorafox_bench_{secrets.token_hex(4)}"
    run_async(_postgres(admin_url, f'CREATE DATABASE "{name}"'))
    return admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(admin_url: str, url: str) -> None:
    name = url.rsplit("/", 1)[1]
    run_async(_postgres(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def report(outcomes: list[Outcome]) -> None:
    print()
    print(
        f"{'run':<26} {'uplinks/s':>10} {'stored':>8} {'errors':>7} {'server CPU':>11} "
        f"{'wrk CPU':>8} {'machine':>8} {'server µs/uplink':>17}"
    )
    for o in outcomes:
        print(
            f"{o.name:<26} {o.rate:>10,.0f} {o.stored - o.ok:>+8,} {o.errors:>7,} "
            f"{o.server_cpu_s / o.wall_s:>10.0%} {o.wrk_cpu_s / o.wall_s:>8.0%} "
            f"{o.machine_busy_s / o.wall_s:>8.0%} {o.server_us_per_uplink:>17,.0f}"
        )
    print(
        "\nstored: rows stored minus 2xx counted by wrk (up to one in flight per connection "
        "when wrk stops is normal); CPU: 100 % = one core; machine: all processes."
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 s per run instead of 10")
    parser.add_argument("--connections", type=int, default=32, help="per wrk (32)")
    parser.add_argument("--postgres", default=POSTGRES, help=f"an admin URL ({POSTGRES})")
    args = parser.parse_args(argv)
    args.duration = 5 if args.quick else 10
    wrk = shutil.which("wrk")
    if wrk is None:
        print("error: wrk is not on PATH (sudo apt-get install wrk)", file=sys.stderr)
        return 2
    try:
        outcomes = [run("1 instance, SQLite", 1, None, args, wrk)]
        for count in (1, 2):
            url = fresh_database(args.postgres)
            try:
                name = f"{count} instance{'s' if count > 1 else ''}, PostgreSQL"
                outcomes.append(run(name, count, url, args, wrk))
            finally:
                drop_database(args.postgres, url)
    except BenchError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    report(outcomes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
