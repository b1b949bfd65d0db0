"""Device types, devices, bulk creation and the unknown-device rule over real HTTP: every route
for every profile, group isolation, paging, validation — on SQLite and on PostgreSQL.

The tree of ``test_access`` (root ── A ── A1, root ── B) gets a device type and a device in A,
A1 and B, each device with three uplinks.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SIGFOX_PASSWORD, SIGFOX_USER, Running
from tests.integration.helpers import basic_auth_operation
from tests.integration.test_access import PROFILES, Auth, World, world  # noqa: F401

SIGFOX = (SIGFOX_USER, SIGFOX_PASSWORD)
PAC = "0011223344556677"


@dataclass
class Fleet:
    types: dict[str, str]  # group name -> device type id
    devices: dict[str, str]  # group name -> device id


def uplink(http: httpx.Client, device: str, seq: int, **extra: Any) -> httpx.Response:
    body = {"device": device, "time": 1_700_000_000 + seq, "seqNumber": seq, "data": "01", **extra}
    return http.post("/sigfox/uplink", json=body, auth=SIGFOX)


def new_type(w: World, group: str, **fields: Any) -> str:
    body = {"name": f"type {secrets.token_hex(3)}", "groupId": w.groups[group], **fields}
    made: str = w.ok("POST", "/api/v2/device-types", 201, json=body)["id"]
    return made


def new_device(w: World, device_type: str, **fields: Any) -> str:
    device_id = secrets.token_hex(4).upper().lstrip("0") or "1"
    body = {"id": device_id, "name": "d", "deviceTypeId": device_type, "pac": PAC, **fields}
    w.ok("POST", "/api/v2/devices", 201, json=body)
    return device_id


@pytest.fixture(scope="module")
def fleet(world: World) -> Fleet:  # noqa: F811
    fleet = Fleet({}, {})
    for group in ("A", "A1", "B"):
        fleet.types[group] = new_type(world, group)
        fleet.devices[group] = new_device(world, fleet.types[group])
        for seq in (1, 2, 3):
            assert uplink(world.http, fleet.devices[group], seq).status_code == 204
    return fleet


def wait_job(w: World, job_id: str, auth: Auth | None = None) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        r = w.call("GET", f"/api/v2/devices/bulk/{job_id}", auth or w.keys["root:ADMIN"])
        assert r.status_code == 200, r.text
        status: dict[str, Any] = r.json()
        if status["jobDone"] or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


# -- every route for every profile of group A -----------------------------------------------

Case = Callable[[World, Fleet, Auth], httpx.Response]


def _get(url: str) -> Case:
    """A GET of ``url``, where ``{type}`` and ``{device}`` stand for group A1's."""
    return lambda w, f, a: w.call("GET", url.format(type=f.types["A1"], device=f.devices["A1"]), a)


def _queued(w: World, f: Fleet) -> int:
    url = f"/api/v2/devices/{f.devices['A1']}/downlinks"
    downlink_id: int = w.ok("POST", url, 201, json={"data": "0102030405060708"})["id"]
    return downlink_id


def _bulk(w: World, f: Fleet) -> str:
    body = {"deviceTypeId": f.types["A"], "data": [{"id": "E1E1E1", "pac": PAC}]}
    job: str = w.ok("POST", "/api/v2/devices/bulk", 201, json=body)["jobId"]
    return job


