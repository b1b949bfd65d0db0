"""Uplink benchmark for lorafox: throughput, bidir latency under load, and the machine's ceiling.

One run measures, on this machine (127.0.0.1 only):

(a) ``POST /sigfox/uplink`` at saturation (wrk, bench/uplink.lua: a unique uplink per request)
    while lorafox stores every uplink (SQLite) and publishes it to its embedded MQTT broker,
    where a live paho-mqtt subscriber on ``sigfox/uplink/#`` (QoS 0) counts them;
(b) the p50/p99/max latency of ``POST /sigfox/bidir`` (``"ack": true``) probes at ~100/s while a
    paced load of 1,000 uplinks/s runs; half of the probed devices have a downlink queued, so
    both the 200 (downlink) and the 204 (none) answers are timed;
(c) the same wrk load as (a) against bench/bare_app.py (a raw ASGI app that parses the body and
    answers 204) under uvicorn with the same options: the ceiling of this machine;
(d) (a) again once the devices' type decodes every payload with a 13-field custom format:
    (d)/(a) is what decoding costs on ingest;
(e) a duplicate-station storm: the wrk load of (a) with every message heard by 3 stations, one
    callback each (same device, seqNumber, time and data; each station its own id, snr and
    rssi; "duplicate": false for the first, true for the others): each message must be stored
    once and published once, and lorafox should take the callbacks at half (a)'s rate or more;
(f) the fleet and history scenarios of bench/scale.py (1k, 100k and 1M registered devices, and
    10M stored messages, made with SQL), in rounds: the rate, start-up and RSS of each.

It prints the figures, (a)/(c), (e)/(a), and one block with every goal: (a) >= 10,000
uplinks/s, (a)/(c) >= 0.5, (b) p99 <= 10 ms, (e) stored and published once and (e)/(a) >= 0.5,
(f) the rates within 15 % of each other, RSS <= 500 MB with 1M devices and start-up <= 5 s with
10M messages.

    .venv/bin/python bench/uplink.py            # full run, about 12 minutes ((f) about 9)
    .venv/bin/python bench/uplink.py --quick    # smoke run, about 2 minutes

The paced uplink load and the bidir probes of (b) run in two child processes of this script
(``--child pacer|prober``, internal) so that neither times its requests behind the other's work
or behind the MQTT subscriber thread. See bench/README.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import http.client
import json
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

SELF = Path(__file__).resolve()
sys.path.insert(0, str(SELF.parent))

import scale  # noqa: E402
from harness import (  # noqa: E402 (the bench directory on the path first)
    ADMIN_USERNAME,
    BENCH_DIR,
    HOST,
    HTTP_ERRORS,
    LUA_SCRIPT,
    NOISY_CORES,
    SIGFOX_USERNAME,
    UPLINK_BODY,
    UPLINK_DEVICES,
    UPLINK_PATH,
    WRK_DEVICE_BASE,
    BenchError,
    CpuWindow,
    Goal,
    HttpConnection,
    Server,
    WrkLoad,
    basic_auth,
    count_stored,
    default_service_cmd,
    free_port,
    goal_lines,
    http_get,
    judged,
    log,
    percentile,
    register_devices,
    request_bytes,
    run_async,
    self_cpu_seconds,
    send_all,
    serve_command,
    stored_delta,
    two_ports,
    uplink_body,
    verdict,
    wait_for_quiet,
)

GOAL_UPLINKS_PER_S = 10_000.0
GOAL_BIDIR_P99_MS = 10.0

BIDIR_PATH = "/sigfox/bidir"
MQTT_TOPIC = "sigfox/uplink/#"
DOWNLINK_DATA = "0102030405060708"
DECODED_FORMAT = (
    "Temp::float:32 AccX::uint:16:little-endian AccY::uint:16:little-endian "
    "AccZ::uint:16:little-endian Battery::uint:8 Digital8::bool:7 Digital7::bool:6 "
    "Digital6::bool:5 Digital5::bool:4 Digital4::bool:3 Digital3::bool:2 Digital2::bool:1 "
    "Digital1::bool:0"
)

# Disjoint device pools keep every (device, seqNumber, time) unique across the phases; (a), (c),
# (d) and (e) use bench/uplink.lua's, from WRK_DEVICE_BASE on.
PACER_DEVICE_BASE = 0x20000000  # (b) background uplinks
PROBE_DEVICE_BASE = 0xB0000000  # (b) one device per bidir probe

STORM_STATIONS = 3  # (e): every message heard by this many stations
GOAL_STORM_SHARE = 0.5  # (e) callbacks/s against (a)'s
GOAL_CEILING_SHARE = 0.5  # (a) end-to-end against (c)


# --------------------------------------------------------------------------------------------
# Child processes of (b): the paced uplink load and the bidir prober
# --------------------------------------------------------------------------------------------


@dataclass
class PacerConfig:
    port: int
    authorization: str
    rate: float
    duration_s: float
    connections: int
    time0: int


@dataclass
class ProberConfig:
    port: int
    authorization: str
    probes: int
    rate: float
    connections: int
    time0: int


async def pacer(cfg: PacerConfig) -> dict[str, Any]:
    """Send ``rate`` uplinks/s for ``duration_s`` over keep-alive connections.

    Connection k sends request n = i * connections + k at start + n / rate, or as soon as its
    previous response is in when it is late; a slow server therefore lowers the achieved rate,
    which is reported with the worst lag behind the schedule.
    """
    prefix = request_bytes("POST", UPLINK_PATH, cfg.port, cfg.authorization, b"")
    prefix = prefix[: prefix.rindex(b"Content-Length:")] + b"Content-Length: "
    conns = [HttpConnection(cfg.port) for _ in range(cfg.connections)]
    await asyncio.gather(*(c.connect() for c in conns))
    print("READY", flush=True)
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.01
    deadline = start + cfg.duration_s
    stats = {"sent": 0, "ok": 0, "non_2xx": 0, "errors": 0}
    max_lag = 0.0
    last_done = start

    async def worker(k: int, conn: HttpConnection) -> None:
        nonlocal max_lag, last_done
        n = k
        while True:
            slot = start + n / cfg.rate
            if slot >= deadline:
                return
            delay = slot - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                max_lag = max(max_lag, -delay)
            rnd = n // UPLINK_DEVICES
            body = UPLINK_BODY % (
                PACER_DEVICE_BASE + n % UPLINK_DEVICES,
                cfg.time0 + rnd,
                rnd % 4096,
                b"false",
            )
            stats["sent"] += 1
            try:
                status, _ = await conn.send(prefix + b"%d\r\n\r\n%s" % (len(body), body))
            except HTTP_ERRORS:
                stats["errors"] += 1
            else:
                stats["ok" if 200 <= status < 300 else "non_2xx"] += 1
            last_done = loop.time()
            n += cfg.connections

    try:
        async with asyncio.timeout(cfg.duration_s + 30.0):
            await asyncio.gather(*(worker(k, c) for k, c in enumerate(conns)))
    finally:
        await asyncio.gather(*(c.close() for c in conns))
    elapsed = max(last_done - start, 1e-9)
    return {
        **stats,
        "target_rate": cfg.rate,
        "elapsed_s": elapsed,
        "achieved_rate": (stats["ok"] + stats["non_2xx"]) / elapsed,
        "max_lag_ms": max_lag * 1000.0,
    }


def check_bidir_answer(device: str, body: bytes) -> bool:
    """True when a 200 answer is ``{"<DEVICE>": {"downlinkData": "<queued data>"}}``."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(doc, dict) or len(doc) != 1:
        return False
    key, value = next(iter(doc.items()))
    return (
        isinstance(key, str)
        and key.upper() == device
        and isinstance(value, dict)
        and str(value.get("downlinkData", "")).lower() == DOWNLINK_DATA
    )


