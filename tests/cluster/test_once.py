"""Several instances on one PostgreSQL database and one MQTT broker: each stored uplink is
published once whichever instance stored it, a dead instance's uplinks are published by the
survivor, a change made through one instance is seen by the other at once, and a failing
callback is retried by one instance only."""

from __future__ import annotations

import http.server
import json
import secrets
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from tests.cluster.conftest import ADMIN, SIGFOX, Instance, Subscriber, broker_env, created
from tests.conftest import MOSQUITTO, free_port, postgres_admin
from tests.mqtt_helpers import wait_until

PAC = "0011223344556677"


def mosquitto_env(prefix: str) -> dict[str, str]:
    """Settings of instances publishing on the local Mosquitto under ``prefix``."""
    return broker_env("mqtt://127.0.0.1:1883", prefix)


@pytest.fixture
def prefix(mosquitto: tuple[str, int]) -> str:
    return "lorafox-test-" + secrets.token_hex(4)


@pytest.fixture
def subscriber(prefix: str) -> Iterator[Subscriber]:
    listening = Subscriber(MOSQUITTO[1], prefix + "/uplink/#", client_id="t" + prefix)
    yield listening
    listening.close()


def root_group(instance: Instance) -> str:
    groups = instance.http.get("/api/v2/groups", auth=ADMIN).json()["data"]
    [root] = [str(g["id"]) for g in groups if not g["path"]]
    return root


def new_device(instance: Instance, type_id: str) -> str:
    device = "E" + secrets.token_hex(3).upper()
    body = {"id": device, "name": "d", "deviceTypeId": type_id, "pac": PAC}
    created(instance.http, "/api/v2/devices", body)
    return device


def uplink(instance: Instance, device: str, seq: int, data: str = "0102") -> httpx.Response:
    body = {"device": device, "time": 1_700_000_000 + seq, "seqNumber": seq, "data": data}
    with httpx.Client(base_url=instance.http.base_url, timeout=10) as client:
        return client.post("/sigfox/uplink", json=body, auth=SIGFOX)


def test_uplinks_stored_by_two_instances_are_each_published_once_in_order(
    start: Callable[..., Instance], prefix: str, subscriber: Subscriber
) -> None:
    first = start(**mosquitto_env(prefix))
    second = start(**mosquitto_env(prefix))
    type_id = created(
        first.http, "/api/v2/device-types", {"name": "t", "groupId": root_group(first)}
    )
    devices = [new_device(first, type_id) for _ in range(3)]
    sent = set()
    for seq in range(1, 21):
        for number, device in enumerate(devices):
            answer = uplink((first, second)[(seq + number) % 2], device, seq)
            assert answer.status_code == 204, answer.text
            sent.add((device, seq))

    counts = subscriber.wait_for(sent)
    assert set(counts) == sent
    assert set(counts.values()) == {1}
    for device in devices:  # each device's uplinks in the order they were stored
        seqs = [seq for published, seq in subscriber.received if published == device]
        assert seqs == sorted(seqs)


def test_the_uplinks_a_killed_instance_acknowledged_are_published_by_another(
    start: Callable[..., Instance], prefix: str, subscriber: Subscriber
) -> None:
    publisher = start(**mosquitto_env(prefix))
    # this one never reaches its broker: what it stores is published by the other
    cut_off = start(
        **{**mosquitto_env(prefix), "LORAFOX_MQTT_URL": f"mqtt://127.0.0.1:{free_port()}"}
    )
    root = root_group(publisher)
    type_id = created(publisher.http, "/api/v2/device-types", {"name": "t", "groupId": root})
    device = new_device(publisher, type_id)
    acknowledged: set[tuple[str, int]] = set()
    lock = threading.Lock()

    def post(seq: int) -> None:
        if seq == 100:
            cut_off.proc.send_signal(signal.SIGKILL)
        try:
            answer = uplink(cut_off if seq % 2 else publisher, device, seq)
        except httpx.TransportError:
            return  # not acknowledged: the Back-End would send it again
        if answer.status_code == 204:
            with lock:
                acknowledged.add((device, seq))

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(post, range(1, 201)))
    assert cut_off.proc.wait(5) == -signal.SIGKILL
    assert any(seq % 2 for _, seq in acknowledged)  # the killed one took some
    assert any(seq > 100 for _, seq in acknowledged)

    counts = subscriber.wait_for(acknowledged)
    assert acknowledged <= set(counts)


