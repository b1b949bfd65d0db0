"""The external broker's client in the two shapes the topic rules' feed uses, on the local
Mosquitto: a member of a shared subscription group (each message to one member) and a
persistent session taken over by another client under the same id (what waited is handed on)."""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from collections.abc import Callable

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from lorafox.bus.external import BrokerAddress, ExternalBus
from lorafox.errors import ConfigError

pytestmark = pytest.mark.mosquitto


async def _until(condition: Callable[[], bool], seconds: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def _publish(port: int, topic: str, count: int) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        for n in range(count):
            client.publish(f"{topic}/{n}", b"x", qos=1).wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()


async def test_a_shared_subscription_hands_each_message_to_one_member(
    mosquitto: tuple[str, int],
) -> None:
    address = BrokerAddress.parse(f"mqtt://127.0.0.1:{mosquitto[1]}")
    prefix = "shared-" + secrets.token_hex(4)
    received: Counter[str] = Counter()
    by_member: Counter[int] = Counter()
    members = []
    for i in range(2):

        async def handle(topic: str, _payload: bytes, member: int = i) -> None:
            received[topic] += 1
            by_member[member] += 1

        bus = ExternalBus(address, client_id=f"{prefix}-{i}", persistent=False)
        bus.subscribe(f"$share/{prefix}/{prefix}/#", handle)
        members.append(bus)
        await bus.__aenter__()
        await asyncio.wait_for(bus.wait_connected(), 10)
    try:
        await asyncio.to_thread(_publish, mosquitto[1], prefix, 40)
        await _until(lambda: len(received) == 40)
        await asyncio.sleep(0.5)  # for a second copy to show
        assert set(received) == {f"{prefix}/{n}" for n in range(40)}  # topics without $share
        assert set(received.values()) == {1}
        assert by_member[0] > 0 and by_member[1] > 0  # the broker shared them out
    finally:
        for bus in members:
            await bus.__aexit__(None, None, None)


async def test_a_persistent_session_is_handed_on_to_the_next_client_with_its_id(
    mosquitto: tuple[str, int],
) -> None:
    address = BrokerAddress.parse(f"mqtt://127.0.0.1:{mosquitto[1]}")
    prefix = "feeder-" + secrets.token_hex(4)
    received: list[str] = []

    async def handle(topic: str, _payload: bytes) -> None:
        received.append(topic)

    first = ExternalBus(address, client_id=prefix, wipe=False)
    first.subscribe(prefix + "/#", handle)
    await first.__aenter__()
    await asyncio.wait_for(first.wait_connected(), 10)
    await first.__aexit__(None, None, None)  # gone: the broker keeps its session

    await asyncio.to_thread(_publish, mosquitto[1], prefix, 5)  # nobody connected
    assert received == []
    second = ExternalBus(address, client_id=prefix, wipe=False)
    second.subscribe(prefix + "/#", handle)
    await second.__aenter__()
    try:
        await _until(lambda: len(received) == 5)
        await asyncio.sleep(0.5)
        assert sorted(received) == [f"{prefix}/{n}" for n in range(5)]
    finally:
        await second.__aexit__(None, None, None)
        # leave no session behind on the shared broker
        wiped = ExternalBus(address, client_id=prefix, persistent=False)
        await wiped.__aenter__()
        await asyncio.wait_for(wiped.wait_connected(), 10)
        await wiped.__aexit__(None, None, None)


def test_a_malformed_shared_subscription_is_refused() -> None:
    bus = ExternalBus(BrokerAddress.parse("mqtt://127.0.0.1:1"), client_id="x")
    with pytest.raises(ConfigError, match=r"\$share/<group>/<filter>"):
        bus.subscribe("$share/#", lambda _t, _p: asyncio.sleep(0))
