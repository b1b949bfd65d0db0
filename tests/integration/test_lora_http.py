"""ChirpStack v4 (HTTP, and its MQTT commands on the local Mosquitto), The Things Stack v3
webhooks and AWS IoT Core for LoRaWAN over real sockets: their uplinks stored and published,
bad input answered 4xx in JSON, and a downlink queued by MQTT reaching each peer in its own
form (checked by a local HTTP server: the TTS push body, the AWS SigV4 signature recomputed by
botocore) and coming back ``acked``."""

from __future__ import annotations

import base64
import copy
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import orjson
import pytest
from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]

from tests.conftest import ADMIN_PASSWORD, Running
from tests.integration.helpers import created
from tests.mqtt_helpers import Recorder, wait_until

ADMIN = ("admin", ADMIN_PASSWORD)
DATA = Path(__file__).resolve().parent.parent / "data" / "lora"
AWS_KEY, AWS_SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"


def sample(name: str) -> dict[str, Any]:
    found: dict[str, Any] = orjson.loads((DATA / name).read_bytes())
    return found


class FakePeer:
    """A local HTTP server recording each request and answering ``status``/``body``."""

    def __init__(self, status: int = 200, body: bytes = b"") -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        peer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                peer.requests.append(
                    (
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        self.rfile.read(length),
                    )
                )
                self.send_response(status)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def http(lorafox: Running) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=lorafox.base_url, auth=ADMIN, timeout=10) as client:
        yield client


@pytest.fixture
def ns(lorafox: Running) -> Iterator[httpx.Client]:
    """The network server's client (its own Bearer token in each request)."""
    with httpx.Client(base_url=lorafox.base_url, timeout=10) as client:
        yield client


@pytest.fixture
def recorder(lorafox: Running) -> Iterator[Recorder]:
    assert lorafox.mqtt_port is not None
    found = Recorder("127.0.0.1", lorafox.mqtt_port, "lora/#")
    yield found
    found.close()


def _integration(http: httpx.Client, kind: str, **extra: Any) -> tuple[str, dict[str, str]]:
    [root] = [g for g in http.get("/api/v2/groups").json()["data"] if not g["path"]]
    body = {"name": kind, "kind": kind, "groupId": root["id"], **extra}
    made = created(http, "/api/v2/lora/integrations", body)
    return made["id"], {"authorization": f"Bearer {made['token']}"}


def _state(http: httpx.Client, device: str) -> str:
    return str(http.get(f"/api/v2/devices/{device}/downlinks").json()["data"][-1]["state"])


def test_chirpstack_http_events(http: httpx.Client, ns: httpx.Client, recorder: Recorder) -> None:
    [root] = [g for g in http.get("/api/v2/groups").json()["data"] if not g["path"]]
    body = {
        "name": "per-port formats",
        "groupId": root["id"],
        "payloadType": 3,
        "payloadConfig": "port 1: level::uint:8; port 2: t::uint:16; port 3: serial:30:char:16",
    }
    device_type = created(http, "/api/v2/device-types", body)
    integration, auth = _integration(
        http, "chirpstack", appEui="37817737f13", deviceTypeId=device_type["id"]
    )
    url = f"/lora/chirpstack/{integration}"
    up = sample("chirpstack_up.json")
    answer = ns.post(url, params={"event": "up"}, json=up, headers=auth)
    assert answer.status_code == 200, answer.text
    assert answer.json()["stored"] is True
    again = ns.post(url, params={"event": "up"}, json=up, headers=auth)  # ChirpStack retried
    assert again.json()["stored"] is False
    [published] = recorder.wait_for("lora/0000037817737f13/0101010101010101")
    assert published["port1_bytes"] == [170]
    assert published["dataRate"] == "SF11BW125"
    assert published["decoded"] == {"level": 170}  # the device type's format for fPort 1
    located = copy.deepcopy(up)
    located["fCnt"] = 1
    located["rxInfo"][0]["location"] = {"latitude": 51.5, "longitude": -0.12}
    assert ns.post(url, params={"event": "up"}, json=located, headers=auth).status_code == 200
    places = http.get("/api/v2/devices/0101010101010101/locations").json()["data"]
    assert (places[0]["lat"], places[0]["lng"]) == (51.5, -0.12)  # its gateway's position
    long = copy.deepcopy(up)  # a LoRa payload longer than a Sigfox one, read past byte 11
    long.update(fCnt=2, fPort=3, data=base64.b64encode(bytes(30) + b"LFX-0042-SERIAL!").decode())
    assert ns.post(url, params={"event": "up"}, json=long, headers=auth).status_code == 200
    [*_, published] = recorder.wait_for("lora/0000037817737f13/0101010101010101", count=3)
    assert published["decoded"] == {"serial": "LFX-0042-SERIAL!"}
    log = ns.post(url, params={"event": "log"}, json=sample("chirpstack_log.json"), headers=auth)
    assert log.json() == {"kind": "event"}
    assert ns.post(url, params={"event": "integration"}, json={}, headers=auth).status_code == 200
    for params, body, headers, status in (
        ({"event": "up"}, up, {}, 401),
        ({"event": "up"}, up, {"authorization": "Bearer wrong"}, 401),
        ({"event": "nope"}, up, auth, 400),
        ({"event": "up"}, {"deviceInfo": {"devEui": "zz"}}, auth, 400),
    ):
        bad = ns.post(url, params=params, json=body, headers=headers)
        assert bad.status_code == status, bad.text
        assert isinstance(bad.json(), dict)
    bad = ns.post(url, params={"event": "up"}, content=b"{not json", headers=auth)
    assert bad.status_code == 400 and isinstance(bad.json(), dict)
    other = ns.post(f"/lora/tts/{integration}", json={}, headers=auth)  # not its kind
    assert other.status_code == 404