CASES: dict[str, tuple[Case, tuple[int, int, int]]] = {
    # name: (call, expected status for ADMIN, DEVICE_MANAGER, VIEWER of group A)
    "list device types": (_get("/api/v2/device-types"), (200,) * 3),
    "get device type": (_get("/api/v2/device-types/{type}"), (200,) * 3),
    "create device type": (
        lambda w, f, a: w.call(
            "POST", "/api/v2/device-types", a, json={"name": "t", "groupId": w.groups["A1"]}
        ),
        (201, 201, 403),
    ),
    "update device type": (
        lambda w, f, a: w.call(
            "PUT", f"/api/v2/device-types/{f.types['A1']}", a, json={"description": "x"}
        ),
        (204, 204, 403),
    ),
    "delete device type": (
        lambda w, f, a: w.call("DELETE", f"/api/v2/device-types/{new_type(w, 'A')}", a),
        (204, 204, 403),
    ),
    "delete a device type with devices": (
        lambda w, f, a: w.call("DELETE", f"/api/v2/device-types/{f.types['A1']}", a),
        (409, 409, 403),
    ),
    "device type messages": (_get("/api/v2/device-types/{type}/messages"), (200,) * 3),
    "list devices": (_get("/api/v2/devices"), (200,) * 3),
    "get device": (
        lambda w, f, a: w.call("GET", f"/api/v2/devices/{f.devices['A1'].lower()}", a),
        (200,) * 3,
    ),
    "create device": (
        lambda w, f, a: w.call(
            "POST",
            "/api/v2/devices",
            a,
            json={
                "id": secrets.token_hex(3),
                "name": "n",
                "deviceTypeId": f.types["A1"],
                "pac": PAC,
            },
        ),
        (201, 201, 403),
    ),
    "update device": (
        lambda w, f, a: w.call(
            "PUT", f"/api/v2/devices/{f.devices['A1']}", a, json={"name": "renamed", "lat": 1}
        ),
        (204, 204, 403),
    ),
    "move device": (
        lambda w, f, a: w.call(
            "PUT",
            f"/api/v2/devices/{new_device(w, f.types['A'])}",
            a,
            json={"deviceTypeId": f.types["A1"]},
        ),
        (204, 204, 403),
    ),
    "delete device": (
        lambda w, f, a: w.call("DELETE", f"/api/v2/devices/{new_device(w, f.types['A'])}", a),
        (204, 204, 403),
    ),
    "device messages": (_get("/api/v2/devices/{device}/messages"), (200,) * 3),
    "device downlinks": (_get("/api/v2/devices/{device}/downlinks"), (200,) * 3),
    "device events": (_get("/api/v2/devices/{device}/events"), (200,) * 3),
    "device type events": (_get("/api/v2/device-types/{type}/events"), (200,) * 3),
    "device statistics": (_get("/api/v2/devices/{device}/statistics"), (200,) * 3),
    "device type statistics": (_get("/api/v2/device-types/{type}/statistics"), (200,) * 3),
    "queue a downlink": (
        lambda w, f, a: w.call(
            "POST",
            f"/api/v2/devices/{f.devices['A1']}/downlinks",
            a,
            json={"data": "0102030405060708"},
        ),
        (201, 201, 403),
    ),
    "delete a downlink": (
        lambda w, f, a: w.call(
            "DELETE", f"/api/v2/devices/{f.devices['A1']}/downlinks/{_queued(w, f)}", a
        ),
        (204, 204, 403),
    ),
    "bulk create": (
        lambda w, f, a: w.call(
            "POST",
            "/api/v2/devices/bulk",
            a,
            json={
                "deviceTypeId": f.types["A1"],
                "data": [{"id": secrets.token_hex(3), "pac": PAC}],
            },
        ),
        (201, 201, 403),
    ),
    "bulk job status": (
        lambda w, f, a: w.call("GET", f"/api/v2/devices/bulk/{_bulk(w, f)}", a),
        (200,) * 3,
    ),
    "device message metric": (_get("/api/v2/devices/{device}/messages/metric"), (200,) * 3),
    "device locations": (_get("/api/v2/devices/{device}/locations"), (200,) * 3),
    # devices that are not registered count as the root group's
    "messages of an unregistered id": (_get("/api/v2/devices/ABCDEF/messages"), (404,) * 3),
    "message metric of an unregistered id": (
        _get("/api/v2/devices/ABCDEF/messages/metric"),
        (404,) * 3,
    ),
    "locations of an unregistered id": (_get("/api/v2/devices/ABCDEF/locations"), (404,) * 3),
}


@pytest.mark.parametrize("profile_index", range(3), ids=PROFILES)
@pytest.mark.parametrize("case", list(CASES))
def test_every_device_route_for_every_profile_of_a_group(
    world: World,  # noqa: F811
    fleet: Fleet,
    case: str,
    profile_index: int,
) -> None:
    call, expected = CASES[case]
    r = call(world, fleet, world.keys[f"A:{PROFILES[profile_index]}"])
    assert r.status_code == expected[profile_index], r.text
    if r.status_code >= 400:
        assert r.json()["message"]
    if profile_index == 0:
        assert call(world, fleet, ("nobody", "wrong")).status_code == 401


def test_root_callers_reach_unregistered_ids(world: World) -> None:  # noqa: F811
    for profile, queued in zip(PROFILES, (201, 201, 403), strict=True):
        auth = world.keys[f"root:{profile}"]
        assert world.call("GET", "/api/v2/devices/ABCDEF/messages", auth).status_code == 200
        r = world.call(
            "POST", "/api/v2/devices/ABCDEF/downlinks", auth, json={"data": "0102030405060708"}
        )
        assert r.status_code == queued


# -- isolation: group A cannot see, change or guess group B's device types and devices --------

