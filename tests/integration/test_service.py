"""Service behaviour around the flow: allow-list, broker auth, health, metrics, PostgreSQL,
and the publish outbox when the broker is away."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from lorafox.bus.broker import EmbeddedBroker
from tests.conftest import ADMIN_PASSWORD, SIGFOX_PASSWORD, SIGFOX_USER, Running, free_port
from tests.integration.test_sigfox_flow import body, new_device
from tests.mqtt_helpers import Forwarder, Recorder, wait_until

SIGFOX = (SIGFOX_USER, SIGFOX_PASSWORD)
ADMIN = ("admin", ADMIN_PASSWORD)


def test_allow_list(lorafox_factory: Callable[..., Running]) -> None:
    lorafox = lorafox_factory(
        sigfox={"allowed_networks": ["185.110.96.0/22"], "trust_forwarded_for": True}
    )
    url = f"{lorafox.base_url}/sigfox/uplink"
    r = httpx.post(url, json=body("1", 1), auth=SIGFOX)
    assert r.status_code == 403 and "not allowed" in r.json()["message"]
    # the proxy appends the address it saw: the rightmost entry; the ones before it are the
    # client's to write, so a spoofed allowed address on the left does not get in
    spoofed = {"x-forwarded-for": "185.110.97.12, 10.0.0.1"}
    r = httpx.post(url, json=body("1", 1), auth=SIGFOX, headers=spoofed)
    assert r.status_code == 403
    appended = {"x-forwarded-for": "10.0.0.1, 185.110.97.12"}
    r = httpx.post(url, json=body("1", 1), auth=SIGFOX, headers=appended)
    assert r.status_code == 204


def test_allow_list_ignores_forwarded_for_unless_trusted(
    lorafox_factory: Callable[..., Running],
) -> None:
    lorafox = lorafox_factory(sigfox={"allowed_networks": "185.110.96.0/22"})
    r = httpx.post(
        f"{lorafox.base_url}/sigfox/uplink",
        json=body("1", 1),
        auth=SIGFOX,
        headers={"x-forwarded-for": "185.110.97.12"},
    )
    assert r.status_code == 403


def _connect(port: int, username: str | None = None, password: str | None = None) -> ReasonCode:
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    if username:
        client.username_pw_set(username, password)
    result: list[ReasonCode] = []
    done = threading.Event()

    def on_connect(_c: object, _u: object, _f: object, reason: ReasonCode, _p: object) -> None:
        result.append(reason)
        done.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        assert done.wait(10)
    finally:
        client.loop_stop()
        client.disconnect()
    return result[0]


def test_embedded_broker_requires_login_off_loopback(
    lorafox_factory: Callable[..., Running],
) -> None:
    lorafox = lorafox_factory(host="0.0.0.0")
    assert lorafox.mqtt_port
    assert _connect(lorafox.mqtt_port).is_failure
    assert _connect(lorafox.mqtt_port, "admin", "wrong").is_failure
    assert not _connect(lorafox.mqtt_port, "admin", ADMIN_PASSWORD).is_failure


def test_embedded_broker_requires_login_behind_a_local_proxy(lorafox: Running) -> None:
    """Listening on loopback is no identity: through a local forwarder an anonymous client is
    refused, a logged-in one accepted."""
    assert lorafox.mqtt_port
    proxy = Forwarder(lorafox.mqtt_port)
    try:
        assert _connect(proxy.port).is_failure
        assert _connect(lorafox.mqtt_port).is_failure
        assert not _connect(proxy.port, "admin", ADMIN_PASSWORD).is_failure
    finally:
        proxy.close()


def test_embedded_broker_anonymous_only_when_allowed(
    lorafox_factory: Callable[..., Running], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="lorafox.service")
    lorafox = lorafox_factory(mqtt={"allow_anonymous": True})
    assert lorafox.mqtt_port
    assert not _connect(lorafox.mqtt_port).is_failure
    assert any("allow_anonymous is set" in r.getMessage() for r in caplog.records)


def test_paging_links_do_not_echo_the_host_header(lorafox: Running) -> None:
    """``Host`` is the client's to choose: ``paging.next`` is a path, whatever it says."""
    for seq in (1, 2):
        assert httpx.post(
            f"{lorafox.base_url}/sigfox/uplink", json=body("BEEF01", seq), auth=SIGFOX
        ).is_success
    headers = {"host": "evil.example"}
    for path in ("/api/v2/devices/BEEF01/messages?limit=1", "/api/v2/devices?limit=1"):
        if path.startswith("/api/v2/devices?"):
            assert httpx.post(
                f"{lorafox.base_url}/sigfox/uplink", json=body("BEEF02", 1), auth=SIGFOX
            ).is_success
        page = httpx.get(f"{lorafox.base_url}{path}", auth=ADMIN, headers=headers).json()
        link = page["paging"]["next"]
        assert "evil.example" not in link and link.startswith(path.split("?")[0] + "?")
        following = httpx.get(f"{lorafox.base_url}{link}", auth=ADMIN)
        assert following.status_code == 200 and len(following.json()["data"]) == 1


