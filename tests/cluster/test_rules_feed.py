"""Two instances on one PostgreSQL database and one external broker run each message through the
topic rules once: on Mosquitto by a shared subscription, on NATS and RabbitMQ (no shared
subscriptions) by the one instance holding the rules feeder's lock. A republish rule and an
http rule fire once per message while both live; after the instance feeding the rules is killed
(``SIGKILL``) the survivor takes over, and every message published after that fires once."""

from __future__ import annotations

import secrets
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.cluster.conftest import ADMIN, Instance, Subscriber
from tests.cluster.servers import MosquittoServer, NatsServer, RabbitNode
from tests.cluster.test_shared_jobs import Hook
from tests.mqtt_helpers import wait_until

FEEDER_LINE = "this instance is now the rules feeder"
LOGIN = ("guest", "guest")  # RabbitMQ's; NATS and the anonymous Mosquitto take any
RETRY = 0.5  # LORAFOX_LEADER_RETRY_SECONDS: the rules feeder's lock is tried as often


@pytest.fixture
def hook() -> Iterator[Hook]:
    receiver = Hook()
    yield receiver
    receiver.close()


@pytest.fixture(params=["mosquitto", "nats", "rabbitmq"])
def broker(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, int]]:
    """(name, MQTT port) of a broker of the test's own (RabbitMQ and NATS take guest/guest)."""
    if request.param == "rabbitmq":
        node = RabbitNode()
        yield request.param, node.port
        node.shutdown()
        return
    server = (MosquittoServer if request.param == "mosquitto" else NatsServer)(
        tmp_path / request.param
    )
    server.start()
    yield request.param, server.port
    server.stop()


class Publisher:
    """A QoS 1 paho client publishing ``{"n": n}`` and waiting for each PUBACK."""

    def __init__(self, port: int, topic: str) -> None:
        self.topic = topic
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.username_pw_set(*LOGIN)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def send(self, numbers: range) -> None:
        for n in numbers:
            info = self.client.publish(self.topic, orjson.dumps({"n": n}), qos=1)
            info.wait_for_publish(10)
            assert info.is_published()

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def feeds(instance: Instance) -> bool:
    """Whether ``instance`` said it took the rules feeder's lock (no shared subscriptions)."""
    return FEEDER_LINE in instance.log.read_text()


def n_of(payload: bytes) -> int:
    n: int = orjson.loads(payload)["n"]
    return n


def test_each_message_fires_the_rules_once_across_instances_and_after_a_kill(
    start: Callable[..., Instance], broker: tuple[str, int], hook: Hook
) -> None:
    name, port = broker
    shared = name == "mosquitto"
    prefix = "r" + secrets.token_hex(4)

    def settings(instance: str) -> dict[str, str]:
        return {
            "LORAFOX_MQTT_URL": f"mqtt://{LOGIN[0]}:{LOGIN[1]}@127.0.0.1:{port}",
            "LORAFOX_MQTT__CLIENT_ID": f"{prefix}-{instance}",
            "LORAFOX_MQTT__UPLINK_TOPIC": prefix + "/uplink/{device}",
            "LORAFOX_MQTT__DOWNLINK_TOPIC": prefix + "/downlink/+",
            "LORAFOX_MQTT__EVENTS_TOPIC": prefix + "/events/{device}",
            "LORAFOX_RULES__HTTP_ALLOWED_URLS": f'["{hook.url}"]',
            "LORAFOX_RULES__SHARED_SUBSCRIPTION": str(shared).lower(),
            "LORAFOX_RULES__FEED_GROUP": prefix + "-rules",
            "LORAFOX_LEADER_RETRY_SECONDS": str(RETRY),
        }

    first = start(**settings("a"))
    for rule in (
        {
            "name": "Copy",
            "sql": f"SELECT n FROM '{prefix}/in/+'",  # noqa: S608
            "actions": [{"republish": {"topic": prefix + "/out", "qos": 1}}],
        },
        {
            "name": "Hook",
            "sql": f"SELECT n FROM '{prefix}/in/+'",  # noqa: S608
            "actions": [{"http": {"url": hook.url + "in"}}],
        },
    ):
        answer = first.http.post("/api/v2/rules", json=rule, auth=ADMIN)
        assert answer.status_code == 201, answer.text
    second = start(**settings("b"))
    copies = Subscriber(port, prefix + "/out", key=n_of, login=LOGIN)
    publisher = Publisher(port, prefix + "/in/x")
    try:
        # ready: a message goes through the rules (warm-up messages are negative)
        warm = -1
        while not copies.counts():
            publisher.send(range(warm, warm + 1))
            warm -= 1
            time.sleep(0.3)
            assert warm > -100, "the rules never fired"
        if shared:
            assert FEEDER_LINE not in first.log.read_text() + second.log.read_text()
            time.sleep(1)  # both members of the group subscribed
        else:
            wait_until(lambda: any(feeds(i) for i in (first, second)), timeout=10)

        # steady state: each message fires each rule once
        steady = range(60)
        publisher.send(steady)
        counts = copies.wait_for(set(steady), settle=2)
        wait_until(lambda: all(hook.count(n) for n in steady), timeout=30)
        time.sleep(1)
        assert [counts[n] for n in steady] == [1] * len(steady)
        assert [hook.count(n) for n in steady] == [1] * len(steady)

        # the instance feeding the rules killed: in the shared group each instance feeds its
        # share (kill the first); without, the one holding the lock
        feeders = [i for i in (first, second) if feeds(i)]
        dead = first if shared else feeders[0]
        survivor = second if dead is first else first
        assert shared or len(feeders) == 1, "two instances fed the rules at once"
        dead.stop(signal.SIGKILL)
        killed_at = time.monotonic()
        gap = range(1000, 1020)  # published at once, while the survivor may not feed yet
        publisher.send(gap)
        if not shared:
            wait_until(lambda: feeds(survivor), timeout=10)
            took_over = time.monotonic() - killed_at
            assert took_over < 10 * RETRY, f"the survivor took over after {took_over:.1f} s"
        after = range(2000, 2040)
        publisher.send(after)
        counts = copies.wait_for(set(after), settle=2)
        wait_until(lambda: all(hook.count(n) for n in after), timeout=30)
        time.sleep(1)
        assert [counts[n] for n in after] == [1] * len(after)
        assert [hook.count(n) for n in after] == [1] * len(after)
        # the gap: never twice; without shared subscriptions the broker kept them in the
        # feeder's session for the next feeder, so none is lost either
        gap_counts = [counts[n] for n in gap]
        assert max(gap_counts) <= 1, gap_counts
        assert max(hook.count(n) for n in gap) <= 1
        if not shared:
            assert gap_counts == [1] * len(gap), gap_counts
            assert [hook.count(n) for n in gap] == [1] * len(gap)
        print(f"{name}: gap messages fired {sum(gap_counts)}/{len(gap)}", end="")
        print("" if shared else f", took over after {took_over:.2f} s")
    finally:
        publisher.close()
        copies.close()
