"""``/api/v2/lora/integrations``: the token shown once, secrets never read back, RBAC and group
isolation as for the other resources, bad input answered 4xx with a JSON body."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import ADMIN_PASSWORD, Running
from tests.integration.helpers import created, new_api_user

ADMIN = ("admin", ADMIN_PASSWORD)


@pytest.fixture
def http(lorafox: Running) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=lorafox.base_url, auth=ADMIN, timeout=10) as client:
        yield client


def _root(http: httpx.Client) -> str:
    [root] = [g for g in http.get("/api/v2/groups").json()["data"] if not g["path"]]
    return str(root["id"])


def test_create_read_update_delete(http: httpx.Client) -> None:
    root = _root(http)
    device_type = created(http, "/api/v2/device-types", {"name": "lora", "groupId": root})
    body = {
        "name": "tts eu1",
        "kind": "tts",
        "groupId": root,
        "deviceTypeId": device_type["id"],
        "appEui": "800000000000000C",
        "config": {"downlinkPushUrl": "http://127.0.0.1:1/push", "downlinkApiKey": "NNSXS.x"},
    }
    made = created(http, "/api/v2/lora/integrations", body)
    assert len(made["token"]) == 32
    read = http.get(f"/api/v2/lora/integrations/{made['id']}").json()
    assert read["kind"] == "tts"
    assert read["appEui"] == "800000000000000c"
    assert "token" not in read
    assert read["config"] == {"downlinkPushUrl": "http://127.0.0.1:1/push"}
    assert read["secrets"] == ["downlinkApiKey"]
    listed = http.get("/api/v2/lora/integrations").json()["data"]
    assert [i["id"] for i in listed] == [made["id"]]
    answer = http.put(
        f"/api/v2/lora/integrations/{made['id']}",
        json={"name": "renamed", "config": {"priority": "HIGH"}},
    )
    assert answer.status_code == 204, answer.text
    read = http.get(f"/api/v2/lora/integrations/{made['id']}").json()
    assert read["name"] == "renamed"
    assert read["secrets"] == ["downlinkApiKey"]  # kept when left out
    assert http.delete(f"/api/v2/lora/integrations/{made['id']}").status_code == 204
    assert http.get(f"/api/v2/lora/integrations/{made['id']}").status_code == 404


@pytest.mark.parametrize(
    "change",
    [
        {"kind": "ttn-v2"},
        {"appEui": "not hex"},
        {"config": {"unknown": "x"}},
        {"kind": "semtech", "config": {"addresses": ["not an address"]}},
        {"name": ""},
        {"groupId": "f" * 24},
    ],
)
def test_bad_input_is_a_4xx_with_a_json_body(http: httpx.Client, change: dict[str, object]) -> None:
    body = {"name": "x", "kind": "chirpstack", "groupId": _root(http), **change}
    answer = http.post("/api/v2/lora/integrations", json=body)
    assert 400 <= answer.status_code < 500, answer.text
    assert isinstance(answer.json(), dict)


def test_group_isolation_and_roles(http: httpx.Client) -> None:
    root = _root(http)
    a = created(http, "/api/v2/groups", {"name": "group A", "parentId": root})["id"]
    b = created(http, "/api/v2/groups", {"name": "group B", "parentId": root})["id"]
    in_b = created(
        http, "/api/v2/lora/integrations", {"name": "b", "kind": "chirpstack", "groupId": b}
    )
    viewer = new_api_user(http, a, "viewer", "VIEWER")
    manager = new_api_user(http, a, "manager", "DEVICE_MANAGER")
    body = {"name": "a", "kind": "chirpstack", "groupId": a}
    assert http.post("/api/v2/lora/integrations", json=body, auth=viewer).status_code == 403
    mine = created(http, "/api/v2/lora/integrations", body, auth=manager)
    assert http.get(f"/api/v2/lora/integrations/{in_b['id']}", auth=manager).status_code == 404
    assert http.delete(f"/api/v2/lora/integrations/{in_b['id']}", auth=manager).status_code == 404
    listed = http.get("/api/v2/lora/integrations", auth=viewer).json()["data"]
    assert [i["id"] for i in listed] == [mine["id"]]
    assert http.delete(f"/api/v2/lora/integrations/{mine['id']}", auth=viewer).status_code == 403


def test_a_lora_device_registered_by_api_before_its_first_uplink(http: httpx.Client) -> None:
    root = _root(http)
    device_type = created(http, "/api/v2/device-types", {"name": "lora sensors", "groupId": root})
    body = {
        "id": "A84041D55182720B",
        "name": "sensor",
        "deviceTypeId": device_type["id"],
        "pac": "0000000000000000",
    }
    made = created(http, "/api/v2/devices", body)
    assert made["id"] == "a84041d55182720b"
    read = http.get("/api/v2/devices/A84041D55182720B")
    assert read.status_code == 200, read.text
    assert read.json()["name"] == "sensor"
    assert http.get("/api/v2/devices/0a84041d55182720b").status_code in (400, 404)
