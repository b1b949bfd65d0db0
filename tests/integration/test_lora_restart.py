"""A LoRa downlink queued before a restart, or whose hand-over a stop cut short, reaches The
Things Stack's push URL (a local HTTP server) once after the restart, without waiting for the
device's next uplink: where each device's downlinks go is kept in the store."""

from __future__ import annotations

import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.conftest import ADMIN_PASSWORD, execute_sql
from tests.integration.helpers import created, serving
from tests.integration.test_lora_http import sample
from tests.mqtt_helpers import wait_until

ADMIN = ("admin", ADMIN_PASSWORD)
DEVICE = "0102030405060708"


class PushReceiver:
    """The TTS downlink push endpoint: answers ``status`` (changeable), records each body."""

    def __init__(self) -> None:
        self.status = 503
        self.bodies: list[tuple[int, dict[str, Any]]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                receiver.bodies.append((receiver.status, orjson.loads(self.rfile.read(length))))
                self.send_response(receiver.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/devices/dev1/down/push"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def accepted(self) -> list[int]:
        """The payloads (their first byte) of the pushes answered 200."""
        return [
            int.from_bytes(base64.b64decode(b["downlinks"][0]["frm_payload"])[:1])
            for status, b in self.bodies
            if status == 200
        ]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _downlinks(base_url: str) -> list[dict[str, Any]]:
    with httpx.Client(base_url=base_url, auth=ADMIN, timeout=10) as http:
        found: list[dict[str, Any]] = http.get(f"/api/v2/devices/{DEVICE}/downlinks").json()["data"]
    return found


def test_downlinks_queued_before_a_restart_reach_the_network_server_once(
    tmp_path: Path,
) -> None:
    peer = PushReceiver()
    data = tmp_path / "data"
    try:
        with (
            serving(data) as lorafox,
            httpx.Client(base_url=lorafox.base_url, auth=ADMIN, timeout=10) as http,
        ):
            [root] = [g for g in http.get("/api/v2/groups").json()["data"] if not g["path"]]
            body = {"name": "tts", "kind": "tts", "groupId": root["id"]}
            made = created(http, "/api/v2/lora/integrations", body)
            auth = {"authorization": f"Bearer {made['token']}"}
            headers = {**auth, "x-downlink-push": peer.url, "x-downlink-apikey": "NNSXS.K"}
            up = sample("tts_uplink.json")
            answer = httpx.post(
                f"{lorafox.base_url}/lora/tts/{made['id']}/up", json=up, headers=headers
            )
            assert answer.status_code == 200, answer.text
            ids = []
            for first in ("01", "02"):  # the push URL answers 503: both stay queued
                queued = {"data": first + "ff", "fPort": 5}
                answer = http.post(f"/api/v2/devices/{DEVICE}/downlinks", json=queued)
                assert answer.status_code in (200, 201, 202), answer.text
                ids.append(int(answer.json()["id"]))
            wait_until(lambda: len(peer.bodies) >= 2)
        # the second one's hand-over as a stop would have cut it short
        execute_sql(
            data,
            f"UPDATE downlinks SET network_id = 'handing-over' WHERE id = {max(ids):d}",  # noqa: S608
        )
        peer.status = 200
        with serving(data) as lorafox:
            wait_until(lambda: sorted(peer.accepted()) == [1, 2])
            found = _downlinks(lorafox.base_url)
            assert [d["state"] for d in found] == ["queued", "queued"]
            with httpx.Client(base_url=lorafox.base_url, timeout=10) as ns:
                for status, pushed in peer.bodies:
                    if status != 200:
                        continue
                    ack = sample("tts_downlink_ack.json")
                    ack["downlink_ack"]["correlation_ids"].extend(
                        pushed["downlinks"][0]["correlation_ids"]
                    )
                    answer = ns.post(f"/lora/tts/{made['id']}/ack", json=ack, headers=auth)
                    assert answer.status_code == 200, answer.text
            assert [d["state"] for d in _downlinks(lorafox.base_url)] == ["acked", "acked"]
        assert sorted(peer.accepted()) == [1, 2]  # each once
    finally:
        peer.close()