def test_chirpstack_downlink_by_mqtt_command_and_ack(
    http: httpx.Client, ns: httpx.Client, recorder: Recorder, mosquitto: tuple[str, int]
) -> None:
    host, port = mosquitto
    integration, auth = _integration(
        http, "chirpstack", config={"mqttUrl": f"mqtt://{host}:{port}"}
    )
    commands = Recorder(host, port, "application/+/device/+/command/down")
    try:
        url = f"/lora/chirpstack/{integration}"
        up = sample("chirpstack_up.json")
        device = up["deviceInfo"]["devEui"]
        up["deduplicationId"] = str(uuid.uuid4())
        assert ns.post(url, params={"event": "up"}, json=up, headers=auth).status_code == 200
        recorder.publish(
            f"lora/downlink/{device}", b'{"bytes":[1,2,3],"fPort":10,"confirmed":true}'
        )
        topic = f"application/{up['deviceInfo']['applicationId']}/device/{device}/command/down"
        [command] = commands.wait_for(topic)
        assert command["devEui"] == device
        assert (command["fPort"], command["data"], command["confirmed"]) == (10, "AQID", True)
        item = command["id"]
        assert uuid.UUID(item)
        info = up["deviceInfo"]
        txack = {"deviceInfo": info, "queueItemId": item, "downlinkId": 1, "fCntDown": 3}
        assert ns.post(url, params={"event": "txack"}, json=txack, headers=auth).status_code == 200
        assert _state(http, device) == "sent"
        ack = {"deviceInfo": info, "queueItemId": item, "acknowledged": True, "fCntDown": 3}
        assert ns.post(url, params={"event": "ack"}, json=ack, headers=auth).status_code == 200
        assert _state(http, device) == "acked"
    finally:
        commands.close()


def test_tts_webhooks_and_the_downlink_push(
    http: httpx.Client, ns: httpx.Client, recorder: Recorder
) -> None:
    peer = FakePeer()
    try:
        integration, auth = _integration(http, "tts")
        push = f"{peer.url}/api/v3/as/applications/app1/webhooks/wh1/devices/dev1/down/push"
        headers = {**auth, "x-downlink-push": push, "x-downlink-apikey": "NNSXS.SECRET"}
        up = sample("tts_uplink.json")
        answer = ns.post(f"/lora/tts/{integration}/uplink", json=up, headers=headers)
        assert answer.status_code == 200, answer.text
        [published] = recorder.wait_for("lora/800000000000000c/0102030405060708")
        assert published["port1_bytes"] == list(b"bumlux")
        device = "0102030405060708"
        recorder.publish(f"lora/downlink/{device}", b'{"data":"beef","fPort":15,"confirmed":true}')
        wait_until(lambda: peer.requests)
        path, sent_headers, body = peer.requests[0]
        assert path.endswith("/devices/dev1/down/push")
        assert sent_headers["authorization"] == "Bearer NNSXS.SECRET"
        [item] = orjson.loads(body)["downlinks"]
        correlation = item["correlation_ids"][0]
        assert correlation.startswith("lorafox:downlink:")
        assert item == {
            "f_port": 15,
            "frm_payload": "vu8=",
            "priority": "NORMAL",
            "confirmed": True,
            "correlation_ids": [correlation],
        }
        ack = sample("tts_downlink_ack.json")
        ack["downlink_ack"]["correlation_ids"].append(correlation)
        assert ns.post(f"/lora/tts/{integration}/ack", json=ack, headers=auth).status_code == 200
        assert _state(http, device) == "acked"
        # a second one fails, reported without dev_eui
        recorder.publish(f"lora/downlink/{device}", b'{"data":"beef","fPort":15}')
        wait_until(lambda: len(peer.requests) == 2)
        second = orjson.loads(peer.requests[1][2])["downlinks"][0]["correlation_ids"][0]
        failed = sample("tts_downlink_failed.json")
        failed["downlink_failed"]["downlink"]["correlation_ids"].append(second)
        answer = ns.post(f"/lora/tts/{integration}/failed", json=failed, headers=auth)
        assert answer.status_code == 200, answer.text
        found = http.get(f"/api/v2/devices/{device}/downlinks").json()["data"][-1]
        assert found["state"] == "failed"
        assert found["infoMessage"] == "application downlink payload is too long"
        bad = ns.post(f"/lora/tts/{integration}", json={"end_device_ids": {}}, headers=auth)
        assert bad.status_code == 400 and isinstance(bad.json(), dict)
    finally:
        peer.close()


