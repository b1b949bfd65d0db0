"""What the lorafox benchmarks share: the servers they start, wrk and its Lua script, a cheap
HTTP/1.1 client, CPU accounting, and the rows lorafox stores.

bench/uplink.py, bench/scale.py, bench/callbacks.py, bench/instances.py and bench/lora.py import
it (the bench directory on ``sys.path`` first).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import http.client
import json
import math
import os
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

BENCH_DIR = Path(__file__).resolve().parent
LUA_SCRIPT = BENCH_DIR / "uplink.lua"
HOST = "127.0.0.1"

SIGFOX_USERNAME = "sigfox"
ADMIN_USERNAME = "admin"
UPLINK_PATH = "/sigfox/uplink"

# Disjoint device pools keep every (device, seqNumber, time) unique across the phases.
UPLINK_DEVICES = 10_000
WRK_DEVICE_BASE = 0x10000000  # wrk's devices, in bench/uplink.lua

UPLINK_BODY = (
    b'{"device":"%X","time":%d,"seqNumber":%d,"data":"0102030405060708090a0b0c",'
    b'"ack":%s,"longPolling":false,"snr":"12.34","rssi":"-110.00","station":"1A2B",'
    b'"avgSnr":"20.1","lat":"43","lng":"1","deviceTypeId":"5f0f0f0f0f0f0f0f0f0f0f0f",'
    b'"duplicate":false}'
)


def log(message: str) -> None:
    """A progress line (flushed: the output is often piped to a file)."""
    print(message, flush=True)


class BenchError(Exception):
    """The benchmark cannot go on; the message says why."""


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def basic_auth(username: str, password: str) -> str:
    """The value of an ``Authorization`` header for HTTP Basic auth."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def percentile(sorted_values: list[float], pct: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(pct / 100.0 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def uplink_body(device: int, when: int, seq: int, *, ack: bool = False) -> bytes:
    """A Sigfox uplink callback body."""
    return UPLINK_BODY % (device, when, seq, b"true" if ack else b"false")


def request_bytes(method: str, path: str, port: int, authorization: str, body: bytes) -> bytes:
    """One HTTP/1.1 keep-alive request with a JSON body."""
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAuthorization: {authorization}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on a fresh event loop (uvloop when installed)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a lorafox dependency
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def proc_group_cpu_seconds(pgid: int) -> float | None:
    """User + system CPU seconds of the live processes of a process group (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    found = False
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        # fields[0] is field 3 (state): pgrp is field 5, utime 14, stime 15.
        if int(fields[2]) != pgid:
            continue
        found = True
        total += int(fields[11]) + int(fields[12])
    return total / ticks if found else None


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine so far, all cores (Linux /proc/stat)."""
    try:
        with open("/proc/stat", "rb") as fh:
            fields = [int(x) for x in fh.readline().split()[1:9]]
    except (OSError, ValueError):
        return 0.0, 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    ticks = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / ticks, steal / ticks


def children_cpu_seconds() -> float:
    """User + system CPU seconds of this process's waited-for children so far."""
    times = os.times()
    return times.children_user + times.children_system


def self_cpu_seconds() -> float:
    """User + system CPU seconds of this process (all threads) so far."""
    times = os.times()
    return times.user + times.system


