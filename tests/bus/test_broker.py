"""The embedded broker with real sockets and real clients (paho-mqtt 2, aiomqtt 2, raw bytes)."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiomqtt
import pytest
from paho.mqtt.enums import MQTTProtocolVersion

from lorafox.bus.broker import BrokerLimits, EmbeddedBroker, EmbeddedBus, Identity
from lorafox.bus.mqtt_codec import (
    ConnAck,
    Connect,
    Disconnect,
    PingReq,
    PingResp,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    SubAck,
    Subscribe,
    UnsubAck,
    Unsubscribe,
    Will,
)
from lorafox.errors import BusUnavailable, ConfigError, InvalidInput
from lorafox.ports.bus import Bus

from .conftest import TIMEOUT, PahoFactory, RawClient, anonymous_broker, wait_until


async def next_message(client: aiomqtt.Client, seconds: float = TIMEOUT) -> aiomqtt.Message:
    async with asyncio.timeout(seconds):
        return await anext(client.messages)


def aio(broker: EmbeddedBroker, identifier: str | None = None, **kwargs: object) -> aiomqtt.Client:
    return aiomqtt.Client("127.0.0.1", broker.port, identifier=identifier, **kwargs)  # type: ignore[arg-type]


async def first_message(
    broker: EmbeddedBroker, identifier: str, *topics: str
) -> tuple[str, object, bool]:
    """The topic, payload and retain flag of the first message a new aiomqtt client gets once
    subscribed to ``topics`` (QoS 1, one after the other)."""
    async with aio(broker, identifier) as subscriber:
        for topic in topics:
            await subscriber.subscribe(topic, 1)
        message = await next_message(subscriber)
        return message.topic.value, message.payload, message.retain


async def sentinel_is_next(client: RawClient, publisher: RawClient, topic: str) -> bool:
    """Publish a sentinel to ``topic``: True when it is the next thing ``client`` receives."""
    await publisher.send(Publish(topic, b"sentinel"))
    packet = await client.recv()
    return isinstance(packet, Publish) and packet.payload == b"sentinel"


# -- connecting -------------------------------------------------------------------------------


async def test_anonymous_client_connects(paho_client: PahoFactory) -> None:
    client = paho_client("anon")
    flags, reason = await client.connect()
    assert not reason.is_failure
    assert flags.session_present is False


async def test_mqtt31_client_connects_and_exchanges(paho_client: PahoFactory) -> None:
    old = paho_client("old", protocol=MQTTProtocolVersion.MQTTv31)
    _flags, reason = await old.connect()
    assert not reason.is_failure
    assert await old.subscribe("v31/#", 1) == [1]
    await old.publish("v31/x", b"hello", 1)
    message = await old.message()
    assert (message.topic, message.payload, message.qos) == ("v31/x", b"hello", 1)


async def _check(username: str, password: bytes | None) -> bool:
    return username == "alice" and password == b"s3cret"


async def test_authentication() -> None:
    calls: list[tuple[str, bytes | None]] = []

    async def authenticate(username: str, password: bytes | None, address: str) -> Identity | None:
        calls.append((username, password))
        return Identity(username) if await _check(username, password) else None

    async with EmbeddedBroker(
        "127.0.0.1", 0, authenticate=authenticate, allow_anonymous=False
    ) as broker:
        # anonymous: refused with 0x05 (not authorized), without asking the callback
        raw = await RawClient.open(broker.port)
        assert await raw.connect(Connect("anon")) == ConnAck(False, 5)
        assert await raw.is_closed_by_peer()
        assert calls == []
        # wrong password: 0x04 (bad user name or password)
        raw = await RawClient.open(broker.port)
        ack = await raw.connect(Connect("bad", username="alice", password=b"wrong"))
        assert ack == ConnAck(False, 4)
        assert await raw.is_closed_by_peer()
        assert calls == [("alice", b"wrong")]
        # aiomqtt sees the refusals as errors
        with pytest.raises(aiomqtt.MqttCodeError):
            async with aio(broker, "x", username="alice", password="nope"):
                pass
        with pytest.raises(aiomqtt.MqttCodeError):
            async with aio(broker, "y"):
                pass
        # right credentials: in, and working
        async with aio(broker, "good", username="alice", password="s3cret") as client:
            await client.subscribe("auth/test", 1)
            await client.publish("auth/test", b"ok", 1)
            assert (await next_message(client)).payload == b"ok"


async def test_packets_sent_right_after_connect_wait_for_the_credentials() -> None:
    gate = asyncio.Event()

    async def slow(username: str, password: bytes | None, address: str) -> Identity | None:
        await gate.wait()
        return Identity(username)

    async with EmbeddedBroker("127.0.0.1", 0, authenticate=slow, allow_anonymous=False) as broker:
        raw = await RawClient.open(broker.port)
        connect = Connect("eager", username="u", password=b"p").encode()
        await raw.send(connect + Subscribe(1, (("e/#", 0),)).encode() + PingReq().encode())
        assert await raw.nothing_within(0.05)
        gate.set()
        assert await raw.recv() == ConnAck(False, 0)
        assert await raw.recv() == SubAck(1, (0,))
        assert await raw.recv() == PingResp()


async def test_failing_authenticator_means_server_unavailable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(username: str, password: bytes | None, address: str) -> Identity | None:
        raise RuntimeError("database down")

    async with EmbeddedBroker("127.0.0.1", 0, authenticate=broken, allow_anonymous=True) as broker:
        raw = await RawClient.open(broker.port)
        ack = await raw.connect(Connect("c", username="bob", password=b"pw-never-logged"))
        assert ack == ConnAck(False, 3)
        # anonymous clients are still welcome
        anon = await RawClient.open(broker.port)
        assert await anon.connect(Connect("anon")) == ConnAck(False, 0)
    assert "database down" in caplog.text
    assert "pw-never-logged" not in caplog.text


def test_refusing_anonymous_needs_an_authenticator() -> None:
    with pytest.raises(ConfigError):
        EmbeddedBroker("127.0.0.1", 0, authenticate=None, allow_anonymous=False)


async def test_client_identifier_rules(broker: EmbeddedBroker) -> None:
    raw = await RawClient.open(broker.port)
    assert await raw.connect(Connect("", clean_session=True)) == ConnAck(False, 0)
    assert broker.stats().sessions == 1
    assert next(iter(broker._sessions)).startswith("lorafox-")
    refused = await RawClient.open(broker.port)
    assert await refused.connect(Connect("", clean_session=False)) == ConnAck(False, 2)
    assert await refused.is_closed_by_peer()


async def test_unknown_level_gets_unacceptable_protocol_version(broker: EmbeddedBroker) -> None:
    raw = await RawClient.open(broker.port)
    # CONNECT "MQTT" level 6, clean start, keep-alive 60, properties length 0, client id "c6"
    await raw.send(b"\x10\x0f\x00\x04MQTT\x06\x02\x00\x3c\x00\x00\x02c6")
    assert await raw.reader.readexactly(4) == b"\x20\x02\x00\x01"
    assert await raw.is_closed_by_peer()


async def test_first_packet_must_be_connect(broker: EmbeddedBroker) -> None:
    raw = await RawClient.open(broker.port)
    await raw.send(PingReq())
    assert await raw.is_closed_by_peer()


async def test_client_silent_before_connect_is_dropped() -> None:
    async with anonymous_broker(BrokerLimits(connect_timeout=0.1)) as broker:
        raw = await RawClient.open(broker.port)
        assert await raw.is_closed_by_peer(1.0)


async def test_ping(broker: EmbeddedBroker) -> None:
    raw, _ = await RawClient.connected(broker.port)
    await raw.send(PingReq())
    assert await raw.recv() == PingResp()


# -- publish / subscribe ----------------------------------------------------------------------


@pytest.mark.parametrize("qos", [0, 1, 2])
async def test_pubsub_between_two_paho_clients(paho_client: PahoFactory, qos: int) -> None:
    subscriber = paho_client("sub")
    publisher = paho_client("pub")
    await subscriber.connect()
    await publisher.connect()
    assert await subscriber.subscribe("room/+/temp", qos) == [qos]
    for n in range(5):
        await publisher.publish(f"room/{n}/temp", f"{n}".encode(), qos)
    for n in range(5):
        message = await subscriber.message()
        assert (message.topic, message.payload, message.qos) == (
            f"room/{n}/temp",
            str(n).encode(),
            qos,
        )
        assert message.retain is False


@pytest.mark.parametrize(
    ("granted", "published", "delivered"), [(0, 2, 0), (1, 2, 1), (2, 1, 1), (2, 0, 0), (1, 0, 0)]
)
async def test_delivery_qos_is_the_lower_of_the_two(
    broker: EmbeddedBroker, granted: int, published: int, delivered: int
) -> None:
    async with aio(broker, "s") as subscriber, aio(broker, "p") as publisher:
        await subscriber.subscribe("q", granted)
        await publisher.publish("q", b"x", published)
        assert (await next_message(subscriber)).qos == delivered


async def test_qos2_exchanges_with_raw_clients(broker: EmbeddedBroker) -> None:
    subscriber, _ = await RawClient.connected(broker.port, "sub")
    publisher, _ = await RawClient.connected(broker.port, "pub")
    await subscriber.send(Subscribe(1, (("q2", 2),)))
    assert await subscriber.recv() == SubAck(1, (2,))
    # inbound: PUBLISH -> PUBREC, PUBREL -> PUBCOMP; a duplicate before PUBREL is not re-routed
    await publisher.send(Publish("q2", b"once", 2, packet_id=9))
    assert await publisher.recv() == PubRec(9)
    await publisher.send(Publish("q2", b"once", 2, dup=True, packet_id=9))
    assert await publisher.recv() == PubRec(9)
    await publisher.send(PubRel(9))
    assert await publisher.recv() == PubComp(9)
    # outbound: the subscriber gets it once, at QoS 2
    delivered = await subscriber.recv()
    assert isinstance(delivered, Publish)
    assert (delivered.payload, delivered.qos, delivered.dup) == (b"once", 2, False)
    assert delivered.packet_id is not None
    await subscriber.send(PubRec(delivered.packet_id))
    assert await subscriber.recv() == PubRel(delivered.packet_id)
    await subscriber.send(PubComp(delivered.packet_id))
    assert await sentinel_is_next(subscriber, publisher, "q2")
    assert broker._sessions["sub"].inflight == {}


async def test_wildcards(broker: EmbeddedBroker) -> None:
    async with aio(broker, "s") as subscriber, aio(broker, "p") as publisher:
        await subscriber.subscribe("sensors/+/temp", 1)
        await subscriber.subscribe("alerts/#", 1)
        for topic in [
            "sensors/a/temp",
            "sensors/a/humidity",
            "sensors/a/b/temp",
            "alerts",
            "alerts/fire/kitchen",
            "other",
            "$SYS/alerts",
            "end/x",
        ]:
            await publisher.publish(topic, topic.encode(), 1)
        await subscriber.subscribe("end/+", 1)
        await publisher.publish("end/x", b"end", 1)
        received = []
        while (message := await next_message(subscriber)).payload != b"end":
            received.append(message.topic.value)
        assert received == ["sensors/a/temp", "alerts", "alerts/fire/kitchen"]


async def test_overlapping_subscriptions_deliver_once_at_the_highest_qos(
    broker: EmbeddedBroker,
) -> None:
    subscriber, _ = await RawClient.connected(broker.port, "sub")
    publisher, _ = await RawClient.connected(broker.port, "pub")
    await subscriber.send(Subscribe(1, (("a/#", 0), ("a/b", 1), ("+/b", 0))))
    assert await subscriber.recv() == SubAck(1, (0, 1, 0))
    await publisher.send(Publish("a/b", b"m", 2, packet_id=1))
    message = await subscriber.recv()
    assert isinstance(message, Publish)
    assert (message.payload, message.qos) == (b"m", 1)
    assert message.packet_id is not None
    await subscriber.send(PubAck(message.packet_id))
    assert await sentinel_is_next(subscriber, publisher, "a/b")


async def test_invalid_filter_gets_0x80_and_the_others_work(broker: EmbeddedBroker) -> None:
    raw, _ = await RawClient.connected(broker.port)
    filters = (("a/#/b", 1), ("ok/+", 1), ("x+", 0), ("", 0), ("#", 2))
    await raw.send(Subscribe(5, filters))
    assert await raw.recv() == SubAck(5, (0x80, 1, 0x80, 0x80, 2))
    assert sorted(broker._sessions["raw"].subscriptions) == ["#", "ok/+"]


async def test_unsubscribe(broker: EmbeddedBroker) -> None:
    subscriber, _ = await RawClient.connected(broker.port, "sub")
    publisher, _ = await RawClient.connected(broker.port, "pub")
    await subscriber.send(Subscribe(1, (("u/1", 0), ("u/2", 0))))
    await subscriber.recv()
    await subscriber.send(Unsubscribe(2, ("u/1", "never/subscribed")))
    assert await subscriber.recv() == UnsubAck(2)
    await publisher.send(Publish("u/1", b"gone"))
    assert await sentinel_is_next(subscriber, publisher, "u/2")


async def test_retained_messages(broker: EmbeddedBroker) -> None:
    async with aio(broker, "p") as publisher:
        await publisher.publish("state/1", b"on", 1, retain=True)
        await publisher.publish("state/2", b"off", 0, retain=True)
        await publisher.publish("state/3", b"old", 1, retain=True)
        await publisher.publish("state/3", b"new", 1, retain=True)
        await wait_until(lambda: broker.retained("state/2") == b"off")
        async with aio(broker, "s1") as subscriber:
            await subscriber.subscribe("state/+", 1)
            got = {}
            for _ in range(3):
                message = await next_message(subscriber)
                assert message.retain is True
                got[message.topic.value] = (message.payload, message.qos)
            assert got == {"state/1": (b"on", 1), "state/2": (b"off", 0), "state/3": (b"new", 1)}
            # a live message is delivered with retain 0, even if published with retain 1
            await publisher.publish("state/1", b"live", 1, retain=True)
            message = await next_message(subscriber)
            assert (message.payload, message.retain) == (b"live", False)
            # an empty retained payload clears it (and reaches the current subscribers)
            await publisher.publish("state/1", b"", 1, retain=True)
            assert (await next_message(subscriber)).payload == b""
        assert broker.retained("state/1") is None
        first = await first_message(broker, "s2", "state/1", "state/2")
        assert first == ("state/2", b"off", True)


async def test_will_published_on_abrupt_close_not_on_disconnect(broker: EmbeddedBroker) -> None:
    watcher, _ = await RawClient.connected(broker.port, "watcher")
    await watcher.send(Subscribe(1, (("status/#", 1),)))
    await watcher.recv()
    will = Will("status/dev", b"offline", 1, False)
    # DISCONNECT first: no will
    polite, _ = await RawClient.connected(broker.port, "polite", will=will)
    await polite.send(Disconnect())
    assert await polite.is_closed_by_peer()
    # dropping the socket: the will is published
    rude, _ = await RawClient.connected(broker.port, "rude", will=will)
    rude.transport.abort()
    message = await watcher.recv()
    assert isinstance(message, Publish)
    assert (message.topic, message.payload, message.qos) == ("status/dev", b"offline", 1)


async def test_will_with_aiomqtt_and_retain(broker: EmbeddedBroker) -> None:
    will = aiomqtt.Will("status/aio", b"gone", 1, True)
    client = aio(broker, "dying", will=will)
    await client.__aenter__()
    # kill the socket under the client: no DISCONNECT is sent
    broker._sessions["dying"].connection._transport.abort()  # type: ignore[union-attr]
    await wait_until(lambda: broker.retained("status/aio") == b"gone")
    with contextlib.suppress(aiomqtt.MqttError):
        await client.__aexit__(None, None, None)
    assert await first_message(broker, "later", "status/#") == ("status/aio", b"gone", True)


async def test_keep_alive(broker: EmbeddedBroker) -> None:
    """A client silent for 1.5 x its keep-alive is closed and its will published; pings help."""
    watcher, _ = await RawClient.connected(broker.port, "watcher")
    await watcher.send(Subscribe(1, (("ka/#", 0),)))
    await watcher.recv()
    pinger, _ = await RawClient.connected(broker.port, "pinger", keep_alive=1)
    sleepy, _ = await RawClient.connected(
        broker.port, "sleepy", keep_alive=1, will=Will("ka/sleepy", b"timeout")
    )

    async def ping_every_half_second() -> None:
        while True:
            await asyncio.sleep(0.5)
            await pinger.send(PingReq())
            assert await pinger.recv() == PingResp()

    pings = asyncio.create_task(ping_every_half_second())
    assert await sleepy.is_closed_by_peer(3.0)
    message = await watcher.recv()
    assert isinstance(message, Publish)
    assert message.payload == b"timeout"
    await asyncio.sleep(0.3)  # past 1.5 s for the pinger too
    pings.cancel()
    await pinger.send(PingReq())
    assert await pinger.recv() == PingResp()


async def test_session_takeover(broker: EmbeddedBroker) -> None:
    watcher, _ = await RawClient.connected(broker.port, "watcher")
    await watcher.send(Subscribe(1, (("takeover/#", 0),)))
    await watcher.recv()
    first, _ = await RawClient.connected(broker.port, "same", will=Will("takeover/w", b"first"))
    second, ack = await RawClient.connected(broker.port, "same")
    assert ack == ConnAck(False, 0)
    assert await first.is_closed_by_peer()
    message = await watcher.recv()  # the first connection ended without DISCONNECT
    assert isinstance(message, Publish)
    assert message.payload == b"first"
    await second.send(PingReq())
    assert await second.recv() == PingResp()
    assert broker.stats().connections == 2


async def test_persistent_session_with_paho(paho_client: PahoFactory) -> None:
    device = paho_client("persistent", clean_session=False)
    flags, _ = await device.connect()
    assert flags.session_present is False
    assert await device.subscribe("cmd/#", 1) == [1]
    await device.stop()
    publisher = paho_client("publisher")
    await publisher.connect()
    for n in range(3):
        await publisher.publish(f"cmd/{n}", b"q1", 1)
    await publisher.publish("cmd/q0", b"q0", 0)  # QoS 0 is not kept for absent clients
    await publisher.publish("cmd/q2", b"q2", 2)
    again = paho_client("persistent", clean_session=False)
    flags, _ = await again.connect()
    assert flags.session_present is True
    received = [(m.topic, m.qos) for m in [await again.message() for _ in range(4)]]
    assert received == [("cmd/0", 1), ("cmd/1", 1), ("cmd/2", 1), ("cmd/q2", 1)]
    # a clean session throws it away
    await again.stop()
    clean = paho_client("persistent", clean_session=True)
    flags, _ = await clean.connect()
    assert flags.session_present is False


async def test_unacknowledged_messages_are_resent_with_dup(broker: EmbeddedBroker) -> None:
    device, _ = await RawClient.connected(broker.port, "dev", clean_session=False)
    await device.send(Subscribe(1, (("dl/#", 2),)))
    await device.recv()
    broker.publish_nowait("dl/1", b"first", 1)
    broker.publish_nowait("dl/2", b"second", 2)
    first = await device.recv()
    second = await device.recv()
    assert isinstance(first, Publish)
    assert isinstance(second, Publish)
    assert second.packet_id is not None
    await device.send(PubRec(second.packet_id))  # QoS 2 half done: PUBREL is owed
    assert await device.recv() == PubRel(second.packet_id)
    await device.close()
    await wait_until(lambda: broker._sessions["dev"].connection is None)
    broker.publish_nowait("dl/3", b"third", 1)
    device, ack = await RawClient.connected(broker.port, "dev", clean_session=False)
    assert ack == ConnAck(True, 0)
    resent = await device.recv()
    assert resent == Publish("dl/1", b"first", 1, dup=True, packet_id=first.packet_id)
    assert await device.recv() == PubRel(second.packet_id)
    third = await device.recv()
    assert isinstance(third, Publish)
    assert (third.payload, third.dup) == (b"third", False)


async def test_offline_queue_is_bounded_oldest_dropped() -> None:
    async with anonymous_broker(BrokerLimits(max_queued_messages=3)) as broker:
        device, _ = await RawClient.connected(broker.port, "dev", clean_session=False)
        await device.send(Subscribe(1, (("q/#", 1),)))
        await device.recv()
        await device.send(Disconnect())
        assert await device.is_closed_by_peer()
        for n in range(5):
            broker.publish_nowait("q/x", str(n).encode(), 1)
        assert broker.stats().dropped_queued == 2
        device, ack = await RawClient.connected(broker.port, "dev", clean_session=False)
        assert ack.session_present
        payloads = []
        for _ in range(3):
            packet = await device.recv()
            assert isinstance(packet, Publish)
            payloads.append(packet.payload)
        assert payloads == [b"2", b"3", b"4"]


# -- in-process API -----------------------------------------------------------------------------


async def test_in_process_publish_reaches_a_network_subscriber(
    broker: EmbeddedBroker, paho_client: PahoFactory
) -> None:
    subscriber = paho_client("sub")
    await subscriber.connect()
    assert await subscriber.subscribe("uplinks/#", 1) == [1]
    broker.publish_nowait("uplinks/dev1", b"\x01\x02", 0)
    broker.publish_nowait("uplinks/dev2", b"\x03", 1)
    await broker.publish("uplinks/dev3", b"\x04", qos=2, retain=True)
    got = [await subscriber.message() for _ in range(3)]
    assert [(m.topic, m.payload, m.qos) for m in got] == [
        ("uplinks/dev1", b"\x01\x02", 0),
        ("uplinks/dev2", b"\x03", 1),
        ("uplinks/dev3", b"\x04", 1),
    ]
    assert broker.retained("uplinks/dev3") == b"\x04"
    with pytest.raises(InvalidInput):
        broker.publish_nowait("uplinks/+", b"")
    with pytest.raises(InvalidInput):
        broker.publish_nowait("uplinks/x", b"", 3)


async def test_network_publish_reaches_in_process_handlers(broker: EmbeddedBroker) -> None:
    received: asyncio.Queue[tuple[str, bytes]] = asyncio.Queue()

    async def handler(topic: str, payload: bytes) -> None:
        await received.put((topic, payload))

    async def broken(topic: str, payload: bytes) -> None:
        raise RuntimeError("handler bug")

    broker.subscribe("devices/+/up", handler)
    broker.subscribe("devices/#", broken)
    broker.publish_nowait("devices/own/up", b"not for handlers")  # no loop back
    async with aio(broker, "device") as device:
        await device.publish("devices/d1/up", b"one", 1)
        await device.publish("devices/d1/other", b"ignored", 1)
        await device.publish("devices/d2/up", b"two", 0)
        assert await asyncio.wait_for(received.get(), TIMEOUT) == ("devices/d1/up", b"one")
        assert await asyncio.wait_for(received.get(), TIMEOUT) == ("devices/d2/up", b"two")
        # the failing handler did not hurt the connection
        await device.publish("devices/d3/up", b"three", 1)
        assert await asyncio.wait_for(received.get(), TIMEOUT) == ("devices/d3/up", b"three")
    broker.unsubscribe("devices/+/up", handler)
    async with aio(broker, "device") as device:
        await device.subscribe("devices/d4/up")
        await device.publish("devices/d4/up", b"four")
        await next_message(device)
    assert received.empty()


async def test_publish_requires_a_running_broker() -> None:
    broker = EmbeddedBroker("127.0.0.1", 0, authenticate=None, allow_anonymous=True)
    with pytest.raises(BusUnavailable):
        broker.publish_nowait("a", b"")


# -- robustness -------------------------------------------------------------------------------


async def test_malformed_bytes_close_only_that_connection(
    broker: EmbeddedBroker, paho_client: PahoFactory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="lorafox.bus.broker")
    subscriber = paho_client("healthy")
    await subscriber.connect()
    await subscriber.subscribe("health", 0)
    garbage = await RawClient.open(broker.port)
    await garbage.send(b"\xff\xff\xff\xff\xff\xff")
    assert await garbage.is_closed_by_peer()
    bad, _ = await RawClient.connected(broker.port, "bad")
    await bad.send(b"\x30\x05\x00\x03a/#")  # PUBLISH to a wildcard topic
    assert await bad.is_closed_by_peer()
    assert "protocol error" in caplog.text
    broker.publish_nowait("health", b"still fine")
    assert (await subscriber.message()).payload == b"still fine"


async def test_packet_size_limit_closes_the_connection() -> None:
    async with anonymous_broker(BrokerLimits(max_packet_size=1024)) as broker:
        raw, _ = await RawClient.connected(broker.port)
        await raw.send(Publish("big", b"x" * 2000))
        assert await raw.is_closed_by_peer()


async def test_slow_qos0_subscriber_is_dropped_not_buffered(broker: EmbeddedBroker) -> None:
    slow, _ = await RawClient.connected(broker.port, "slow", receive_buffer=4096)
    await slow.send(Subscribe(1, (("flood", 0),)))
    assert await slow.recv() == SubAck(1, (0,))
    slow.transport.pause_reading()  # a client that stops reading
    payload = b"x" * 1000
    for _ in range(20):
        for _ in range(500):
            broker.publish_nowait("flood", payload)  # returns at once: nothing to await
        await asyncio.sleep(0)
    connection = broker._sessions["slow"].connection
    assert connection is not None
    assert connection.paused
    assert broker.stats().dropped_qos0 > 0
    [open_connection] = [c for c in broker._connections if c.client_id == "slow"]
    assert open_connection._transport is not None
    assert open_connection._transport.get_write_buffer_size() < 1024 * 1024
    # stopping does not wait for a client that does not read: its socket is dropped
    await broker.stop()
    assert not broker._connections
    assert not broker.running


async def test_slow_qos1_subscriber_queue_is_bounded() -> None:
    async with anonymous_broker(BrokerLimits(max_queued_messages=100)) as broker:
        slow, _ = await RawClient.connected(broker.port, "slow", receive_buffer=4096)
        await slow.send(Subscribe(1, (("flood", 1),)))
        assert await slow.recv() == SubAck(1, (1,))
        slow.transport.pause_reading()
        for _ in range(20):
            for _ in range(500):
                broker.publish_nowait("flood", b"y" * 1000, 1)
            await asyncio.sleep(0)
        session = broker._sessions["slow"]
        assert len(session.pending) <= 100
        assert broker.stats().dropped_queued > 0


async def test_slow_in_process_handlers_throttle_network_publishers(
    broker: EmbeddedBroker,
) -> None:
    gate = asyncio.Event()
    handled = 0

    async def handler(topic: str, payload: bytes) -> None:
        nonlocal handled
        await gate.wait()
        handled += 1

    broker.subscribe("up/#", handler)
    device, _ = await RawClient.connected(broker.port, "device")
    total = 25_000
    device.writer.write(Publish("up/x", b"1").encode() * total)
    await wait_until(lambda: len(broker._router.handler_tasks) >= 10_000)
    await asyncio.sleep(0.05)
    assert broker.stats().received < total  # the broker stopped reading from the device
    gate.set()
    await wait_until(lambda: handled == total, seconds=10)
    await device.send(PingReq())
    assert await device.recv() == PingResp()


async def test_stop_closes_clients_and_frees_the_port() -> None:
    broker = EmbeddedBroker("127.0.0.1", 0, authenticate=None, allow_anonymous=True)
    await broker.start()
    port = broker.port
    assert port != 0
    raw, _ = await RawClient.connected(port, will=Will("w", b"no will on stop"))
    await broker.stop()
    assert await raw.is_closed_by_peer()
    assert not broker.running
    again = EmbeddedBroker("127.0.0.1", port, authenticate=None, allow_anonymous=True)
    await again.start()
    assert again.port == port
    await again.stop()


async def test_port_in_use_raises_oserror(broker: EmbeddedBroker) -> None:
    other = EmbeddedBroker("127.0.0.1", broker.port, authenticate=None, allow_anonymous=True)
    with pytest.raises(OSError, match=r"(?i)address already in use"):
        await other.start()


# -- the Bus protocol ---------------------------------------------------------------------------


async def test_embedded_bus() -> None:
    bus: Bus = EmbeddedBus(EmbeddedBroker("127.0.0.1", 0, authenticate=None, allow_anonymous=True))
    assert isinstance(bus, EmbeddedBus)
    received: asyncio.Queue[bytes] = asyncio.Queue()

    async def handler(topic: str, payload: bytes) -> None:
        await received.put(payload)

    bus.subscribe("from/device", handler)
    assert not bus.connected
    with pytest.raises(BusUnavailable):
        await bus.publish("to/device", b"x")
    async with bus:
        await bus.wait_connected()
        assert bus.connected
        async with aio(bus.broker, "device") as device:
            await device.subscribe("to/device", 1)
            await bus.publish("to/device", b"downlink")  # QoS 1 by default
            message = await next_message(device)
            assert (message.payload, message.qos) == (b"downlink", 1)
            await device.publish("from/device", b"uplink", 1)
            assert await asyncio.wait_for(received.get(), TIMEOUT) == b"uplink"
    assert not bus.connected
    with pytest.raises(BusUnavailable):
        await bus.publish("to/device", b"x")
