"""Positions a network server solves for a device (ChirpStack ``location``, The Things Stack
``location_solved``), posted over HTTP, become its latest message's computed location in
``/api/v2/devices/{devEui}/locations``; a malformed one is only an event."""

from __future__ import annotations

import httpx

from tests.conftest import ADMIN_PASSWORD, Running
from tests.integration.helpers import created
from tests.integration.test_lora_http import sample

ADMIN = ("admin", ADMIN_PASSWORD)


def _integration(http: httpx.Client, kind: str) -> tuple[str, dict[str, str]]:
    [root] = [g for g in http.get("/api/v2/groups").json()["data"] if not g["path"]]
    made = created(
        http, "/api/v2/lora/integrations", {"name": kind, "kind": kind, "groupId": root["id"]}
    )
    return made["id"], {"authorization": f"Bearer {made['token']}"}


def _computed(http: httpx.Client, device: str) -> list[tuple[float, float, int | None]]:
    answer = http.get(f"/api/v2/devices/{device}/locations")
    assert answer.status_code == 200, answer.text
    return [
        (p["lat"], p["lng"], p["radius"])
        for p in answer.json()["data"]
        if p["source"] == "computed"
    ]


def test_solved_positions_feed_the_device_locations(lorafox: Running) -> None:
    with (
        httpx.Client(base_url=lorafox.base_url, auth=ADMIN, timeout=10) as http,
        httpx.Client(base_url=lorafox.base_url, timeout=10) as ns,
    ):
        integration, auth = _integration(http, "chirpstack")
        url = f"/lora/chirpstack/{integration}"
        up = sample("chirpstack_up.json")
        up["fCnt"] = 77
        assert ns.post(url, params={"event": "up"}, json=up, headers=auth).status_code == 200
        device = "0101010101010101"
        bad = {"deviceInfo": up["deviceInfo"], "location": {"latitude": "north"}}
        answer = ns.post(url, params={"event": "location"}, json=bad, headers=auth)
        assert answer.status_code == 200 and answer.json()["kind"] == "event"
        assert _computed(http, device) == []
        location = {
            "deviceInfo": up["deviceInfo"],
            "location": {"latitude": 48.85, "longitude": 2.35, "source": "GEO_RESOLVER_TDOA"},
        }
        answer = ns.post(url, params={"event": "location"}, json=location, headers=auth)
        assert answer.status_code == 200, answer.text
        assert _computed(http, device)[0] == (48.85, 2.35, None)

        integration, auth = _integration(http, "tts")
        tts_up = sample("tts_uplink.json")
        tts_up["uplink_message"]["f_cnt"] = 9001
        answer = ns.post(f"/lora/tts/{integration}", json=tts_up, headers=auth)
        assert answer.status_code == 200, answer.text
        solved = {
            "end_device_ids": tts_up["end_device_ids"],
            "location_solved": {
                "service": "lora-cloud-device-management-v1-gnss",
                "location": {"latitude": 37.97, "longitude": 23.72, "accuracy": 13.6},
            },
        }
        answer = ns.post(f"/lora/tts/{integration}/location", json=solved, headers=auth)
        assert answer.status_code == 200, answer.text
        assert _computed(http, "0102030405060708")[0] == (37.97, 23.72, 14)