class CpuWindow:
    """CPU used by a server and by the whole machine between start() and stop()."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self._t0 = self._busy0 = self._steal0 = 0.0
        self._server0: float | None = None
        self._self0 = 0.0
        self.wall_s = self.machine_busy_s = self.machine_steal_s = self.self_cpu_s = 0.0
        self.server_cpu_s: float | None = None

    def start(self) -> None:
        self._self0 = self_cpu_seconds()
        self._server0 = self.server.cpu_seconds()
        self._busy0, self._steal0 = machine_cpu_seconds()
        self._t0 = time.monotonic()

    def stop(self) -> None:
        server1 = self.server.cpu_seconds()
        busy1, steal1 = machine_cpu_seconds()
        self.wall_s = time.monotonic() - self._t0
        self.self_cpu_s = self_cpu_seconds() - self._self0
        self.machine_busy_s, self.machine_steal_s = busy1 - self._busy0, steal1 - self._steal0
        if self._server0 is not None and server1 is not None:
            self.server_cpu_s = server1 - self._server0


QUIET_CORES = 0.15  # other processes may use this much CPU when a phase starts
QUIET_SECONDS = 3  # ... for this many seconds in a row
NOISY_CORES = 0.20  # a phase during which other processes used more is flagged


def wait_for_quiet(max_s: float, server: Server | None) -> float:
    """Wait up to ``max_s`` for QUIET_SECONDS seconds in a row of other processes using less
    than QUIET_CORES.

    "Other" is the whole machine minus this process and ``server``. Returns the last load seen
    (in cores); the benchmark goes on regardless, and the report flags a noisy phase.
    """
    if max_s <= 0:
        return 0.0
    deadline = time.monotonic() + max_s
    others = 0.0
    quiet = 0
    announced = False
    while quiet < QUIET_SECONDS:
        busy0, _ = machine_cpu_seconds()
        ours0 = self_cpu_seconds() + ((server.cpu_seconds() or 0.0) if server else 0.0)
        time.sleep(1.0)
        busy1, _ = machine_cpu_seconds()
        ours1 = self_cpu_seconds() + ((server.cpu_seconds() or 0.0) if server else 0.0)
        others = max(0.0, (busy1 - busy0) - (ours1 - ours0))
        quiet = quiet + 1 if others < QUIET_CORES else 0
        if time.monotonic() >= deadline:
            break
        if not quiet and not announced:
            log(f"  other processes use {others:.2f} cores; waiting up to {max_s:.0f} s")
            announced = True
    if quiet < QUIET_SECONDS:
        log(f"  machine still busy ({others:.2f} cores used by others); going on")
    return others


# --------------------------------------------------------------------------------------------
# Raw HTTP/1.1 keep-alive client over asyncio streams (cheap on CPU)
# --------------------------------------------------------------------------------------------


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Read one HTTP/1.1 response: (status, body, server closes the connection)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length: int | None = None
    chunked = False
    close = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        key = name.strip().lower()
        if key == b"content-length":
            length = int(value)
        elif key == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif key == b"connection":
            close = b"close" in value.lower()
    if status in (204, 304) or status < 200:
        return status, b"", close
    if chunked:
        parts: list[bytes] = []
        for _ in range(100_000):
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")  # no trailers expected
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        return status, b"".join(parts), close
    if length is not None:
        return status, await reader.readexactly(length), close
    return status, await reader.read(), True


class HttpConnection:
    """One keep-alive connection to 127.0.0.1; reconnects after an error or a close."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        """Open the connection if it is not open."""
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(HOST, self.port)

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """Send one request and read its response."""
        await self.connect()
        assert self._reader is not None
        assert self._writer is not None
        try:
            self._writer.write(request)
            status, body, close = await read_response(self._reader)
        except BaseException:
            await self.close()
            raise
        if close:
            await self.close()
        return status, body

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await writer.wait_closed()


HTTP_ERRORS = (
    OSError,
    ConnectionError,
    ValueError,
    asyncio.IncompleteReadError,
    asyncio.LimitOverrunError,
)


async def send_all(
    port: int, requests: list[bytes], concurrency: int, timeout_s: float
) -> tuple[dict[int, int], int, list[str]]:
    """Send requests over a few connections; (count per status, errors, first failures)."""
    statuses: dict[int, int] = {}
    errors = 0
    samples: list[str] = []
    queue: Iterator[bytes] = iter(requests)

    async def worker() -> None:
        nonlocal errors
        conn = HttpConnection(port)
        try:
            for request in queue:
                try:
                    status, body = await conn.send(request)
                except HTTP_ERRORS as exc:
                    errors += 1
                    if len(samples) < 3:
                        samples.append(f"{type(exc).__name__}: {exc}")
                    continue
                statuses[status] = statuses.get(status, 0) + 1
                if status >= 300 and len(samples) < 3:
                    samples.append(f"HTTP {status}: {body[:200]!r}")
        finally:
            await conn.close()

    async with asyncio.timeout(timeout_s):
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return statuses, errors, samples


def http_get(port: int, path: str, authorization: str | None, timeout: float) -> tuple[int, bytes]:
    """A blocking GET (for health checks and spot checks)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        headers = {"Authorization": authorization} if authorization else {}
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------
# Processes under test
# --------------------------------------------------------------------------------------------


