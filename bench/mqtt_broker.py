"""Throughput and CPU per message of lorafox's embedded MQTT broker, MQTT 5 next to MQTT 3.1.1
(and amqtt, 3.1.1 only), with lean clients that measure the broker rather than themselves.

Messages go to one subscriber in its own process, at QoS 0 and QoS 1, from

* in-process: the broker's own API (``EmbeddedBroker.publish_nowait``, amqtt's
  ``internal_message_broadcast``), in batches, yielding to the event loop between batches and
  waiting while the broker has a backlog for the subscriber, so that nothing is dropped;
* network: a publisher in another process, publishing as fast as its window allows.

The subscriber and the publisher are the bare-socket clients of ``mqtt_lean.py``: they frame
packets and nothing more, the same work per message for both protocol versions (an MQTT 5
client library parses every property block, which made earlier runs with paho measure paho).

Each (publisher, QoS) pair runs ``--repeat`` times for each version, MQTT 3.1.1 and MQTT 5
alternating, all in the same run. Per run: messages delivered, msgs/s delivered (from the first
publish to the last message received), messages lost, and the broker process' CPU time
(``getrusage``: user + system) per message. The summary gives, per version, the best rate and
the median CPU per message of its runs, and MQTT 5 as a share of MQTT 3.1.1. Rates depend on
what else the machine runs (the closing line gives its load); the CPU per message much less.
Everything listens on 127.0.0.1 only and every run is bounded in count and time.

    .venv/bin/python bench/mqtt_broker.py [--count 100000] [--repeat 3] [--payload 200]
        [--amqtt] [--amqtt-count 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import resource
import socket
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from mqtt_lean import TOPIC

CLIENTS = str(Path(__file__).with_name("mqtt_lean.py"))
RUN_TIMEOUT = 120.0
"""Seconds one run may take at most."""
BATCH = 100
PAUSE = 0.002
"""Seconds an in-process publisher waits when the broker has a backlog for the subscriber."""
VERSIONS = {4: "3.1.1", 5: "MQTT 5"}

Publish = Callable[[int, int, bytes], Awaitable[None]]
"""(QoS, count, payload): publish in process."""


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
        lost = self.sent - self.delivered
        return (
            f"{self.broker:8} {VERSIONS[self.protocol]:6} {self.mode:10} QoS {self.qos}: "
            f"{self.rate:9,.0f} msg/s delivered "
            f"({self.delivered:,}/{self.sent:,} in {self.seconds:5.2f} s, {lost:,} lost) "
            f"{self.cpu_us_per_message:6.2f} µs broker CPU/msg"
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds() -> float:
    """User + system CPU time of this process (the broker's) so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _helper(*args: object) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, CLIENTS, *map(str, args), stdout=asyncio.subprocess.PIPE
    )


async def _read_line(process: asyncio.subprocess.Process, seconds: float) -> str:
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), seconds)
    return line.decode().strip()


async def run(
    broker_name: str,
    port: int,
    qos: int,
    count: int,
    payload_size: int,
    publish: Publish | None,
    protocol: int,
) -> Result:
    """One run: start the subscriber, publish ``count`` messages, collect its report."""
    subscriber = await _helper("subscriber", port, qos, count, protocol)
    publisher: asyncio.subprocess.Process | None = None
    try:
        ready = await _read_line(subscriber, 20)
        if ready != "READY":
            raise RuntimeError(f"subscriber failed: {ready}")
        if publish is not None:
            cpu_before = cpu_seconds()
            started = time.monotonic()
            await asyncio.wait_for(publish(qos, count, b"p" * payload_size), RUN_TIMEOUT)
            report = json.loads(await _read_line(subscriber, RUN_TIMEOUT))
        else:
            publisher = await _helper("publisher", port, qos, count, payload_size, protocol)
            cpu_before = cpu_seconds()  # the process start is not the broker's work
            sent = json.loads(await _read_line(publisher, RUN_TIMEOUT))
            started = sent["start"]
            report = json.loads(await _read_line(subscriber, RUN_TIMEOUT))
        cpu = (cpu_seconds() - cpu_before) / max(count, 1) * 1e6
        seconds = report["last"] - started if report["received"] else 0.0
        mode = "in-process" if publish is not None else "network"
        return Result(broker_name, mode, protocol, qos, count, report["received"], seconds, cpu)
    finally:
        for process in (subscriber, publisher):
            if process is not None:
                with contextlib.suppress(ProcessLookupError, TimeoutError):
                    await asyncio.wait_for(process.wait(), 10)
                if process.returncode is None:
                    process.kill()
                    await process.wait()