TYPE_GUESSES: dict[str, Callable[[World, Fleet, str], tuple[str, str, dict[str, Any]]]] = {
    "get": lambda w, f, i: ("GET", f"/api/v2/device-types/{i}", {}),
    "update": lambda w, f, i: ("PUT", f"/api/v2/device-types/{i}", {"json": {"name": "x"}}),
    "delete": lambda w, f, i: ("DELETE", f"/api/v2/device-types/{i}", {}),
    "messages": lambda w, f, i: ("GET", f"/api/v2/device-types/{i}/messages", {}),
    "events": lambda w, f, i: ("GET", f"/api/v2/device-types/{i}/events", {}),
    "statistics": lambda w, f, i: ("GET", f"/api/v2/device-types/{i}/statistics", {}),
    "list its devices": lambda w, f, i: ("GET", "/api/v2/devices", {"params": {"deviceTypeId": i}}),
    "create a device in it": lambda w, f, i: (
        "POST",
        "/api/v2/devices",
        {"json": {"id": "C0FFEE", "name": "spy", "deviceTypeId": i, "pac": PAC}},
    ),
    "move a device into it": lambda w, f, i: (
        "PUT",
        f"/api/v2/devices/{f.devices['A']}",
        {"json": {"deviceTypeId": i}},
    ),
    "bulk into it": lambda w, f, i: (
        "POST",
        "/api/v2/devices/bulk",
        {"json": {"deviceTypeId": i, "data": [{"id": "C0FFEE", "pac": PAC}]}},
    ),
}
DEVICE_GUESSES: dict[str, Callable[[World, Fleet, str], tuple[str, str, dict[str, Any]]]] = {
    "get": lambda w, f, i: ("GET", f"/api/v2/devices/{i}", {}),
    "update": lambda w, f, i: ("PUT", f"/api/v2/devices/{i}", {"json": {"name": "x"}}),
    "delete": lambda w, f, i: ("DELETE", f"/api/v2/devices/{i}", {"params": {"purge": "true"}}),
    "messages": lambda w, f, i: ("GET", f"/api/v2/devices/{i}/messages", {}),
    "message metric": lambda w, f, i: ("GET", f"/api/v2/devices/{i}/messages/metric", {}),
    "locations": lambda w, f, i: ("GET", f"/api/v2/devices/{i}/locations", {}),
    "downlinks": lambda w, f, i: ("GET", f"/api/v2/devices/{i}/downlinks", {}),
    "events": lambda w, f, i: ("GET", f"/api/v2/devices/{i}/events", {}),
    "statistics": lambda w, f, i: ("GET", f"/api/v2/devices/{i}/statistics", {}),
    "queue a downlink": lambda w, f, i: (
        "POST",
        f"/api/v2/devices/{i}/downlinks",
        {"json": {"data": "0102030405060708"}},
    ),
}


@pytest.mark.parametrize(
    ("kind", "guess"),
    [("type", g) for g in TYPE_GUESSES] + [("device", g) for g in DEVICE_GUESSES],
)
def test_device_objects_of_another_group_answer_like_missing_ones(
    world: World,  # noqa: F811
    fleet: Fleet,
    kind: str,
    guess: str,
) -> None:
    if kind == "type":
        target, made_up, build = fleet.types["B"], secrets.token_hex(12), TYPE_GUESSES[guess]
    else:
        target, made_up, build = fleet.devices["B"], "ABC0DEF", DEVICE_GUESSES[guess]
    admin_of_a = world.keys["A:ADMIN"]
    method, url, kw = build(world, fleet, target)
    real = world.call(method, url, admin_of_a, **kw)
    method, url, kw = build(world, fleet, made_up)
    missing = world.call(method, url, admin_of_a, **kw)
    assert real.status_code == missing.status_code == 404, real.text
    assert real.text.replace(target, "ID") == missing.text.replace(made_up, "ID")
    # and nothing changed
    device = world.ok("GET", f"/api/v2/devices/{fleet.devices['B']}")
    assert device["deviceType"]["id"] == fleet.types["B"] and device["name"] == "d"
    assert len(world.ok("GET", f"/api/v2/devices/{fleet.devices['B']}/messages")["data"]) == 3


def test_lists_show_only_the_callers_device_objects(world: World, fleet: Fleet) -> None:  # noqa: F811
    a_viewer = world.keys["A:VIEWER"]
    types = world.call("GET", "/api/v2/device-types", a_viewer).json()["data"]
    ids = {t["id"] for t in types}
    assert {fleet.types["A"], fleet.types["A1"]} <= ids and fleet.types["B"] not in ids
    devices = world.call("GET", "/api/v2/devices", a_viewer, params={"limit": 100}).json()
    listed = {d["id"] for d in devices["data"]}
    assert {fleet.devices["A"], fleet.devices["A1"]} <= listed
    assert fleet.devices["B"] not in listed
    only_b = world.call("GET", "/api/v2/devices", a_viewer, params={"groupIds": world.groups["B"]})
    assert only_b.status_code == 404
    in_a1 = world.call(
        "GET", "/api/v2/device-types", a_viewer, params={"groupIds": world.groups["A1"]}
    ).json()["data"]
    assert [t["group"]["id"] for t in in_a1] == [world.groups["A1"]] * len(in_a1)


