"""History retention as an operator sets it: ``history.retention_days`` for the instance, a
device type's ``retentionDays`` through the API; old messages leave the API's listings."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from tests.conftest import ADMIN_PASSWORD, SIGFOX_PASSWORD, SIGFOX_USER, Running
from tests.mqtt_helpers import wait_until

ADMIN = ("admin", ADMIN_PASSWORD)
SIGFOX = (SIGFOX_USER, SIGFOX_PASSWORD)
PAC = "0011223344556677"
DAY = 86_400


def test_device_types_keep_their_history_as_long_as_they_say(
    lorafox_factory: Callable[..., Running],
) -> None:
    lorafox = lorafox_factory(history={"retention_days": 30, "purge_seconds": 0.3})
    with httpx.Client(base_url=lorafox.base_url, auth=ADMIN, timeout=10) as http:
        [root] = [g["id"] for g in http.get("/api/v2/groups").json()["data"] if not g["path"]]

        def device_type(name: str, **fields: object) -> dict[str, object]:
            answer = http.post(
                "/api/v2/device-types", json={"name": name, "groupId": root, **fields}
            )
            assert answer.status_code == 201, answer.text
            return http.get(f"/api/v2/device-types/{answer.json()['id']}").json()  # type: ignore[no-any-return]

        short = device_type("short", retentionDays=2)
        default = device_type("default")
        assert (short["retentionDays"], default.get("retentionDays")) == (2, None)

        for bad in (-1, 36_501, "soon"):
            answer = http.post(
                "/api/v2/device-types", json={"name": "bad", "groupId": root, "retentionDays": bad}
            )
            assert answer.status_code == 400, answer.text
            assert "retentionDays" in answer.text

        now = int(time.time())
        devices = {"short": ("A1B2C3", short["id"]), "default": ("D4E5F6", default["id"])}
        for device, type_id in devices.values():
            body = {"id": device, "name": device, "deviceTypeId": type_id, "pac": PAC}
            assert http.post("/api/v2/devices", json=body).status_code == 201
            for seq, days_ago in enumerate((40, 10, 0), 1):
                uplink = {
                    "device": device,
                    "time": now - days_ago * DAY,
                    "data": "01",
                    "seqNumber": seq,
                }
                answer = httpx.post(f"{lorafox.base_url}/sigfox/uplink", json=uplink, auth=SIGFOX)
                assert answer.status_code == 204, answer.text

        def seqs(device: str) -> list[int]:
            data = http.get(f"/api/v2/devices/{device}/messages").json()["data"]
            return sorted(m["seqNumber"] for m in data)

        wait_until(lambda: seqs("A1B2C3") == [3] and seqs("D4E5F6") == [2, 3], timeout=10)

        # back to the instance's setting (null), then kept forever (0)
        assert (
            http.put(
                f"/api/v2/device-types/{short['id']}", json={"retentionDays": None}
            ).status_code
            == 204
        )
        assert http.get(f"/api/v2/device-types/{short['id']}").json().get("retentionDays") is None
        changed = http.put(f"/api/v2/device-types/{default['id']}", json={"retentionDays": 0})
        assert changed.status_code == 204, changed.text
        kept = http.put(f"/api/v2/device-types/{default['id']}", json={"description": "kept"})
        assert kept.status_code == 204
        assert http.get(f"/api/v2/device-types/{default['id']}").json()["retentionDays"] == 0