def test_health_and_metrics(lorafox: Running) -> None:
    health = httpx.get(f"{lorafox.base_url}/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok", "database": "ok", "mqtt": "connected"}
    httpx.post(f"{lorafox.base_url}/sigfox/uplink", json=body("1", 1), auth=SIGFOX)
    httpx.post(f"{lorafox.base_url}/sigfox/uplink", json=body("1", 1), auth=SIGFOX)
    assert httpx.get(f"{lorafox.base_url}/metrics").status_code == 401
    text = httpx.get(f"{lorafox.base_url}/metrics", auth=ADMIN).text
    assert 'lorafox_uplinks_total{result="stored"} 1.0' in text
    assert 'lorafox_uplinks_total{result="duplicate"} 1.0' in text
    assert 'lorafox_callback_duration_seconds_count{endpoint="uplink"} 2.0' in text
    assert 'lorafox_callbacks_total{endpoint="uplink",status="204"} 2.0' in text
    assert "lorafox_publish_backlog 0.0" in text
    assert httpx.get(f"{lorafox.base_url}/nothing-here").status_code == 404


def test_no_broker(lorafox_factory: Callable[..., Running]) -> None:
    lorafox = lorafox_factory(mqtt_port=0)
    assert httpx.get(f"{lorafox.base_url}/healthz").json()["mqtt"] == "disabled"
    assert (
        httpx.post(f"{lorafox.base_url}/sigfox/uplink", json=body("1", 1), auth=SIGFOX).status_code
        == 204
    )


@pytest.mark.postgres
def test_postgresql_path(lorafox_factory: Callable[..., Running], pg_database: str) -> None:
    lorafox = lorafox_factory(database_url=pg_database)
    device = new_device()
    assert lorafox.mqtt_port
    recorder = Recorder("127.0.0.1", lorafox.mqtt_port, f"sigfox/uplink/{device}")
    try:
        with httpx.Client(base_url=lorafox.base_url) as http:
            assert http.post("/sigfox/uplink", json=body(device, 1), auth=SIGFOX).status_code == 204
            assert http.post("/sigfox/uplink", json=body(device, 1), auth=SIGFOX).status_code == 204
            http.post(
                f"/api/v2/devices/{device}/downlinks", json={"data": "0102030405060708"}, auth=ADMIN
            )
            r = http.post("/sigfox/bidir", json=body(device, 2, ack=True), auth=SIGFOX)
            assert r.json() == {device: {"downlinkData": "0102030405060708"}}
            listed = http.get(f"/api/v2/devices/{device}/messages", auth=ADMIN).json()["data"]
            assert [m["seqNumber"] for m in listed] == [2, 1]
        assert [u["seqNumber"] for u in recorder.wait_for(f"sigfox/uplink/{device}", 2)] == [1, 2]
    finally:
        recorder.close()


