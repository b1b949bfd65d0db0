"""Scale benchmark: what lorafox costs as the fleet and its history grow.

For each scenario (registered devices, stored messages) it fills a SQLite data dir — the
schema, root group and device type made by lorafox itself, the devices and messages by raw
INSERTs — then starts ``lorafox serve`` on it and measures:

- start-up: from exec until ``GET /healthz`` answers 200;
- the server's resident memory (VmRSS) once started, and after the load;
- the uplink rate: wrk with bench/uplink.lua posting DATA callbacks of the registered devices
  (every request a different device, round robin over all of them), stored and published;
- the server's CPU per acknowledged uplink during the load: on a machine other work shares,
  steadier than the rate.

The scenarios are measured in rounds (3; ``--quick`` 1), one scenario after the other in each
round and one server at a time, so that a machine whose speed drifts over the minutes slows all
of them alike; each figure is the median of its rounds (RSS: the largest). A scenario without
history is filled again for each round; the history is filled once (each round adds its
uplinks to it).

It prints each scenario, then each rate as a ratio of the first scenario's (the goal: within
15 % of each other), RSS against 500 MB with 1,000,000 devices and start-up against 5 s with
10,000,000 messages.

    .venv/bin/python bench/scale.py             # 1k, 100k, 1M devices; 0 and 10M messages
    .venv/bin/python bench/scale.py --quick     # 1k and 100k devices; 0 and 1M messages
    .venv/bin/python bench/scale.py --fleets 1000   # 1k devices with 0 and 10M messages
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent / "src"))

from harness import (  # noqa: E402 (the bench directory on the path first)
    SIGFOX_USERNAME,
    WRK_DEVICE_BASE,
    Goal,
    Server,
    WrkLoad,
    basic_auth,
    default_service_cmd,
    goal_lines,
    log,
    serve_command,
    two_ports,
)
from lorafox.domain import DeviceType  # noqa: E402
from lorafox.settings import Settings  # noqa: E402
from lorafox.store.sql.sqlite_writer import _INSERT  # noqa: E402
from lorafox.store.sql.store import SqlStore  # noqa: E402

TYPE_ID = "5f0f0f0f0f0f0f0f0f0f0f0f"  # the deviceTypeId bench/uplink.lua sends
T0 = 1_600_000_000_000  # stored history ends before the load's times (now)
BATCH = 100_000


@dataclass
class Figures:
    devices: int
    messages: int
    fill_s: float
    startup_s: float  # median of the rounds
    rss_started_mb: float  # the largest of the rounds
    rss_loaded_mb: float  # the largest of the rounds
    rate: float  # median of the rounds
    non_2xx: int  # all rounds
    cpu_us: float  # the server's CPU per acknowledged uplink during the load, median
    rates: list[float] = field(default_factory=list)  # each round's


async def _schema(url: str) -> None:
    store = await SqlStore.open(url)
    try:
        root = await store.identity.root_group()
        await store.devices.create_device_type(DeviceType.blank(TYPE_ID, "bench", root.id, T0))
    finally:
        await store.close()


def fill(data_dir: Path, devices: int, messages: int) -> None:
    """The schema through lorafox, then ``devices`` devices and ``messages`` messages spread
    over them (the newest an hour before the load)."""
    url = Settings.load(None, data_dir=data_dir).sqlalchemy_url
    asyncio.run(_schema(url))
    db = sqlite3.connect(data_dir / "lorafox.db")
    db.execute("PRAGMA synchronous=OFF")  # filling only
    ids = [f"{WRK_DEVICE_BASE + i:X}" for i in range(devices)]
    with db:
        db.executemany(
            "INSERT INTO devices (id, name, device_type_id, pac, activable, automatic_renewal,"
            " provisioned, created_at) VALUES (?, ?, ?, '0011223344556677', 1, 0, 0, ?)",
            ((device, device, TYPE_ID, T0) for device in ids),
        )
    for start in range(0, messages, BATCH):
        with db:
            db.executemany(
                _INSERT,
                (
                    (
                        ids[n % devices],
                        T0 - 3_600_000 - (n // devices) * 600_000,
                        (n // devices) % 4096,
                        "0102030405060708090a0b0c",
                        0,
                        0,
                        12.0,
                        -110.0,
                        20.0,
                        "1A2B",
                        None,
                        None,
                        TYPE_ID,
                        0,
                        None,
                        T0,
                        None,
                        None,
                    )
                    for n in range(start, min(messages, start + BATCH))
                ),
            )
    db.close()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Round:
    """One scenario's figures in one round."""

    startup_s: float
    rss_started_mb: float
    rss_loaded_mb: float
    rate: float
    non_2xx: int
    cpu_us: float


