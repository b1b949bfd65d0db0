"""lorafox on the clusterable brokers operators run instead of Mosquitto: NATS with MQTT and
RabbitMQ's MQTT plugin (MQTT 3.1.1, QoS 0 and 1, no ``$share/``, persistent sessions)."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import httpx
import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from lorafox.bus.external import broker_filters
from tests.cluster.conftest import Subscriber
from tests.cluster.servers import NatsServer, RabbitNode
from tests.conftest import ADMIN_PASSWORD, SIGFOX_PASSWORD, SIGFOX_USER, Running
from tests.integration.test_sigfox_flow import body
from tests.mqtt_helpers import Forwarder, wait_until

SIGFOX = (SIGFOX_USER, SIGFOX_PASSWORD)
ADMIN = ("admin", ADMIN_PASSWORD)
LOGIN = ("guest", "guest")  # RabbitMQ's; NATS without accounts takes any


class Broker(Protocol):
    port: int

    def stop(self) -> None: ...

    def start(self) -> None: ...


@pytest.fixture(scope="module")
def nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = NatsServer(tmp_path_factory.mktemp("nats"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def rabbitmq() -> Iterator[RabbitNode]:
    node = RabbitNode()  # ~15 s: once for the module
    yield node
    node.shutdown()


@pytest.fixture(params=["nats", "rabbitmq"])
def broker(request: pytest.FixtureRequest) -> Broker:
    found: Broker = request.getfixturevalue(request.param)
    return found


def on_broker(factory: Callable[..., Running], port: int, **overrides: Any) -> Running:
    """lorafox with the broker on ``port`` as its external broker, under a client id of its
    own (the brokers are shared by the module's tests)."""
    client_id = f"lorafox-{secrets.token_hex(4)}"
    url = f"mqtt://{LOGIN[0]}:{LOGIN[1]}@127.0.0.1:{port}"
    return factory(mqtt_url=url, mqtt_port=0, mqtt={"client_id": client_id}, **overrides)


def mqtt_state(lorafox: Running) -> str:
    state: str = httpx.get(f"{lorafox.base_url}/healthz").json()["mqtt"]
    return state


def post_uplinks(lorafox: Running, device: str, seqs: range) -> None:
    with httpx.Client(base_url=lorafox.base_url) as http:
        for seq in seqs:
            r = http.post("/sigfox/uplink", json=body(device, seq), auth=SIGFOX)
            assert r.status_code == 204, r.text


def queued(lorafox: Running, device: str) -> list[str]:
    url = f"{lorafox.base_url}/api/v2/devices/{device}/downlinks"
    return [d["data"] for d in httpx.get(url, auth=ADMIN).json()["data"]]


def publish(port: int, messages: list[tuple[str, bytes]]) -> None:
    """Publish with QoS 1 and wait for each PUBACK."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.username_pw_set(*LOGIN)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        for topic, payload in messages:
            client.publish(topic, payload, qos=1).wait_for_publish(10)
    finally:
        client.disconnect()
        client.loop_stop()


def request(data: str) -> bytes:
    return b'{"downlinkData": "%s"}' % data.encode()


def subscriber_of(port: int, topic: str) -> Subscriber:
    """A persistent QoS 1 subscriber keeping the uplinks' sequence numbers."""
    return Subscriber(port, topic, key=seq_of, persistent=True, login=LOGIN)


def seq_of(payload: bytes) -> int:
    seq: int = orjson.loads(payload)["seqNumber"]
    return seq


def test_uplinks_reach_a_qos1_subscriber(
    broker: Broker, lorafox_factory: Callable[..., Running]
) -> None:
    lorafox = on_broker(lorafox_factory, broker.port)
    wait_until(lambda: mqtt_state(lorafox) == "connected", timeout=30)
    device = "F" + secrets.token_hex(3).upper()
    topic = f"sigfox/uplink/{device}"
    subscriber = subscriber_of(broker.port, topic)
    try:
        post_uplinks(lorafox, device, range(1, 21))
        assert subscriber.distinct(20) == list(range(1, 21))
    finally:
        subscriber.close()


def test_downlink_requests_are_queued_once_across_a_cut(
    broker: Broker, lorafox_factory: Callable[..., Running]
) -> None:
    """Without ``$share/`` lorafox holds one persistent session: requests published while it
    is cut off wait on the broker, and none is queued twice when it comes back."""
    proxy = Forwarder(broker.port)
    lorafox = on_broker(lorafox_factory, proxy.port)
    try:
        wait_until(lambda: mqtt_state(lorafox) == "connected", timeout=30)
        devices = ["F" + secrets.token_hex(3).upper() for _ in range(6)]
        before, during = devices[:3], devices[3:]
        publish(
            broker.port,
            [(f"sigfox/downlink/{d}", request(f"{i:016x}")) for i, d in enumerate(before)],
        )
        for i, device in enumerate(before):
            assert wait_until(lambda d=device: queued(lorafox, d)) == [f"{i:016x}"]

        proxy.close()  # the link goes down; the broker keeps the session
        wait_until(lambda: mqtt_state(lorafox) == "disconnected")
        publish(
            broker.port,
            [(f"sigfox/downlink/{d}", request(f"{i:016x}")) for i, d in enumerate(during)],
        )
        proxy = Forwarder(broker.port, proxy.port)  # back on the same address

        for i, device in enumerate(during):
            assert wait_until(lambda d=device: queued(lorafox, d), timeout=60) == [f"{i:016x}"]
        for i, device in enumerate(before):
            assert queued(lorafox, device) == [f"{i:016x}"]  # not received again
    finally:
        proxy.close()


def test_broker_restart(broker: Broker, lorafox_factory: Callable[..., Running]) -> None:
    """The broker restarts: lorafox keeps acknowledging uplinks, reconnects by itself and
    publishes what it stored meanwhile; its downlink subscription is back too."""
    lorafox = on_broker(lorafox_factory, broker.port)
    wait_until(lambda: mqtt_state(lorafox) == "connected", timeout=30)
    device = "F" + secrets.token_hex(3).upper()
    subscriber = subscriber_of(broker.port, f"sigfox/uplink/{device}")
    try:
        post_uplinks(lorafox, device, range(1, 3))
        assert subscriber.distinct(2) == [1, 2]

        broker.stop()
        wait_until(lambda: mqtt_state(lorafox) == "disconnected", timeout=30)
        post_uplinks(lorafox, device, range(3, 13))  # acknowledged: stored
        broker.start()
        wait_until(lambda: mqtt_state(lorafox) == "connected", timeout=60)

        assert subscriber.distinct(12) == list(range(1, 13))
        publish(broker.port, [(f"sigfox/downlink/{device}", request("00000000000000aa"))])
        assert wait_until(lambda: queued(lorafox, device), timeout=30) == ["00000000000000aa"]
    finally:
        subscriber.close()


def test_overlapping_filters_are_subscribed_once() -> None:
    """What lorafox asks the broker for: a filter another one covers is left out (the broker
    would deliver a copy per matching subscription), ``$`` topics only by their own filters."""
    assert broker_filters(["sigfox/downlink/+", "#", "sigfox/downlink/+"]) == ["#"]
    assert broker_filters(["a/b", "a/+", "+/b", "$aws/x", "a/#", "a"]) == [
        "+/b",
        "$aws/x",
        "a/#",
    ]
    assert broker_filters(["sigfox/downlink/+", "lora/+/down"]) == [
        "sigfox/downlink/+",
        "lora/+/down",
    ]
