"""Several ``lorafox serve`` processes on one PostgreSQL database: the periodic jobs (here the
keep-alive check) run on one leader at a time, another instance takes over when it dies, and a
queued downlink is handed out by one BIDIR callback whichever instance gets it."""

from __future__ import annotations

import secrets
import signal
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.cluster.conftest import ADMIN, SIGFOX, Instance, created

PAC = "0011223344556677"
LOST = "communication_lost"


def silent_device(http: httpx.Client, root: str, type_id: str) -> str:
    device = "E" + secrets.token_hex(3).upper()
    created(
        http, "/api/v2/devices", {"id": device, "name": "d", "deviceTypeId": type_id, "pac": PAC}
    )
    return device


def old_uplink(http: httpx.Client, device: str, seq: int = 1) -> None:
    """An uplink from long ago: the device has been silent past its keepAlive since."""
    body = {"device": device, "time": 1_700_000_000 + seq, "seqNumber": seq, "data": "0102"}
    response = http.post("/sigfox/uplink", json=body, auth=SIGFOX)
    assert response.status_code == 204, response.text


def lost_events(http: httpx.Client, device: str) -> int:
    response = http.get(f"/api/v2/devices/{device}/events", auth=ADMIN)
    assert response.status_code == 200, response.text
    return sum(1 for event in response.json()["data"] if event["type"] == LOST)


def wait_lost(http: httpx.Client, device: str) -> None:
    deadline = time.monotonic() + 30
    while lost_events(http, device) == 0:
        assert time.monotonic() < deadline, f"no {LOST} event for {device}"
        time.sleep(0.2)


def test_one_leader_runs_the_keep_alive_check_and_another_takes_over(
    start: Callable[[], Instance],
) -> None:
    first = start()
    groups = first.http.get("/api/v2/groups", auth=ADMIN).json()["data"]
    [root] = [g["id"] for g in groups if not g["path"]]
    type_id = created(
        first.http, "/api/v2/device-types", {"name": "t", "groupId": root, "keepAlive": 1800}
    )
    before, after = (
        silent_device(first.http, root, type_id),
        silent_device(first.http, root, type_id),
    )
    second = start()  # a follower: the first holds the lock

    # both instances take an uplink of the device, so both know it went silent: the alert is
    # raised once, by the leader
    old_uplink(first.http, before, seq=1)
    old_uplink(second.http, before, seq=2)
    wait_lost(first.http, before)
    time.sleep(2)  # many check periods of both instances
    assert lost_events(first.http, before) == 1
    assert lost_events(second.http, before) == 1
    assert first.led()
    assert not second.led()

    # the leader dies without releasing its lock: its connection closes, the other takes over
    first.stop(signal.SIGKILL)
    old_uplink(second.http, after)
    wait_lost(second.http, after)
    assert second.led()
    time.sleep(2)
    assert lost_events(second.http, after) == 1
    assert lost_events(second.http, before) == 1


def test_each_queued_downlink_is_handed_out_by_one_bidir_across_instances(
    start: Callable[[], Instance],
) -> None:
    first = start()
    groups = first.http.get("/api/v2/groups", auth=ADMIN).json()["data"]
    [root] = [g["id"] for g in groups if not g["path"]]
    type_id = created(first.http, "/api/v2/device-types", {"name": "t", "groupId": root})
    device = silent_device(first.http, root, type_id)
    second = start()
    queued = [f"{n:016x}" for n in range(1, 4)]
    for data in queued:
        response = first.http.post(
            f"/api/v2/devices/{device}/downlinks", json={"data": data}, auth=ADMIN
        )
        assert response.status_code == 201, response.text

    def bidir(seq: int) -> httpx.Response:
        instance = (first, second)[seq % 2]
        body = {"device": device, "time": 1_700_000_000 + seq, "seqNumber": seq, "data": "01"}
        body["ack"] = True
        with httpx.Client(base_url=instance.http.base_url, timeout=30) as http:
            return http.post("/sigfox/bidir", json=body, auth=SIGFOX)

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(bidir, range(1, 13)))
    assert sorted(a.status_code for a in answers) == [200] * 3 + [204] * 9
    handed = sorted(a.json()[device]["downlinkData"] for a in answers if a.status_code == 200)
    assert handed == queued
    for instance in (first, second):
        listed = instance.http.get(f"/api/v2/devices/{device}/downlinks", auth=ADMIN)
        assert [d["state"] for d in listed.json()["data"]] == ["sent"] * 3