def load_once(
    data_dir: Path, devices: int, load: WrkLoad, service_cmd: list[str], time0: int
) -> Round:
    """Start lorafox on ``data_dir``, run wrk over its ``devices`` devices, stop it."""
    http_port, mqtt_port = two_ports()
    password = secrets.token_urlsafe(12)
    argv, env = serve_command(
        service_cmd,
        data_dir,
        http_port,
        mqtt_port,
        secrets.token_urlsafe(12),
        password,
        "--log-level",
        "WARNING",
    )
    began = time.monotonic()
    server = Server("lorafox", argv, env, data_dir.with_suffix(f".{time0}.log"))
    try:
        server.wait_ready(http_port, "/healthz", 600.0, lambda status: status == 200)
        startup_s = time.monotonic() - began
        rss_started = rss_mb(server.proc.pid)
        log(f"(f) started in {startup_s:.2f} s, {rss_started:.0f} MB; wrk {load.duration_s} s")
        cpu0 = server.cpu_seconds() or 0.0
        result = load.run(http_port, basic_auth(SIGFOX_USERNAME, password), time0, server, devices)
        cpu = (server.cpu_seconds() or 0.0) - cpu0
        rss_loaded = rss_mb(server.proc.pid)
    finally:
        server.stop()
    ok = result.requests - result.non_2xx
    log(f"(f) {result.ok_per_s:,.0f} uplinks/s, {rss_loaded:.0f} MB")
    return Round(
        startup_s, rss_started, rss_loaded, result.ok_per_s, result.non_2xx, cpu / max(1, ok) * 1e6
    )


def measure(
    workdir: Path,
    scenarios: list[tuple[int, int]],
    load: WrkLoad,
    service_cmd: list[str],
    rounds: int,
    before_each: Callable[[], object] = lambda: None,
) -> list[Figures]:
    """Each scenario once per round, one server at a time; the figures of each scenario."""
    fill_s: dict[tuple[int, int], float] = {}
    seen: dict[tuple[int, int], list[Round]] = {scenario: [] for scenario in scenarios}
    time0 = int(time.time())
    for number in range(rounds):
        for devices, messages in scenarios:
            data_dir = workdir / f"data-{devices}-{messages}"
            if messages == 0 or not data_dir.exists():
                shutil.rmtree(data_dir, ignore_errors=True)
                data_dir.mkdir(mode=0o700)
                log(f"(f) round {number + 1}: filling {devices:,} devices, {messages:,} messages")
                began = time.monotonic()
                fill(data_dir, devices, messages)
                fill_s.setdefault((devices, messages), time.monotonic() - began)
            before_each()
            time0 = max(time0 + 1, int(time.time()))  # no two rounds send the same uplink
            seen[(devices, messages)].append(load_once(data_dir, devices, load, service_cmd, time0))
    for devices, messages in scenarios:
        shutil.rmtree(workdir / f"data-{devices}-{messages}", ignore_errors=True)
    figures = []
    for (devices, messages), runs in seen.items():
        figures.append(
            Figures(
                devices,
                messages,
                fill_s[(devices, messages)],
                statistics.median(r.startup_s for r in runs),
                max(r.rss_started_mb for r in runs),
                max(r.rss_loaded_mb for r in runs),
                statistics.median(r.rate for r in runs),
                sum(r.non_2xx for r in runs),
                statistics.median(r.cpu_us for r in runs),
                [r.rate for r in runs],
            )
        )
    return figures


GOAL_SPREAD = 0.15
GOAL_RSS_MB = 500.0
GOAL_RSS_DEVICES = 1_000_000
GOAL_STARTUP_S = 5.0
GOAL_STARTUP_MESSAGES = 10_000_000


