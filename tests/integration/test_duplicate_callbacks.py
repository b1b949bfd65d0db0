"""``sendDuplicate``: other stations' copies of a stored message reach the callbacks that ask
for duplicates, with ``{duplicate}`` true, once per station; the others get the message once.
A LoRa frame's copy from another gateway is such a copy, also among the frames of one read of
the Semtech socket."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Running, free_port
from tests.integration.helpers import ADMIN, created, serving
from tests.integration.test_lora_semtech import _Peer, _uplink
from tests.integration.test_outgoing_callbacks import (
    LOOPBACK,
    Fleet,
    Receiver,
    _fleet,
    receiver,
)
from tests.mqtt_helpers import wait_until

__all__ = ["receiver"]


@pytest.fixture
def fleet(lorafox_factory: Callable[..., Running]) -> Iterator[Fleet]:
    found = _fleet(lorafox_factory(callbacks=LOOPBACK))
    yield found
    found.http.close()


def _seen(receiver: Receiver, path: str) -> list[str]:
    return sorted(r.body for r in receiver.requests if r.path.startswith(path))


def test_copies_from_other_stations_reach_only_the_callbacks_asking_for_them(
    fleet: Fleet, receiver: Receiver
) -> None:
    body = '{"seq":{seqNumber},"station":"{station}","duplicate":{duplicate}}'
    fleet.callback(url=receiver.url + "/dup", bodyTemplate=body, sendDuplicate=True)
    fleet.callback(url=receiver.url + "/once", bodyTemplate=body)
    fleet.uplink(1)
    fleet.uplink(1, station="3C4D", duplicate=True)
    fleet.uplink(1, station="3C4D", duplicate=True)  # the Back-End retried that callback
    fleet.uplink(1, station="5E6F", duplicate=True)
    fleet.uplink(1)  # a retry of the first copy: not a duplicate of another station
    wait_until(lambda: len(receiver.requests) == 4)
    assert _seen(receiver, "/dup") == [
        '{"seq":1,"station":"1A2B","duplicate":false}',
        '{"seq":1,"station":"3C4D","duplicate":true}',
        '{"seq":1,"station":"5E6F","duplicate":true}',
    ]
    assert _seen(receiver, "/once") == ['{"seq":1,"station":"1A2B","duplicate":false}']
    assert fleet.not_delivered() == []


def test_a_copy_acknowledged_is_delivered_after_a_restart(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.statuses = [503]
    with serving(tmp_path / "data", callbacks=LOOPBACK) as lorafox:
        fleet = _fleet(lorafox)
        fleet.callback(url=receiver.url + "/dup?d={duplicate}", sendDuplicate=True)
        fleet.uplink(1)
        fleet.uplink(1, station="3C4D", duplicate=True)
        wait_until(lambda: {r.path for r in receiver.requests} == {"/dup?d=false", "/dup?d=true"})
        fleet.http.close()
    receiver.statuses = [204]
    receiver.requests.clear()
    receiver._answers.clear()
    with serving(tmp_path / "data", callbacks=LOOPBACK):
        wait_until(lambda: len(receiver.delivered()) == 2)
    assert sorted(r.path for r in receiver.delivered()) == ["/dup?d=false", "/dup?d=true"]


def test_a_copy_from_another_gateway_in_a_semtech_socket_read_reaches_send_duplicate(
    lorafox_factory: Callable[..., Running], receiver: Receiver
) -> None:
    lorafox = lorafox_factory(callbacks=LOOPBACK, semtech_port=free_port())
    with httpx.Client(base_url=lorafox.base_url, auth=ADMIN, timeout=10) as http:
        [root] = [g["id"] for g in http.get("/api/v2/groups").json()["data"] if not g["path"]]
        spec = {"name": "motes", "groupId": root}
        device_type = created(http, "/api/v2/device-types", spec)["id"]
        integration = {
            "name": "semtech",
            "kind": "semtech",
            "groupId": root,
            "deviceTypeId": device_type,
            "appEui": "37817737f13",
            "config": {"addresses": ["127.0.0.0/8"]},
        }
        created(http, "/api/v2/lora/integrations", integration)
        body = '{"seq":{seqNumber},"duplicate":{duplicate}}'
        callback = {"channel": "URL", "callbackType": 0, "callbackSubtype": 2}
        for path, duplicates in (("/dup", True), ("/once", False)):
            spec = {**callback, "url": receiver.url + path, "bodyTemplate": body}
            spec["sendDuplicate"] = duplicates
            created(http, f"/api/v2/device-types/{device_type}/callbacks", spec)
    port = lorafox.service.semtech_port
    assert port is not None
    peer = _Peer(port)
    try:
        peer.send(_uplink(1))  # provisions the device: its first message is forwarded too
        wait_until(lambda: len(receiver.requests) == 2)
        peer.send(_uplink(2))
        wait_until(lambda: len(receiver.requests) == 4)
        # one read of the socket: a new frame, another gateway's copy, the same gateway's again
        copy = _uplink(2, gateway="b827ebfffe000002")
        peer.send(_uplink(3) + copy + _uplink(2))
        wait_until(lambda: len(receiver.requests) == 7)
        time.sleep(0.5)  # nothing more comes
    finally:
        peer.close()
    assert _seen(receiver, "/dup") == [
        '{"seq":1,"duplicate":false}',
        '{"seq":2,"duplicate":false}',
        '{"seq":2,"duplicate":true}',
        '{"seq":3,"duplicate":false}',
    ]
    assert _seen(receiver, "/once") == [
        '{"seq":1,"duplicate":false}',
        '{"seq":2,"duplicate":false}',
        '{"seq":3,"duplicate":false}',
    ]