def test_broker_down_then_back(lorafox_factory: Callable[..., Running], tmp_path: Path) -> None:
    """Ingest succeeds while the external broker is away; everything is delivered once it is
    back, including what a restart in between left unpublished."""

    port = free_port()
    data_dir = tmp_path / "outbox"
    lorafox = lorafox_factory(data_dir=data_dir, mqtt_url=f"mqtt://127.0.0.1:{port}", mqtt_port=0)
    with httpx.Client(base_url=lorafox.base_url) as http:
        health = http.get("/healthz")
        assert health.status_code == 200  # still storing: the broker is not needed for that
        assert health.json()["mqtt"] == "disconnected"
        for seq in range(1, 6):
            assert (
                http.post("/sigfox/uplink", json=body("BEEF", seq), auth=SIGFOX).status_code == 204
            )
    lorafox.stop()  # stopped with 5 messages never published

    lorafox = lorafox_factory(data_dir=data_dir, mqtt_url=f"mqtt://127.0.0.1:{port}", mqtt_port=0)
    with httpx.Client(base_url=lorafox.base_url) as http:
        for seq in range(6, 11):
            assert (
                http.post("/sigfox/uplink", json=body("BEEF", seq), auth=SIGFOX).status_code == 204
            )
        backlog = http.get("/metrics", auth=ADMIN).text
        assert "lorafox_publish_backlog 0.0" in backlog  # replay mode reads the store

    # now the broker comes up on that port
    loop = asyncio.new_event_loop()
    broker = EmbeddedBroker("127.0.0.1", port, authenticate=None, allow_anonymous=True)
    ready = threading.Event()

    def run_broker() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(broker.start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run_broker, daemon=True)
    thread.start()
    assert ready.wait(10)
    try:
        recorder = Recorder("127.0.0.1", port, "sigfox/uplink/BEEF")
        try:
            got = recorder.wait_for("sigfox/uplink/BEEF", 10, timeout=40)
            assert sorted({u["seqNumber"] for u in got}) == list(range(1, 11))
        finally:
            recorder.close()
        wait_until(lambda: httpx.get(f"{lorafox.base_url}/healthz").json()["mqtt"] == "connected")
    finally:
        asyncio.run_coroutine_threadsafe(broker.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


@pytest.mark.postgres
def test_database_down_is_503_never_500(
    lorafox_factory: Callable[..., Running], pg_database: str, postgres_url: str
) -> None:

    import asyncpg

    lorafox = lorafox_factory(database_url=pg_database)
    name = pg_database.rsplit("/", 1)[1]

    async def drop() -> None:
        conn = await asyncpg.connect(postgres_url)
        try:
            await conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(drop())
    with httpx.Client(base_url=lorafox.base_url) as http:
        health = http.get("/healthz")
        assert health.status_code == 503 and health.json()["database"] == "error"
        r = http.post("/sigfox/uplink", json=body("1", 1), auth=SIGFOX)
        assert r.status_code == 503 and r.headers["retry-after"] == "5"
        assert r.json()["message"]


def test_admin_password_from_the_environment_is_applied_once(
    lorafox_factory: Callable[..., Running], tmp_path: Path
) -> None:
    """LORAFOX_ADMIN_PASSWORD sets the admin's password when it is new or changed, and leaves
    a password changed through the API alone at the next starts."""
    data = tmp_path / "kept"
    first = lorafox_factory(data_dir=data)
    users = httpx.get(f"{first.base_url}/api/v2/users", auth=ADMIN).json()["data"]
    [admin] = [u for u in users if u["email"] == "admin"]
    changed = httpx.put(
        f"{first.base_url}/api/v2/users/{admin['id']}/password",
        json={"currentPassword": ADMIN_PASSWORD, "newPassword": "changed-by-the-API-1"},
        auth=ADMIN,
    )
    assert changed.status_code in (200, 204), changed.text
    first.stop()

    again = lorafox_factory(data_dir=data)  # same LORAFOX_ADMIN_PASSWORD as the first start
    url = f"{again.base_url}/api/v2/groups"
    assert httpx.get(url, auth=("admin", "changed-by-the-API-1")).status_code == 200
    assert httpx.get(url, auth=ADMIN).status_code == 401
    again.stop()

    rotated = lorafox_factory(data_dir=data, admin_password="rotated-in-the-env-2")
    url = f"{rotated.base_url}/api/v2/groups"
    assert httpx.get(url, auth=("admin", "rotated-in-the-env-2")).status_code == 200
    assert httpx.get(url, auth=("admin", "changed-by-the-API-1")).status_code == 401


def test_external_broker_keeps_downlink_requests_while_lorafox_reconnects(
    lorafox_factory: Callable[..., Running], mosquitto: tuple[str, int]
) -> None:
    """lorafox's session on an external broker is persistent: a downlink request published
    while lorafox is cut off waits on the broker and is queued once it is back."""
    host, port = mosquitto
    proxy = Forwarder(port)
    client_id = f"lorafox-test-{free_port()}"
    lorafox = lorafox_factory(
        mqtt_url=f"mqtt://127.0.0.1:{proxy.port}", mqtt_port=0, mqtt={"client_id": client_id}
    )
    health = f"{lorafox.base_url}/healthz"
    try:
        wait_until(lambda: httpx.get(health).json()["mqtt"] == "connected")
        proxy.close()  # the link to the broker goes down
        wait_until(lambda: httpx.get(health).json()["mqtt"] == "disconnected")
        device = "BEEF42"
        publisher = mqtt.Client(CallbackAPIVersion.VERSION2)
        publisher.connect(host, port)
        publisher.loop_start()
        try:
            payload = b'{"downlinkData": "0102030405060708"}'
            publisher.publish(f"sigfox/downlink/{device}", payload, qos=1).wait_for_publish(10)
        finally:
            publisher.loop_stop()
            publisher.disconnect()
        proxy = Forwarder(port, proxy.port)  # back, on the same address
        url = f"{lorafox.base_url}/api/v2/devices/{device}/downlinks"
        queued = wait_until(lambda: httpx.get(url, auth=ADMIN).json()["data"], timeout=40)
        assert [d["data"] for d in queued] == ["0102030405060708"]
    finally:
        proxy.close()