async def prober(cfg: ProberConfig) -> dict[str, Any]:
    """Send ``probes`` bidir callbacks at ``rate``/s and time each one.

    Probe i is for device PROBE_DEVICE_BASE + i; even i have a downlink queued (expect 200),
    odd i have none (expect 204). Each probe is timed from just before its request is written
    to the end of its response; it is scheduled at start + i / rate on one of a few connections.
    """
    conns = [HttpConnection(cfg.port) for _ in range(cfg.connections)]
    await asyncio.gather(*(c.connect() for c in conns))
    loop = asyncio.get_running_loop()
    start = loop.time() + 0.01
    latencies: dict[str, list[float]] = {"200": [], "204": [], "other": []}
    counts = {"expected": 0, "unexpected": 0, "wrong_body": 0, "errors": 0}
    samples: list[str] = []
    max_lag = 0.0
    last_done = start

    async def worker(k: int, conn: HttpConnection) -> None:
        nonlocal max_lag, last_done
        for i in range(k, cfg.probes, cfg.connections):
            delay = start + i / cfg.rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                max_lag = max(max_lag, -delay)
            device = f"{PROBE_DEVICE_BASE + i:X}"
            body = uplink_body(PROBE_DEVICE_BASE + i, cfg.time0 + 1, 1, ack=True)
            request = request_bytes("POST", BIDIR_PATH, cfg.port, cfg.authorization, body)
            t0 = time.perf_counter()
            try:
                async with asyncio.timeout(10.0):
                    status, answer = await conn.send(request)
            except (*HTTP_ERRORS, TimeoutError) as exc:
                counts["errors"] += 1
                if len(samples) < 5:
                    samples.append(f"probe {i}: {type(exc).__name__}: {exc}")
                continue
            elapsed_ms = (time.perf_counter() - t0) * 1000.0
            last_done = loop.time()
            latencies[str(status) if status in (200, 204) else "other"].append(elapsed_ms)
            expected = 200 if i % 2 == 0 else 204
            counts["expected" if status == expected else "unexpected"] += 1
            if status == 200 and not check_bidir_answer(device, answer):
                counts["wrong_body"] += 1
            if (status != expected or status not in (200, 204)) and len(samples) < 5:
                samples.append(f"probe {i} ({device}): HTTP {status} {answer[:120]!r}")

    try:
        async with asyncio.timeout(cfg.probes / cfg.rate + 60.0):
            await asyncio.gather(*(worker(k, c) for k, c in enumerate(conns)))
    finally:
        await asyncio.gather(*(c.close() for c in conns))
    elapsed = max(last_done - start, 1e-9)
    return {
        "latencies_ms": latencies,
        **counts,
        "samples": samples,
        "elapsed_s": elapsed,
        "achieved_rate": sum(len(v) for v in latencies.values()) / elapsed,
        "max_lag_ms": max_lag * 1000.0,
    }


def child_main(kind: str, config_json: str) -> int:
    """Entry point of ``--child``: run the pacer or the prober, print ``RESULT {json}``."""
    config = json.loads(config_json)
    result: dict[str, Any]
    if kind == "pacer":
        result = run_async(pacer(PacerConfig(**config)))
    elif kind == "prober":
        result = run_async(prober(ProberConfig(**config)))
    else:
        print(f"unknown child kind {kind!r}", file=sys.stderr)
        return 2
    result["cpu_s"] = self_cpu_seconds()
    print("RESULT " + json.dumps(result), flush=True)
    return 0


# --------------------------------------------------------------------------------------------
# MQTT subscriber
# --------------------------------------------------------------------------------------------


class UplinkCounter:
    """A paho-mqtt subscriber on ``sigfox/uplink/#`` (QoS 0) counting what arrives."""

    def __init__(self, port: int, credentials: tuple[str, str] | None) -> None:
        self.port = port
        self.credentials = credentials
        self.count = 0
        self.first_at = 0.0
        self.last_at = 0.0
        self.first_topic: str | None = None
        self.failure: str | None = None
        self._ready = threading.Event()
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"lorafox-bench-{os.getpid()}-{secrets.token_hex(3)}",
            protocol=MQTTProtocolVersion.MQTTv311,
        )
        if credentials:
            self._client.username_pw_set(*credentials)
        self._client.on_connect = self._on_connect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._started = False

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: object,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None,
    ) -> None:
        if reason_code.is_failure:
            self.failure = f"CONNACK: {reason_code}"
            self._ready.set()
            return
        client.subscribe(MQTT_TOPIC, qos=0)

    def _on_subscribe(
        self,
        client: mqtt.Client,
        userdata: object,
        mid: int,
        reason_codes: list[ReasonCode],
        properties: Properties | None,
    ) -> None:
        if any(rc.is_failure for rc in reason_codes):
            self.failure = f"SUBACK: {[str(rc) for rc in reason_codes]}"
        self._ready.set()

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        now = time.monotonic()
        if self.count == 0:
            self.first_at = now
            self.first_topic = message.topic
        self.count += 1
        self.last_at = now

    def start(self, timeout_s: float = 10.0) -> None:
        """Connect and subscribe; raise BenchError when the broker refuses either."""
        try:
            self._client.connect(HOST, self.port, keepalive=60)
        except OSError as exc:
            raise BenchError(f"MQTT connect to {HOST}:{self.port} failed: {exc}") from exc
        self._client.loop_start()
        self._started = True
        if not self._ready.wait(timeout_s):
            raise BenchError(f"no SUBACK from the MQTT broker within {timeout_s:.0f} s")
        if self.failure:
            raise BenchError(f"MQTT subscribe refused ({self.failure})")

    def reset(self) -> None:
        """Start counting from zero."""
        self.count = 0
        self.first_at = self.last_at = 0.0

    def wait_quiet(self, expected: int, quiet_s: float = 2.0, max_s: float = 60.0) -> None:
        """Wait until ``expected`` messages arrived or nothing arrived for ``quiet_s``."""
        deadline = time.monotonic() + max_s
        seen, since = self.count, time.monotonic()
        while time.monotonic() < deadline and self.count < expected:
            time.sleep(0.1)
            if self.count != seen:
                seen, since = self.count, time.monotonic()
            elif time.monotonic() - since >= quiet_s:
                return

    @property
    def rate(self) -> float:
        """Messages per second between the first and the last arrival."""
        window = self.last_at - self.first_at
        return self.count / window if self.count > 1 and window > 0 else 0.0

    def stop(self) -> None:
        """Disconnect (idempotent)."""
        if self._started:
            self._started = False
            with contextlib.suppress(Exception):
                self._client.disconnect()
            self._client.loop_stop()