def test_a_device_shows_its_group_and_latest_message(world: World, fleet: Fleet) -> None:  # noqa: F811
    device = world.ok("GET", f"/api/v2/devices/{fleet.devices['B']}")
    assert device["group"]["id"] == world.groups["B"]
    assert device["sequenceNumber"] == 3 and device["lastCom"] == (1_700_000_000 + 3) * 1000
    assert device["pac"] == PAC and device["state"] == 0 and device["provisioned"] is False
    device_type = world.ok("GET", f"/api/v2/device-types/{fleet.types['B']}")
    assert device_type["group"]["id"] == world.groups["B"]
    assert device_type["downlinkMode"] == 1 and device_type["payloadType"] == 2
    messages = world.ok("GET", f"/api/v2/device-types/{fleet.types['B']}/messages")["data"]
    assert [m["seqNumber"] for m in messages] == [3, 2, 1]


def test_moving_a_device_moves_it_to_the_types_group(world: World, fleet: Fleet) -> None:  # noqa: F811
    device = new_device(world, fleet.types["A"])
    assert uplink(world.http, device, 1).status_code == 204
    world.ok("PUT", f"/api/v2/devices/{device}", 204, json={"deviceTypeId": fleet.types["B"]})
    moved = world.ok("GET", f"/api/v2/devices/{device}")
    assert moved["group"]["id"] == world.groups["B"]
    a_viewer = world.keys["A:VIEWER"]
    assert world.call("GET", f"/api/v2/devices/{device}/messages", a_viewer).status_code == 404
    b_admin = world.keys["B:ADMIN"]
    assert len(world.call("GET", f"/api/v2/devices/{device}/messages", b_admin).json()["data"]) == 1


def test_deleting_a_device_keeps_its_messages_unless_purged(world: World, fleet: Fleet) -> None:  # noqa: F811
    kept, purged = new_device(world, fleet.types["A"]), new_device(world, fleet.types["A"])
    for device in (kept, purged):
        assert uplink(world.http, device, 1).status_code == 204
    world.ok("DELETE", f"/api/v2/devices/{kept}", 204)
    world.ok("DELETE", f"/api/v2/devices/{purged}", 204, params={"purge": "true"})
    assert world.call("GET", f"/api/v2/devices/{kept}", world.keys["root:ADMIN"]).status_code == 404
    # the kept messages are the root group's now (the id is not registered any more)
    assert len(world.ok("GET", f"/api/v2/devices/{kept}/messages")["data"]) == 1
    assert world.ok("GET", f"/api/v2/devices/{purged}/messages")["data"] == []
    a_admin = world.keys["A:ADMIN"]
    assert world.call("GET", f"/api/v2/devices/{kept}/messages", a_admin).status_code == 404


def test_device_paging_edges(world: World) -> None:  # noqa: F811
    device_type = new_type(world, "A1")
    ids = [new_device(world, device_type) for _ in range(5)]
    params = {"deviceTypeId": device_type, "limit": 2}
    seen: list[str] = []
    url: str | None = "/api/v2/devices"
    pages = 0
    while url:
        body = world.ok("GET", url, params=params if pages == 0 else None)
        seen += [d["id"] for d in body["data"]]
        url = body["paging"].get("next")
        pages += 1
    assert pages == 3 and sorted(seen) == sorted(ids) and len(set(seen)) == 5
    exact = world.ok("GET", "/api/v2/devices", params={"deviceTypeId": device_type, "limit": 5})
    assert len(exact["data"]) == 5 and "next" not in exact["paging"]
    beyond = world.ok("GET", "/api/v2/devices", params={"deviceTypeId": device_type, "offset": 9})
    assert beyond["data"] == [] and "next" not in beyond["paging"]
    for bad in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"sort": "pac"}):
        r = world.call("GET", "/api/v2/devices", world.keys["root:ADMIN"], params=bad)
        assert r.status_code == 400, bad
    types = world.ok("GET", "/api/v2/device-types", params={"limit": 1})
    assert len(types["data"]) == 1 and "offset=1" in types["paging"]["next"]
    messages = world.ok("GET", f"/api/v2/device-types/{device_type}/messages", params={"limit": 1})
    assert messages["data"] == [] and messages["paging"].get("next") is None