def scenarios(quick: bool, fleets: tuple[int, ...] | None = None) -> list[tuple[int, int]]:
    """(devices, messages) to measure: each fleet with no history, then the first fleet with
    the history (10M messages; a quick run 100k devices at most and 1M messages)."""
    if fleets is None:
        fleets = (1_000, 100_000) if quick else (1_000, 100_000, 1_000_000)
    history = 1_000_000 if quick else GOAL_STARTUP_MESSAGES
    return [(n, 0) for n in fleets] + [(fleets[0], history)]


def table(found: list[Figures]) -> list[str]:
    """One line per scenario, each rate and CPU cost against the first scenario's."""
    first = found[0]
    lines = [
        f"{'devices':>10} {'messages':>11} {'fill s':>7} {'start-up s':>10} "
        f"{'RSS MB start/load':>18} {'uplinks/s':>10} {'non-2xx':>8} {'rate / first':>12} "
        f"{'CPU µs/uplink':>13} {'/ first':>7}  uplinks/s of each round"
    ]
    for f in found:
        lines.append(
            f"{f.devices:>10,} {f.messages:>11,} {f.fill_s:>7.1f} {f.startup_s:>10.2f} "
            f"{f.rss_started_mb:>8.0f} / {f.rss_loaded_mb:<7.0f} {f.rate:>10,.0f} "
            f"{f.non_2xx:>8,} {f.rate / first.rate if first.rate else 0.0:>12.2f} "
            f"{f.cpu_us:>13.1f} {f.cpu_us / first.cpu_us if first.cpu_us else 0.0:>7.2f}  "
            + " / ".join(f"{rate:,.0f}" for rate in f.rates)
        )
    return lines


def goals(found: list[Figures]) -> list[Goal]:
    """The flat-cost goals: the rates within 15 % of each other, RSS with 1,000,000 devices
    and start-up with 10,000,000 messages (n/a when no scenario was that large)."""
    rates = [f.rate for f in found]
    spread = (max(rates) - min(rates)) / max(rates) if max(rates) > 0 else 1.0
    largest = max(found, key=lambda f: f.devices)
    deepest = max(found, key=lambda f: f.messages)
    return [
        Goal(
            f"(f) uplink rates of the {len(found)} scenarios",
            f"within {spread:.1%} of each other",
            f"<= {GOAL_SPREAD:.0%}",
            spread <= GOAL_SPREAD and all(f.non_2xx == 0 for f in found),
        ),
        Goal(
            f"(f) RSS with {largest.devices:,} devices, after the load",
            f"{largest.rss_loaded_mb:,.0f} MB",
            f"<= {GOAL_RSS_MB:.0f} MB with {GOAL_RSS_DEVICES:,}",
            largest.rss_loaded_mb <= GOAL_RSS_MB if largest.devices >= GOAL_RSS_DEVICES else None,
        ),
        Goal(
            f"(f) start-up with {deepest.messages:,} messages",
            f"{deepest.startup_s:.2f} s",
            f"<= {GOAL_STARTUP_S:.0f} s with {GOAL_STARTUP_MESSAGES:,}",
            deepest.startup_s <= GOAL_STARTUP_S
            if deepest.messages >= GOAL_STARTUP_MESSAGES
            else None,
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="smaller fleets and history")
    parser.add_argument("--duration", type=int, default=10, help="wrk seconds per scenario (10)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (64)")
    parser.add_argument(
        "--fleets",
        help="registered devices per scenario, comma-separated (the history's is the first)",
    )
    parser.add_argument("--rounds", type=int, help="rounds over the scenarios (3, quick 1)")
    args = parser.parse_args()
    wrk = shutil.which("wrk")
    if wrk is None:
        print("error: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    fleets = tuple(int(n) for n in args.fleets.split(",")) if args.fleets else None
    load = WrkLoad(wrk, 1, args.connections, args.duration)
    rounds = args.rounds or (1 if args.quick else 3)
    if rounds < 1:
        parser.error("--rounds must be at least 1")
    with tempfile.TemporaryDirectory(prefix="lorafox-scale-") as tmp:
        found = measure(
            Path(tmp), scenarios(args.quick, fleets), load, default_service_cmd(), rounds
        )
    print("=" * 100)
    print(f"lorafox scale benchmark: 2 CPUs, wrk 1 thread x {args.connections} x {args.duration} s")
    print("\n".join(table(found)))
    print("\n".join(goal_lines(goals(found))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