async def bench_embedded(count: int, payload_size: int, repeat: int) -> list[Result]:
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
    async with broker:
        for in_process in (True, False):
            for qos in (0, 1):
                for _ in range(repeat):
                    for protocol in (4, 5):
                        result = await run(
                            "lorafox",
                            broker.port,
                            qos,
                            count,
                            payload_size,
                            publish if in_process else None,
                            protocol,
                        )
                        results.append(result)
                        print(result.line(), flush=True)
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
        for publisher in (publish, None):
            for qos in (0, 1):
                results.append(await run("amqtt", port, qos, count, payload_size, publisher, 4))
                print(results[-1].line(), flush=True)
    finally:
        await broker.shutdown()
    return results


def summary(results: list[Result]) -> None:
    """Per (publisher, QoS): each version's best rate and median CPU, and MQTT 5 / 3.1.1."""
    print("\nlorafox, MQTT 5 next to MQTT 3.1.1 (best rate of the runs; median broker CPU/msg):")
    for mode in ("in-process", "network"):
        for qos in (0, 1):
            best: dict[int, float] = {}
            cpu: dict[int, float] = {}
            for protocol in (4, 5):
                runs = [r for r in results if (r.mode, r.qos, r.protocol) == (mode, qos, protocol)]
                best[protocol] = max(r.rate for r in runs)
                cpu[protocol] = statistics.median(r.cpu_us_per_message for r in runs)
            rate = best[5] / best[4] if best[4] else float("inf")
            share = cpu[5] / cpu[4] if cpu[4] else float("inf")
            print(
                f"  {mode:10} QoS {qos}: 3.1.1 {best[4]:9,.0f} msg/s {cpu[4]:5.2f} µs; "
                f"MQTT 5 {best[5]:9,.0f} msg/s {cpu[5]:5.2f} µs; "
                f"MQTT 5 = {rate:6.1%} of the rate, {share:6.1%} of the CPU"
            )


async def main(options: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("amqtt").setLevel(logging.CRITICAL)
    logging.getLogger("transitions").setLevel(logging.CRITICAL)
    print(
        f"one lean subscriber in another process; payload {options.payload} bytes; "
        f"lorafox {options.count:,} messages per run, {options.repeat} runs per version",
        flush=True,
    )
    load_before = os.getloadavg()[0]
    ours = await bench_embedded(options.count, options.payload, options.repeat)
    summary(ours)
    load = max(load_before, os.getloadavg()[0])
    cores = os.cpu_count() or 1
    print(
        f"machine load (1 min) up to {load:.1f} on {cores} cores"
        + (": other processes competed, rates are noisy (CPU/msg less so)" if load > cores else "")
    )
    if not options.amqtt:
        return
    theirs = await bench_amqtt(options.amqtt_count, options.payload)
    print("\nlorafox (3.1.1, best run) / amqtt: msgs/s delivered, and broker CPU per message")
    for other in theirs:
        mine = [r for r in ours if (r.mode, r.qos, r.protocol) == (other.mode, other.qos, 4)]
        best = max(mine, key=lambda r: r.rate)
        rate = best.rate / other.rate if other.rate else float("inf")
        cpu = other.cpu_us_per_message / best.cpu_us_per_message
        print(f"  {other.mode:10} QoS {other.qos}: {rate:5.1f}x the rate, {cpu:5.1f}x less CPU")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="messages per lorafox run")
    parser.add_argument("--repeat", type=int, default=3, help="runs per version and phase")
    parser.add_argument("--payload", type=int, default=200, help="payload size in bytes")
    parser.add_argument("--amqtt", action="store_true", help="also amqtt (needs '.[bench]')")
    parser.add_argument("--amqtt-count", type=int, default=10_000, help="messages per amqtt run")
    asyncio.run(main(parser.parse_args()))