INVALID: list[tuple[str, str, dict[str, Any], str]] = [
    # (method, url template ({A} = a device type of A), body, field named)
    ("POST", "/api/v2/device-types", {"name": "t", "keepAlive": 600}, "keepAlive"),
    ("POST", "/api/v2/device-types", {"name": "t", "downlinkMode": 0}, "downlinkDataString"),
    ("POST", "/api/v2/device-types", {"name": "t", "downlinkMode": 7}, "downlinkMode"),
    (
        "POST",
        "/api/v2/device-types",
        {"name": "t", "downlinkMode": 0, "downlinkDataString": "{time}0102"},
        "downlinkDataString",
    ),
    (
        "POST",
        "/api/v2/device-types",
        {"name": "t", "downlinkMode": 0, "downlinkDataString": "{time}{oops}0102"},
        "downlinkDataString",
    ),
    ("POST", "/api/v2/device-types", {"name": "t", "payloadType": 3}, "payloadConfig"),
    ("POST", "/api/v2/device-types", {"name": "t", "payloadType": 4}, "payloadType"),
    ("POST", "/api/v2/device-types", {"name": "t", "alertEmail": "nope"}, "alertEmail"),
    ("POST", "/api/v2/device-types", {"name": "x" * 101}, "name"),
    ("POST", "/api/v2/device-types", {"name": "t", "id": "XYZ"}, "id"),
    ("POST", "/api/v2/devices", {"id": "XYZ", "name": "n", "pac": PAC}, "id"),
    ("POST", "/api/v2/devices", {"id": "1", "name": "n", "pac": "12"}, "pac"),
    ("POST", "/api/v2/devices", {"id": "1", "name": "n", "pac": PAC, "lat": 91}, "lat"),
    ("POST", "/api/v2/devices", {"id": "1", "name": "", "pac": PAC}, "name"),
    ("POST", "/api/v2/devices", {"id": "1", "pac": PAC}, "name"),
    ("POST", "/api/v2/devices/bulk", {"data": []}, "data"),
    ("GET", "/api/v2/devices/NOTHEX", {}, "id"),
]


@pytest.mark.parametrize("case", range(len(INVALID)))
def test_invalid_device_input_is_400_with_the_field(
    world: World,  # noqa: F811
    fleet: Fleet,
    case: int,
) -> None:
    method, url, body, field = INVALID[case]
    if method == "POST":
        body = {"groupId": world.groups["A"], "deviceTypeId": fleet.types["A"], **body}
    r = world.call(method, url, world.keys["A:DEVICE_MANAGER"], json=body or None)
    assert r.status_code == 400, r.text
    assert field in {e["field"] for e in r.json()["errors"]} | {r.json()["message"].split(":")[0]}


def test_device_type_fields_round_trip(world: World) -> None:  # noqa: F811
    chosen = secrets.token_hex(12)
    body = {
        "id": chosen,
        "name": "trackers",
        "groupId": world.groups["A"],
        "keepAlive": 3600,
        "alertEmail": "Ops@Example.com",
        "downlinkMode": 0,
        "downlinkDataString": "{time}{tapId}00ff",
        "payloadType": 3,
        "payloadConfig": "temp::uint:8",
        "automaticRenewal": False,
        "maxUplinksPerDay": 140,
    }
    assert world.ok("POST", "/api/v2/device-types", 201, json=body)["id"] == chosen
    assert (
        world.call("POST", "/api/v2/device-types", world.keys["root:ADMIN"], json=body).status_code
        == 409
    )
    got = world.ok("GET", f"/api/v2/device-types/{chosen}")
    assert {k: got[k] for k in body if k not in ("groupId", "alertEmail")} == {
        k: v for k, v in body.items() if k not in ("groupId", "alertEmail")
    }
    assert got["alertEmail"] == "ops@example.com" and got["creationTime"] > 0
    world.ok("PUT", f"/api/v2/device-types/{chosen}", 204, json={"downlinkMode": 2})
    changed = world.ok("GET", f"/api/v2/device-types/{chosen}")
    assert changed["downlinkMode"] == 2 and changed["lastEditionTime"] >= got["creationTime"]