class Server:
    """A server subprocess in its own session; stopped with SIGTERM, then SIGKILL if stuck."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_path: Path) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self.exit_code: int | None = None
        self.stop_seconds: float | None = None
        with open(log_path, "wb") as log_file:
            self.proc = subprocess.Popen(
                argv,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the server's output."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:]) or "(empty log)"

    def cpu_seconds(self) -> float | None:
        """CPU seconds used so far by the server and its child processes."""
        return proc_group_cpu_seconds(self.proc.pid)

    def wait_ready(
        self, port: int, path: str, timeout_s: float, want: Callable[[int], bool]
    ) -> None:
        """Poll ``GET path`` until ``want(status)``; raise if the server exits or times out."""
        deadline = time.monotonic() + timeout_s
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(
                    f"{self.name} exited with code {self.proc.returncode} before it was ready:\n"
                    f"$ {shlex.join(self.argv)}\n{self.log_tail()}"
                )
            try:
                status, _ = http_get(port, path, None, timeout=2.0)
            except (OSError, http.client.HTTPException) as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if want(status):
                    return
                last = f"HTTP {status}"
            time.sleep(0.1)
        raise BenchError(
            f"{self.name} not ready after {timeout_s:.0f} s (GET {path}: {last}):\n"
            f"{self.log_tail()}"
        )

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM, wait for the exit, SIGKILL the whole group if needed (idempotent)."""
        if self.exit_code is not None:
            return
        t0 = time.monotonic()
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                log(f"  {self.name} still running {timeout_s:.0f} s after SIGTERM: SIGKILL")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.stop_seconds = time.monotonic() - t0
        self.exit_code = self.proc.returncode
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # leftovers of the group, if any


# --------------------------------------------------------------------------------------------
# wrk
# --------------------------------------------------------------------------------------------


@dataclass
class WrkResult:
    requests: int
    duration_s: float
    requests_per_s: float
    non_2xx: int
    connect_errors: int
    read_errors: int
    write_errors: int
    timeouts: int
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    latency_max_ms: float | None
    wall_s: float = 0.0
    wrk_cpu_s: float = 0.0
    server_cpu_s: float | None = None
    machine_busy_s: float = 0.0
    machine_steal_s: float = 0.0

    @property
    def ok(self) -> int:
        """Responses with a 2xx (or 3xx) status."""
        return self.requests - self.non_2xx

    @property
    def ok_per_s(self) -> float:
        """2xx responses per second."""
        return self.ok / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def socket_errors(self) -> int:
        """Connect, read, write errors and timeouts."""
        return self.connect_errors + self.read_errors + self.write_errors + self.timeouts


_DURATION_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_wrk(output: str) -> WrkResult:
    """Parse wrk's report (and the ``LORAFOX_WRK`` line of bench/uplink.lua's done())."""
    m = re.search(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h),", output, re.M)
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    if not m or not rps:
        raise BenchError(f"cannot parse wrk output:\n{output}")
    requests = int(m.group(1))
    duration = float(m.group(2)) * _DURATION_UNITS[m.group(3)]
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sock = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    errs = [int(x) for x in sock.groups()] if sock else [0, 0, 0, 0]
    extra: dict[str, Any] = {}
    line = re.search(r"^LORAFOX_WRK (\{.*\})$", output, re.M)
    if line:
        extra = json.loads(line.group(1))
        duration = extra["duration_us"] / 1e6
        requests = int(extra["requests"])

    def ms(key: str) -> float | None:
        return float(extra[key]) / 1000.0 if key in extra else None

    return WrkResult(
        requests=requests,
        duration_s=duration,
        requests_per_s=float(rps.group(1)),
        non_2xx=int(non2xx.group(1)) if non2xx else int(extra.get("status_errors", 0)),
        connect_errors=errs[0],
        read_errors=errs[1],
        write_errors=errs[2],
        timeouts=errs[3],
        latency_p50_ms=ms("latency_p50_us"),
        latency_p99_ms=ms("latency_p99_us"),
        latency_max_ms=ms("latency_max_us"),
    )


