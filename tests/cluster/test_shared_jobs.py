"""Jobs several instances on one PostgreSQL database share: the topic rules' http requests
(each claimed by one instance, a dead one's sent by another once its lease lapsed), the LoRa
integrations (one changed through an instance is followed by the others at once), and the MQTT
downlink requests every instance receives from a broker without shared subscriptions (queued
once by their ``requestId``)."""

from __future__ import annotations

import asyncio
import secrets
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.cluster.conftest import ADMIN, Instance, created
from tests.cluster.servers import MosquittoServer
from tests.cluster.test_once import mosquitto_env, new_device, root_group
from tests.mqtt_helpers import wait_until

LORA_SAMPLES = Path(__file__).resolve().parent.parent / "data" / "lora"


class Hook:
    """A local HTTP receiver counting each request body; while ``hold`` is set it answers only
    once released (a request in flight)."""

    def __init__(self) -> None:
        self.received: Counter[bytes] = Counter()
        self.hold = threading.Event()
        self.released = threading.Event()
        lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                with lock:
                    hook.received[body] += 1
                if hook.hold.is_set():
                    hook.released.wait(30)
                try:
                    self.send_response(204)
                    self.end_headers()
                except OSError:  # its sender was killed meanwhile
                    pass

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def count(self, n: int) -> int:
        return self.received[orjson.dumps({"n": n})]

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()


@pytest.fixture
def hook() -> Iterator[Hook]:
    receiver = Hook()
    yield receiver
    receiver.close()


def publisher_login(instance: Instance) -> tuple[str, str]:
    """An API user of the root group, to publish over HTTPS (``/topics/…``)."""
    body = {"groupId": root_group(instance), "name": "hooks", "profileIds": ["DEVICE_MANAGER"]}
    answer = instance.http.post("/api/v2/api-users", json=body, auth=ADMIN)
    assert answer.status_code == 201, answer.text
    return answer.json()["id"], answer.json()["accessToken"]


def publish(instance: Instance, login: tuple[str, str], n: int) -> None:
    """An HTTPS publish through ``instance``: its own rules engine sees it (embedded broker)."""
    answer = instance.http.post(
        "/topics/hook/x", params={"qos": "1"}, content=orjson.dumps({"n": n}), auth=login
    )
    assert answer.status_code == 200, answer.text


def test_rule_http_requests_are_sent_once_and_a_dead_instances_by_another(
    start: Callable[..., Instance], hook: Hook, pg_database: str
) -> None:
    env = {
        "LORAFOX_RULES__HTTP_ALLOWED_URLS": f'["{hook.url}"]',
        "LORAFOX_RULES__HTTP_LEASE_SECONDS": "1",
    }
    first = start(**env)
    rule = {
        "name": "Hook",
        "sql": "SELECT n FROM 'hook/+'",
        "actions": [{"http": {"url": hook.url + "${topic(2)}"}}],
    }
    assert first.http.post("/api/v2/rules", json=rule, auth=ADMIN).status_code == 201
    login = publisher_login(first)
    second = start(**env)  # loads the rule at start

    # both alive: each message's request arrives once, whichever instance made it
    for n in range(20):
        publish((first, second)[n % 2], login, n)
    wait_until(lambda: all(hook.count(n) for n in range(20)), timeout=30)
    time.sleep(1)  # for a repeat to show
    assert [hook.count(n) for n in range(20)] == [1] * 20

    # a request in flight for several leases: the other instance's sweeps leave it alone
    hook.hold.set()
    publish(first, login, 100)
    wait_until(lambda: hook.count(100), timeout=30)
    time.sleep(4)  # twelve sweeps of the other instance meanwhile
    hook.released.set()
    wait_until(lambda: _kept(pg_database) == 0, timeout=30)
    assert hook.count(100) == 1

    # the instance sending it killed: the survivor sends it once its lease lapsed
    hook.hold.set()
    hook.released.clear()
    publish(first, login, 200)
    wait_until(lambda: hook.count(200), timeout=30)
    first.stop(signal.SIGKILL)
    wait_until(lambda: hook.count(200) == 2, timeout=30)
    hook.released.set()
    wait_until(lambda: _kept(pg_database) == 0, timeout=30)
    time.sleep(1)
    assert hook.count(200) == 2  # the dead instance's try, and the survivor's


def _kept(database_url: str) -> int:
    """The requests the rules' outbox holds."""

    async def count() -> int:
        conn = await asyncpg.connect(database_url)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM rule_http_outbox"))
        finally:
            await conn.close()

    return asyncio.run(count())


@pytest.fixture
def chirpstack_broker(tmp_path: Path) -> Iterator[MosquittoServer]:
    server = MosquittoServer(tmp_path / "chirpstack-broker")
    server.start()
    yield server
    server.stop()


