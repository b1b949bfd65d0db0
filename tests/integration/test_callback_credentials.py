"""Callbacks sent with an API user's credentials reach only that API user's devices: a
customer's Sigfox Back-End configured with its own API user cannot write into, or provision
into, another group."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import Running
from tests.integration.helpers import (
    ADMIN,
    SIGFOX,
    group_with_a_device,
    new_api_user,
    new_device_id,
)
from tests.integration.test_sigfox_flow import body


@dataclass
class Tenants:
    http: httpx.Client
    groups: dict[str, str]
    types: dict[str, str]
    devices: dict[str, str]
    keys: dict[str, tuple[str, str]]

    def device(self, device_id: str) -> dict[str, Any]:
        answer = self.http.get(f"/api/v2/devices/{device_id}", auth=ADMIN)
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found


@pytest.fixture
def tenants(lorafox_factory: Callable[..., Running]) -> Iterator[Tenants]:
    lorafox = lorafox_factory()
    with httpx.Client(base_url=lorafox.base_url, timeout=10) as http:
        [root] = [g for g in http.get("/api/v2/groups", auth=ADMIN).json()["data"] if not g["path"]]
        groups, types, devices, keys = {}, {}, {}, {}
        for name in ("A", "B"):
            groups[name], types[name], devices[name] = group_with_a_device(
                http, root["id"], f"customer {name}", name, auth=ADMIN
            )
        for key in ("A:DEVICE_MANAGER", "A:VIEWER"):
            group, profile = key.split(":")
            keys[key] = new_api_user(http, groups[group], key, profile, auth=ADMIN)
        yield Tenants(http, groups, types, devices, keys)


def test_an_api_users_callbacks_reach_its_own_devices_only(tenants: Tenants) -> None:
    http, a_key = tenants.http, tenants.keys["A:DEVICE_MANAGER"]
    a, b = tenants.devices["A"], tenants.devices["B"]
    own = http.post("/sigfox/uplink", json=body(a, 1, deviceTypeId=tenants.types["A"]), auth=a_key)
    assert own.status_code == 204, own.text
    foreign = http.post("/sigfox/uplink", json=body(b, 1), auth=a_key)
    assert foreign.status_code == 404, foreign.text
    listed = http.get(f"/api/v2/devices/{b}/messages", auth=ADMIN).json()["data"]
    assert listed == []  # nothing stored for B's device
    # BIDIR, SERVICE: the same rule
    assert http.post("/sigfox/bidir", json={"device": b}, auth=a_key).status_code == 404
    status = {"device": b, "time": 1_700_000_100, "temp": 21.0, "battery": 3.3}
    assert http.post("/sigfox/service/status", json=status, auth=a_key).status_code == 404
    status["device"] = a
    assert http.post("/sigfox/service/status", json=status, auth=a_key).status_code == 200


def test_provisioning_stays_in_the_senders_group(tenants: Tenants) -> None:
    http, a_key = tenants.http, tenants.keys["A:DEVICE_MANAGER"]
    # the callback names B's device type: not A's to use, so the device goes to A's own
    # "Unregistered" type, never into B's group
    squatted = new_device_id()
    sent = http.post(
        "/sigfox/uplink", json=body(squatted, 1, deviceTypeId=tenants.types["B"]), auth=a_key
    )
    assert sent.status_code == 204, sent.text
    made = tenants.device(squatted)
    assert made["group"]["id"] == tenants.groups["A"]
    assert made["deviceType"]["id"] != tenants.types["B"]
    # one of A's own types is used as named
    mine = new_device_id()
    sent = http.post(
        "/sigfox/uplink", json=body(mine, 1, deviceTypeId=tenants.types["A"]), auth=a_key
    )
    assert sent.status_code == 204, sent.text
    assert tenants.device(mine)["deviceType"]["id"] == tenants.types["A"]
    # the instance's own callback credentials still provision into any type named
    anywhere = new_device_id()
    sent = http.post(
        "/sigfox/uplink", json=body(anywhere, 1, deviceTypeId=tenants.types["B"]), auth=SIGFOX
    )
    assert sent.status_code == 204, sent.text
    assert tenants.device(anywhere)["deviceType"]["id"] == tenants.types["B"]


def test_callback_credentials_need_device_manager(tenants: Tenants) -> None:
    http = tenants.http
    viewer = tenants.keys["A:VIEWER"]
    device = tenants.devices["A"]
    answer = http.post("/sigfox/uplink", json=body(device, 1), auth=viewer)
    assert answer.status_code == 403, answer.text
    wrong = (tenants.keys["A:DEVICE_MANAGER"][0], "not-the-password")
    assert http.post("/sigfox/uplink", json=body(device, 1), auth=wrong).status_code == 401
    assert http.post("/sigfox/uplink", json=body(device, 1), auth=ADMIN).status_code == 401
