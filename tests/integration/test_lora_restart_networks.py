"""A LoRa downlink queued before a restart, or whose hand-over a stop cut short, reaches AWS IoT
Core for LoRaWAN (a local HTTP server), ChirpStack (its MQTT broker, a local Mosquitto) and a
Semtech network server (its socket) once after the restart, in each one's own form, and each
one's acknowledgement moves it to ``acked``."""

from __future__ import annotations

import base64
import copy
import shutil
import socket
import subprocess
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson

from tests.conftest import ADMIN_PASSWORD, execute_sql, free_port, require_binary
from tests.integration.helpers import created, serving
from tests.integration.test_lora_http import sample
from tests.mqtt_helpers import Recorder, wait_until

ADMIN = ("admin", ADMIN_PASSWORD)


class SendData:
    """AWS's ``SendDataToWirelessDevice``: answers ``status`` (changeable) with a new
    ``MessageId`` each time, records (status, path, body)."""

    def __init__(self) -> None:
        self.status = 503
        self.requests: list[tuple[int, str, dict[str, Any], str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = orjson.loads(self.rfile.read(length))
                message_id = str(uuid.uuid4())
                receiver.requests.append((receiver.status, self.path, body, message_id))
                answer = orjson.dumps({"MessageId": message_id})
                self.send_response(receiver.status)
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def accepted(self) -> list[tuple[int, str]]:
        """(first payload byte, MessageId) of each request answered 2xx."""
        return [
            (base64.b64decode(body["PayloadData"])[0], message_id)
            for status, _, body, message_id in self.requests
            if status < 300
        ]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _root(http: httpx.Client) -> str:
    [root] = [g for g in http.get("/api/v2/groups").json()["data"] if not g["path"]]
    return str(root["id"])


def _states(base_url: str, device: str) -> list[str]:
    with httpx.Client(base_url=base_url, auth=ADMIN, timeout=10) as http:
        found = http.get(f"/api/v2/devices/{device}/downlinks").json()["data"]
    return sorted(str(d["state"]) for d in found)


def _queue(http: httpx.Client, device: str, first_byte: str) -> int:
    answer = http.post(
        f"/api/v2/devices/{device}/downlinks", json={"data": first_byte + "ff", "fPort": 5}
    )
    assert answer.status_code in (200, 201, 202), answer.text
    return int(answer.json()["id"])


def _cut_short(data: Path, downlink: int) -> None:
    """The downlink's hand-over as a stop would have left it."""
    execute_sql(
        data,
        f"UPDATE downlinks SET network_id = 'handing-over' WHERE id = {downlink:d}",  # noqa: S608
    )


def test_aws_downlinks_queued_before_a_restart_reach_send_data_once(tmp_path: Path) -> None:
    peer = SendData()
    data = tmp_path / "data"
    device = "a84041d55182720b"
    config = {
        "endpoint": peer.url,
        "region": "eu-west-1",
        "accessKeyId": "AKIDEXAMPLE",
        "secretAccessKey": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    }
    try:
        with (
            serving(data) as lorafox,
            httpx.Client(base_url=lorafox.base_url, auth=ADMIN, timeout=10) as http,
        ):
            body = {"name": "aws", "kind": "aws-iotwireless", "groupId": _root(http)}
            made = created(http, "/api/v2/lora/integrations", {**body, "config": config})
            auth = {"authorization": f"Bearer {made['token']}"}
            up = sample("aws_uplink.json")
            answer = httpx.post(f"{lorafox.base_url}/lora/aws/{made['id']}", json=up, headers=auth)
            assert answer.status_code == 200, answer.text
            ids = [_queue(http, device, first) for first in ("01", "02")]  # AWS answers 503
            wait_until(lambda: len(peer.requests) >= 2)
        _cut_short(data, max(ids))
        peer.status = 202
        with serving(data) as lorafox:
            accepted = wait_until(
                lambda: sorted(peer.accepted()) if len(peer.accepted()) == 2 else []
            )
            assert [first for first, _ in accepted] == [1, 2]
            paths = {path for status, path, _, _ in peer.requests if status < 300}
            assert paths == {"/wireless-devices/11111111-1111-1111-1111-1111/data"}
            assert _states(lorafox.base_url, device) == ["queued", "queued"]
            with httpx.Client(base_url=lorafox.base_url, timeout=10) as ns:
                for count, (_, message_id) in enumerate(accepted, start=10):
                    acked = copy.deepcopy(up)
                    acked["WirelessMetadata"]["LoRaWAN"]["FCnt"] = count
                    acked["WirelessMetadata"]["LoRaWAN"]["AckedMessageId"] = message_id
                    answer = ns.post(f"/lora/aws/{made['id']}", json=acked, headers=auth)
                    assert answer.status_code == 200, answer.text
            assert _states(lorafox.base_url, device) == ["acked", "acked"]
        assert len(peer.accepted()) == 2  # each once
    finally:
        peer.close()


@contextmanager
def _mosquitto(port: int) -> Iterator[None]:
    """A Mosquitto of the test's own on ``port`` (anonymous, loopback only)."""
    require_binary("mosquitto")
    program = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    process = subprocess.Popen(
        [program, "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:

        def listening() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
            except OSError:
                return False
            return True

        wait_until(listening)
        yield
    finally:
        process.terminate()
        process.wait(10)


def test_chirpstack_downlinks_queued_before_a_restart_reach_its_broker_once(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    broker = free_port()  # nothing listens there before the restart
    up = sample("chirpstack_up.json")
    device = up["deviceInfo"]["devEui"]
    topic = f"application/{up['deviceInfo']['applicationId']}/device/{device}/command/down"
    with (
        serving(data) as lorafox,
        httpx.Client(base_url=lorafox.base_url, auth=ADMIN, timeout=10) as http,
    ):
        body = {"name": "cs", "kind": "chirpstack", "groupId": _root(http)}
        config = {"mqttUrl": f"mqtt://127.0.0.1:{broker}"}
        made = created(http, "/api/v2/lora/integrations", {**body, "config": config})
        auth = {"authorization": f"Bearer {made['token']}"}
        url = f"{lorafox.base_url}/lora/chirpstack/{made['id']}"
        answer = httpx.post(url, params={"event": "up"}, json=up, headers=auth)
        assert answer.status_code == 200, answer.text
        ids = [_queue(http, device, first) for first in ("01", "02")]
    _cut_short(data, max(ids))
    with _mosquitto(broker):
        commands = Recorder("127.0.0.1", broker, "application/+/device/+/command/down")
        try:
            with serving(data) as lorafox:
                found = commands.wait_for(topic, 2)
                assert sorted(base64.b64decode(c["data"])[0] for c in found) == [1, 2]
                assert {(c["devEui"], c["fPort"]) for c in found} == {(device, 5)}
                assert _states(lorafox.base_url, device) == ["queued", "queued"]
                url = f"{lorafox.base_url}/lora/chirpstack/{made['id']}"
                for command in found:
                    ack = {
                        "deviceInfo": up["deviceInfo"],
                        "queueItemId": command["id"],
                        "acknowledged": True,
                        "fCntDown": 3,
                    }
                    answer = httpx.post(url, params={"event": "ack"}, json=ack, headers=auth)
                    assert answer.status_code == 200, answer.text
                assert _states(lorafox.base_url, device) == ["acked", "acked"]
            assert len(commands.on(topic)) == 2  # each once
        finally:
            commands.close()


class _Peer:
    """A Semtech network server's side of the socket."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""

    def send(self, message: dict[str, Any]) -> None:
        self.sock.sendall(orjson.dumps(message) + b"\0")

    def read_frame(self) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("connection closed")
            self.buffer += chunk
        frame, _, self.buffer = self.buffer.partition(b"\0")
        found: dict[str, Any] = orjson.loads(frame)
        return found

    def close(self) -> None:
        self.sock.close()


def _semtech_uplink(seqno: int) -> dict[str, Any]:
    return {
        "app": {
            "moteeui": "9372163",
            "dir": "up",
            "seqno": seqno,
            "userdata": {"port": 1, "payload": "Af4="},
            "gwrx": [{"eui": "b827ebfffe000001", "rssi": -57, "lsnr": 9.5}],
        }
    }


def test_semtech_downlinks_queued_before_a_restart_reach_the_socket_once(tmp_path: Path) -> None:
    data = tmp_path / "data"
    device = "0000000009372163"
    with (
        serving(data, semtech_port=free_port()) as lorafox,
        httpx.Client(base_url=lorafox.base_url, auth=ADMIN, timeout=10) as http,
    ):
        body = {"name": "semtech", "kind": "semtech", "groupId": _root(http)}
        created(http, "/api/v2/lora/integrations", {**body, "config": {"addresses": ["127.0.0.1"]}})
        assert lorafox.service.semtech_port is not None
        peer = _Peer(lorafox.service.semtech_port)
        try:
            peer.send(_semtech_uplink(1))
            peer.send({"ackreq": 1})
            assert peer.read_frame() == {"ack": 1}
        finally:
            peer.close()
        ids = [_queue(http, device, "01")]  # no connection: it stays queued
    _cut_short(data, ids[0])
    with serving(data, semtech_port=free_port()) as lorafox:
        assert lorafox.service.semtech_port is not None
        peer = _Peer(lorafox.service.semtech_port)
        try:
            peer.send(_semtech_uplink(2))  # the device's next uplink opens its receive window
            app = peer.read_frame()["app"]
            assert (app["moteeui"], app["dir"]) == ("9372163", "dn")
            assert app["userdata"] == {"port": 5, "payload": "Af8="}
            assert _states(lorafox.base_url, device) == ["queued"]
            peer.send({"mote": {"eui": "9372163", "msgsent": app["token"]}})
            wait_until(lambda: _states(lorafox.base_url, device) == ["sent"])
            peer.send({"mote": {"eui": "9372163", "ackrx": ""}})
            wait_until(lambda: _states(lorafox.base_url, device) == ["acked"])
            peer.send(_semtech_uplink(3))
            peer.send({"ackreq": 2})
            assert peer.read_frame() == {"ack": 2}  # and nothing handed over again before it
        finally:
            peer.close()