def test_a_lora_integration_changed_on_one_instance_is_followed_by_the_other(
    start: Callable[..., Instance], chirpstack_broker: MosquittoServer
) -> None:
    first = start(LORAFOX_MQTT__CLIENT_ID="lorafox-a")
    second = start(LORAFOX_MQTT__CLIENT_ID="lorafox-b")
    up = orjson.loads((LORA_SAMPLES / "chirpstack_up.json").read_bytes())
    body: dict[str, Any] = {"name": "cs", "kind": "chirpstack", "groupId": root_group(first)}

    # its token: accepted by the other instance, then refused there once deleted
    made = first.http.post("/api/v2/lora/integrations", json=body, auth=ADMIN).json()
    bearer = {"authorization": f"Bearer {made['token']}"}
    url = f"/lora/chirpstack/{made['id']}"
    answer = second.http.post(url, params={"event": "up"}, json=up, headers=bearer)
    assert answer.status_code == 200, answer.text  # and remembered there
    assert first.http.delete(f"/api/v2/lora/integrations/{made['id']}", auth=ADMIN).is_success
    wait_until(
        lambda: (
            second.http.post(url, params={"event": "up"}, json=up, headers=bearer).status_code
            == 401
        ),
        timeout=3,  # well within the 5 s a verified token is remembered without being told
    )

    # its broker: followed by the other instance, without a restart
    body["config"] = {"mqttUrl": f"mqtt://127.0.0.1:{chirpstack_broker.port}"}
    created(first.http, "/api/v2/lora/integrations", body)
    first.stop()  # only the other instance may take what the broker sends now
    device = secrets.token_hex(8)
    up["deviceInfo"]["devEui"] = device
    topic = f"application/{up['deviceInfo']['applicationId']}/device/{device}/event/up"
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", chirpstack_broker.port)
    client.loop_start()
    try:

        def stored() -> bool:
            up["fCnt"] = (
                up.get("fCnt", 0) + 1
            )  # a fresh frame each time, until the other instance subscribed
            client.publish(topic, orjson.dumps(up), qos=1).wait_for_publish(10)
            found = second.http.get(f"/api/v2/devices/{device}/messages", auth=ADMIN)
            return found.status_code == 200 and bool(found.json()["data"])

        # within a fraction of the 30 s after which the brokers are compared anyway
        wait_until(stored, timeout=10, interval=0.3)
    finally:
        client.loop_stop()
        client.disconnect()


def test_a_downlink_request_received_by_every_instance_is_queued_once_by_its_request_id(
    start: Callable[..., Instance], mosquitto: tuple[str, int]
) -> None:
    """Two instances subscribed plainly (no ``$share/``) to one broker each receive every
    downlink request: with a ``requestId`` it is queued once, without one once per instance."""
    prefix = "lorafox-test-" + secrets.token_hex(4)
    first = start(**mosquitto_env(prefix), LORAFOX_MQTT__CLIENT_ID=prefix + "-a")
    second = start(**mosquitto_env(prefix), LORAFOX_MQTT__CLIENT_ID=prefix + "-b")
    type_id = created(
        first.http, "/api/v2/device-types", {"name": "t", "groupId": root_group(first)}
    )
    device, control = new_device(first, type_id), new_device(first, type_id)
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect(*mosquitto)
    client.loop_start()

    def queued(instance: Instance, of: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = instance.http.get(
            f"/api/v2/devices/{of}/downlinks", auth=ADMIN
        ).json()["data"]
        return found

    try:
        # a request without requestId is queued by each instance: once both queued one of
        # them, both are subscribed
        sent = iter(range(1, 10_000))

        def control_counts() -> Counter[str]:
            return Counter(d["data"] for d in queued(first, control))

        def both_subscribed() -> bool:
            body = {"downlinkData": f"{next(sent):016x}"}
            client.publish(f"{prefix}/downlink/{control}", orjson.dumps(body), qos=1)
            return 2 in control_counts().values()

        wait_until(both_subscribed, timeout=30, interval=0.5)
        request = {"downlinkData": "1112131415161718", "requestId": "order-7"}
        for _ in range(2):  # the client published it again (say, after a reconnection)
            client.publish(f"{prefix}/downlink/{device}", orjson.dumps(request), qos=1)
        marker = "ffffffffffffffff"  # published after them: once both queued it, they are done
        client.publish(f"{prefix}/downlink/{control}", orjson.dumps({"downlinkData": marker}), 1)
        wait_until(lambda: control_counts()[marker] == 2, timeout=30)
        time.sleep(1)  # for a repeat to show
        [downlink] = queued(second, device)
        assert (downlink["data"], downlink["requestId"]) == ("1112131415161718", "order-7")
        assert queued(first, device) == [downlink]
    finally:
        client.loop_stop()
        client.disconnect()