def _botocore_authorization(path: str, headers: dict[str, str], body: bytes) -> str:
    """The Authorization header botocore computes for the same request at the same time."""
    request = AWSRequest(method="POST", url=f"http://{headers['host']}{path}", data=body)
    for name in ("host", "content-type"):
        request.headers[name] = headers[name]
    moment = datetime.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ")
    with mock.patch("botocore.auth.get_current_datetime", return_value=moment):
        SigV4Auth(Credentials(AWS_KEY, AWS_SECRET), "iotwireless", "eu-west-1").add_auth(request)
    return str(request.headers["Authorization"])


def test_aws_documents_and_send_data_to_wireless_device(
    http: httpx.Client, ns: httpx.Client, recorder: Recorder
) -> None:
    peer = FakePeer(202, b'{"MessageId":"6011b9f3-5bc6-43a4-a4fa-6d6a32d5a4d4"}')
    try:
        config = {
            "endpoint": peer.url,
            "region": "eu-west-1",
            "accessKeyId": AWS_KEY,
            "secretAccessKey": AWS_SECRET,
        }
        integration, auth = _integration(http, "aws-iotwireless", config=config)
        doc = sample("aws_uplink.json")
        answer = ns.post(f"/lora/aws/{integration}", json=doc, headers=auth)
        assert answer.status_code == 200, answer.text
        other = copy.deepcopy(doc)
        lorawan = other["WirelessMetadata"]["LoRaWAN"]
        lorawan["Fport"] = str(lorawan.pop("FPort"))
        lorawan["FCnt"] = "5"
        lowered = {k.lower(): v for k, v in other.items()}
        answer = ns.post(f"/lora/aws/{integration}", json=lowered, headers=auth)
        assert answer.status_code == 200, answer.text
        device = "a84041d55182720b"
        published = recorder.wait_for(f"lora/0000000000000000/{device}", 2)
        assert [m["port2_bytes"][0] for m in published] == [0xCB, 0xCB]
        recorder.publish(f"lora/downlink/{device}", b'{"data":"41","fPort":1,"confirmed":true}')
        wait_until(lambda: peer.requests)
        path, headers, body = peer.requests[0]
        assert path == "/wireless-devices/11111111-1111-1111-1111-1111/data"
        assert len(peer.requests) == 1
        assert orjson.loads(body) == {
            "PayloadData": "QQ==",
            "TransmitMode": 1,
            "WirelessMetadata": {"LoRaWAN": {"FPort": 1}},
        }
        authorization = headers["authorization"]
        assert authorization == _botocore_authorization(path, headers, body)
        assert "/eu-west-1/iotwireless/aws4_request" in authorization

        def network_id() -> object:
            return http.get(f"/api/v2/devices/{device}/downlinks").json()["data"][-1]["networkId"]

        wait_until(lambda: network_id() == "6011b9f3-5bc6-43a4-a4fa-6d6a32d5a4d4")
        acked = copy.deepcopy(doc)
        acked["WirelessMetadata"]["LoRaWAN"]["FCnt"] = 6
        acked["WirelessMetadata"]["LoRaWAN"]["AckedMessageId"] = network_id()
        answer = ns.post(f"/lora/aws/{integration}", json=acked, headers=auth)
        assert answer.status_code == 200, answer.text
        assert _state(http, device) == "acked"
        bad = ns.post(f"/lora/aws/{integration}", json={"PayloadData": 1}, headers=auth)
        assert bad.status_code == 400 and isinstance(bad.json(), dict)
        assert ns.post(f"/lora/aws/{integration}", json=doc).status_code == 401  # no token
        confirmation = {
            "arn": "arn:aws:iot:eu-west-1:123456789012:ruledestination/http/x",
            "confirmationToken": "token",
            "enableUrl": f"{peer.url}/not-aws",  # never fetched: not an AWS host
        }
        answer = ns.post(f"/lora/aws/{integration}", json=confirmation)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"kind": "confirmation"}
    finally:
        peer.close()