def start_counter(port: int, options: list[tuple[str, str] | None]) -> UplinkCounter:
    """Connect a subscriber with the first credentials the broker accepts."""
    failures: list[str] = []
    for credentials in options:
        counter = UplinkCounter(port, credentials)
        try:
            counter.start()
        except BenchError as exc:
            counter.stop()
            who = f"user {credentials[0]!r}" if credentials else "anonymous"
            failures.append(f"{who}: {exc}")
            continue
        return counter
    raise BenchError("MQTT subscriber could not subscribe: " + "; ".join(failures))


# --------------------------------------------------------------------------------------------
# The three benchmarks
# --------------------------------------------------------------------------------------------


@dataclass
class Settings:
    quick: bool
    duration_s: int
    connections: int
    threads: int
    pace_rate: float
    pace_connections: int
    probes: int
    probe_rate: float
    probe_connections: int
    phases: str
    fleet_rounds: int
    service_cmd: list[str]
    startup_timeout_s: float
    wait_quiet_s: float
    mqtt_credentials: tuple[str, str] | None


@dataclass
class Service:
    """A running lorafox instance and what the benchmarks need to drive it."""

    server: Server
    counter: UplinkCounter
    port: int
    sigfox_auth: str
    admin_auth: str
    time0: int
    data_dir: Path
    registered: bool = False


@dataclass
class Results:
    settings: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    started_at: str = field(default_factory=lambda: time.strftime("%Y-%m-%d %H:%M:%S %Z"))
    bare: dict[str, Any] | None = None
    uplink: dict[str, Any] | None = None
    bidir: dict[str, Any] | None = None
    decoded: dict[str, Any] | None = None
    storm: dict[str, Any] | None = None
    fleets: list[dict[str, Any]] | None = None
    service_exit: dict[str, Any] | None = None


def run_bare(settings: Settings, load: WrkLoad, workdir: Path, results: Results) -> None:
    """(c): bench/bare_app.py under uvicorn, same wrk load as (a)."""
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "uvicorn",
        "bare_app:app",
        "--app-dir",
        str(BENCH_DIR),
        "--host",
        HOST,
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    log(f"(c) bare ASGI app: uvicorn on {HOST}:{port}")
    server = Server("bare app", argv, dict(os.environ), workdir / "bare.log")
    try:
        server.wait_ready(port, "/healthz", 30.0, lambda status: status < 500)
        wait_for_quiet(settings.wait_quiet_s, server)
        log(f"(c) wrk {load.threads} thread, {load.connections} connections, {load.duration_s} s")
        wrk = load.run(port, basic_auth(SIGFOX_USERNAME, "bare"), int(time.time()), server)
    finally:
        server.stop()
    log(f"(c) {wrk.requests_per_s:,.0f} requests/s")
    results.bare = {"wrk": asdict(wrk), "ok_per_s": wrk.ok_per_s}


def run_service(
    settings: Settings, load: WrkLoad, workdir: Path, results: Results, stack: contextlib.ExitStack
) -> None:
    """(a), (b), (e) and (d) against one lorafox instance."""
    data_dir = workdir / "data"
    data_dir.mkdir()
    http_port, mqtt_port = two_ports()
    admin_password = secrets.token_urlsafe(12)
    sigfox_password = secrets.token_urlsafe(12)
    argv, env = serve_command(
        settings.service_cmd, data_dir, http_port, mqtt_port, admin_password, sigfox_password
    )
    log(f"lorafox: {shlex.join(argv)}")
    server = Server("lorafox", argv, env, workdir / "lorafox.log")
    stack.callback(server.stop)
    server.wait_ready(http_port, "/healthz", settings.startup_timeout_s, lambda s: s == 200)
    log(f"lorafox ready: HTTP {HOST}:{http_port}, MQTT {HOST}:{mqtt_port}")

    options: list[tuple[str, str] | None] = (
        [settings.mqtt_credentials] if settings.mqtt_credentials else [None]
    )
    if not settings.mqtt_credentials:
        options.append((ADMIN_USERNAME, admin_password))
    counter = start_counter(mqtt_port, options)
    stack.callback(counter.stop)
    who = f"user {counter.credentials[0]!r}" if counter.credentials else "anonymous"
    log(f"MQTT subscriber on {MQTT_TOPIC} (QoS 0, {who})")

    service = Service(
        server=server,
        counter=counter,
        port=http_port,
        sigfox_auth=basic_auth(SIGFOX_USERNAME, sigfox_password),
        admin_auth=basic_auth(ADMIN_USERNAME, admin_password),
        time0=int(time.time()) - 3600,
        data_dir=data_dir,
    )
    if "a" in settings.phases:
        run_uplink(settings, load, service, results)
    if "b" in settings.phases:
        run_bidir(settings, service, results)
    if "e" in settings.phases:
        run_storm(settings, load, service, results)
    if "d" in settings.phases:  # last: the devices' type decodes from here on
        run_decoded(settings, load, service, results)

    counter.stop()
    log("stopping lorafox (SIGTERM)")
    server.stop()
    results.service_exit = {"exit_code": server.exit_code, "stop_s": server.stop_seconds}
    if server.exit_code not in (0, -signal.SIGTERM):
        log(f"  lorafox exited with code {server.exit_code}:\n{server.log_tail(15)}")


def register(service: Service, phase: str) -> None:
    """Make the wrk devices known to lorafox once, before the first phase that loads them."""
    if not service.registered:
        log(f"{phase} registering {UPLINK_DEVICES:,} devices (one uplink each)")
        run_async(
            register_devices(service.port, service.sigfox_auth, WRK_DEVICE_BASE, service.time0)
        )
        service.registered = True


def run_uplink(settings: Settings, load: WrkLoad, service: Service, results: Results) -> None:
    """(a): saturation through POST /sigfox/uplink, stored and published, counted over MQTT."""
    register(service, "(a)")
    results.uplink = saturate("(a)", settings, load, service, service.time0)


