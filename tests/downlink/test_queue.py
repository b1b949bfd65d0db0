"""Downlink requests from MQTT: where the device id comes from, what is refused and how."""

from __future__ import annotations

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
