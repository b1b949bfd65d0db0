"""Downlink requests from MQTT: where the device id comes from, what is refused and how."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from lorafox.downlink.queue import DownlinkQueue
from lorafox.errors import BusUnavailable
from lorafox.metrics import Metrics
from lorafox.ports.bus import PublishProperties
from lorafox.settings import MqttSettings
from lorafox.store.sql.store import SqlStore
from tests.conftest import store_url


class FakeBus:
    """Records publishes; can be made unavailable."""

    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, object]]] = []
        self.connected = True

    async def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        audience: tuple[str, ...] | None = None,
        properties: PublishProperties | None = None,
    ) -> None:
        if not self.connected:
            raise BusUnavailable("down")
        self.published.append((topic, orjson.loads(payload)))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    opened = await SqlStore.open(store_url(tmp_path))
    yield opened
    await opened.close()


def queue(store: SqlStore, bus: FakeBus, **mqtt: str) -> DownlinkQueue:
    return DownlinkQueue(store.downlinks, Metrics(), MqttSettings(**mqtt), bus)  # type: ignore[arg-type]


async def test_device_from_topic_level(store: SqlStore) -> None:
    bus = FakeBus()
    await queue(store, bus).on_mqtt("sigfox/downlink/00ab", b'{"downlinkData":"0102030405060708"}')
    [downlink] = await store.downlinks.list_downlinks("AB")
    assert (downlink.data, downlink.source) == ("0102030405060708", "mqtt")
    assert bus.published == []


async def test_device_and_field_configured(store: SqlStore) -> None:
    bus = FakeBus()
    q = queue(
        store,
        bus,
        downlink_topic="apps/+/down",
        downlink_field="payload",
        downlink_device="deviceId",
    )
    await q.on_mqtt("apps/x/down", b'{"deviceId":"CAFE","payload":"A1A2A3A4A5A6A7A8"}')
    assert [d.data for d in await store.downlinks.list_downlinks("CAFE")] == ["a1a2a3a4a5a6a7a8"]
    await q.on_mqtt("apps/x/down", b'{"payload":"A1A2A3A4A5A6A7A8"}')
    topic, body = bus.published[0]
    assert topic == "apps/x/down/rejected"
    assert "deviceId" in str(body["error"])


@pytest.mark.parametrize(
    ("payload", "says"),
    [
        (b"{", "not valid JSON"),
        (b"[1]", "JSON object"),
        (b'{"other":1}', "downlinkData"),
        (b'{"downlinkData":"0102"}', "8 bytes"),
        (b'{"downlinkData":12}', "16 hex"),
    ],
)
async def test_refusals_are_published_and_nothing_is_queued(
    store: SqlStore, payload: bytes, says: str
) -> None:
    bus = FakeBus()
    await queue(store, bus).on_mqtt("sigfox/downlink/AB", payload)
    [(topic, body)] = bus.published
    assert topic == "sigfox/downlink/AB/rejected"
    assert says in str(body["error"])
    assert body["payload"] == payload.decode()
    assert await store.downlinks.list_downlinks("AB") == []


async def test_bad_device_in_topic(store: SqlStore) -> None:
    bus = FakeBus()
    await queue(store, bus).on_mqtt(
        "sigfox/downlink/NOTHEX", b'{"downlinkData":"0102030405060708"}'
    )
    assert bus.published[0][1]["field"] == "device"


async def test_rejected_topics_are_ignored_and_broker_outage_is_survived(store: SqlStore) -> None:
    bus = FakeBus()
    q = queue(store, bus, downlink_topic="sigfox/downlink/#")
    await q.on_mqtt("sigfox/downlink/AB/rejected", b"{}")
    assert bus.published == []
    bus.connected = False
    await q.on_mqtt("sigfox/downlink/AB", b"{")  # refusal cannot be published: logged only
    assert bus.published == []


async def test_a_request_id_queues_one_downlink_per_device(store: SqlStore) -> None:
    """A request repeated with its ``requestId`` (several instances each receiving it) queues
    nothing more, whatever its data; another device's request with that id is its own."""
    bus = FakeBus()
    q = queue(store, bus)
    first = b'{"downlinkData":"0102030405060708","requestId":"r-1"}'
    await q.on_mqtt("sigfox/downlink/AB", first)
    await q.on_mqtt("sigfox/downlink/AB", first)
    await q.on_mqtt("sigfox/downlink/AB", b'{"downlinkData":"1112131415161718","requestId":"r-1"}')
    await q.on_mqtt("sigfox/downlink/CD", first)
    [downlink] = await store.downlinks.list_downlinks("AB")
    assert (downlink.data, downlink.request_id) == ("0102030405060708", "r-1")
    assert [d.request_id for d in await store.downlinks.list_downlinks("CD")] == ["r-1"]
    assert bus.published == []


async def test_requests_without_a_request_id_each_queue_one(store: SqlStore) -> None:
    q = queue(store, FakeBus())
    for _ in range(2):
        await q.on_mqtt("sigfox/downlink/AB", b'{"downlinkData":"0102030405060708"}')
    assert len(await store.downlinks.list_downlinks("AB")) == 2


async def test_concurrent_requests_with_one_request_id_queue_one(store: SqlStore) -> None:
    """Requests handled at once (on PostgreSQL, each on its own connection) race on the unique
    (device, requestId): one downlink, and every caller gets it."""
    q = queue(store, FakeBus())
    got = await asyncio.gather(
        *(q.queue("AB", "0102030405060708", source="mqtt", request_id="same") for _ in range(8))
    )
    assert len({d.id for d in got}) == 1
    assert len(await store.downlinks.list_downlinks("AB")) == 1


@pytest.mark.parametrize(
    "request_id",
    [b'""', b"12", b'"' + b"x" * 65 + b'"', b'"a\\nb"', b'["r"]'],
)
async def test_a_bad_request_id_is_refused(store: SqlStore, request_id: bytes) -> None:
    bus = FakeBus()
    payload = b'{"downlinkData":"0102030405060708","requestId":' + request_id + b"}"
    await queue(store, bus).on_mqtt("sigfox/downlink/AB", payload)
    [(topic, body)] = bus.published
    assert topic == "sigfox/downlink/AB/rejected"
    assert body["field"] == "requestId"
    assert await store.downlinks.list_downlinks("AB") == []