def test_a_device_moved_or_deleted_on_one_instance_is_seen_by_the_other_at_once(
    start: Callable[..., Instance],
) -> None:
    first = start(LORAFOX_SIGFOX__UNKNOWN_DEVICES="refuse")
    second = start(LORAFOX_SIGFOX__UNKNOWN_DEVICES="refuse")
    root = root_group(first)
    bytes_type = created(
        first.http,
        "/api/v2/device-types",
        {
            "name": "bytes",
            "groupId": root,
            "payloadType": 3,
            "payloadConfig": "a::uint:8 b::uint:8",
        },
    )
    word_type = created(
        first.http,
        "/api/v2/device-types",
        {"name": "word", "groupId": root, "payloadType": 3, "payloadConfig": "w::uint:16"},
    )
    device = new_device(first, bytes_type)

    sent = iter(range(1, 4096))

    def decoded_by_second() -> Any:
        answer = uplink(second, device, next(sent))
        assert answer.status_code == 204, answer.text
        listed = second.http.get(f"/api/v2/devices/{device}/messages", auth=ADMIN).json()
        return listed["data"][0]["decoded"]

    def second_decodes(expected: dict[str, int]) -> None:
        """The second instance decodes a new uplink as ``expected``, soon (a notification
        takes milliseconds; a machine under load may take seconds)."""
        wait_until(lambda: decoded_by_second() == expected, timeout=30, interval=0.2)

    assert decoded_by_second() == {"a": 1, "b": 2}
    moved = first.http.put(
        f"/api/v2/devices/{device}", json={"deviceTypeId": word_type}, auth=ADMIN
    )
    assert moved.status_code == 204, moved.text
    second_decodes({"w": 258})

    # the type's format changed on the first: the second decodes with the new one
    changed = first.http.put(
        f"/api/v2/device-types/{word_type}",
        json={"payloadType": 3, "payloadConfig": "w::uint:16:little-endian"},
        auth=ADMIN,
    )
    assert changed.status_code == 204, changed.text
    second_decodes({"w": 513})

    # the second's listening connection is cut: the change told meanwhile is read on reconnect
    postgres_admin(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "  # noqa: S608 - a pid
        f"WHERE application_name = 'lorafox changes {second.proc.pid}'"
    )
    changed = first.http.put(
        f"/api/v2/device-types/{word_type}",
        json={"payloadType": 3, "payloadConfig": "w::uint:8"},
        auth=ADMIN,
    )
    assert changed.status_code == 204, changed.text
    second_decodes({"w": 1})

    deleted = first.http.delete(f"/api/v2/devices/{device}", auth=ADMIN)
    assert deleted.status_code == 204, deleted.text
    wait_until(
        lambda: uplink(second, device, next(sent)).status_code == 404, timeout=30, interval=0.2
    )


class Receiver(http.server.ThreadingHTTPServer):
    """Answers 500 to the first ``failures`` requests, then 200; counts what it accepted."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.accepted: Counter[str] = Counter()
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                with receiver.lock:
                    failing = receiver.failures > 0
                    receiver.failures -= 1
                    if not failing:
                        receiver.accepted[body] += 1
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()


def test_a_failing_callback_is_retried_by_one_instance_until_delivered_once(
    start: Callable[..., Instance],
) -> None:
    settings = {
        "LORAFOX_CALLBACKS__ALLOWED_NETWORKS": "127.0.0.0/8",
        "LORAFOX_CALLBACKS__BACKOFF_SECONDS": "0.2",
        "LORAFOX_CALLBACKS__MAX_BACKOFF_SECONDS": "0.5",
    }
    first = start(**settings)
    second = start(**settings)
    receiver = Receiver(failures=30)
    try:
        type_id = created(
            first.http, "/api/v2/device-types", {"name": "t", "groupId": root_group(first)}
        )
        spec = {
            "channel": "URL",
            "callbackType": 0,
            "callbackSubtype": 2,
            "url": receiver.url + "/in",
            "bodyTemplate": '{"device":"{device}","seq":{seqNumber}}',
        }
        created(first.http, f"/api/v2/device-types/{type_id}/callbacks", spec)
        time.sleep(1)  # the second hears of the new callback
        device = new_device(first, type_id)
        sent = set()
        for seq in range(1, 21):
            answer = uplink((first, second)[seq % 2], device, seq)
            assert answer.status_code == 204, answer.text
            sent.add(json.dumps({"device": device, "seq": seq}, separators=(",", ":")))

        deadline = time.monotonic() + 30
        while set(receiver.accepted) != sent:
            assert time.monotonic() < deadline, f"not delivered: {sent - set(receiver.accepted)}"
            time.sleep(0.1)
        time.sleep(2)  # many retry periods of both instances
        assert receiver.failures < 0  # every failure was retried
        assert set(receiver.accepted.values()) == {1}
    finally:
        receiver.shutdown()
        receiver.server_close()