def test_bulk_with_bad_lines(world: World, fleet: Fleet) -> None:  # noqa: F811
    base = secrets.token_hex(3).upper()
    data = [
        {"id": f"{base}1", "pac": PAC},
        {"id": f"{base}2", "pac": PAC, "name": "named"},
        {"id": f"{base}1", "pac": PAC},  # duplicate in the request
        {"id": fleet.devices["A"], "pac": PAC},  # exists already
        {"id": "NOTHEX", "pac": PAC},
        {"id": f"{base}3", "pac": "nope"},
        {"id": f"{base}4", "pac": PAC, "name": "x" * 101},
        {"id": f"{base}5", "pac": PAC, "lat": 200},
    ]
    auth = world.keys["A:DEVICE_MANAGER"]
    r = world.call(
        "POST",
        "/api/v2/devices/bulk",
        auth,
        json={"deviceTypeId": fleet.types["A"], "prefix": "meter-", "data": data},
    )
    assert r.status_code == 201, r.text
    started = r.json()
    assert started["total"] == 8
    status = wait_job(world, started["jobId"], auth)
    assert status["jobDone"] and status["total"] == 8
    assert status["status"]["success"] == 2
    failed = {f["line"]: f for f in status["status"]["failed"]}
    assert sorted(failed) == [3, 4, 5, 6, 7, 8]
    assert "already exists" in failed[3]["message"] and "already exists" in failed[4]["message"]
    assert failed[5]["message"].startswith("id:") and failed[6]["message"].startswith("pac:")
    assert failed[7]["message"].startswith("name:") and failed[8]["message"].startswith("lat:")
    made = world.ok("GET", f"/api/v2/devices/{base}1")
    assert made["name"] == f"meter-{base}1" and made["deviceType"]["id"] == fleet.types["A"]
    assert world.ok("GET", f"/api/v2/devices/{base}2")["name"] == "named"
    # the job's status is for those who see the device type's group
    assert (
        world.call(
            "GET", f"/api/v2/devices/bulk/{started['jobId']}", world.keys["B:ADMIN"]
        ).status_code
        == 404
    )
    # an unknown device type fails the whole request at once
    unknown = {"deviceTypeId": secrets.token_hex(12), "data": [{"id": "1", "pac": PAC}]}
    assert world.call("POST", "/api/v2/devices/bulk", auth, json=unknown).status_code == 404
    assert world.call("GET", "/api/v2/devices/bulk/nope", auth).status_code == 404


def test_message_metric_counts_the_last_day_week_and_month(world: World) -> None:  # noqa: F811
    device = new_device(world, new_type(world, "A"))
    now = int(time.time())
    ages = {1: 3600, 2: 3 * 86400, 3: 6 * 86400, 4: 20 * 86400, 5: 45 * 86400}  # seq: seconds
    for seq, age in ages.items():
        body = {"device": device, "time": now - age, "seqNumber": seq, "data": "01"}
        assert world.http.post("/sigfox/uplink", json=body, auth=SIGFOX).status_code == 204
    metric = world.ok("GET", f"/api/v2/devices/{device}/messages/metric")
    assert metric == {"lastDay": 1, "lastWeek": 3, "lastMonth": 4}
    # an id never heard: zeros (root callers only, as its messages)
    empty = world.ok("GET", "/api/v2/devices/ABCDE0/messages/metric")
    assert empty == {"lastDay": 0, "lastWeek": 0, "lastMonth": 0}
    # A's viewer reads it; B's admin does not see the device
    a_viewer, b_admin = world.keys["A:VIEWER"], world.keys["B:ADMIN"]
    url = f"/api/v2/devices/{device}/messages/metric"
    assert world.call("GET", url, a_viewer).json() == metric
    assert world.call("GET", url, b_admin).status_code == 404


def test_locations_user_set_first_then_messages_newest_first_with_paging(
    world: World,  # noqa: F811
) -> None:
    device_type = new_type(world, "A")
    placed = new_device(world, device_type, lat=48.85, lng=2.35)
    unplaced = new_device(world, device_type)
    for device in (placed, unplaced):
        for seq, position in (
            (1, {"lat": 43.0, "lng": 1.0}),
            (2, {}),
            (3, {"lat": 44.0, "lng": 5.0}),
        ):
            assert uplink(world.http, device, seq, **position).status_code == 204
    url = f"/api/v2/devices/{placed}/locations"
    found = world.ok("GET", url)
    assert found["paging"].get("next") is None
    assert [(x["source"], x["lat"], x["lng"], x.get("seqNumber")) for x in found["data"]] == [
        ("user", 48.85, 2.35, None),
        ("message", 44.0, 5.0, 3),
        ("message", 43.0, 1.0, 1),
    ]
    assert [x["time"] for x in found["data"][1:]] == [1_700_000_003_000, 1_700_000_001_000]
    assert all(x["valid"] and x["radius"] is None for x in found["data"])
    # paging: limit 2, then the rest by the next link
    first = world.ok("GET", url, params={"limit": 2})
    assert [x["source"] for x in first["data"]] == ["user", "message"]
    rest = world.ok("GET", first["paging"]["next"])
    assert [x["seqNumber"] for x in rest["data"]] == [1] and rest["paging"].get("next") is None
    assert world.ok("GET", url, params={"offset": 3})["data"] == []
    # no position set: messages only
    other = world.ok("GET", f"/api/v2/devices/{unplaced}/locations")["data"]
    assert [x["seqNumber"] for x in other] == [3, 1]
    # isolation
    assert world.call("GET", url, world.keys["A:VIEWER"]).status_code == 200
    assert world.call("GET", url, world.keys["B:ADMIN"]).status_code == 404


