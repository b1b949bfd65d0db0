"""/metrics counts LoRa frames, uplinks stored or duplicate and downlinks handed over, acked
and failed, per network server kind (a TTS webhook played over HTTP, its downlink push received
by a local HTTP server)."""

from __future__ import annotations

import httpx
import orjson

from tests.conftest import ADMIN_PASSWORD, Running
from tests.integration.helpers import created
from tests.integration.test_lora_http import FakePeer, sample
from tests.mqtt_helpers import wait_until

ADMIN = ("admin", ADMIN_PASSWORD)
DEVICE = "0102030405060708"


def _metric(text: str, line_start: str) -> float:
    found = [line for line in text.splitlines() if line.startswith(line_start + " ")]
    return float(found[0].rsplit(" ", 1)[1]) if found else 0.0


def test_lora_figures_in_metrics(lorafox: Running) -> None:
    peer = FakePeer()
    try:
        with (
            httpx.Client(base_url=lorafox.base_url, auth=ADMIN, timeout=10) as http,
            httpx.Client(base_url=lorafox.base_url, timeout=10) as ns,
        ):
            before = http.get("/metrics").text
            [root] = [g for g in http.get("/api/v2/groups").json()["data"] if not g["path"]]
            made = created(
                http,
                "/api/v2/lora/integrations",
                {"name": "m", "kind": "tts", "groupId": root["id"]},
            )
            auth = {"authorization": f"Bearer {made['token']}"}
            headers = {**auth, "x-downlink-push": f"{peer.url}/push", "x-downlink-apikey": "K"}
            up = sample("tts_uplink.json")
            up["uplink_message"]["f_cnt"] = 4242
            for _ in range(2):  # the second copy is a duplicate
                answer = ns.post(f"/lora/tts/{made['id']}/up", json=up, headers=headers)
                assert answer.status_code == 200, answer.text
            for _ in range(2):
                answer = http.post(
                    f"/api/v2/devices/{DEVICE}/downlinks", json={"data": "aa", "fPort": 3}
                )
                assert answer.status_code < 300, answer.text
            wait_until(lambda: len(peer.requests) == 2)
            ack = sample("tts_downlink_ack.json")
            ack["downlink_ack"]["correlation_ids"].extend(
                orjson.loads(peer.requests[0][2])["downlinks"][0]["correlation_ids"]
            )
            assert ns.post(f"/lora/tts/{made['id']}/ack", json=ack, headers=auth).status_code == 200
            failed = sample("tts_downlink_failed.json")
            failed["downlink_failed"]["downlink"]["correlation_ids"].extend(
                orjson.loads(peer.requests[1][2])["downlinks"][0]["correlation_ids"]
            )
            answer = ns.post(f"/lora/tts/{made['id']}/failed", json=failed, headers=auth)
            assert answer.status_code == 200
            after = http.get("/metrics").text

            def grew(name: str) -> float:
                return _metric(after, name) - _metric(before, name)

            assert grew('lorafox_lora_frames_total{kind="tts"}') == 2
            assert grew('lorafox_lora_uplinks_total{kind="tts",result="stored"}') == 1
            assert grew('lorafox_lora_uplinks_total{kind="tts",result="duplicate"}') == 1
            assert grew('lorafox_lora_downlinks_total{event="handed-over",kind="tts"}') == 2
            assert grew('lorafox_lora_downlinks_total{event="acked",kind="tts"}') == 1
            assert grew('lorafox_lora_downlinks_total{event="failed",kind="tts"}') == 1
    finally:
        peer.close()
