"""Throughput of lorafox's embedded MQTT broker against amqtt, to one live paho subscriber,
with MQTT 3.1.1 and MQTT 5 clients.

For each broker and for subscriptions at QoS 0 and QoS 1, messages go to one paho-mqtt
subscriber running in its own process (so that it has its own core and its own GIL):

* in-process: the broker's own API (``EmbeddedBroker.publish_nowait``, amqtt's
  ``internal_message_broadcast``), in batches, yielding to the event loop between batches and
  waiting while the broker has a backlog for the subscriber, so that nothing is dropped;
* network: a paho-mqtt publisher in another process, publishing as fast as it can.

Paho is pure Python: with lorafox the paho processes are the bottleneck, so lorafox is also run
with a bare-socket subscriber ("raw sub", 10 times the count) to show the broker's ceiling, and
the broker's CPU time per message is printed for every run (1,000,000 / that figure = messages
per second one core could route).

lorafox runs every phase twice in the same run, once with MQTT 3.1.1 clients and once with MQTT
5 clients (paho ``MQTTv5``, the raw subscriber speaking MQTT 5), and prints the MQTT 5 rate as a
share of the 3.1.1 one. ``--no-amqtt`` skips amqtt.

Reported per run: messages delivered to the subscriber, msgs/s delivered (from the first
publish to the last message received), messages lost, and the broker process' CPU time per
message during the in-process runs. Everything listens on 127.0.0.1 only and every run is
bounded in count and time.

    .venv/bin/python bench/mqtt_broker.py [--count 100000] [--amqtt-count 10000] [--payload 200]
        [--no-amqtt]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import socket
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

TOPIC = "bench/device/uplink"
RUN_TIMEOUT = 120.0
"""Seconds one run may take at most."""
IDLE = 2.0
"""A subscriber that has received nothing for this long reports what it has."""
BATCH = 100
WINDOW = 1000
PAUSE = 0.002
"""Seconds an in-process publisher waits when the broker has a backlog for the subscriber."""


# -- the helper processes (paho-mqtt) -----------------------------------------------------------


def _paho_client(client_id: str, protocol: int) -> Any:
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

    version = MQTTProtocolVersion.MQTTv5 if protocol == 5 else MQTTProtocolVersion.MQTTv311
    return paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=version)


def run_subscriber(port: int, qos: int, count: int, protocol: int) -> None:
    """Subscribe, say READY, count messages, print a JSON report."""
    client = _paho_client("bench-subscriber", protocol)
    ready = threading.Event()
    state = {"received": 0, "first": 0.0, "last": 0.0}

    def on_connect(client: Any, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        client.subscribe(TOPIC, qos)

    def on_subscribe(client: Any, userdata: Any, mid: Any, codes: Any, props: Any) -> None:
        ready.set()

    def on_message(client: Any, userdata: Any, message: Any) -> None:
        now = time.monotonic()
        if not state["received"]:
            state["first"] = now
        state["received"] += 1
        state["last"] = now

    client.on_connect = on_connect
    client.on_subscribe = on_subscribe
    client.on_message = on_message
    client.connect("127.0.0.1", port, 60)
    client.loop_start()
    if not ready.wait(10):
        print(json.dumps({"error": "no SUBACK"}), flush=True)
        return
    print("READY", flush=True)
    started = time.monotonic()
    while True:
        time.sleep(0.01)
        now = time.monotonic()
        if state["received"] >= count:
            break
        if state["received"] and now - state["last"] > IDLE:
            break
        if not state["received"] and now - started > 30:
            break
    print(json.dumps(state), flush=True)
    client.disconnect()
    client.loop_stop()


def run_raw_subscriber(port: int, qos: int, count: int, protocol: int) -> None:
    """Like ``run_subscriber`` with a bare socket and lorafox's codec instead of paho.

    It shows what the broker can deliver when the subscriber is not the bottleneck.
    """
    from lorafox.bus.mqtt_codec import (
        Connect,
        PacketDecoder,
        Properties,
        PubAck,
        Publish,
        Subscribe,
    )

    sock = socket.create_connection(("127.0.0.1", port))
    v5 = Properties() if protocol == 5 else None
    connect = Connect("bench-raw-subscriber", protocol_level=protocol)
    sock.sendall(connect.encode() + Subscribe(1, ((TOPIC, qos),), v5).encode())
    decoder = PacketDecoder(protocol_level=protocol)
    answers = 0
    while answers < 2:  # CONNACK, SUBACK
        answers += len(decoder.feed(sock.recv(65536)))
    print("READY", flush=True)
    state = {"received": 0, "first": 0.0, "last": 0.0}
    sock.settimeout(IDLE)
    with contextlib.suppress(TimeoutError):
        while state["received"] < count:
            data = sock.recv(1 << 20)
            if not data:
                break
            now = time.monotonic()
            if not state["received"]:
                state["first"] = now
            acks = []
            for packet in decoder.feed(data):
                if type(packet) is Publish:
                    state["received"] += 1
                    if packet.packet_id is not None:
                        acks.append(PubAck(packet.packet_id).encode())
            if acks:
                sock.sendall(b"".join(acks))
            state["last"] = now
    print(json.dumps(state), flush=True)
    sock.close()


def run_publisher(port: int, qos: int, count: int, payload_size: int, protocol: int) -> None:
    """Connect, publish ``count`` messages as fast as paho can, print a JSON report.

    At most ``WINDOW`` messages are in flight (written but not acknowledged for QoS 1, not yet
    written for QoS 0): paho's own queue of waiting messages is slow when it grows long.
    """
    client = _paho_client("bench-publisher", protocol)
    client.max_inflight_messages_set(WINDOW)
    window = threading.Semaphore(WINDOW)
    connected = threading.Event()
    client.on_connect = lambda *args: connected.set()
    client.on_publish = lambda *args: window.release()
    client.connect("127.0.0.1", port, 60)
    client.loop_start()
    if not connected.wait(10):
        print(json.dumps({"error": "no CONNACK"}), flush=True)
        return
    payload = b"p" * payload_size
    started = time.monotonic()
    info = None
    for _ in range(count):
        window.acquire()
        info = client.publish(TOPIC, payload, qos)
    if info is not None:
        info.wait_for_publish(RUN_TIMEOUT)
    print(json.dumps({"start": started, "end": time.monotonic()}), flush=True)
    client.disconnect()
    client.loop_stop()


# -- the runs -------------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class Result:
    """One run."""

    broker: str
    mode: str
    protocol: int
    qos: int
    sent: int
    delivered: int
    seconds: float
    cpu_us_per_message: float

    @property
    def rate(self) -> float:
        return self.delivered / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        cpu = f"{self.cpu_us_per_message:6.1f} µs broker CPU/msg"
        lost = self.sent - self.delivered
        version = "MQTT 5" if self.protocol == 5 else "3.1.1"
        return (
            f"{self.broker:8} {version:6} {self.mode:19} QoS {self.qos}: "
            f"{self.rate:9,.0f} msg/s delivered "
            f"({self.delivered:,}/{self.sent:,} in {self.seconds:5.2f} s, {lost:,} lost) {cpu}"
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _helper(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, __file__, *args, stdout=asyncio.subprocess.PIPE
    )


async def _read_line(process: asyncio.subprocess.Process, seconds: float) -> str:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), seconds)
    return line.decode().strip()


async def run(
    broker_name: str,
    mode: str,
    port: int,
    qos: int,
    count: int,
    payload_size: int,
    publish: Callable[[int, int, bytes], Awaitable[None]] | None,
    protocol: int = 4,
) -> Result:
    """One run: start the subscriber, publish ``count`` messages, collect its report."""
    role = "raw-subscriber" if mode.endswith("raw sub") else "subscriber"
    subscriber = await _helper(role, str(port), str(qos), str(count), str(protocol))
    publisher: asyncio.subprocess.Process | None = None
    try:
        ready = await _read_line(subscriber, 20)
        if ready != "READY":
            raise RuntimeError(f"subscriber failed: {ready}")
        cpu_before = time.process_time()
        if publish is not None:
            started = time.monotonic()
            await asyncio.wait_for(publish(qos, count, b"p" * payload_size), RUN_TIMEOUT)
            report = json.loads(await _read_line(subscriber, RUN_TIMEOUT))
        else:
            publisher = await _helper(
                "publisher", str(port), str(qos), str(count), str(payload_size), str(protocol)
            )
            sent = json.loads(await _read_line(publisher, RUN_TIMEOUT))
            started = sent["start"]
            report = json.loads(await _read_line(subscriber, RUN_TIMEOUT))
        cpu = (time.process_time() - cpu_before) / max(count, 1) * 1e6
        seconds = report["last"] - started if report["received"] else 0.0
        return Result(broker_name, mode, protocol, qos, count, report["received"], seconds, cpu)
    finally:
        for process in (subscriber, publisher):
            if process is not None:
                with contextlib.suppress(ProcessLookupError, TimeoutError):
                    await asyncio.wait_for(process.wait(), 10)
                if process.returncode is None:
                    process.kill()
                    await process.wait()


async def bench_embedded(count: int, payload_size: int, protocol: int) -> list[Result]:
    from lorafox.bus.broker import EmbeddedBroker

    broker = EmbeddedBroker("127.0.0.1", 0, authenticate=None, allow_anonymous=True)

    def backlogged() -> bool:
        # Benchmark only: wait while the subscriber is behind, so that nothing is dropped.
        for connection in broker._connections:
            if connection.paused:
                return True
            session = connection.session
            if session is not None and len(session.pending) > 1000:
                return True
        return False

    async def publish(qos: int, n: int, payload: bytes) -> None:
        publish_nowait = broker.publish_nowait
        for start in range(0, n, BATCH):
            for _ in range(min(BATCH, n - start)):
                publish_nowait(TOPIC, payload, qos)
            await asyncio.sleep(0)
            while backlogged():  # noqa: ASYNC110 (the broker has no event for this)
                await asyncio.sleep(PAUSE)

    results = []
    port = 0
    async with broker:
        port = broker.port
        for qos in (0, 1):
            results.append(
                await run(
                    "lorafox", "in-process", port, qos, count, payload_size, publish, protocol
                )
            )
            print(results[-1].line(), flush=True)
        for qos in (0, 1):
            results.append(
                await run("lorafox", "network", port, qos, count, payload_size, None, protocol)
            )
            print(results[-1].line(), flush=True)
        for qos in (0, 1):
            results.append(
                await run(
                    "lorafox",
                    "in-process, raw sub",
                    port,
                    qos,
                    10 * count,
                    payload_size,
                    publish,
                    protocol,
                )
            )
            print(results[-1].line(), flush=True)
    return results


async def bench_amqtt(count: int, payload_size: int) -> list[Result]:
    from amqtt.broker import Broker

    port = free_port()
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    broker = Broker(config)
    await broker.start()

    async def publish(qos: int, n: int, payload: bytes) -> None:
        for start in range(0, n, BATCH):
            for _ in range(min(BATCH, n - start)):
                await broker.internal_message_broadcast(TOPIC, payload, qos)
            await asyncio.sleep(0)
            while broker._broadcast_queue.qsize() > 1000:  # noqa: ASYNC110
                await asyncio.sleep(PAUSE)

    results = []
    try:
        for qos in (0, 1):
            results.append(
                await run("amqtt", "in-process", port, qos, count, payload_size, publish)
            )
            print(results[-1].line(), flush=True)
        for qos in (0, 1):
            results.append(await run("amqtt", "network", port, qos, count, payload_size, None))
            print(results[-1].line(), flush=True)
    finally:
        await broker.shutdown()
    return results


async def main(count: int, amqtt_count: int, payload_size: int, with_amqtt: bool) -> None:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("amqtt").setLevel(logging.CRITICAL)
    logging.getLogger("transitions").setLevel(logging.CRITICAL)
    print(
        f"one paho subscriber in another process; payload {payload_size} bytes; "
        f"lorafox {count:,} messages per run, amqtt {amqtt_count:,}",
        flush=True,
    )
    ours = await bench_embedded(count, payload_size, 4)
    ours5 = await bench_embedded(count, payload_size, 5)
    print("\nlorafox, MQTT 5 / MQTT 3.1.1 clients: msgs/s delivered, broker CPU per message")
    for v311, v5 in zip(ours, ours5, strict=True):
        rate = v5.rate / v311.rate if v311.rate else float("inf")
        cpu = v5.cpu_us_per_message / v311.cpu_us_per_message if v311.cpu_us_per_message else 0
        print(f"  {v5.mode:19} QoS {v5.qos}: {rate:6.1%} of the rate, {cpu:6.1%} of the CPU")
    if not with_amqtt:
        return
    theirs = await bench_amqtt(amqtt_count, payload_size)
    print(
        "\nlorafox / amqtt: msgs/s delivered to paho, and broker CPU per message (amqtt / lorafox)"
    )
    for mine, other in zip(ours[:4], theirs, strict=True):
        rate = mine.rate / other.rate if other.rate else float("inf")
        cpu = other.cpu_us_per_message / mine.cpu_us_per_message
        print(f"  {mine.mode:10} QoS {mine.qos}: {rate:5.1f}x the rate, {cpu:5.1f}x less CPU")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "subscriber":
        run_subscriber(*map(int, sys.argv[2:6]))
    elif len(sys.argv) > 1 and sys.argv[1] == "raw-subscriber":
        run_raw_subscriber(*map(int, sys.argv[2:6]))
    elif len(sys.argv) > 1 and sys.argv[1] == "publisher":
        run_publisher(*map(int, sys.argv[2:7]))
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument("--count", type=int, default=30_000, help="messages per lorafox run")
        parser.add_argument(
            "--amqtt-count", type=int, default=30_000, help="messages per amqtt run"
        )
        parser.add_argument("--payload", type=int, default=200, help="payload size in bytes")
        parser.add_argument("--no-amqtt", action="store_true", help="lorafox's broker only")
        options = parser.parse_args()
        asyncio.run(main(options.count, options.amqtt_count, options.payload, not options.no_amqtt))