def test_the_device_routes_are_in_the_openapi_document(world: World) -> None:  # noqa: F811
    spec = world.http.get("/api/openapi.json").json()
    for path, method in [
        ("/api/v2/device-types", "get"),
        ("/api/v2/device-types", "post"),
        ("/api/v2/device-types/{device_type_id}", "put"),
        ("/api/v2/device-types/{device_type_id}/messages", "get"),
        ("/api/v2/devices", "get"),
        ("/api/v2/devices/{device_id}", "delete"),
        ("/api/v2/devices/bulk", "post"),
        ("/api/v2/devices/bulk/{job_id}", "get"),
        ("/api/v2/devices/{device_id}/messages/metric", "get"),
        ("/api/v2/devices/{device_id}/locations", "get"),
    ]:
        assert "422" not in basic_auth_operation(spec, path, method)["responses"], path


# -- devices heard but not registered ------------------------------------------------------


def test_unknown_devices_are_provisioned_by_default(
    lorafox_factory: Callable[..., Running], tmp_path: Path
) -> None:
    data_dir = tmp_path / "provision"
    lorafox = lorafox_factory(mqtt_port=0, data_dir=data_dir)
    admin = ("admin", "admin-secret-pw")
    with httpx.Client(base_url=lorafox.base_url, timeout=10) as http:
        root = next(
            g for g in http.get("/api/v2/groups", auth=admin).json()["data"] if not g["path"]
        )
        [unregistered] = http.get("/api/v2/device-types", auth=admin).json()["data"]
        assert unregistered["name"] == "Unregistered" and unregistered["group"]["id"] == root["id"]
        chosen = secrets.token_hex(12)
        made = http.post("/api/v2/device-types", json={"id": chosen, "name": "meters"}, auth=admin)
        assert made.status_code == 201, made.text
        assert uplink(http, "00ab", 1, deviceTypeId=chosen).status_code == 204
        # the "Unregistered" type comes back when it was deleted
        assert (
            http.delete(f"/api/v2/device-types/{unregistered['id']}", auth=admin).status_code == 204
        )
        assert uplink(http, "cd", 1, deviceTypeId=secrets.token_hex(12)).status_code == 204
        assert uplink(http, "cd", 2).status_code == 204
        ab = http.get("/api/v2/devices/AB", auth=admin).json()
        assert ab["deviceType"]["id"] == chosen and ab["provisioned"] is True and ab["pac"] == ""
        cd = http.get("/api/v2/devices/CD", auth=admin).json()
        unregistered = http.get(f"/api/v2/device-types/{cd['deviceType']['id']}", auth=admin).json()
        assert unregistered["name"] == "Unregistered" and cd["sequenceNumber"] == 2
        deleting = http.delete(f"/api/v2/device-types/{chosen}", auth=admin)
        assert deleting.status_code == 409
    # a restart knows them (the registry is loaded from the database): no second "Unregistered"
    lorafox.stop()
    again = lorafox_factory(mqtt_port=0, data_dir=data_dir)
    with httpx.Client(base_url=again.base_url, timeout=10) as http:
        assert uplink(http, "AB", 2).status_code == 204
        types = http.get("/api/v2/device-types", auth=admin).json()["data"]
        assert sorted(t["name"] for t in types) == ["Unregistered", "meters"]
        listed = http.get("/api/v2/devices", auth=admin).json()["data"]
        assert [(d["id"], d["deviceType"]["id"]) for d in listed] == [
            ("AB", chosen),
            ("CD", unregistered["id"]),
        ]


