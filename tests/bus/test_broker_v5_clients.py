"""Real MQTT 5 clients against the embedded broker: aiomqtt with protocol 5, and
``mosquitto_sub``/``mosquitto_pub -V 5``."""

from __future__ import annotations

import asyncio

import aiomqtt
import pytest

from lorafox.bus.broker import EmbeddedBroker, EmbeddedBus
from tests.bus.paho5 import PacketTypes, pget, props
from tests.conftest import require_binary

pytestmark = pytest.mark.asyncio


async def test_aiomqtt_with_protocol_5(broker: EmbeddedBroker) -> None:
    sent = props(PacketTypes.PUBLISH, ResponseTopic="reply/here", UserProperty=("k", "v"))
    async with (
        aiomqtt.Client("127.0.0.1", broker.port, protocol=aiomqtt.ProtocolVersion.V5) as sub,
        aiomqtt.Client("127.0.0.1", broker.port, protocol=aiomqtt.ProtocolVersion.V5) as pub,
    ):
        await sub.subscribe("a5/#", qos=1)
        await pub.publish("a5/x", b"hello", qos=1, properties=sent)
        async with asyncio.timeout(3):
            message = await anext(aiomqtt_messages(sub))
        assert message.topic.value == "a5/x"
        assert message.payload == b"hello"
        assert pget(message.properties, "ResponseTopic") == "reply/here"
        assert pget(message.properties, "UserProperty") == [("k", "v")]


def aiomqtt_messages(client: aiomqtt.Client) -> aiomqtt.client.MessagesIterator:
    return client.messages


async def test_mosquitto_clients_with_v5(broker: EmbeddedBroker) -> None:
    require_binary("mosquitto_sub")
    port = str(broker.port)
    sub = await asyncio.create_subprocess_exec(
        "mosquitto_sub", "-V", "5", "-p", port, "-h", "127.0.0.1", "-t", "m5/#", "-C", "2",
        "-F", "%t|%p|%P|%C", "-W", "5",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    await asyncio.sleep(0.5)  # let it subscribe
    pub = await asyncio.create_subprocess_exec(
        "mosquitto_pub", "-V", "5", "-p", port, "-h", "127.0.0.1", "-t", "m5/a", "-m", "one",
        "-q", "1", "-D", "publish", "user-property", "who", "me",
    )  # fmt: skip
    assert await pub.wait() == 0
    await EmbeddedBus(broker).publish("m5/b", b'{"two": 2}')
    out, _ = await asyncio.wait_for(sub.communicate(), 6)
    assert sub.returncode == 0
    lines = out.decode().splitlines()
    assert lines[0] == "m5/a|one|who:me|"
    assert lines[1] == 'm5/b|{"two": 2}||application/json'
