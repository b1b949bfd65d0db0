"""The embedded broker's defences over real sockets: admission limits, session ownership,
audiences, strict QoS handshakes, keep-alive, acks after in-process handlers, bounded state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from lorafox.bus.broker import BrokerLimits, EmbeddedBroker, Identity, OpenAccess
from lorafox.bus.mqtt_codec import (
    ConnAck,
    Connect,
    PingReq,
    PingResp,
    PubAck,
    Publish,
    PubRec,
    SubAck,
    Subscribe,
    Will,
)
from lorafox.ports.bus import publisher

from .conftest import RawClient, wait_until


async def _named(username: str, password: bytes | None, address: str) -> Identity | None:
    """Everyone gets in as the identity of their user name; ``reader-<path>`` reads a subtree."""
    if username.startswith("reader-"):
        return Identity(username, (username.removeprefix("reader-"),), principal=username)
    return Identity(username, principal=username)


def _broker(**limits: float) -> EmbeddedBroker:
    return EmbeddedBroker(
        "127.0.0.1",
        0,
        authenticate=_named,
        allow_anonymous=True,
        limits=BrokerLimits(**limits),  # type: ignore[arg-type]
    )


@pytest.fixture
async def broker() -> AsyncIterator[EmbeddedBroker]:
    async with _broker() as b:
        yield b


async def _login(
    port: int, client_id: str, user: str, *, clean_session: bool = True, keep_alive: int = 0
) -> tuple[RawClient, ConnAck]:
    client = await RawClient.open(port)
    connack = await client.connect(
        Connect(
            client_id,
            clean_session=clean_session,
            keep_alive=keep_alive,
            username=user,
            password=b"pw",
        )
    )
    return client, connack


async def _subscribe(client: RawClient, topic_filter: str, qos: int = 0) -> SubAck:
    await client.send(Subscribe(1, ((topic_filter, qos),)))
    ack = await client.recv()
    assert isinstance(ack, SubAck)
    return ack


# -- admission ----------------------------------------------------------------------------------


async def test_connections_not_logged_in_are_capped() -> None:
    async with _broker(max_unauthenticated=3) as broker:
        idle = [await RawClient.open(broker.port) for _ in range(3)]
        await wait_until(lambda: broker._admission.unauthenticated == 3)
        refused = await RawClient.open(broker.port)
        assert await refused.is_closed_by_peer()
        # logging in frees a place for the next one
        assert (
            await idle[0].connect(Connect("first", username="u", password=b"p"))
        ).return_code == 0
        await wait_until(lambda: broker._admission.unauthenticated == 2)
        _late, connack = await _login(broker.port, "late", "u")
        assert connack.return_code == 0
        assert not await idle[1].is_closed_by_peer(0.2)


async def test_connections_per_address_and_in_total_are_capped() -> None:
    async with _broker(max_connections_per_address=2) as broker:
        kept = [await _login(broker.port, f"c{i}", "u") for i in range(2)]
        assert all(ack.return_code == 0 for _, ack in kept)
        third = await RawClient.open(broker.port)
        assert await third.is_closed_by_peer()
    async with _broker(max_connections=1) as broker:
        first, ack = await _login(broker.port, "only", "u")
        assert ack.return_code == 0
        second = await RawClient.open(broker.port)
        assert await second.is_closed_by_peer()
        await first.close()
        await wait_until(lambda: not broker._connections)
        _again, ack = await _login(broker.port, "again", "u")
        assert ack.return_code == 0


async def test_a_big_packet_before_the_login_is_refused() -> None:
    async with _broker(max_connect_bytes=256) as broker:
        raw = await RawClient.open(broker.port)
        await raw.send(Connect("big", username="u", password=b"x" * 1000))
        assert await raw.is_closed_by_peer()
        # after the login the larger packet size applies
        client, ack = await _login(broker.port, "small", "u")
        assert ack.return_code == 0
        await _subscribe(client, "big")
        await client.send(Publish("big", b"y" * 1000))
        message = await client.recv()
        assert isinstance(message, Publish) and message.payload == b"y" * 1000


async def _closed_while_trickling(
    client: RawClient, data: bytes, *, every: float, within: float
) -> bool:
    """Whether the broker closes ``client`` within ``within`` seconds while the client sends
    ``data`` one byte ``every`` so many seconds."""

    async def trickle() -> None:
        for byte in data:
            await client.send(bytes((byte,)))
            await asyncio.sleep(every)

    task = asyncio.create_task(trickle())
    try:
        return await client.is_closed_by_peer(within)
    finally:
        task.cancel()


async def test_a_trickle_of_bytes_does_not_hold_the_login_open() -> None:
    async with _broker(connect_timeout=0.5) as broker:
        raw = await RawClient.open(broker.port)
        connect = Connect("slow", username="u", password=b"p").encode()
        assert await _closed_while_trickling(raw, connect[:-1], every=0.1, within=3.0)


async def test_a_trickle_of_bytes_is_not_a_keep_alive(broker: EmbeddedBroker) -> None:
    client, _ = await _login(broker.port, "trickler", "u", keep_alive=1)
    packet = Publish("t", b"x" * 100).encode()
    assert await _closed_while_trickling(client, packet, every=0.2, within=4.0)


# -- sessions -----------------------------------------------------------------------------------


async def test_a_session_belongs_to_its_login(broker: EmbeddedBroker) -> None:
    alice, ack = await _login(broker.port, "shared-id", "alice", clean_session=False)
    assert ack == ConnAck(False, 0)
    await _subscribe(alice, "alice/#", 1)
    # another login cannot take the session over, connected or not
    mallory, ack = await _login(broker.port, "shared-id", "mallory")
    assert ack == ConnAck(False, 5)
    assert broker._sessions["shared-id"].connection is not None
    await alice.close()
    await wait_until(lambda: broker._sessions["shared-id"].connection is None)
    broker.publish_nowait("alice/secret", b"for alice", 1)
    mallory, ack = await _login(broker.port, "shared-id", "mallory", clean_session=False)
    assert ack == ConnAck(False, 5)
    assert await mallory.is_closed_by_peer()
    # alice gets her session and her message back
    alice, ack = await _login(broker.port, "shared-id", "alice", clean_session=False)
    assert ack == ConnAck(True, 0)
    message = await alice.recv()
    assert isinstance(message, Publish) and message.payload == b"for alice"


async def test_persistent_sessions_expire() -> None:
    async with _broker(session_expiry=0.2) as broker:
        client, _ack = await _login(broker.port, "away", "u", clean_session=False)
        await _subscribe(client, "x", 1)
        await client.close()
        await wait_until(lambda: "away" not in broker._sessions, 3.0)
        _client, ack = await _login(broker.port, "away", "u", clean_session=False)
        assert ack == ConnAck(False, 0)


async def test_sessions_are_capped() -> None:
    async with _broker(max_sessions=2) as broker:
        for name in ("one", "two"):
            _c, ack = await _login(broker.port, name, "u", clean_session=False)
            assert ack.return_code == 0
        _c, ack = await _login(broker.port, "three", "u")
        assert ack == ConnAck(False, 3)
        # an existing session still comes back
        _c, ack = await _login(broker.port, "one", "u", clean_session=False)
        assert ack == ConnAck(True, 0)


async def test_queues_are_bounded_in_bytes() -> None:
    async with _broker(max_queued_bytes=2500) as broker:
        client, _ = await _login(broker.port, "offline", "u", clean_session=False)
        await _subscribe(client, "q", 1)
        await client.close()
        await wait_until(lambda: broker._sessions["offline"].connection is None)
        for i in range(10):
            broker.publish_nowait("q", bytes((i,)) * 1000, 1)
        assert broker.stats().dropped_queued == 8
        client, ack = await _login(broker.port, "offline", "u", clean_session=False)
        assert ack == ConnAck(True, 0)
        got = [await client.recv() for _ in range(2)]
        assert [p.payload[0] for p in got if isinstance(p, Publish)] == [8, 9]
        assert await client.nothing_within(0.2)


async def test_retained_messages_are_bounded() -> None:
    async with _broker(max_retained=2) as broker:
        for topic in ("r/1", "r/2", "r/3"):
            broker.publish_nowait(topic, b"kept?", 0, retain=True)
        assert broker.retained("r/1") == broker.retained("r/2") == b"kept?"
        assert broker.retained("r/3") is None
        broker.publish_nowait("r/1", b"replaced", 0, retain=True)  # a known topic still updates
        assert broker.retained("r/1") == b"replaced"


# -- access -------------------------------------------------------------------------------------


async def test_messages_reach_only_their_audience(broker: EmbeddedBroker) -> None:
    everything, _ = await _login(broker.port, "all", "root-admin")
    group_a, _ = await _login(broker.port, "a", "reader-/r/a/")
    group_b, _ = await _login(broker.port, "b", "reader-/r/b/")
    for client in (everything, group_a, group_b):
        await _subscribe(client, "up/#", 1)
    broker.publish_nowait("up/1", b"for a", 1, audience=("/r/a/x/",))
    broker.publish_nowait("up/2", b"for b", 1, audience=("/r/b/",))
    broker.publish_nowait("up/3", b"root only", 1, retain=True)
    payloads = [(await everything.recv()) for _ in range(3)]
    assert [p.payload for p in payloads if isinstance(p, Publish)] == [
        b"for a",
        b"for b",
        b"root only",
    ]
    got_a = await group_a.recv()
    assert isinstance(got_a, Publish) and got_a.payload == b"for a"
    got_b = await group_b.recv()
    assert isinstance(got_b, Publish) and got_b.payload == b"for b"
    # what a reader of b publishes reaches b's readers and those who read everything, not a's
    await group_b.send(Publish("up/from-b", b"b says", 1, packet_id=5))
    both = [await group_b.recv() for _ in range(2)]
    assert PubAck(5) in both
    assert any(isinstance(p, Publish) and p.payload == b"b says" for p in both)
    got_all = await everything.recv()
    assert isinstance(got_all, Publish) and got_all.payload == b"b says"
    assert await group_a.nothing_within(0.2)
    # retained messages keep their audience
    late_a, _ = await _login(broker.port, "late-a", "reader-/r/a/")
    await _subscribe(late_a, "up/#", 1)
    assert await late_a.nothing_within(0.2)


async def test_no_client_publishes_to_dollar_topics(broker: EmbeddedBroker) -> None:
    watcher, _ = await _login(broker.port, "watcher", "u")
    await _subscribe(watcher, "$SYS/#")
    await _subscribe(watcher, "marker")
    sender, _ = await _login(broker.port, "sender", "u")
    await sender.send(Publish("$SYS/broker/forged", b"forged", 0, retain=True))
    await sender.send(Publish("marker", b"after"))
    message = await watcher.recv()
    assert isinstance(message, Publish) and message.topic == "marker"
    assert broker.retained("$SYS/broker/forged") is None
    assert broker.stats().refused_publishes == 1


class _Policy(OpenAccess):
    def may_publish(self, identity: Identity, topic: str) -> bool:
        return not topic.startswith("owned/")

    def may_subscribe(self, identity: Identity, topic_filter: str) -> bool:
        return topic_filter != "forbidden"


async def test_the_policy_drops_publishes_and_refuses_subscriptions() -> None:
    async with EmbeddedBroker(
        "127.0.0.1", 0, authenticate=_named, allow_anonymous=False, access=_Policy()
    ) as broker:
        client, _ = await _login(broker.port, "c", "u")
        await client.send(Subscribe(1, (("forbidden", 0), ("owned/#", 1), ("marker", 0))))
        assert await client.recv() == SubAck(1, (0x80, 1, 0))
        await client.send(Publish("owned/x", b"forged", 1, packet_id=9))
        assert await client.recv() == PubAck(9)  # acknowledged, as MQTT 3.1.1 must, and dropped
        await client.send(Publish("marker", b"after"))
        message = await client.recv()
        assert isinstance(message, Publish) and message.topic == "marker"
        # a will on a forbidden topic is not published either
        willing = await RawClient.open(broker.port)
        await willing.connect(
            Connect("w", username="u", password=b"p", will=Will("owned/will", b"forged"))
        )
        willing.transport.abort()
        await client.send(Publish("marker", b"after will"))
        message = await client.recv()
        assert isinstance(message, Publish) and message.payload == b"after will"


# -- protocol -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("qos", "wrong_ack"),
    [(2, PubAck), (1, PubRec)],  # PUBACK for a QoS 2 message, PUBREC for a QoS 1 message
)
async def test_acknowledgements_of_the_wrong_kind_close_the_connection(
    broker: EmbeddedBroker, qos: int, wrong_ack: type[PubAck | PubRec]
) -> None:
    client, _ = await _login(broker.port, f"qos{qos}", "u")
    await _subscribe(client, "topic", qos)
    broker.publish_nowait("topic", b"x", qos)
    message = await client.recv()
    assert isinstance(message, Publish) and message.qos == qos and message.packet_id
    await client.send(wrong_ack(message.packet_id))
    assert await client.is_closed_by_peer()


async def test_qos0_publish_with_dup_is_a_protocol_error(broker: EmbeddedBroker) -> None:
    client, _ = await _login(broker.port, "dup", "u")
    await client.send(b"\x38\x03\x00\x01t")  # PUBLISH QoS 0 with DUP set
    assert await client.is_closed_by_peer()


async def test_keep_alive_does_not_expire_while_the_broker_is_not_reading(
    broker: EmbeddedBroker,
) -> None:
    """A subscriber that stops reading makes the broker stop reading it too: its pings wait in
    the socket, unheard, and must not count as silence."""
    watcher, _ = await _login(broker.port, "watcher", "u")
    await _subscribe(watcher, "wills/#")
    slow = await RawClient.open(broker.port, receive_buffer=4096)
    await slow.connect(
        Connect("slow", keep_alive=1, username="u", password=b"p", will=Will("wills/slow", b"gone"))
    )
    await _subscribe(slow, "flood", 0)
    slow.transport.pause_reading()
    connection = broker._sessions["slow"].connection
    assert connection is not None
    while not connection.paused:
        for _ in range(200):
            broker.publish_nowait("flood", b"x" * 1000, 0)
        await asyncio.sleep(0.01)
    for _ in range(10):  # 3 s of pings, twice the keep-alive deadline
        await slow.send(PingReq())
        await asyncio.sleep(0.3)
    assert broker._sessions["slow"].connection is connection
    assert await watcher.nothing_within(0.1)
    slow.transport.resume_reading()
    while not isinstance(packet := await slow.recv(), PingResp):
        assert isinstance(packet, Publish)


# -- acknowledgements after in-process handlers -------------------------------------------------


async def test_puback_waits_for_the_in_process_handlers_in_order(broker: EmbeddedBroker) -> None:
    gate = asyncio.Event()
    seen: list[tuple[str, object]] = []

    async def slow(topic: str, payload: bytes) -> None:
        seen.append((topic, publisher.get()))
        await gate.wait()

    async def fast(topic: str, payload: bytes) -> None:
        seen.append((topic, publisher.get()))

    broker.subscribe("slow/#", slow)
    broker.subscribe("fast/#", fast)
    client, _ = await _login(broker.port, "c", "carol")
    await client.send(Publish("slow/1", b"a", 1, packet_id=1))
    await client.send(Publish("fast/1", b"b", 1, packet_id=2))
    await client.send(Publish("fast/2", b"c", 2, packet_id=3))
    await wait_until(lambda: len(seen) == 3)
    assert await client.nothing_within(0.2)  # the first is not stored yet: no ack at all
    gate.set()
    assert [await client.recv() for _ in range(3)] == [PubAck(1), PubAck(2), PubRec(3)]
    # the handlers knew who published
    assert sorted(seen) == [("fast/1", "carol"), ("fast/2", "carol"), ("slow/1", "carol")]