@dataclass
class WrkLoad:
    wrk: str
    threads: int
    connections: int
    duration_s: int

    def run(
        self,
        port: int,
        authorization: str,
        time0: int,
        server: Server,
        devices: int = UPLINK_DEVICES,
        stations: int = 1,
    ) -> WrkResult:
        """Run wrk with bench/uplink.lua against ``POST /sigfox/uplink`` on ``port``, spreading
        the uplinks over ``devices`` devices from ``WRK_DEVICE_BASE`` on; each heard by
        ``stations`` stations (one callback per station, all but the first duplicates)."""
        argv = [
            self.wrk,
            f"-t{self.threads}",
            f"-c{self.connections}",
            f"-d{self.duration_s}s",
            "--timeout",
            "5s",
            "-s",
            str(LUA_SCRIPT),
            "-H",
            f"Authorization: {authorization}",
            "-H",
            "Content-Type: application/json",
            f"http://{HOST}:{port}",
            "--",
            UPLINK_PATH,
            str(time0),
            f"{WRK_DEVICE_BASE:X}",
            str(devices),
            str(stations),
        ]
        cpu0, server0 = children_cpu_seconds(), server.cpu_seconds()
        (busy0, steal0), t0 = machine_cpu_seconds(), time.monotonic()
        try:
            done = subprocess.run(
                argv, capture_output=True, text=True, timeout=self.duration_s + 60, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise BenchError(f"wrk did not finish in {self.duration_s + 60} s") from exc
        server1 = server.cpu_seconds()
        (busy1, steal1), t1 = machine_cpu_seconds(), time.monotonic()
        if done.returncode != 0:
            raise BenchError(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        result = parse_wrk(done.stdout)
        result.wrk_cpu_s = children_cpu_seconds() - cpu0
        result.wall_s = t1 - t0
        result.machine_busy_s, result.machine_steal_s = busy1 - busy0, steal1 - steal0
        if server0 is not None and server1 is not None:
            result.server_cpu_s = server1 - server0
        return result


# --------------------------------------------------------------------------------------------
# Stored messages (SQLite)
# --------------------------------------------------------------------------------------------


def count_stored(data_dir: Path) -> dict[str, int]:
    """Row counts of the tables whose name mentions messages/uplinks, in any SQLite file."""
    counts: dict[str, int] = {}
    for path in sorted(data_dir.rglob("*")):
        if not path.is_file() or path.suffix not in (".db", ".sqlite", ".sqlite3"):
            continue
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
        except sqlite3.Error:
            continue
        try:
            tables = [
                row[0]
                for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                if "message" in row[0].lower() or "uplink" in row[0].lower()
            ]
            for table in tables:
                quoted = '"' + table.replace('"', '""') + '"'
                (rows,) = conn.execute(f"SELECT count(*) FROM {quoted}").fetchone()  # noqa: S608
                counts[f"{path.name}:{table}"] = int(rows)
        except sqlite3.Error:
            pass
        finally:
            conn.close()
    return counts


def stored_delta(
    data_dir: Path, before: dict[str, int], expected: int, max_s: float = 30.0
) -> tuple[str, int] | None:
    """(table, rows added since ``before``) once the count stops growing; None if unknown.

    Done when the count has not moved for 0.5 s and reached ``expected``, or has not moved
    for 2 s (the service may commit in batches after it answered).
    """
    deadline = time.monotonic() + max_s
    best: tuple[str, int] | None = None
    stable = 0
    while time.monotonic() < deadline:
        after = count_stored(data_dir)
        deltas = {name: rows - before.get(name, 0) for name, rows in after.items()}
        current = max(deltas.items(), key=lambda kv: kv[1]) if deltas else None
        if current is not None and current == best:
            stable += 1
        else:
            stable = 0
        best = current
        if best is not None and ((stable >= 1 and best[1] >= expected) or stable >= 4):
            return best
        time.sleep(0.5)
    return best


def two_ports() -> tuple[int, int]:
    """Two different free ports (HTTP, MQTT)."""
    http_port, mqtt_port = free_port(), free_port()
    while mqtt_port == http_port:
        mqtt_port = free_port()
    return http_port, mqtt_port


def serve_command(
    service_cmd: list[str],
    data_dir: Path,
    http_port: int,
    mqtt_port: int,
    admin_password: str,
    sigfox_password: str,
    *options: str,
    semtech_port: int = 0,
) -> tuple[list[str], dict[str, str]]:
    """The argv and environment of ``lorafox serve`` on ``data_dir`` and the two ports."""
    env = dict(os.environ)
    env.update(
        LORAFOX_ADMIN_PASSWORD=admin_password,
        LORAFOX_SIGFOX_USERNAME=SIGFOX_USERNAME,
        LORAFOX_SIGFOX_PASSWORD=sigfox_password,
    )
    argv = [
        *service_cmd,
        "serve",
        "--data-dir",
        str(data_dir),
        "--host",
        HOST,
        "--http-port",
        str(http_port),
        "--mqtt-port",
        str(mqtt_port),
        "--semtech-port",
        str(semtech_port),
        *options,
    ]
    return argv, env


async def register_devices(port: int, sigfox_auth: str, base: int, time0: int) -> None:
    """One uplink for each of the ``UPLINK_DEVICES`` devices from ``base`` on, before a phase:
    lorafox provisions a device on its first uplink (one more INSERT and a log line), and the
    phases measure the steady state of known devices. The time used (``time0 - 1``) is never
    used by the phases, so their uplinks are not duplicates."""
    requests = [
        request_bytes("POST", UPLINK_PATH, port, sigfox_auth, uplink_body(base + i, time0 - 1, 0))
        for i in range(UPLINK_DEVICES)
    ]
    statuses, errors, samples = await send_all(port, requests, 8, 120.0)
    if errors or any(s >= 300 for s in statuses):
        log(f"  warning: registering devices: {statuses}, {errors} errors, e.g. {samples}")


def default_service_cmd() -> list[str]:
    """``lorafox`` next to this Python, else on PATH, else ``python -m lorafox``."""
    script = Path(sys.executable).parent / "lorafox"
    if script.exists():
        return [str(script)]
    found = shutil.which("lorafox")
    return [found] if found else [sys.executable, "-m", "lorafox"]


# --------------------------------------------------------------------------------------------
# Goals
# --------------------------------------------------------------------------------------------


@dataclass
class Goal:
    """One goal of a benchmark: what was measured against what was asked, and the verdict
    (None when this run cannot tell, e.g. a quick run's smaller fleet)."""

    name: str
    measured: str
    target: str
    met: bool | None


def verdict(ok: bool | None) -> str:
    """PASS, FAIL or n/a."""
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def judged(goal: Goal) -> str:
    """The goal column of a row: the target and the verdict."""
    return f"{goal.target}  {verdict(goal.met)}"


def goal_lines(goals: list[Goal]) -> list[str]:
    """The goals as an aligned block of text."""
    if not goals:
        return []
    name_w = max(len(g.name) for g in goals) + 2
    value_w = max(len(g.measured) for g in goals) + 2
    target_w = max(len(g.target) for g in goals) + 2
    return [
        f"{g.name:<{name_w}}{g.measured:<{value_w}}{g.target:<{target_w}}{verdict(g.met)}"
        for g in goals
    ]