def test_chirpstack_mqtt_events_from_its_broker(
    http: httpx.Client, recorder: Recorder, mosquitto: tuple[str, int]
) -> None:
    host, port = mosquitto
    _integration(http, "chirpstack", config={"mqttUrl": f"mqtt://{host}:{port}"})
    chirpstack = Recorder(host, port, "unused/topic")
    try:
        up = sample("chirpstack_up.json")
        up["deduplicationId"] = str(uuid.uuid4())
        up["fCnt"] = int(uuid.uuid4().int % 100_000)  # a fresh frame on a shared broker
        device = up["deviceInfo"]["devEui"]
        topic = f"application/{up['deviceInfo']['applicationId']}/device/{device}/event/up"

        def published() -> list[dict[str, Any]]:
            chirpstack.publish(topic, orjson.dumps(up))  # until lorafox has subscribed
            return [
                m for m in recorder.on(f"lora/0000000000000000/{device}") if m["fCnt"] == up["fCnt"]
            ]

        [message] = wait_until(published, interval=0.5)
        assert message["port1_bytes"] == [170]
        chirpstack.publish(
            topic.replace("/up", "/log"), orjson.dumps(sample("chirpstack_log.json"))
        )
        chirpstack.publish(topic, b"{broken")  # skipped, the subscription stays
        up["fCnt"] += 1
        chirpstack.publish(topic, orjson.dumps(up))
        recorder.wait_for(f"lora/0000000000000000/{device}", 2)
    finally:
        chirpstack.close()


def test_tts_over_its_mqtt_server(
    http: httpx.Client, recorder: Recorder, mosquitto: tuple[str, int]
) -> None:
    host, port = mosquitto
    user = f"app{uuid.uuid4().hex[:8]}@tenant1"
    broker = f"mqtt://{user.replace('@', '%40')}:NNSXS.KEY@{host}:{port}"
    _integration(http, "tts", config={"mqttUrl": broker})
    tts = Recorder(host, port, f"v3/{user}/devices/+/down/push")
    try:
        up = sample("tts_uplink.json")
        up["uplink_message"]["f_cnt"] = 77
        device = "0102030405060708"
        prefix = f"v3/{user}/devices/dev1"

        def published() -> list[dict[str, Any]]:
            tts.publish(f"{prefix}/up", orjson.dumps(up))  # until lorafox has subscribed
            return recorder.on(f"lora/800000000000000c/{device}")

        wait_until(published, interval=0.5)
        recorder.publish(f"lora/downlink/{device}", b'{"data":"beef","fPort":15}')
        [pushed] = tts.wait_for(f"{prefix}/down/push")
        [item] = pushed["downlinks"]
        assert (item["f_port"], item["frm_payload"]) == (15, "vu8=")
        ack = sample("tts_downlink_ack.json")
        ack["downlink_ack"]["correlation_ids"] = item["correlation_ids"]
        tts.publish(f"{prefix}/down/ack", orjson.dumps(ack))
        wait_until(lambda: _state(http, device) == "acked")
    finally:
        tts.close()


def test_tts_push_url_of_another_origin_than_the_configured_one_is_ignored(
    http: httpx.Client, ns: httpx.Client, recorder: Recorder
) -> None:
    peer = FakePeer()
    try:
        config = {"downlinkPushUrl": f"{peer.url}/push/{{devID}}", "downlinkApiKey": "NNSXS.K"}
        integration, auth = _integration(http, "tts", config=config)
        headers = {
            **auth,
            "x-downlink-push": "http://127.0.0.1:9/elsewhere",
            "x-downlink-apikey": "X",
        }
        answer = ns.post(
            f"/lora/tts/{integration}", json=sample("tts_uplink.json"), headers=headers
        )
        assert answer.status_code == 200, answer.text
        recorder.publish("lora/downlink/0102030405060708", b'{"data":"01","fPort":2}')
        wait_until(lambda: peer.requests)
        path, sent_headers, _ = peer.requests[0]
        assert path == "/push/dev1"
        assert sent_headers["authorization"] == "Bearer NNSXS.K"
    finally:
        peer.close()