def run_storm(settings: Settings, load: WrkLoad, service: Service, results: Results) -> None:
    """(e): a duplicate-station storm: every message heard by STORM_STATIONS stations, one
    callback each, as the Sigfox Back-End sends them. Each message must be stored once and
    published once; the others are answered as duplicates."""
    register(service, "(e)")
    # times between (a)'s and (d)'s: every message is new (uplink.lua adds m / devices seconds)
    results.storm = saturate(
        "(e)", settings, load, service, service.time0 + 50_000, stations=STORM_STATIONS
    )


def run_decoded(settings: Settings, load: WrkLoad, service: Service, results: Results) -> None:
    """(d): (a) again, once the devices' type decodes payloads with a 13-field custom format
    (the Sigfox documentation's device type example): what decoding costs on ingest."""
    register(service, "(d)")
    set_payload_format(service.port, service.admin_auth, DECODED_FORMAT)
    # later times than (a)'s: every uplink is new (uplink.lua adds n / devices seconds)
    results.decoded = saturate("(d)", settings, load, service, service.time0 + 100_000)
    status, body = http_get(
        service.port,
        f"/api/v2/devices/{WRK_DEVICE_BASE:X}/messages?limit=1",
        service.admin_auth,
        10.0,
    )
    decoded = orjson.loads(body)["data"][0].get("decoded") if status == 200 else None
    results.decoded["decoded_sample"] = decoded
    log(f"(d) a stored message decodes to {decoded}")


def run_fleets(settings: Settings, load: WrkLoad, workdir: Path, results: Results) -> None:
    """(f): bench/scale.py's scenarios, each on a data dir filled with SQL: the rate, start-up
    and memory with 1k, 100k and 1M registered devices and 0 and 10M messages, in rounds."""
    found = scale.measure(
        workdir,
        scale.scenarios(settings.quick),
        load,
        settings.service_cmd,
        settings.fleet_rounds,
        lambda: wait_for_quiet(settings.wait_quiet_s, None),
    )
    results.fleets = [asdict(f) for f in found]


def set_payload_format(port: int, admin_auth: str, payload_format: str) -> None:
    """Give the device type the devices were provisioned in ("Unregistered") a custom format."""
    status, body = http_get(port, "/api/v2/device-types?name=Unregistered", admin_auth, 10.0)
    if status != 200 or not orjson.loads(body)["data"]:
        raise BenchError(f"cannot find the Unregistered device type: HTTP {status} {body[:200]!r}")
    type_id = orjson.loads(body)["data"][0]["id"]
    connection = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        connection.request(
            "PUT",
            f"/api/v2/device-types/{type_id}",
            body=orjson.dumps({"payloadType": 3, "payloadConfig": payload_format}),
            headers={"Authorization": admin_auth, "Content-Type": "application/json"},
        )
        answer = connection.getresponse()
        text = answer.read()
    finally:
        connection.close()
    if answer.status not in (200, 204):
        raise BenchError(f"cannot set the payload format: HTTP {answer.status} {text[:200]!r}")


def saturate(
    phase: str,
    settings: Settings,
    load: WrkLoad,
    service: Service,
    time0: int,
    stations: int = 1,
) -> dict[str, Any]:
    """wrk at saturation on the registered devices, each message from ``stations`` stations;
    stored rows and MQTT arrivals counted (once per message, not per callback)."""
    server, counter, port, data_dir = (
        service.server,
        service.counter,
        service.port,
        service.data_dir,
    )
    wait_for_quiet(settings.wait_quiet_s, server)
    rows_before = count_stored(data_dir)
    counter.reset()
    cpu0 = self_cpu_seconds()
    log(f"{phase} wrk {load.threads} thread, {load.connections} connections, {load.duration_s} s")
    wrk = load.run(port, service.sigfox_auth, time0, server, stations=stations)
    subscriber_cpu = self_cpu_seconds() - cpu0
    log(f"{phase} {wrk.requests_per_s:,.0f} requests/s; waiting for MQTT and storage to drain")
    messages = wrk.ok // stations
    counter.wait_quiet(expected=messages)
    stored = stored_delta(data_dir, rows_before, expected=max(messages, counter.count))
    status, body = http_get(
        port, f"/api/v2/devices/{WRK_DEVICE_BASE:X}/messages?limit=1", service.admin_auth, 10.0
    )
    log(
        f"{phase} MQTT received {counter.count:,} at {counter.rate:,.0f}/s; stored "
        f"{stored[1] if stored else 'n/a'}; GET messages?limit=1 -> HTTP {status}"
    )
    return {
        "wrk": asdict(wrk),
        "ok_per_s": wrk.ok_per_s,
        "mqtt_received": counter.count,
        "mqtt_rate": counter.rate,
        "mqtt_window_s": counter.last_at - counter.first_at,
        "mqtt_first_topic": counter.first_topic,
        "subscriber_cpu_s": subscriber_cpu,
        "stored_table": stored[0] if stored else None,
        "stored_rows": stored[1] if stored else None,
        "api_check": {"status": status, "body": body[:300].decode(errors="replace")},
        "stations": stations,
        "end_to_end_rate": min(wrk.ok_per_s / stations, counter.rate),
    }


async def prepare_probes(
    settings: Settings, port: int, sigfox_auth: str, admin_auth: str, time0: int
) -> dict[str, Any]:
    """One uplink per probed device (so it exists), then a downlink for the even ones."""
    uplinks = [
        request_bytes(
            "POST", UPLINK_PATH, port, sigfox_auth, uplink_body(PROBE_DEVICE_BASE + i, time0, 0)
        )
        for i in range(settings.probes)
    ]
    up_status, up_errors, up_samples = await send_all(port, uplinks, 8, 120.0)
    downlink_body = orjson.dumps({"data": DOWNLINK_DATA})
    downlinks = [
        request_bytes(
            "POST",
            f"/api/v2/devices/{PROBE_DEVICE_BASE + i:X}/downlinks",
            port,
            admin_auth,
            downlink_body,
        )
        for i in range(0, settings.probes, 2)
    ]
    dl_status, dl_errors, dl_samples = await send_all(port, downlinks, 8, 120.0)
    return {
        "uplink_status": up_status,
        "uplink_errors": up_errors,
        "uplink_samples": up_samples,
        "downlink_status": dl_status,
        "downlink_errors": dl_errors,
        "downlink_samples": dl_samples,
    }