def test_unknown_devices_are_refused_when_set(
    lorafox_factory: Callable[..., Running], caplog: pytest.LogCaptureFixture
) -> None:
    lorafox = lorafox_factory(mqtt_port=0, sigfox={"unknown_devices": "refuse"})
    admin = ("admin", "admin-secret-pw")
    with httpx.Client(base_url=lorafox.base_url, timeout=10) as http, caplog.at_level(logging.INFO):
        assert http.get("/api/v2/device-types", auth=admin).json()["data"] == []
        refused = uplink(http, "1A2B", 1)
        assert refused.status_code == 404
        assert refused.json()["message"] == "device 1A2B is not registered"
        bidir = http.post(
            "/sigfox/bidir", json={"device": "1A2B", "ack": True}, auth=SIGFOX
        )  # a downlink request without an uplink
        assert bidir.status_code == 404
        assert any("1A2B refused: it is not registered" in r.getMessage() for r in caplog.records)
        assert http.get("/api/v2/devices/1A2B/messages", auth=admin).json()["data"] == []
        device_type = http.post("/api/v2/device-types", json={"name": "t"}, auth=admin).json()
        body = {"id": "1a2b", "name": "n", "deviceTypeId": device_type["id"], "pac": PAC}
        assert http.post("/api/v2/devices", json=body, auth=admin).status_code == 201
        assert uplink(http, "1A2B", 2).status_code == 204
        assert http.get("/api/v2/devices/1A2B", auth=admin).json()["sequenceNumber"] == 2


@pytest.mark.parametrize("key", ["A:ADMIN", "A:DEVICE_MANAGER", "root:DEVICE_MANAGER"])
def test_only_a_root_admin_chooses_a_device_type_id(world: World, key: str) -> None:  # noqa: F811
    """A chosen id decides where unknown devices naming it are provisioned: a tenant may not
    squat one (the server chooses it); the root ADMIN may (to keep a Sigfox device type's)."""
    chosen = secrets.token_hex(12)
    group = "root" if key.startswith("root") else "A"
    body = {"name": "squat", "groupId": world.groups[group], "id": chosen}
    refused = world.call("POST", "/api/v2/device-types", world.keys[key], json=body)
    assert refused.status_code == 403, refused.text
    assert "root group" in refused.json()["message"]
    gone = world.call("GET", f"/api/v2/device-types/{chosen}", world.keys["root:ADMIN"])
    assert gone.status_code == 404
    unchosen = {"name": "mine", "groupId": world.groups[group]}
    made = world.call("POST", "/api/v2/device-types", world.keys[key], json=unchosen)
    assert made.status_code == 201 and made.json()["id"] != chosen
    assert world.ok("POST", "/api/v2/device-types", 201, json=body)["id"] == chosen


def test_deleting_a_device_ends_its_queued_downlinks(world: World) -> None:  # noqa: F811
    """The id's next owner (another group) must not get the old owner's downlink nor read its
    history; the root ADMIN still reads all of it."""
    device = new_device(world, new_type(world, "A"))
    owner_a, owner_b = world.keys["A:DEVICE_MANAGER"], world.keys["B:ADMIN"]
    for seq in (1, 5):  # 2 to 4 lost: an event of A's registration
        assert uplink(world.http, device, seq, lat=45.5, lng=6.25).status_code == 204
    url = f"/api/v2/devices/{device}/downlinks"
    queued = world.call("POST", url, owner_a, json={"data": "0102030405060708"})
    assert queued.status_code == 201, queued.text
    assert world.call("DELETE", f"/api/v2/devices/{device}", owner_a).status_code == 204
    body = {"id": device, "name": "d", "deviceTypeId": new_type(world, "B"), "pac": PAC}
    assert world.call("POST", "/api/v2/devices", owner_b, json=body).status_code == 201
    bidir = {"device": device, "time": 1_700_000_100, "seqNumber": 9, "data": "01", "ack": True}
    assert world.http.post("/sigfox/bidir", json=bidir, auth=SIGFOX).status_code == 204
    history = world.ok("GET", url)["data"]
    assert [(d["id"], d["state"]) for d in history] == [(queued.json()["id"], "expired")]
    assert world.call("GET", url, owner_b).json()["data"] == []
    messages = f"/api/v2/devices/{device}/messages"
    assert [m["seqNumber"] for m in world.ok("GET", messages)["data"]] == [9, 5, 1]
    assert [m["seqNumber"] for m in world.call("GET", messages, owner_b).json()["data"]] == [9]
    events = f"/api/v2/devices/{device}/events"
    a_lost = "3 message(s) lost between sequence numbers 1 and 5"
    assert a_lost in [e["message"] for e in world.ok("GET", events)["data"]]
    seen_by_b = [e["message"] for e in world.call("GET", events, owner_b).json()["data"]]
    assert a_lost not in seen_by_b
    locations = f"/api/v2/devices/{device}/locations"
    assert {(p["lat"], p["lng"]) for p in world.ok("GET", locations)["data"]} == {(45.5, 6.25)}
    assert world.call("GET", locations, owner_b).json()["data"] == []
