"""LoRa ingest benchmark: the Semtech socket and ChirpStack's HTTP integration.

One run starts ``lorafox serve`` (SQLite in a temporary data dir, its embedded broker, a free
``--semtech-port``) and measures, on 127.0.0.1:

(a) 100,000 Semtech ``app`` uplinks (1,000 devices with short EUIs, 100 frames each) pushed through
    one socket as one byte stream cut at random places (1 to 4,096 bytes), then ``{"ackreq":1}``;
    the time to its ``{"ack":1}`` (every frame before it stored) gives frames/s; the rows stored
    and the MQTT messages counted on ``lora/#`` give the loss;
(b) ChirpStack ``POST /lora/chirpstack/{id}?event=up`` events/s with 32 keep-alive connections;
(c) ``POST /sigfox/uplink`` with the same client and connections: the Sigfox rate of the same run,
    so (b)/(c) is what the LoRa HTTP path costs against the Sigfox fast path.

It prints the figures and the goal of (a): >= 20,000 frames/s, 0 lost. The clients of (b) and (c)
are Python (httpx) on the same machine: both rates include the client's cost, the ratio less so.

    .venv/bin/python bench/lora.py            # full run
    .venv/bin/python bench/lora.py --quick    # 10,000 frames, shorter HTTP runs
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import random
import secrets
import socket
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (
    HOST,
    Server,
    free_port,
    serve_command,
    two_ports,
)

GOAL_FRAMES_PER_S = 20_000.0


def semtech_stream(frames: int, devices: int, seed: int = 1) -> bytes:
    parts = []
    for n in range(frames):
        device, seqno = n % devices, n // devices
        body = {
            "app": {
                "moteeui": format(0x9372163 + device, "x"),
                "dir": "up",
                "seqno": seqno,
                "userdata": {"port": 1, "payload": base64.b64encode(n.to_bytes(4)).decode()},
                "motetx": {"freq": 868.1, "datr": "SF7BW125", "codr": "4/5", "adr": True},
                "gwrx": [{"eui": "b827ebfffe000001", "rssi": -57, "lsnr": 9.5, "chan": 0}],
            }
        }
        parts.append(orjson.dumps(body) + b"\0")
        if n % 997 == 0:
            parts.append(b"\0")  # a keep-alive now and then
    return b"".join(parts)


def random_cuts(stream: bytes, seed: int = 7) -> list[bytes]:
    rnd = random.Random(seed)
    pieces, i = [], 0
    while i < len(stream):
        n = rnd.randint(1, 4096)
        pieces.append(stream[i : i + n])
        i += n
    return pieces


class Counter:
    """A paho subscriber counting messages on a filter."""

    def __init__(self, port: int, password: str, topic: str) -> None:
        self.count = 0
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.username_pw_set("admin", password)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.connect(HOST, port)
        self.client.loop_start()
        self.client.subscribe(topic, 0)
        subscribed.wait(10)

    def _on_message(self, *_: Any) -> None:
        with self._lock:
            self.count += 1

    def settle(self, expected: int, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        last, still = -1, 0.0
        while time.monotonic() < deadline and self.count < expected:
            if self.count == last:
                still += 0.2
                if still > 3:
                    break
            else:
                last, still = self.count, 0.0
            time.sleep(0.2)
        return self.count

    def stop(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def stored_lora_rows(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "lorafox.db") as db:
        row = db.execute("SELECT count(*) FROM messages WHERE length(device) = 16").fetchone()
    return int(row[0])


def push_semtech(port: int, pieces: list[bytes]) -> float:
    with socket.create_connection((HOST, port)) as sock:
        start = time.perf_counter()
        for piece in pieces:
            sock.sendall(piece)
        sock.sendall(b'{"ackreq":1}\0')
        answer = b""
        while b"\0" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                raise RuntimeError("the Semtech socket closed")
            answer += chunk
        elapsed = time.perf_counter() - start
    if not answer.startswith(b'{"ack":1}'):
        raise RuntimeError(f"unexpected answer {answer!r}")
    return elapsed


async def http_rate(
    base: str, path: str, headers: dict[str, str], bodies: list[bytes], connections: int
) -> tuple[float, int]:
    """Requests/s and non-2xx answers for ``bodies`` posted by ``connections`` workers."""
    queue = list(reversed(bodies))
    failures = 0
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal failures
            while queue:
                body = queue.pop()
                answer = await client.post(path, content=body, headers=headers)
                if answer.status_code >= 300:
                    failures += 1

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - start
    return len(bodies) / elapsed, failures


def chirpstack_bodies(count: int) -> list[bytes]:
    bodies = []
    for n in range(count):
        body = {
            "deduplicationId": f"00000000-0000-0000-0000-{n:012d}",
            "time": "2026-12-04T09:00:00.000000000+00:00",
            "deviceInfo": {"applicationId": "app", "devEui": format(0xAB000000 + n % 500, "016x")},
            "fCnt": n // 500,
            "fPort": 2,
            "data": "qg==",
            "rxInfo": [{"gatewayId": "0016c001f153a14c", "rssi": -36, "snr": 10.5}],
            "txInfo": {"frequency": 867100000},
        }
        bodies.append(orjson.dumps(body))
    return bodies


def sigfox_bodies(count: int) -> list[bytes]:
    now = int(time.time()) - 3600
    return [
        orjson.dumps(
            {
                "device": format(0xB0000 + n % 500, "X"),
                "time": now + n,
                "seqNumber": n // 500,
                "data": "0102",
            }
        )
        for n in range(count)
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--semtech-only", action="store_true", help="measure (a) only")
    args = parser.parse_args(argv)
    frames = 10_000 if args.quick else 100_000
    http_events = 2_000 if args.quick else 10_000
    admin, sigfox = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    with tempfile.TemporaryDirectory(prefix="lorafox-bench-") as tmp:
        data_dir = Path(tmp) / "data"
        (http_port, mqtt_port), semtech_port = two_ports(), free_port()
        argv, env = serve_command(
            [sys.executable, "-m", "lorafox"],
            data_dir,
            http_port,
            mqtt_port,
            admin,
            sigfox,
            "--log-level",
            "WARNING",
            semtech_port=semtech_port,
        )
        server = Server("lorafox", argv, env, Path(tmp) / "lorafox.log")
        try:
            base = f"http://{HOST}:{http_port}"
            server.wait_ready(http_port, "/healthz", 60.0, lambda status: status == 200)
            with httpx.Client(base_url=base, auth=("admin", admin), timeout=10) as http:
                [root] = [g for g in http.get("/api/v2/groups").json()["data"] if not g["path"]]
                group = root["id"]
                http.post(
                    "/api/v2/lora/integrations",
                    json={
                        "name": "bench",
                        "kind": "semtech",
                        "groupId": group,
                        "config": {"addresses": [HOST]},
                    },
                ).raise_for_status()
                made = http.post(
                    "/api/v2/lora/integrations",
                    json={"name": "bench", "kind": "chirpstack", "groupId": group},
                )
                made.raise_for_status()
                chirpstack = made.json()
            counter = Counter(mqtt_port, admin, "lora/#")
            print(f"(a) Semtech socket: {frames:,} frames, random cuts of 1 to 4,096 bytes")
            pieces = random_cuts(semtech_stream(frames, 1000))
            cpu_before = server.cpu_seconds() or 0.0
            elapsed = push_semtech(semtech_port, pieces)
            cpu = (server.cpu_seconds() or 0.0) - cpu_before
            stored = stored_lora_rows(data_dir)
            published = counter.settle(frames)
            rate = frames / elapsed
            lost = frames - stored
            print(f"    {len(pieces):,} writes, acked after {elapsed:.2f} s: {rate:,.0f} frames/s")
            print(f"    lorafox's CPU until the ack: {cpu / frames * 1e6:.0f} µs per frame")
            print(f"    stored {stored:,}, published {published:,}, lost {lost:,}")
            ok = rate >= GOAL_FRAMES_PER_S and lost == 0
            print(
                f"    goal >= {GOAL_FRAMES_PER_S:,.0f} frames/s, 0 lost: "
                + ("met" if ok else "NOT met")
            )
            counter.stop()
            if args.semtech_only:
                return 0 if ok else 1
            headers = {
                "authorization": f"Bearer {chirpstack['token']}",
                "content-type": "application/json",
            }
            path = f"/lora/chirpstack/{chirpstack['id']}?event=up"
            lora_rate, lora_bad = asyncio.run(
                http_rate(base, path, headers, chirpstack_bodies(http_events), 32)
            )
            print(f"(b) ChirpStack HTTP: {lora_rate:,.0f} events/s ({lora_bad} non-2xx)")
            sigfox_auth = "Basic " + base64.b64encode(f"sigfox:{sigfox}".encode()).decode()
            headers = {"authorization": sigfox_auth, "content-type": "application/json"}
            sig_rate, sig_bad = asyncio.run(
                http_rate(base, "/sigfox/uplink", headers, sigfox_bodies(http_events), 32)
            )
            print(
                f"(c) Sigfox /sigfox/uplink, same client: {sig_rate:,.0f} uplinks/s "
                f"({sig_bad} non-2xx)"
            )
            print(f"    (b)/(c) = {lora_rate / sig_rate:.2f}")
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