async def run_children(
    pacer_cfg: PacerConfig, prober_cfg: ProberConfig, warmup_s: float, window: CpuWindow
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Start the pacer, let it warm up, run the prober; return both results.

    ``window`` measures CPU while the prober runs (the pacer runs all along).
    """
    procs: list[asyncio.subprocess.Process] = []

    async def spawn(kind: str, cfg: PacerConfig | ProberConfig) -> asyncio.subprocess.Process:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SELF),
            "--child",
            kind,
            "--child-config",
            json.dumps(asdict(cfg)),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
        procs.append(proc)
        return proc

    async def result_of(kind: str, proc: asyncio.subprocess.Process, timeout_s: float) -> Any:
        async with asyncio.timeout(timeout_s):
            out, err = await proc.communicate()
        for line in out.decode().splitlines():
            if line.startswith("RESULT "):
                return json.loads(line[len("RESULT ") :])
        raise BenchError(f"{kind} failed (exit {proc.returncode}):\n{err.decode()[-2000:]}")

    try:
        pacer_proc = await spawn("pacer", pacer_cfg)
        assert pacer_proc.stdout is not None
        async with asyncio.timeout(30.0):
            ready = await pacer_proc.stdout.readline()
        if ready.strip() != b"READY":
            _, err = await pacer_proc.communicate()
            raise BenchError(f"pacer did not start:\n{ready.decode()}{err.decode()[-2000:]}")
        await asyncio.sleep(warmup_s)
        window.start()
        prober_proc = await spawn("prober", prober_cfg)
        probe_time = prober_cfg.probes / prober_cfg.rate
        probe_result = await result_of("prober", prober_proc, probe_time + 90.0)
        window.stop()
        pacer_result = await result_of("pacer", pacer_proc, pacer_cfg.duration_s + 60.0)
        return pacer_result, probe_result
    finally:
        for proc in procs:
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await proc.wait()


def run_bidir(settings: Settings, service: Service, results: Results) -> None:
    """(b): bidir latency while a paced uplink load runs."""
    server, counter, port = service.server, service.counter, service.port
    sigfox_auth, time0 = service.sigfox_auth, service.time0
    log(f"(b) registering {UPLINK_DEVICES:,} background devices (one uplink each)")
    run_async(register_devices(port, sigfox_auth, PACER_DEVICE_BASE, time0))
    log(f"(b) preparing {settings.probes:,} probe devices ({settings.probes // 2:,} downlinks)")
    prep = run_async(prepare_probes(settings, port, sigfox_auth, service.admin_auth, time0))
    for what in ("uplink", "downlink"):
        statuses, errors = prep[f"{what}_status"], prep[f"{what}_errors"]
        if errors or any(s >= 300 for s in statuses):
            samples = prep[f"{what}_samples"]
            log(f"  warning: {what} preparation: {statuses}, {errors} errors, e.g. {samples}")
    warmup_s = 1.0
    probe_time = settings.probes / settings.probe_rate
    pacer_cfg = PacerConfig(
        port=port,
        authorization=sigfox_auth,
        rate=settings.pace_rate,
        duration_s=warmup_s + probe_time + 1.5,
        connections=settings.pace_connections,
        time0=time0,
    )
    prober_cfg = ProberConfig(
        port=port,
        authorization=sigfox_auth,
        probes=settings.probes,
        rate=settings.probe_rate,
        connections=settings.probe_connections,
        time0=time0,
    )
    log(
        f"(b) {settings.pace_rate:,.0f} uplinks/s for {pacer_cfg.duration_s:.1f} s; "
        f"{settings.probes:,} bidir probes at {settings.probe_rate:,.0f}/s"
    )
    wait_for_quiet(settings.wait_quiet_s, server)
    counter.reset()
    window = CpuWindow(server)
    pacer_result, probe_result = run_async(run_children(pacer_cfg, prober_cfg, warmup_s, window))
    counter.wait_quiet(expected=pacer_result["ok"] + probe_result["expected"], max_s=15.0)
    lat = probe_result["latencies_ms"]
    every = sorted(lat["200"] + lat["204"] + lat["other"])
    summary: dict[str, Any] = {
        "prep": prep,
        "pacer": pacer_result,
        "probes": {k: v for k, v in probe_result.items() if k != "latencies_ms"},
        "answers": {k: len(v) for k, v in lat.items()},
        "mqtt_received": counter.count,
        "cpu": {
            "wall_s": window.wall_s,
            "server_cpu_s": window.server_cpu_s,
            "machine_busy_s": window.machine_busy_s,
            "machine_steal_s": window.machine_steal_s,
        },
        # ours besides the server: this process (MQTT subscriber), the prober, and the pacer's
        # share of the window (its CPU is spread evenly over its run)
        "children_cpu_s": window.self_cpu_s
        + probe_result["cpu_s"]
        + pacer_result["cpu_s"] * min(1.0, window.wall_s / max(pacer_result["elapsed_s"], 1e-9)),
    }
    for name, values in (("all", every), ("200", sorted(lat["200"])), ("204", sorted(lat["204"]))):
        summary[f"p50_{name}_ms"] = percentile(values, 50)
        summary[f"p99_{name}_ms"] = percentile(values, 99)
        summary[f"max_{name}_ms"] = values[-1] if values else None
    results.bidir = summary
    log(
        f"(b) p50 {fmt_ms(summary['p50_all_ms'])}, p99 {fmt_ms(summary['p99_all_ms'])}, "
        f"max {fmt_ms(summary['max_all_ms'])}; uplinks at {pacer_result['achieved_rate']:,.0f}/s"
    )


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def fmt_ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} ms"


def fmt_rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f} /s"


def fmt_cpu(seconds: float | None, window: float) -> str:
    return "n/a" if seconds is None or window <= 0 else f"{100.0 * seconds / window:.0f} %"


def machine_rows(wall: float, busy: float, steal: float, ours: float) -> list[tuple[str, str, str]]:
    """Whole-machine CPU during a run: busy cores, the part not ours, hypervisor steal."""
    label = "    machine: busy cores / other processes / steal"
    if wall <= 0:
        return [(label, "n/a", "")]
    others = max(0.0, busy - ours) / wall
    rows = [
        (
            label,
            f"{busy / wall:.2f} of {os.cpu_count()} / {100.0 * others:.0f} % / "
            f"{100.0 * steal / wall:.0f} %",
            "",
        )
    ]
    if others > NOISY_CORES or steal / wall > NOISY_CORES:
        rows.append(("    WARNING: noisy machine", "other load during this run: figures low", ""))
    return rows


def wrk_machine_rows(wrk: dict[str, Any], subscriber_cpu_s: float) -> list[tuple[str, str, str]]:
    """machine_rows for a wrk run (server + wrk + subscriber are ours)."""
    ours = (wrk["server_cpu_s"] or 0.0) + wrk["wrk_cpu_s"] + subscriber_cpu_s
    return machine_rows(wrk["wall_s"], wrk["machine_busy_s"], wrk["machine_steal_s"], ours)


Row = tuple[str, str, str]


def storm_rows(results: Results, settings: Settings) -> tuple[list[Row], list[Goal]]:
    """(e)'s rows and goals: its callback rate against (a)'s, each message stored and
    published once."""
    storm, up = results.storm, results.uplink
    if storm is None:
        return [], []
    w, stations = storm["wrk"], storm["stations"]
    ok = w["requests"] - w["non_2xx"]
    messages = ok // stations
    stored, published = storm["stored_rows"], storm["mqtt_received"]
    # a 2xx callback's message is stored; the requests wrk had in flight when it stopped may
    # add one message each
    once = (
        stored is not None
        and published == stored
        and messages <= stored <= messages + settings.connections + settings.threads
    )
    cpu = w["server_cpu_s"]
    rows: list[Row] = [
        (f"(e) duplicate-station storm: each message from {stations} stations", "", ""),
        ("    callbacks (wrk Requests/sec)", fmt_rate(w["requests_per_s"]), ""),
        ("    responses 2xx / non-2xx", f"{ok:,} / {w['non_2xx']:,}", ""),
        (
            "    wrk latency p50 / p99 / max",
            f"{fmt_ms(w['latency_p50_ms'])} / {fmt_ms(w['latency_p99_ms'])} / "
            f"{fmt_ms(w['latency_max_ms'])}",
            "",
        ),
        (
            "    messages (2xx / stations) / rows stored / MQTT",
            f"{messages:,} / {'n/a' if stored is None else f'{stored:,}'} / {published:,}",
            f"stored once, published once  {verdict(once)}",
        ),
        (
            "    distinct uplinks/s = min(2xx/s / stations, MQTT/s)",
            fmt_rate(storm["end_to_end_rate"]),
            "",
        ),
        (
            "    server CPU per callback",
            f"{1e6 * cpu / ok:.0f} µs" if cpu and ok else "n/a",
            "",
        ),
        *wrk_machine_rows(w, storm["subscriber_cpu_s"]),
    ]
    goals = [
        Goal(
            "(e) storm: each message stored once and published once",
            f"{'n/a' if stored is None else f'{stored:,}'} rows, {published:,} published",
            f"{messages:,} messages",
            once,
        )
    ]
    if up is not None and up["ok_per_s"] > 0:
        share = storm["ok_per_s"] / up["ok_per_s"]
        goal = Goal(
            "(e)/(a) storm callbacks/s against (a)'s",
            f"{share:.2f}",
            f">= {GOAL_STORM_SHARE:.2f}",
            share >= GOAL_STORM_SHARE,
        )
        rows.append(("(e)/(a) callbacks/s", goal.measured, judged(goal)))
        goals.append(goal)
    return rows, goals


def fleet_rows(results: Results) -> tuple[list[Row], list[Goal]]:
    """(f)'s rows (one per scenario) and its flat-cost goals."""
    if not results.fleets:
        return [], []
    found = [scale.Figures(**f) for f in results.fleets]
    rows: list[Row] = [
        ("(f) fleets and history (rows made with SQL), wrk as (a), medians of the rounds", "", "")
    ]
    first = found[0]
    for f in found:
        rows.append(
            (
                f"    {f.devices:>9,} devices, {f.messages:>10,} messages",
                f"{f.rate:,.0f} /s ({f.rate / first.rate if first.rate else 0:.2f}), "
                f"{f.cpu_us:.0f} µs",
                f"start {f.startup_s:.2f} s, {f.rss_loaded_mb:.0f} MB"
                + (f", {f.non_2xx:,} non-2xx" if f.non_2xx else "")
                + (
                    f"; rounds {' / '.join(f'{rate:,.0f}' for rate in f.rates)}"
                    if len(f.rates) > 1
                    else ""
                ),
            )
        )
    return rows, scale.goals(found)


def report(results: Results, settings: Settings) -> list[Goal]:
    """Print the final table and the goals block; return the goals."""
    rows: list[Row] = []
    goals: list[Goal] = []

    def row(label: str, value: str, goal: str = "") -> None:
        rows.append((label, value, goal))

    goal_a: bool | None = None
    goal_b: bool | None = None
    up, bidir, bare = results.uplink, results.bidir, results.bare
    if up is not None:
        w = up["wrk"]
        ok = w["requests"] - w["non_2xx"]
        goal_a = up["end_to_end_rate"] >= GOAL_UPLINKS_PER_S
        row("(a) POST /sigfox/uplink, saturation, stored + MQTT", "", "")
        row("    HTTP rate (wrk Requests/sec)", fmt_rate(w["requests_per_s"]))
        row("    responses 2xx / non-2xx", f"{ok:,} / {w['non_2xx']:,}")
        row(
            "    socket errors connect/read/write/timeout",
            f"{w['connect_errors']}/{w['read_errors']}/{w['write_errors']}/{w['timeouts']}",
        )
        row(
            "    wrk latency p50 / p99 / max",
            f"{fmt_ms(w['latency_p50_ms'])} / {fmt_ms(w['latency_p99_ms'])} / "
            f"{fmt_ms(w['latency_max_ms'])}",
        )
        base, base_name = (up["stored_rows"], "stored") if up["stored_rows"] else (ok, "wrk 2xx")
        share = f" ({100.0 * up['mqtt_received'] / base:.2f} % of {base_name})" if base else ""
        row("    MQTT messages received", f"{up['mqtt_received']:,}{share}")
        row("    MQTT arrival rate", fmt_rate(up["mqtt_rate"]))
        stored = "n/a" if up["stored_rows"] is None else f"{up['stored_rows']:,}"
        row(f"    rows stored ({up['stored_table'] or 'no message table found'})", stored)
        lost = [
            f"{what} {got:,} < 2xx {ok:,}"
            for what, got in (("stored", up["stored_rows"]), ("MQTT", up["mqtt_received"]))
            if got is not None and got < ok
        ]
        if lost:
            row("    WARNING: uplinks missing", "; ".join(lost))
        row(
            f"    GET /api/v2/devices/{WRK_DEVICE_BASE:X}/messages?limit=1",
            f"HTTP {up['api_check']['status']}",
        )
        row(
            "    CPU: server / wrk / subscriber (1 core = 100 %)",
            f"{fmt_cpu(w['server_cpu_s'], w['wall_s'])} / "
            f"{fmt_cpu(w['wrk_cpu_s'], w['wall_s'])} / "
            f"{fmt_cpu(up['subscriber_cpu_s'], w['wall_s'])}",
        )
        rows.extend(wrk_machine_rows(w, up["subscriber_cpu_s"]))
        goal = Goal(
            "(a) end-to-end uplinks/s",
            fmt_rate(up["end_to_end_rate"]),
            f">= {GOAL_UPLINKS_PER_S:,.0f} /s",
            goal_a,
        )
        row("    end-to-end rate = min(2xx/s, MQTT/s)", goal.measured, judged(goal))
        goals.append(goal)
    if bidir is not None:
        p, pr, ans = bidir["pacer"], bidir["probes"], bidir["answers"]
        p99 = bidir["p99_all_ms"]
        load_ok = p["achieved_rate"] >= 0.95 * p["target_rate"]
        goal_b = None if p99 is None else p99 <= GOAL_BIDIR_P99_MS and load_ok
        row("(b) POST /sigfox/bidir under paced uplinks", "", "")
        if not load_ok:
            row("    WARNING", "background load below 95 % of its target: (b) does not count")
        row(
            "    background uplinks achieved (target)",
            f"{p['achieved_rate']:,.0f} /s ({p['target_rate']:,.0f}), max lag "
            f"{p['max_lag_ms']:.1f} ms",
        )
        row(
            "    background 2xx / non-2xx / errors",
            f"{p['ok']:,} / {p['non_2xx']:,} / {p['errors']:,}",
        )
        row(
            "    probes achieved rate, max lag",
            f"{pr['achieved_rate']:,.1f} /s, {pr['max_lag_ms']:.1f} ms",
        )
        row(
            "    answers 200 / 204 / other / errors",
            f"{ans['200']:,} / {ans['204']:,} / {ans['other']:,} / {pr['errors']:,}",
        )
        row(
            "    unexpected status / wrong 200 body",
            f"{pr['unexpected']:,} / {pr['wrong_body']:,}",
        )
        for sample in pr["samples"][:3]:
            row("      e.g.", sample[:70])
        for name, label in (("200", "200, downlink"), ("204", "204, none")):
            row(
                f"    latency p50 / p99 / max ({label})",
                f"{fmt_ms(bidir[f'p50_{name}_ms'])} / {fmt_ms(bidir[f'p99_{name}_ms'])} / "
                f"{fmt_ms(bidir[f'max_{name}_ms'])}",
            )
        goal = Goal(
            f"(b) bidir p99 at {p['target_rate']:,.0f} uplinks/s",
            fmt_ms(p99),
            f"p99 <= {GOAL_BIDIR_P99_MS:.0f} ms",
            goal_b,
        )
        row(
            "    latency p50 / p99 / max (all probes)",
            f"{fmt_ms(bidir['p50_all_ms'])} / {fmt_ms(p99)} / {fmt_ms(bidir['max_all_ms'])}",
            judged(goal),
        )
        goals.append(goal)
        cpu = bidir["cpu"]
        row("    MQTT messages received", f"{bidir['mqtt_received']:,}")
        row(
            "    server CPU while probing (1 core = 100 %)",
            fmt_cpu(cpu["server_cpu_s"], cpu["wall_s"]),
        )
        ours = (cpu["server_cpu_s"] or 0.0) + (bidir["children_cpu_s"] or 0.0)
        rows.extend(
            machine_rows(cpu["wall_s"], cpu["machine_busy_s"], cpu["machine_steal_s"], ours)
        )
    if bare is not None:
        w = bare["wrk"]
        row("(c) bare ASGI app (uvicorn uvloop + httptools)", "", "")
        row("    HTTP rate (wrk Requests/sec)", fmt_rate(w["requests_per_s"]))
        row("    responses 2xx / non-2xx", f"{w['requests'] - w['non_2xx']:,} / {w['non_2xx']:,}")
        row(
            "    wrk latency p50 / p99 / max",
            f"{fmt_ms(w['latency_p50_ms'])} / {fmt_ms(w['latency_p99_ms'])} / "
            f"{fmt_ms(w['latency_max_ms'])}",
        )
        row(
            "    CPU: server / wrk (1 core = 100 %)",
            f"{fmt_cpu(w['server_cpu_s'], w['wall_s'])} / {fmt_cpu(w['wrk_cpu_s'], w['wall_s'])}",
        )
        rows.extend(wrk_machine_rows(w, 0.0))
    decoded = results.decoded
    if decoded is not None:
        w = decoded["wrk"]
        row("(d) as (a), payloads decoded (13-field custom format)", "", "")
        row("    HTTP rate (wrk Requests/sec)", fmt_rate(w["requests_per_s"]))
        row("    responses 2xx / non-2xx", f"{w['requests'] - w['non_2xx']:,} / {w['non_2xx']:,}")
        stored = "n/a" if decoded["stored_rows"] is None else f"{decoded['stored_rows']:,}"
        row("    rows stored / MQTT messages received", f"{stored} / {decoded['mqtt_received']:,}")
        row(
            "    CPU: server (1 core = 100 %)",
            fmt_cpu(w["server_cpu_s"], w["wall_s"]),
        )
        row("    end-to-end rate = min(2xx/s, MQTT/s)", fmt_rate(decoded["end_to_end_rate"]))
        row("    a stored message, decoded", str(decoded.get("decoded_sample"))[:60])
        if up is not None and up["end_to_end_rate"] > 0:
            row(
                "(d)/(a) end-to-end rate",
                f"{decoded['end_to_end_rate'] / up['end_to_end_rate']:.2f}",
            )
            a_cpu = up["wrk"]["server_cpu_s"] or 0.0
            d_cpu = w["server_cpu_s"] or 0.0
            a_ok = up["wrk"]["requests"] - up["wrk"]["non_2xx"]
            d_ok = w["requests"] - w["non_2xx"]
            if a_ok and d_ok and a_cpu and d_cpu:
                row(
                    "    server CPU per uplink (a) -> (d)",
                    f"{1e6 * a_cpu / a_ok:.0f} -> {1e6 * d_cpu / d_ok:.0f} µs",
                )
    more_rows, more_goals = storm_rows(results, settings)
    rows.extend(more_rows)
    if up is not None and bare is not None and bare["ok_per_s"] > 0:
        ratio = up["end_to_end_rate"] / bare["ok_per_s"]
        goal = Goal(
            "(a)/(c) end-to-end rate against the bare ceiling",
            f"{ratio:.2f}",
            f">= {GOAL_CEILING_SHARE:.2f}",
            ratio >= GOAL_CEILING_SHARE,
        )
        row("(a)/(c) HTTP 2xx rate", f"{up['ok_per_s'] / bare['ok_per_s']:.2f}")
        row("(a)/(c) end-to-end rate", goal.measured, judged(goal))
        goals.append(goal)
    goals.extend(more_goals)
    if results.service_exit is not None:
        code, secs = results.service_exit["exit_code"], results.service_exit["stop_s"]
        row("lorafox stop (SIGTERM)", f"exit {code} after {secs or 0:.1f} s")
    more_rows, more_goals = fleet_rows(results)
    rows.extend(more_rows)
    goals.extend(more_goals)

    width = max(len(r[0]) for r in rows) + 2 if rows else 40
    vwidth = max(len(r[1]) for r in rows) + 2 if rows else 20
    mode = "quick" if settings.quick else "full"
    title = (
        f"lorafox uplink benchmark ({mode}): {os.cpu_count()} CPUs, wrk {settings.threads} "
        f"thread x {settings.connections} connections x {settings.duration_s} s"
    )
    line = "=" * max(len(title), width + vwidth + 24)
    print()
    print(line)
    print(title)
    print(f"{results.started_at}; lorafox code: {results.source}")
    print(line)
    print(f"{'':<{width}}{'measured':<{vwidth}}goal")
    for label, value, target in rows:
        if not value and not target:
            print("-" * len(line))
        print(f"{label:<{width}}{value:<{vwidth}}{target}".rstrip())
    print(line)
    if goals:
        print("goals")
        print("\n".join(goal_lines(goals)))
        print(line)
    return goals


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------


def source_fingerprint() -> str:
    """Which lorafox code ran: the git commit (+dirty) and a hash of src/lorafox/**/*.py."""
    src = BENCH_DIR.parent / "src" / "lorafox"
    digest = hashlib.sha256()
    for path in sorted(src.rglob("*.py")):
        digest.update(str(path.relative_to(src)).encode() + b"\0" + path.read_bytes())
    parts = [f"src/lorafox sha256 {digest.hexdigest()[:12]}"] if src.is_dir() else []
    git = shutil.which("git")
    if git:
        head = subprocess.run(
            [git, "-C", str(BENCH_DIR.parent), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        )
        dirty = subprocess.run(
            [git, "-C", str(BENCH_DIR.parent), "status", "--porcelain", "--", "src"],
            capture_output=True,
            text=True,
            check=False,
        )
        commit = head.stdout.strip() if head.returncode == 0 else "no commit"
        parts.insert(0, f"git {commit}{' + uncommitted changes' if dirty.stdout.strip() else ''}")
    return ", ".join(parts) or "unknown"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="lorafox uplink benchmark: (a) uplink throughput, (b) bidir latency under "
        "load, (c) bare ASGI ceiling, (d) decoded uplinks, (e) duplicate-station storm, "
        "(f) fleets and history. Needs wrk (apt-get install wrk).",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="short smoke run (3 s wrk runs; (f) with 100k devices and 1M messages at most)",
    )
    parser.add_argument("--duration", type=int, help="wrk seconds (default 10, quick 3)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (64)")
    parser.add_argument("--threads", type=int, default=1, help="wrk threads (1)")
    parser.add_argument("--pace-rate", type=float, default=1000.0, help="(b) uplinks/s (1000)")
    parser.add_argument("--pace-connections", type=int, default=50, help="(b) pacer conns (50)")
    parser.add_argument("--probes", type=int, help="(b) bidir probes (default 2000, quick 300)")
    parser.add_argument("--probe-rate", type=float, default=100.0, help="(b) probes/s (100)")
    parser.add_argument("--probe-connections", type=int, default=8, help="(b) probe conns (8)")
    parser.add_argument(
        "--phases", default="abcdef", help="which benchmarks to run, any of a-f (default abcdef)"
    )
    parser.add_argument(
        "--fleet-rounds", type=int, help="(f) rounds over its scenarios (default 3, quick 1)"
    )
    parser.add_argument(
        "--service-cmd",
        help="command that starts lorafox, before 'serve ...' (default: lorafox, or "
        "python -m lorafox)",
    )
    parser.add_argument("--startup-timeout", type=float, default=60.0, help="seconds (60)")
    parser.add_argument(
        "--wait-quiet",
        type=float,
        default=30.0,
        help="before each phase, wait up to this many seconds for other processes to leave "
        "the CPUs alone (30; 0 = do not wait)",
    )
    parser.add_argument(
        "--mqtt-user", help="MQTT username (default: anonymous, then admin if refused)"
    )
    parser.add_argument("--mqtt-password", help="MQTT password (with --mqtt-user)")
    parser.add_argument("--json", type=Path, help="also write the raw results to this file")
    parser.add_argument(
        "--check", action="store_true", help="exit with status 3 when a goal is not met"
    )
    parser.add_argument("--child", choices=["pacer", "prober"], help=argparse.SUPPRESS)
    parser.add_argument("--child-config", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def _sigterm_as_sigint(signum: int, frame: object) -> None:
    """Handle SIGTERM like Ctrl-C (also inside asyncio.Runner, which cancels its task)."""
    signal.raise_signal(signal.SIGINT)


def run(args: argparse.Namespace, wrk: str) -> int:
    quick = bool(args.quick)
    phases = "".join(p for p in "abcdef" if p in args.phases)
    if not phases:
        raise BenchError("--phases needs at least one of a, b, c, d, e, f")
    settings = Settings(
        quick=quick,
        duration_s=args.duration or (3 if quick else 10),
        connections=args.connections,
        threads=args.threads,
        pace_rate=args.pace_rate,
        pace_connections=args.pace_connections,
        probes=args.probes or (300 if quick else 2000),
        probe_rate=args.probe_rate,
        probe_connections=args.probe_connections,
        phases=phases,
        fleet_rounds=args.fleet_rounds or (1 if quick else 3),
        service_cmd=shlex.split(args.service_cmd) if args.service_cmd else default_service_cmd(),
        startup_timeout_s=args.startup_timeout,
        wait_quiet_s=args.wait_quiet,
        mqtt_credentials=(args.mqtt_user, args.mqtt_password or "") if args.mqtt_user else None,
    )
    for name in (
        "duration_s",
        "connections",
        "threads",
        "pace_connections",
        "probes",
        "fleet_rounds",
    ):
        if getattr(settings, name) < 1:
            raise BenchError(f"{name} must be at least 1")
    if settings.pace_rate <= 0 or settings.probe_rate <= 0:
        raise BenchError("rates must be positive")
    load = WrkLoad(wrk, settings.threads, settings.connections, settings.duration_s)
    results = Results(settings=asdict(settings), source=source_fingerprint())
    with contextlib.ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="lorafox-bench-"))
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)
        if "c" in phases:
            run_bare(settings, load, workdir, results)
        if set(phases) & set("abde"):
            run_service(settings, load, workdir, results, stack)
        if "f" in phases:
            run_fleets(settings, load, workdir, results)
    goals = report(results, settings)
    if args.json:
        args.json.write_text(json.dumps(asdict(results), indent=2) + "\n")
        print(f"raw results written to {args.json}")
    if args.check and any(goal.met is False for goal in goals):
        return 3
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        return child_main(args.child, args.child_config or "{}")
    wrk = shutil.which("wrk")
    if wrk is None:
        print(
            "error: wrk is not installed or not on PATH; the uplink benchmark needs it.\n"
            "Install it with: sudo apt-get install wrk   (macOS: brew install wrk)",
            file=sys.stderr,
        )
        return 2
    if not LUA_SCRIPT.is_file():
        print(f"error: {LUA_SCRIPT} is missing", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _sigterm_as_sigint)
    try:
        return run(args, wrk)
    except BenchError as exc:
        print(f"\nerror: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninterrupted; child processes stopped", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
