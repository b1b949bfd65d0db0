"""A downlink push to a network server that cannot be reached is tried again with a growing
wait, without waiting for the device's next uplink: it reaches the server once the server comes
up; one that stays unreachable past the give-up time (counted from when the downlink was
queued, across a restart) fails with an event."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.conftest import ADMIN_PASSWORD, free_port
from tests.integration.helpers import created, serving
from tests.integration.test_lora_http import sample
from tests.mqtt_helpers import wait_until

ADMIN = ("admin", ADMIN_PASSWORD)
DEVICE = "0102030405060708"
FAST = {
    "downlink_retry_seconds": 0.2,
    "downlink_retry_max_seconds": 0.5,
    "downlink_give_up_seconds": 60,
}


class PushServer:
    """The Things Stack's downlink push endpoint on ``port``, recording each body."""

    def __init__(self, port: int) -> None:
        self.bodies: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                receiver.bodies.append(orjson.loads(self.rfile.read(length)))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _downlinks(http: httpx.Client) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = http.get(f"/api/v2/devices/{DEVICE}/downlinks").json()["data"]
    return found


def _heard(http: httpx.Client, base_url: str, push_url: str) -> None:
    """A TTS integration, and the device heard through it (its push URL is ``push_url``)."""
    [root] = [g for g in http.get("/api/v2/groups").json()["data"] if not g["path"]]
    made = created(
        http, "/api/v2/lora/integrations", {"name": "tts", "kind": "tts", "groupId": root["id"]}
    )
    headers = {
        "authorization": f"Bearer {made['token']}",
        "x-downlink-push": push_url,
        "x-downlink-apikey": "NNSXS.K",
    }
    answer = httpx.post(
        f"{base_url}/lora/tts/{made['id']}/up", json=sample("tts_uplink.json"), headers=headers
    )
    assert answer.status_code == 200, answer.text


def test_a_push_is_retried_until_the_network_server_comes_up(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there yet
    push_url = f"http://127.0.0.1:{port}/devices/dev1/down/push"
    with (
        serving(tmp_path / "data", lora=FAST) as lorafox,
        httpx.Client(base_url=lorafox.base_url, auth=ADMIN, timeout=10) as http,
    ):
        _heard(http, lorafox.base_url, push_url)
        answer = http.post(f"/api/v2/devices/{DEVICE}/downlinks", json={"data": "01", "fPort": 5})
        assert answer.status_code == 201, answer.text
        peer = PushServer(port)  # the network server comes up; no uplink comes
        try:
            [pushed] = wait_until(lambda: peer.bodies)
            assert pushed["downlinks"][0]["frm_payload"] == "AQ=="
            [downlink] = _downlinks(http)
            assert downlink["state"] == "queued"
            assert downlink["networkId"] == pushed["downlinks"][0]["correlation_ids"][0]
        finally:
            peer.close()
        assert len(peer.bodies) == 1  # handed over once


def test_a_downlink_never_handed_over_fails_after_the_give_up_time_even_across_a_restart(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    push_url = f"http://127.0.0.1:{free_port()}/devices/dev1/down/push"  # never up
    settings = {**FAST, "downlink_give_up_seconds": 3}
    with (
        serving(data, lora=settings) as lorafox,
        httpx.Client(base_url=lorafox.base_url, auth=ADMIN, timeout=10) as http,
    ):
        _heard(http, lorafox.base_url, push_url)
        answer = http.post(f"/api/v2/devices/{DEVICE}/downlinks", json={"data": "02", "fPort": 5})
        assert answer.status_code == 201, answer.text
        assert [d["state"] for d in _downlinks(http)] == ["queued"]
    with (
        serving(data, lora=settings) as lorafox,
        httpx.Client(base_url=lorafox.base_url, auth=ADMIN, timeout=10) as http,
    ):
        [failed] = wait_until(
            lambda: [d for d in _downlinks(http) if d["state"] == "failed"], timeout=20
        )
        assert "unreachable" in failed["infoMessage"]

        def failures() -> list[dict[str, Any]]:
            found = http.get(f"/api/v2/devices/{DEVICE}/events").json()["data"]
            return [e for e in found if e["data"].get("event") == "downlink-failed"]

        [event] = wait_until(failures)
        assert str(event["data"]["downlink"]) == str(failed["id"])
        assert event["severity"] == "WARN"
