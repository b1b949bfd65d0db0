"""MQTT 5 on the embedded broker, feature by feature, as paho-mqtt (``MQTTv5``) or a raw client
on a real socket sees it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import pytest

from lorafox.bus.broker import BrokerLimits, EmbeddedBroker, EmbeddedBus, Identity
from lorafox.bus.mqtt_codec import (
    Auth,
    ConnAck,
    Connect,
    Disconnect,
    Properties,
    PubAck,
    PubComp,
    Publish,
    PubRec,
    PubRel,
    ReasonCode,
    SubAck,
    Subscribe,
    Will,
)
from lorafox.ports.bus import Audience
from tests.bus.conftest import RawClient, anonymous_broker
from tests.bus.paho5 import PacketTypes, Paho5, SubscribeOptions, pget, props

pytestmark = pytest.mark.asyncio

V5_LIMITS = BrokerLimits(server_keep_alive=60, topic_alias_maximum=4, receive_maximum=5)


@pytest.fixture
async def broker5() -> AsyncIterator[EmbeddedBroker]:
    async with anonymous_broker(V5_LIMITS) as b:
        yield b


@pytest.fixture
async def paho5(broker5: EmbeddedBroker) -> AsyncIterator[Callable[[str], Paho5]]:
    clients: list[Paho5] = []

    def make(client_id: str = "") -> Paho5:
        client = Paho5(broker5.port, client_id)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.stop()


async def raw5(port: int, client_id: str = "raw5", **properties: object) -> RawClient:
    client = await RawClient.open(port)
    connack = await client.connect(
        Connect(client_id, protocol_level=5, properties=Properties(**properties))  # type: ignore[arg-type]
    )
    assert connack.return_code == 0, connack
    return client


async def test_connack_properties(paho5: Callable[[str], Paho5]) -> None:
    flags, code, properties = await paho5("").connect(
        keep_alive=120, properties=props(PacketTypes.CONNECT, RequestResponseInformation=1)
    )
    assert code.value == 0 and not flags.session_present
    assert properties is not None
    assert pget(properties, "ServerKeepAlive") == 60
    assert pget(properties, "TopicAliasMaximum") == 4
    assert pget(properties, "ReceiveMaximum") == 5
    assert pget(properties, "AssignedClientIdentifier").startswith("lorafox-")
    assert (
        pget(properties, "ResponseInformation")
        == f"response/{pget(properties, 'AssignedClientIdentifier')}"
    )


async def test_session_expiry_and_clean_start(paho5: Callable[[str], Paho5]) -> None:
    keep = props(PacketTypes.CONNECT, SessionExpiryInterval=60)
    sub = paho5("keeper")
    await sub.connect(properties=keep)
    await sub.subscribe("t/s", SubscribeOptions(qos=1))
    await sub.stop()
    pub = paho5("pub")
    await pub.connect()
    await pub.publish("t/s", b"while away", 1)
    back = paho5("keeper")
    flags, _code, _p = await back.connect(clean_start=False, properties=keep)
    assert flags.session_present
    assert (await back.message()).payload == b"while away"
    await back.stop()
    fresh = paho5("keeper")
    flags, _code, _p = await fresh.connect(clean_start=True)
    assert not flags.session_present


async def test_session_expiry_zero_ends_the_session(paho5: Callable[[str], Paho5]) -> None:
    first = paho5("gone")
    await first.connect(clean_start=False)  # no session expiry interval: 0
    await first.subscribe("t/z", SubscribeOptions(qos=1))
    await first.stop()
    again = paho5("gone")
    flags, _code, _p = await again.connect(clean_start=False)
    assert not flags.session_present


async def test_message_expiry(paho5: Callable[[str], Paho5]) -> None:
    keep = props(PacketTypes.CONNECT, SessionExpiryInterval=60)
    sub = paho5("exp")
    await sub.connect(properties=keep)
    await sub.subscribe("t/e/#", SubscribeOptions(qos=1))
    await sub.stop()
    pub = paho5("pub")
    await pub.connect()
    await pub.publish(
        "t/e/short", b"1", 1, properties=props(PacketTypes.PUBLISH, MessageExpiryInterval=1)
    )
    await pub.publish(
        "t/e/long", b"2", 1, properties=props(PacketTypes.PUBLISH, MessageExpiryInterval=100)
    )
    await asyncio.sleep(1.2)
    back = paho5("exp")
    await back.connect(clean_start=False, properties=keep)
    message = await back.message()
    assert message.topic == "t/e/long"
    assert 98 <= pget(message.properties, "MessageExpiryInterval") <= 100
    assert await back.nothing_within(0.3)


async def test_topic_alias_from_the_client(
    broker5: EmbeddedBroker, paho5: Callable[[str], Paho5]
) -> None:
    sub = paho5("sub")
    await sub.connect()
    await sub.subscribe("t/alias", SubscribeOptions(qos=0))
    raw = await raw5(broker5.port)
    alias = Properties(topic_alias=3)
    await raw.send(Publish("t/alias", b"first", properties=alias))
    await raw.send(Publish("", b"second", properties=alias))
    assert [(await sub.message()).topic, (await sub.message()).topic] == ["t/alias", "t/alias"]
    await raw.send(Publish("", b"x", properties=Properties(topic_alias=5)))  # over the maximum
    assert await raw.recv() == Disconnect(ReasonCode.TOPIC_ALIAS_INVALID)


async def test_topic_alias_from_the_server(
    broker5: EmbeddedBroker, paho5: Callable[[str], Paho5]
) -> None:
    raw = await raw5(broker5.port, topic_alias_maximum=2)
    await raw.send(Subscribe(1, (("t/a/#", 0),), Properties()))
    assert isinstance(await raw.recv(), SubAck)
    pub = paho5("pub")
    await pub.connect()
    for topic in ("t/a/1", "t/a/1", "t/a/2", "t/a/3"):
        await pub.publish(topic, b"m")
    got = [await raw.recv() for _ in range(4)]
    assert all(isinstance(p, Publish) for p in got)
    seen = [(p.topic, p.properties.topic_alias if p.properties else None) for p in got]  # type: ignore[union-attr]
    assert seen == [("t/a/1", 1), ("", 1), ("t/a/2", 2), ("t/a/3", None)]


async def test_properties_passed_through(paho5: Callable[[str], Paho5]) -> None:
    sub = paho5("sub")
    await sub.connect()
    await sub.subscribe("t/props", SubscribeOptions(qos=1))
    pub = paho5("pub")
    await pub.connect()
    sent = props(
        PacketTypes.PUBLISH,
        PayloadFormatIndicator=1,
        ContentType="text/plain",
        ResponseTopic="t/reply",
        CorrelationData=b"\x01\x02",
    )
    sent.UserProperty = ("a", "1")
    sent.UserProperty = ("a", "2")
    await pub.publish("t/props", b"hello", 1, properties=sent)
    got = (await sub.message()).properties
    assert pget(got, "PayloadFormatIndicator") == 1
    assert pget(got, "ContentType") == "text/plain"
    assert pget(got, "ResponseTopic") == "t/reply"
    assert pget(got, "CorrelationData") == b"\x01\x02"
    assert pget(got, "UserProperty") == [("a", "1"), ("a", "2")]


async def test_no_local(paho5: Callable[[str], Paho5]) -> None:
    me = paho5("me")
    await me.connect()
    await me.subscribe("t/nl", SubscribeOptions(qos=1, noLocal=True))
    await me.publish("t/nl", b"mine", 1)
    other = paho5("other")
    await other.connect()
    await other.publish("t/nl", b"theirs", 1)
    assert (await me.message()).payload == b"theirs"
    assert await me.nothing_within(0.2)


async def test_retain_as_published(paho5: Callable[[str], Paho5]) -> None:
    rap = paho5("rap")
    await rap.connect()
    await rap.subscribe("t/rap", SubscribeOptions(qos=1, retainAsPublished=True))
    plain = paho5("plain")
    await plain.connect()
    await plain.subscribe("t/rap", SubscribeOptions(qos=1))
    await plain.publish("t/rap", b"kept", 1, retain=True)
    assert (await rap.message()).retain
    assert not (await plain.message()).retain


async def test_retain_handling(paho5: Callable[[str], Paho5]) -> None:
    pub = paho5("pub")
    await pub.connect()
    await pub.publish("t/rh", b"kept", 1, retain=True)
    never = paho5("never")
    await never.connect()
    await never.subscribe("t/rh", SubscribeOptions(qos=1, retainHandling=2))
    assert await never.nothing_within(0.2)
    once = paho5("once")
    await once.connect()
    await once.subscribe("t/rh", SubscribeOptions(qos=1, retainHandling=1))
    assert (await once.message()).retain
    await once.subscribe("t/rh", SubscribeOptions(qos=1, retainHandling=1))  # exists already
    assert await once.nothing_within(0.2)


async def test_subscription_identifiers(paho5: Callable[[str], Paho5]) -> None:
    sub = paho5("sub")
    await sub.connect()
    await sub.subscribe(
        "t/id/+", SubscribeOptions(qos=1), props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=7)
    )
    await sub.subscribe(
        "t/id/#", SubscribeOptions(qos=1), props(PacketTypes.SUBSCRIBE, SubscriptionIdentifier=9)
    )
    await sub.publish("t/id/x", b"m", 1)
    assert sorted(pget((await sub.message()).properties, "SubscriptionIdentifier")) == [7, 9]


async def test_shared_subscriptions_with_v5_and_v311_clients(
    broker5: EmbeddedBroker, paho5: Callable[[str], Paho5]
) -> None:
    a = paho5("a")
    await a.connect()
    await a.subscribe("$share/g/t/shared", SubscribeOptions(qos=1))
    old, _ = await RawClient.connected(broker5.port, "old")
    await old.send(Subscribe(1, (("$share/g/t/shared", 1),)))
    assert await old.recv() == SubAck(1, (1,))
    pub = paho5("pub")
    await pub.connect()
    for n in range(6):
        await pub.publish("t/shared", bytes((n,)), 1)
    got_a = [bytes((await a.message()).payload) for _ in range(3)]
    got_old = []
    for _ in range(3):
        packet = await old.recv()
        assert isinstance(packet, Publish)
        got_old.append(packet.payload)
        await old.send(PubAck(packet.packet_id or 0))
    assert sorted(got_a + got_old) == [bytes((n,)) for n in range(6)]
    assert await a.nothing_within(0.2)


async def test_client_receive_maximum(
    broker5: EmbeddedBroker, paho5: Callable[[str], Paho5]
) -> None:
    raw = await raw5(broker5.port, receive_maximum=2)
    await raw.send(Subscribe(1, (("t/rm", 1),), Properties()))
    assert isinstance(await raw.recv(), SubAck)
    pub = paho5("pub")
    await pub.connect()
    for n in range(3):
        await pub.publish("t/rm", bytes((n,)), 1)
    first = await raw.recv()
    second = await raw.recv()
    assert isinstance(first, Publish) and isinstance(second, Publish)
    assert await raw.nothing_within(0.3)  # the third waits for an acknowledgement
    await raw.send(PubAck(first.packet_id or 0))
    third = await raw.recv()
    assert isinstance(third, Publish) and third.payload == b"\x02"


async def test_server_receive_maximum(broker5: EmbeddedBroker) -> None:
    raw = await raw5(broker5.port)
    for packet_id in range(1, 7):  # QoS 2 without PUBREL: 5 may wait, the 6th is too many
        await raw.send(Publish("t/q", b"m", 2, packet_id=packet_id, properties=Properties()))
    for packet_id in range(1, 6):
        assert await raw.recv() == PubRec(packet_id)
    assert await raw.recv() == Disconnect(ReasonCode.RECEIVE_MAXIMUM_EXCEEDED)


async def test_maximum_packet_size(broker5: EmbeddedBroker, paho5: Callable[[str], Paho5]) -> None:
    sub = paho5("small")
    await sub.connect(properties=props(PacketTypes.CONNECT, MaximumPacketSize=100))
    await sub.subscribe("t/size", SubscribeOptions(qos=1))
    await sub.publish("t/size", b"x" * 200, 1)
    await sub.publish("t/size", b"fits", 1)
    assert (await sub.message()).payload == b"fits"
    assert await sub.nothing_within(0.2)


async def test_server_keep_alive_and_its_timeout() -> None:
    async with anonymous_broker(BrokerLimits(server_keep_alive=1)) as broker:
        raw = await RawClient.open(broker.port)
        connack = await raw.connect(Connect("quiet", keep_alive=0, protocol_level=5))
        assert connack.properties is not None and connack.properties.server_keep_alive == 1
        started = time.monotonic()
        assert await raw.recv(4) == Disconnect(ReasonCode.KEEP_ALIVE_TIMEOUT)
        assert 1.4 <= time.monotonic() - started < 3


async def test_will_delay(broker5: EmbeddedBroker, paho5: Callable[[str], Paho5]) -> None:
    sub = paho5("sub")
    await sub.connect()
    await sub.subscribe("t/will", SubscribeOptions(qos=1))
    will = Will("t/will", b"late", 1, False, Properties(will_delay_interval=1))
    dying = await RawClient.open(broker5.port)
    await dying.connect(
        Connect(
            "dying", will=will, protocol_level=5, properties=Properties(session_expiry_interval=10)
        )
    )
    dying.transport.abort()
    started = time.monotonic()
    assert (await sub.message(3)).payload == b"late"
    assert time.monotonic() - started >= 0.8
    # back within the delay: no will
    back = await RawClient.open(broker5.port)
    await back.connect(
        Connect(
            "back", will=will, protocol_level=5, properties=Properties(session_expiry_interval=10)
        )
    )
    back.transport.abort()
    again = await RawClient.open(broker5.port)
    await again.connect(
        Connect(
            "back",
            clean_session=False,
            protocol_level=5,
            properties=Properties(session_expiry_interval=10),
        )
    )
    assert await sub.nothing_within(1.5)


async def test_session_taken_over(paho5: Callable[[str], Paho5]) -> None:
    first = paho5("same")
    await first.connect()
    second = paho5("same")
    await second.connect()
    code = await asyncio.wait_for(first.disconnects.get(), 3)
    assert code.value == ReasonCode.SESSION_TAKEN_OVER
    await first.stop(disconnect=False)


class _Refusing:
    """Clients may publish and subscribe under ``open/`` only."""

    def may_publish(self, identity: Identity, topic: str) -> bool:
        return topic.startswith("open/")

    def may_subscribe(self, identity: Identity, topic_filter: str) -> bool:
        return topic_filter.startswith("open/")

    def audience_of_client(self, identity: Identity) -> Audience:
        return None


async def test_access_control_answers_with_reason_codes() -> None:
    broker = EmbeddedBroker(
        "127.0.0.1", 0, authenticate=None, allow_anonymous=True, access=_Refusing()
    )
    async with broker:
        client = Paho5(broker.port, "c")
        await client.connect()
        assert await client.subscribe("closed/#", SubscribeOptions(qos=1)) == [
            ReasonCode.NOT_AUTHORIZED
        ]
        assert await client.subscribe("open/#", SubscribeOptions(qos=1)) == [1]
        await client.stop()
        raw = await raw5(broker.port)
        await raw.send(Publish("closed/x", b"m", 1, packet_id=1, properties=Properties()))
        assert await raw.recv() == PubAck(1, ReasonCode.NOT_AUTHORIZED)
        await raw.send(Publish("closed/x", b"m", 2, packet_id=2, properties=Properties()))
        assert await raw.recv() == PubRec(2, ReasonCode.NOT_AUTHORIZED)
        await raw.send(Publish("closed/x", b"m", properties=Properties()))
        assert await raw.recv() == Disconnect(ReasonCode.NOT_AUTHORIZED)


async def test_quota_exceeded_when_sessions_are_full() -> None:
    async with anonymous_broker(BrokerLimits(max_sessions=1)) as broker:
        await raw5(broker.port, "one")
        raw = await RawClient.open(broker.port)
        connack = await raw.connect(Connect("two", protocol_level=5))
        assert connack == ConnAck(False, ReasonCode.QUOTA_EXCEEDED, Properties())


async def test_auth_refused_cleanly(broker5: EmbeddedBroker) -> None:
    raw = await RawClient.open(broker5.port)
    connack = await raw.connect(
        Connect("a", protocol_level=5, properties=Properties(authentication_method="SCRAM-SHA-1"))
    )
    assert connack.return_code == ReasonCode.BAD_AUTHENTICATION_METHOD
    assert await raw.is_closed_by_peer()
    other = await raw5(broker5.port)
    await other.send(
        Auth(ReasonCode.CONTINUE_AUTHENTICATION, Properties(authentication_method="X"))
    )
    assert await other.recv() == Disconnect(ReasonCode.PROTOCOL_ERROR)


async def test_malformed_packet_gets_disconnect_0x81(broker5: EmbeddedBroker) -> None:
    raw = await raw5(broker5.port)
    await raw.send(b"\x30\x06\x00\x01t\x02\x50\x00")  # PUBLISH with an unknown property 0x50
    assert await raw.recv() == Disconnect(ReasonCode.MALFORMED_PACKET)
    assert await raw.is_closed_by_peer()


async def test_lorafox_messages_carry_content_type_and_correlation_id(
    broker5: EmbeddedBroker, paho5: Callable[[str], Paho5]
) -> None:
    sub = paho5("sub")
    await sub.connect()
    await sub.subscribe("sigfox/uplink/#", SubscribeOptions(qos=1))
    old, _ = await RawClient.connected(broker5.port, "old")
    await old.send(Subscribe(1, (("sigfox/uplink/#", 0),)))
    await old.recv()
    bus = EmbeddedBus(broker5)
    await bus.publish("sigfox/uplink/1A", b'{"n": 1}')
    await bus.publish("sigfox/uplink/1A", b'{"n": 2}')
    first, second = await sub.message(), await sub.message()
    assert pget(first.properties, "ContentType") == "application/json"
    assert pget(first.properties, "CorrelationData") != pget(second.properties, "CorrelationData")
    assert await old.recv() == Publish("sigfox/uplink/1A", b'{"n": 1}')  # 3.1.1: as before


async def test_server_shutting_down() -> None:
    broker = anonymous_broker()
    async with broker:
        raw = await raw5(broker.port)
    assert await raw.recv() == Disconnect(ReasonCode.SERVER_SHUTTING_DOWN)


async def test_disconnect_with_will_message(
    broker5: EmbeddedBroker, paho5: Callable[[str], Paho5]
) -> None:
    sub = paho5("sub")
    await sub.connect()
    await sub.subscribe("t/w4", SubscribeOptions(qos=1))
    raw = await RawClient.open(broker5.port)
    await raw.connect(Connect("leaving", will=Will("t/w4", b"bye"), protocol_level=5))
    await raw.send(Disconnect(ReasonCode.DISCONNECT_WITH_WILL))
    assert (await sub.message()).payload == b"bye"


async def test_session_expiry_set_at_disconnect(broker5: EmbeddedBroker) -> None:
    raw = await RawClient.open(broker5.port)
    keep = Properties(session_expiry_interval=60)
    await raw.connect(Connect("later", protocol_level=5, properties=keep))
    await raw.send(Disconnect(0, Properties(session_expiry_interval=0)))
    assert await raw.is_closed_by_peer()
    again = await RawClient.open(broker5.port)
    connack = await again.connect(Connect("later", False, protocol_level=5, properties=keep))
    assert not connack.session_present


async def test_refused_pubrec_and_unknown_pubrel(
    broker5: EmbeddedBroker, paho5: Callable[[str], Paho5]
) -> None:
    raw = await raw5(broker5.port, receive_maximum=1)
    await raw.send(Subscribe(1, (("t/r", 2),), Properties()))
    assert isinstance(await raw.recv(), SubAck)
    pub = paho5("pub")
    await pub.connect()
    await pub.publish("t/r", b"1", 2)
    await pub.publish("t/r", b"2", 2)
    first = await raw.recv()
    assert isinstance(first, Publish) and first.payload == b"1"
    await raw.send(PubRec(first.packet_id or 0, ReasonCode.UNSPECIFIED_ERROR))  # settled
    second = await raw.recv()
    assert isinstance(second, Publish) and second.payload == b"2"
    await raw.send(PubRel(999))
    assert await raw.recv() == PubComp(999, ReasonCode.PACKET_IDENTIFIER_NOT_FOUND)


async def test_delayed_will_published_when_a_clean_start_ends_the_session(
    broker5: EmbeddedBroker, paho5: Callable[[str], Paho5]
) -> None:
    sub = paho5("sub")
    await sub.connect()
    await sub.subscribe("t/w5", SubscribeOptions(qos=1))
    will = Will("t/w5", b"ended", 1, False, Properties(will_delay_interval=30))
    keep = Properties(session_expiry_interval=60)
    dying = await RawClient.open(broker5.port)
    await dying.connect(Connect("w5", will=will, protocol_level=5, properties=keep))
    dying.transport.abort()
    assert await sub.nothing_within(0.3)
    fresh = await RawClient.open(broker5.port)
    await fresh.connect(Connect("w5", clean_session=True, protocol_level=5))
    assert (await sub.message()).payload == b"ended"


async def test_broker_maximum_packet_size() -> None:
    async with anonymous_broker(BrokerLimits(max_packet_size=1000)) as broker:
        raw = await RawClient.open(broker.port)
        connack = await raw.connect(Connect("big", protocol_level=5))
        assert connack.properties is not None
        assert connack.properties.maximum_packet_size == 1000
        await raw.send(Publish("t/big", b"x" * 2000, properties=Properties()))
        assert await raw.recv() == Disconnect(ReasonCode.PACKET_TOO_LARGE)


async def test_session_expires_after_its_interval(broker5: EmbeddedBroker) -> None:
    short = Properties(session_expiry_interval=1)
    for _ in range(3):  # reconnecting often keeps one expiry timer
        raw = await RawClient.open(broker5.port)
        await raw.connect(Connect("brief", False, protocol_level=5, properties=short))
        await raw.send(Disconnect())
        assert await raw.is_closed_by_peer()
    assert "brief" in broker5._sessions
    await asyncio.sleep(1.3)
    assert "brief" not in broker5._sessions
    again = await RawClient.open(broker5.port)
    connack = await again.connect(Connect("brief", False, protocol_level=5, properties=short))
    assert not connack.session_present


async def test_lorafox_message_to_every_kind_of_subscriber(broker5: EmbeddedBroker) -> None:
    """One in-process message at QoS 0 and at QoS 1, to MQTT 5 clients with and without topic
    aliases and to a 3.1.1 client: each gets it whole, the MQTT 5 ones with the same properties
    (encoded once for all of them), the 3.1.1 one without any."""
    plain = await raw5(broker5.port, "plain")
    aliased = await raw5(broker5.port, "aliased", topic_alias_maximum=2)
    old, _ = await RawClient.connected(broker5.port, "old")
    for client, properties in ((plain, Properties()), (aliased, Properties()), (old, None)):
        await client.send(Subscribe(1, (("q0/#", 0), ("q1/#", 1)), properties))
        assert isinstance(await client.recv(), SubAck)
    broker5.publish_nowait("q0/x", b"zero", 0, content_type="application/json")
    broker5.publish_nowait("q1/x", b"one", 1, content_type="application/json")
    received = {}
    for name, client in (("plain", plain), ("aliased", aliased), ("old", old)):
        first, second = await client.recv(), await client.recv()
        assert isinstance(first, Publish)
        assert isinstance(second, Publish)
        assert (first.payload, first.qos, second.payload, second.qos) == (b"zero", 0, b"one", 1)
        assert second.packet_id is not None
        await client.send(PubAck(second.packet_id))
        received[name] = (first, second)
    for name in ("plain", "aliased"):
        for message in received[name]:
            assert message.properties is not None
            assert message.properties.content_type == "application/json"
            assert len(message.properties.correlation_data or b"") == 8
    plain_first, plain_second = received["plain"]
    aliased_first, aliased_second = received["aliased"]
    assert (plain_first.topic, plain_second.topic) == ("q0/x", "q1/x")
    assert plain_first.properties is not None and plain_second.properties is not None
    assert plain_first.properties.correlation_data != plain_second.properties.correlation_data
    assert plain_first.properties.topic_alias is None
    assert aliased_first.properties is not None and aliased_second.properties is not None
    assert (aliased_first.properties.topic_alias, aliased_second.properties.topic_alias) == (1, 2)
    for plain_one, aliased_one in ((plain_first, aliased_first), (plain_second, aliased_second)):
        assert aliased_one.topic == plain_one.topic
        assert plain_one.properties is not None and aliased_one.properties is not None
        assert aliased_one.properties.correlation_data == plain_one.properties.correlation_data
    old_first, old_second = received["old"]
    assert old_first == Publish("q0/x", b"zero")
    assert (old_second.topic, old_second.properties) == ("q1/x", None)
