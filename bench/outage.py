"""Outage benchmark: the external MQTT broker stopped for a minute under a steady uplink load.

Starts a private NATS server with MQTT (its sessions kept in JetStream, so they outlive a
restart) and ``lorafox serve`` on SQLite with that broker as ``--mqtt-url``; a QoS 1 subscriber
with a persistent session counts what reaches ``sigfox/uplink/#``. Uplinks are posted at a
steady rate for the whole run; after a few seconds the broker is stopped for ``--outage``
seconds, then started again. Prints the uplinks acknowledged (in all and during the outage), how
many of them were published, how many were lost (the goal: 0), and the time from the broker's
restart until the last uplink acknowledged during the outage was received.

    .venv/bin/python bench/outage.py                # a 60 s outage at 100 uplinks/s
    .venv/bin/python bench/outage.py --outage 10 --rate 200
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
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

SIGFOX = ("sigfox", "sigfox-password-1")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_listening(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


class Nats:
    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.config = directory / "nats.conf"
        self.config.write_text(
            f"server_name: bench\nlisten: 127.0.0.1:{free_port()}\n"
            f"jetstream {{ store_dir: {directory / 'js'} }}\n"
            f"mqtt {{ listen: 127.0.0.1:{self.port} }}\n"
        )
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = shutil.which("nats-server") or "/usr/sbin/nats-server"
        self.proc = subprocess.Popen(
            [binary, "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_listening(self.port)

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)


class Counter:
    """The uplinks (numbered in their data) received on ``sigfox/uplink/#``, with the time of
    the first copy of each."""

    def __init__(self, port: int) -> None:
        self.received: dict[int, float] = {}
        self.copies = 0
        self._lock = threading.Lock()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id="bench-counter", clean_session=False
        )
        self.client.reconnect_delay_set(1, 1)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe("sigfox/uplink/#", qos=1)
        self.client.loop_start()

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        seq = int(orjson.loads(message.payload)["data"], 16)
        with self._lock:
            self.copies += 1
            self.received.setdefault(seq, time.monotonic())

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def uplink(seq: int) -> bytes:
    return orjson.dumps(
        {
            "device": f"BE{seq // 4096:04X}",  # a device's seqNumber stops at 4095
            "time": 1_700_000_000 + seq,
            "data": f"{seq:024x}",  # what the counter reads back
            "seqNumber": seq % 4096,
            "ack": False,
            "snr": "10.00",
            "rssi": "-100.00",
            "avgSnr": "20.00",
            "station": "1A2B",
            "lat": 0,
            "lng": 0,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outage", type=float, default=60, help="seconds the broker is down")
    parser.add_argument("--rate", type=float, default=100, help="uplinks posted per second")
    parser.add_argument("--before", type=float, default=5, help="seconds of load before")
    parser.add_argument("--after", type=float, default=5, help="seconds of load after")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="lorafox-outage-"))
    broker = Nats(work)
    broker.start()
    http_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("LORAFOX_")}
    env |= {"LORAFOX_SIGFOX_USERNAME": SIGFOX[0], "LORAFOX_SIGFOX_PASSWORD": SIGFOX[1]}
    env |= {"LORAFOX_ADMIN_PASSWORD": "bench-admin-password-1", "LORAFOX_SEMTECH_PORT": "0"}
    lorafox = subprocess.Popen(
        [
            *(sys.executable, "-m", "lorafox", "serve", "--data-dir", str(work / "data")),
            *("--http-port", str(http_port), "--mqtt-port", "0"),
            *("--mqtt-url", f"mqtt://127.0.0.1:{broker.port}"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(work / "lorafox.log").open("w"),
    )
    counter = Counter(broker.port)
    http = httpx.Client(base_url=f"http://127.0.0.1:{http_port}", auth=SIGFOX, timeout=30)
    try:
        while True:
            try:
                if http.get("/healthz").json().get("mqtt") == "connected":
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)

        acknowledged: list[int] = []
        during: list[int] = []
        refused: dict[str, int] = {}
        seq = 0
        start = time.monotonic()
        stop_at, start_at = start + args.before, start + args.before + args.outage
        end = start_at + args.after
        down = False
        restarted = 0.0
        while (now := time.monotonic()) < end:
            if not down and stop_at <= now < start_at:
                broker.stop()
                down = True
            elif down and now >= start_at:
                broker.start()
                restarted = time.monotonic()
                down = False
            seq += 1
            r = http.post("/sigfox/uplink", content=uplink(seq))
            if r.status_code == 204:
                acknowledged.append(seq)
                if down:
                    during.append(seq)
            else:
                reason = f"{r.status_code} {r.text}"
                refused[reason] = refused.get(reason, 0) + 1
            time.sleep(max(0.0, start + seq / args.rate - time.monotonic()))

        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not set(acknowledged) <= counter.received.keys():
            time.sleep(0.1)
        published = [s for s in acknowledged if s in counter.received]
        lost = len(acknowledged) - len(published)
        drained = max((counter.received[s] for s in during if s in counter.received), default=0)
        print(f"outage                     {args.outage:.0f} s at {args.rate:.0f} uplinks/s")
        print(f"uplinks acknowledged       {len(acknowledged)}")
        for reason, count in refused.items():
            print(f"  refused                  {count}: {reason}")
        print(f"  during the outage        {len(during)}")
        print(f"published after all       {len(published)} ({counter.copies} copies received)")
        print(f"lost                       {lost}")
        if during and drained:
            print(f"restart to the outage's last uplink received  {drained - restarted:.2f} s")
    finally:
        http.close()
        counter.close()
        lorafox.send_signal(signal.SIGTERM)
        lorafox.wait(30)
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
