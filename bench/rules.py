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


def rules(shape: str, count: int) -> list[Any]:
    action = [{"republish": {"roleArn": "r", "topic": "out/${device}"}}]
    made = []
    for i in range(count):
        if shape == "per-device":
            sql = f"SELECT device, data, seqNumber FROM 'sigfox/uplink/DEV{i}'"  # noqa: S608
        else:
            sql = f"SELECT device, data FROM 'sigfox/uplink/+' WHERE device = 'DEV{i}'"  # noqa: S608
        payload = {"sql": sql, "actions": action}
        made.append(rule_from_payload(f"r{i}", payload, group_path="/r/", owner="b", created_at=0))
    return made


async def measure(shape: str, count: int, messages: list[BusMessage]) -> tuple[float, int]:
    publisher = CountingPublisher()
    engine = RulesEngine(
        ActionRunner(publisher=publisher), root_path="/r/", queue_size=len(messages) + 1
    )
    engine.load(rules(shape, count))
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


if __name__ == "__main__":
    main()
