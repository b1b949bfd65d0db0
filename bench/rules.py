"""Rules engine cost per message on the uplink path: 0, 1, 10 and 100 active rules.

In process, no network: realistic uplink messages (the JSON lorafox publishes on
``sigfox/uplink/{device}``) are offered to a ``RulesEngine`` and handled by its task, the actions
(republish) going to a publisher that only counts. Two shapes of rule set:

- ``per-device``: rule *i* is ``SELECT device, data, seqNumber FROM 'sigfox/uplink/DEV<i>'``:
  each message matches one rule (the usual case: rules per device or per application);
- ``where``: every rule is ``SELECT device, data FROM 'sigfox/uplink/+' WHERE device = 'DEV<i>'``:
  each message is evaluated by every rule and passes one.

For each: messages/s through the engine and µs per message, in CPU time of the process (the
machine is shared: wall time would count the others), and the share of one core the rules would
take at the 10,000 uplinks/s ingest goal (the goal: under half of it for 100 simple rules).

Then, with the ``per-device`` set of 100 rules, what some features cost against the same rules
without them, measured in the same run: republish ``headers`` (six MQTT 5 properties, five of
them templates), and the hash functions ``md5`` (OpenSSL) and ``md2`` (lorafox's pure Python)
on the payload's ``data``.

    .venv/bin/python bench/rules.py [--messages 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import orjson
import uvloop

from lorafox.rules.actions import ActionRunner
from lorafox.rules.compiled import rule_from_payload
from lorafox.rules.engine import BusMessage, RulesEngine

INGEST_GOAL = 10_000
DEVICES = 100


class CountingPublisher:
    def __init__(self) -> None:
        self.count = 0

    async def publish(self, topic: str, payload: bytes, **kw: Any) -> None:
        self.count += 1


def uplink(i: int) -> BusMessage:
    device = f"DEV{i % DEVICES}"
    body = {
        "device": device,
        "time": 1_700_000_000 + i,
        "data": "0102030405060708090a0b0c",
        "seqNumber": i,
        "deviceTypeId": "5f0c0f9f0f0f0f0f0f0f0f0f",
        "ack": False,
        "id": i,
        "receivedAt": 1_700_000_000_000 + i,
        "decoded": {"temperature": 21.5, "battery": 3.1},
    }
    return BusMessage(f"sigfox/uplink/{device}", orjson.dumps(body), ("/r/",))


HEADERS = {
    "payloadFormatIndicator": "UTF8_DATA",
    "contentType": "application/json",
    "responseTopic": "reply/${device}",
    "correlationData": "${encode(seqNumber, 'base64')}",
    "messageExpiry": "3600",
    "userProperties": [{"key": "device", "value": "${device}"}],
}
VARIANTS = ("plain", "headers", "md5", "md2")


def rules(
    shape: str, count: int, variant: str | None = None, version: str | None = None
) -> list[Any]:
    republish: dict[str, Any] = {"roleArn": "r", "topic": "out/${device}"}
    if variant == "headers":
        republish["headers"] = HEADERS
    action = [{"republish": republish}]
    made = []
    for i in range(count):
        if shape == "per-device":
            items = f"{variant}(data) AS h" if variant in ("md5", "md2") else "data"
            sql = f"SELECT device, {items}, seqNumber FROM 'sigfox/uplink/DEV{i}'"  # noqa: S608
        else:
            sql = f"SELECT device, data FROM 'sigfox/uplink/+' WHERE device = 'DEV{i}'"  # noqa: S608
        payload: dict[str, Any] = {"sql": sql, "actions": action}
        if version is not None:
            payload["awsIotSqlVersion"] = version
        made.append(rule_from_payload(f"r{i}", payload, group_path="/r/", owner="b", created_at=0))
    return made


async def measure(
    shape: str, count: int, messages: list[BusMessage], variant: str | None = None
) -> tuple[float, int]:
    publisher = CountingPublisher()
    engine = RulesEngine(
        ActionRunner(publisher=publisher), root_path="/r/", queue_size=len(messages) + 1
    )
    engine.load(rules(shape, count, variant, None if variant is None else "2016-03-23"))
    task = asyncio.create_task(engine.run())
    start = time.process_time()  # CPU time: the machine is shared, wall time is noisy
    for message in messages:
        engine.offer(message)
    engine.close()
    await task
    return time.process_time() - start, publisher.count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    args = parser.parse_args()
    messages = [uplink(i) for i in range(args.messages)]
    print(f"{args.messages} uplink messages, {DEVICES} devices")
    print(
        f"{'rule set':<12} {'rules':>5} {'msg/s':>10} {'µs/msg':>8} {'actions':>8} "
        f"{'core at ' + format(INGEST_GOAL, ',') + '/s':>16}"
    )
    for shape in ("per-device", "where"):
        for count in (0, 1, 10, 100):
            seconds, actions = uvloop.run(measure(shape, count, messages))
            rate = args.messages / seconds
            share = INGEST_GOAL / rate
            print(
                f"{shape:<12} {count:>5} {rate:>10,.0f} {seconds / args.messages * 1e6:>8.1f} "
                f"{actions:>8} {share:>15.0%}"
            )
    print()
    print(f"{'per-device, 100 rules':<22} {'µs/msg':>8} {'actions':>8} {'/ plain':>8}")
    baseline = 0.0
    for variant in VARIANTS:
        seconds, actions = uvloop.run(measure("per-device", 100, messages, variant))
        per_message = seconds / args.messages * 1e6
        baseline = baseline or per_message
        print(f"{variant:<22} {per_message:>8.1f} {actions:>8} {per_message / baseline:>8.2f}")


if __name__ == "__main__":
    main()
