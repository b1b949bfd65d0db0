"""Callbacks lorafox makes: configured per device type over the API, rendered with Sigfox's
variables, delivered to real HTTP receivers (working, failing then recovering, dead, slow),
retried, listed when not delivered, and kept across a restart."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Running, free_port
from tests.integration.helpers import ADMIN, SIGFOX, created, new_device_id, serving
from tests.integration.test_sigfox_flow import body
from tests.mqtt_helpers import wait_until

LOOPBACK = {"allowed_networks": "127.0.0.0/8", "backoff_seconds": 0.2, "max_backoff_seconds": 0.5}


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: str


@dataclass
class Receiver:
    """An HTTP server answering each request with the next of ``statuses`` (then the last),
    after ``gate`` is set; it records every request it answered 2xx or not."""

    statuses: list[int] = field(default_factory=lambda: [204])
    answer_body: bytes = b""
    requests: list[Received] = field(default_factory=list)
    gate: threading.Event = field(default_factory=threading.Event)
    server: ThreadingHTTPServer | None = None
    arrived: int = 0
    """Requests that came, answered or held by the gate."""

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def delivered(self) -> list[Received]:
        return [r for r, s in zip(self.requests, self._answers, strict=False) if s < 300]

    _answers: list[int] = field(default_factory=list)

    def answer(self, request: BaseHTTPRequestHandler) -> int:
        self.arrived += 1
        self.gate.wait(30)
        length = int(request.headers.get("content-length") or 0)
        content = request.rfile.read(length).decode() if length else ""
        status = self.statuses[min(len(self.requests), len(self.statuses) - 1)]
        self.requests.append(
            Received(request.command, request.path, dict(request.headers.items()), content)
        )
        self._answers.append(status)
        return status


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    found.gate.set()

    class Handler(BaseHTTPRequestHandler):
        def _any(self) -> None:
            status = found.answer(self)
            self.send_response(status)
            content = found.answer_body if status != 204 else b""
            self.send_header("content-length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_POST = do_PUT = _any  # noqa: N815

        def log_message(self, *args: Any) -> None:
            pass

    found.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=found.server.serve_forever, daemon=True)
    thread.start()
    yield found
    found.gate.set()
    found.server.shutdown()
    found.server.server_close()


@dataclass
class Fleet:
    http: httpx.Client
    device_type: str
    device: str

    def callback(self, **fields: Any) -> str:
        spec = {"channel": "URL", "callbackType": 0, "callbackSubtype": 2, **fields}
        return str(
            created(self.http, f"/api/v2/device-types/{self.device_type}/callbacks", spec)["id"]
        )

    def uplink(self, seq: int, **extra: Any) -> None:
        r = self.http.post("/sigfox/uplink", json=body(self.device, seq, **extra), auth=SIGFOX)
        assert r.status_code == 204, r.text

    def not_delivered(self, of: str = "device-types") -> list[dict[str, Any]]:
        owner = self.device if of == "devices" else self.device_type
        r = self.http.get(f"/api/v2/{of}/{owner}/callbacks-not-delivered")
        assert r.status_code == 200, r.text
        data: list[dict[str, Any]] = r.json()["data"]
        return data


def _fleet(lorafox: Running) -> Fleet:
    http = httpx.Client(base_url=lorafox.base_url, auth=ADMIN, timeout=10)
    spec = {"name": "meters", "payloadType": 3, "payloadConfig": "temp::uint:8 hum::uint:8"}
    device_type = created(http, "/api/v2/device-types", spec)["id"]
    device = new_device_id()
    created(
        http,
        "/api/v2/devices",
        {"id": device, "name": "m", "deviceTypeId": device_type, "pac": "0123456789ABCDEF"},
    )
    return Fleet(http, device_type, device)


@pytest.fixture
def fleet(lorafox_factory: Callable[..., Running]) -> Iterator[Fleet]:
    found = _fleet(lorafox_factory(callbacks=LOOPBACK))
    yield found
    found.http.close()


def test_a_callback_is_configured_listed_changed_disabled_and_deleted(
    fleet: Fleet, receiver: Receiver
) -> None:
    callbacks = f"/api/v2/device-types/{fleet.device_type}/callbacks"
    made = fleet.callback(url=receiver.url + "/in?d={device}", httpMethod="GET")
    [listed] = fleet.http.get(callbacks).json()["data"]
    assert listed["id"] == made and listed["urlPattern"] == receiver.url + "/in?d={device}"
    assert listed["channel"] == "URL" and listed["callbackSubtype"] == 2
    assert listed["enabled"] is True and listed["dead"] is False and listed["httpMethod"] == "GET"

    r = fleet.http.put(f"{callbacks}/{made}", json={"httpMethod": "PUT", "bodyTemplate": "{data}"})
    assert r.status_code == 204, r.text
    r = fleet.http.put(f"{callbacks}/{made}/enable", params={"enabled": "false"})
    assert r.status_code == 204, r.text
    [listed] = fleet.http.get(callbacks).json()["data"]
    assert listed["httpMethod"] == "PUT" and listed["bodyTemplate"] == "{data}"
    assert listed["enabled"] is False

    fleet.uplink(1)  # disabled: nothing is sent
    assert fleet.http.delete(f"{callbacks}/{made}").status_code == 204
    assert fleet.http.get(callbacks).json()["data"] == []
    assert fleet.http.delete(f"{callbacks}/{made}").status_code == 404
    assert receiver.requests == []


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        ({"url": "http://example.com/{infoCode}"}, "url", "{infoCode} is not a variable of DATA"),
        (
            {"url": "http://example.com/", "bodyTemplate": '{"a":"{ack}"}'},
            "bodyTemplate",
            "{ack} is not a variable of DATA UPLINK",
        ),
        (
            {"url": "http://example.com/", "headers": {"X-T": "{temp}"}},
            "headers",
            "{temp} is not a variable",
        ),
        ({"url": "ftp://example.com/"}, "url", "http:// or https://"),
        ({"url": "http://10.1.2.3/in"}, "url", "private, loopback or reserved"),
        ({"url": "http://169.254.169.254/latest"}, "url", "private, loopback or reserved"),
        ({"channel": "EMAIL", "subject": "s", "message": "m"}, "recipient", "addresses"),
        (
            {"channel": "EMAIL", "recipient": "a@example.com", "subject": "{ack}", "message": "m"},
            "subject",
            "{ack} is not a variable",
        ),
        (
            {"channel": "EMAIL", "recipient": "not mail", "subject": "s", "message": "m"},
            "recipient",
            "",
        ),
        ({"url": "http://example.com/", "subject": "s"}, "subject", "only for EMAIL"),
        ({"url": "http://example.com/", "channel": "BATCH_URL"}, "linePattern", "needed"),
        (
            {"url": "http://example.com/{device}", "channel": "BATCH_URL", "linePattern": "{data}"},
            "url",
            "take no variables",
        ),
        (
            {"url": "http://example.com/", "channel": "BATCH_URL", "linePattern": "{ack}"},
            "linePattern",
            "{ack} is not a variable",
        ),
        ({"url": "http://example.com/", "linePattern": "{data}"}, "linePattern", "BATCH_URL"),
        ({"url": "http://example.com/", "callbackSubtype": 4}, "callbackSubtype", "2 UPLINK"),
        ({"url": "http://example.com/", "httpMethod": "DELETE"}, "httpMethod", "GET, POST"),
        ({"url": "http://example.com/", "headers": {"Host": "x"}}, "headers", "'Host'"),
        (
            {"url": "http://example.com/", "httpMethod": "GET", "bodyTemplate": "x"},
            "bodyTemplate",
            "GET callback sends no body",
        ),
    ],
)
def test_a_bad_callback_is_refused_naming_what_is_wrong(
    fleet: Fleet, spec: dict[str, Any], field: str, words: str
) -> None:
    full = {"channel": "URL", "callbackType": 0, "callbackSubtype": 2, **spec}
    r = fleet.http.post(f"/api/v2/device-types/{fleet.device_type}/callbacks", json=full)
    assert r.status_code == 400, r.text
    [error] = r.json()["errors"]
    assert error["field"] == field and words in error["message"], error


def test_bidir_variables_are_refused_in_uplink_callbacks_and_accepted_in_bidir_ones(
    fleet: Fleet,
) -> None:
    url = "http://example.com/?ack={ack}&lp={longPolling}"
    spec = {"channel": "URL", "callbackType": 0, "callbackSubtype": 2, "url": url}
    path = f"/api/v2/device-types/{fleet.device_type}/callbacks"
    assert fleet.http.post(path, json=spec).status_code == 400
    assert fleet.http.post(path, json={**spec, "callbackSubtype": 3}).status_code == 201


def test_every_uplink_variable_and_custom_data_reach_the_receiver(
    fleet: Fleet, receiver: Receiver
) -> None:
    template = (
        '{"device":"{device}","time":{time},"data":"{data}","seq":{seqNumber},'
        '"snr":{snr},"rssi":{rssi},"avgSnr":{avgSnr},"station":"{station}","lat":{lat},'
        '"lng":{lng},"duplicate":{duplicate},"type":"{deviceTypeId}",'
        '"temp":{customData#temp},"hum":{customData#hum}}'
    )
    fleet.callback(
        url=receiver.url + "/up/{device}?seq={seqNumber}",
        headers={"X-Device": "{device}", "Authorization": "Bearer s3cret"},
        bodyTemplate=template,
        contentType="application/json",
    )
    fleet.uplink(7, data="1a2b")
    [got] = wait_until(lambda: receiver.requests)
    assert got.method == "POST" and got.path == f"/up/{fleet.device}?seq=7"
    assert got.headers["X-Device"] == fleet.device
    assert got.headers["Authorization"] == "Bearer s3cret"
    assert got.headers["Content-Type"] == "application/json"
    sent = json.loads(got.body)
    assert sent == {
        "device": fleet.device,
        "time": 1_700_000_000 + 7 * 60,
        "data": "1a2b",
        "seq": 7,
        "snr": 12.34,
        "rssi": -110.0,
        "avgSnr": 20.1,
        "station": "1A2B",
        "lat": 43,
        "lng": 1,
        "duplicate": False,
        "type": fleet.device_type,
        "temp": 0x1A,
        "hum": 0x2B,
    }


def test_bidir_callbacks_fire_only_for_messages_asking_for_a_downlink(
    fleet: Fleet, receiver: Receiver
) -> None:
    fleet.callback(url=receiver.url + "/bidir?seq={seqNumber}&ack={ack}", callbackSubtype=3)
    fleet.uplink(1)
    fleet.uplink(2, ack=True)
    fleet.uplink(3)
    fleet.uplink(4, ack=True)
    wait_until(lambda: len(receiver.requests) == 2)
    assert sorted(r.path for r in receiver.requests) == [
        "/bidir?seq=2&ack=true",
        "/bidir?seq=4&ack=true",
    ]


def test_a_failing_receiver_is_retried_until_it_recovers(fleet: Fleet, receiver: Receiver) -> None:
    receiver.statuses = [500, 503, 200]
    fleet.callback(url=receiver.url + "/in", bodyTemplate="{data}")
    fleet.uplink(1)
    wait_until(lambda: len(receiver.requests) >= 2)
    pending = wait_until(fleet.not_delivered)
    assert pending[0]["state"] == "pending" and pending[0]["status"] in ("500", "503")
    assert pending[0]["callback"]["url"] == receiver.url + "/in"
    assert pending[0]["device"] == fleet.device
    wait_until(lambda: len(receiver.requests) == 3)
    wait_until(lambda: fleet.not_delivered() == [])
    assert [r.body for r in receiver.requests] == [body(fleet.device, 1)["data"]] * 3


def test_a_slow_receiver_does_not_hold_up_uplinks(fleet: Fleet, receiver: Receiver) -> None:
    receiver.gate.clear()  # the receiver takes no request until released
    fleet.callback(url=receiver.url + "/slow?seq={seqNumber}")
    for seq in range(1, 21):
        fleet.uplink(seq)  # each answered 204 while every callback request is still waiting
    assert receiver.requests == []
    receiver.gate.set()
    wait_until(lambda: len(receiver.requests) == 20)
    assert sorted(int(r.path.rsplit("=", 1)[1]) for r in receiver.requests) == list(range(1, 21))


def test_a_dead_receiver_is_given_up_listed_marked_and_retried_by_hand(
    lorafox_factory: Callable[..., Running], receiver: Receiver
) -> None:
    lorafox = lorafox_factory(callbacks={**LOOPBACK, "retry_for_seconds": 0.5})
    fleet = _fleet(lorafox)
    dead = f"http://127.0.0.1:{free_port()}/nobody"
    callback = fleet.callback(url=dead)
    fleet.uplink(1)

    def given_up() -> list[dict[str, Any]]:
        return [d for d in fleet.not_delivered() if d["state"] == "failed"]

    [failed] = wait_until(given_up)
    assert failed["attempts"] >= 1 and failed["status"] == "" and failed["message"]
    assert failed["callback"]["id"] == callback and failed["nextAttempt"] is None
    assert failed["callback"]["url"] == dead and failed["data"] == body(fleet.device, 1)["data"]
    assert fleet.not_delivered("devices") == [failed]
    groups = fleet.http.get("/api/v2/groups").json()["data"]
    [root] = [g for g in groups if not g["path"]]
    listed = fleet.http.get(f"/api/v2/groups/{root['id']}/callbacks-not-delivered").json()
    assert failed in listed["data"]
    path = f"/api/v2/device-types/{fleet.device_type}/callbacks"
    [shown] = fleet.http.get(path).json()["data"]
    assert shown["dead"] is True

    def event_types() -> list[str]:
        events = fleet.http.get(f"/api/v2/device-types/{fleet.device_type}/events")
        assert events.status_code == 200, events.text
        return [e["type"] for e in events.json()["data"]]

    wait_until(lambda: "callback_failing" in event_types())

    # the receiver is back at another address: point the callback there and retry by hand
    r = fleet.http.put(f"{path}/{callback}", json={"url": receiver.url + "/back"})
    assert r.status_code == 204
    r = fleet.http.post(f"/api/v2/device-types/{fleet.device_type}/callbacks-not-delivered/retry")
    assert r.status_code == 200 and r.json() == {"retried": 1}
    # the request is made from the callback as it is now: the message reaches the new address
    [retried] = wait_until(lambda: receiver.requests)
    assert retried.path == "/back"
    wait_until(lambda: fleet.not_delivered() == [])
    wait_until(lambda: fleet.http.get(path).json()["data"][0]["dead"] is False)
    wait_until(lambda: "callback_restored" in event_types())


def test_a_private_destination_behind_a_host_name_is_refused_when_sending(
    lorafox_factory: Callable[..., Running],
) -> None:
    fleet = _fleet(lorafox_factory())  # no network allowed beyond the public ones
    fleet.callback(url=f"http://localhost:{free_port()}/internal")
    fleet.uplink(1)
    fleet.uplink(2)
    refused = wait_until(lambda: len(fleet.not_delivered()) == 2 and fleet.not_delivered())
    assert {d["state"] for d in refused} == {"failed"} and {d["attempts"] for d in refused} == {1}
    assert "private, loopback or reserved" in refused[0]["message"]
    # newest first, a page at a time
    path = f"/api/v2/device-types/{fleet.device_type}/callbacks-not-delivered"
    first = fleet.http.get(path, params={"limit": 1}).json()
    assert first["data"] == refused[:1] and first["paging"]["next"]
    second = fleet.http.get(first["paging"]["next"]).json()
    assert second["data"] == refused[1:] and second["paging"].get("next") is None
    assert fleet.http.get(path, params={"limit": 101}).status_code == 400


def test_a_restart_in_the_middle_of_retries_loses_and_repeats_nothing(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.statuses = [500]
    settings = {"callbacks": {**LOOPBACK, "max_backoff_seconds": 0.3}}
    with serving(tmp_path / "data", **settings) as lorafox:
        fleet = _fleet(lorafox)
        fleet.callback(url=receiver.url + "/in?seq={seqNumber}")
        for seq in (1, 2, 3):
            fleet.uplink(seq)
        wait_until(lambda: len({r.path for r in receiver.requests}) == 3)
        fleet.http.close()
    receiver.statuses = [200]
    receiver.requests.clear()
    receiver._answers.clear()
    with serving(tmp_path / "data", **settings) as lorafox:
        fleet = Fleet(
            httpx.Client(base_url=lorafox.base_url, auth=ADMIN), fleet.device_type, fleet.device
        )
        wait_until(lambda: len(receiver.requests) >= 3)
        fleet.uplink(4)
        wait_until(lambda: len(receiver.requests) >= 4)
        wait_until(lambda: fleet.not_delivered() == [])
        fleet.http.close()
    paths = sorted(r.path for r in receiver.delivered())
    assert paths == [f"/in?seq={seq}" for seq in (1, 2, 3, 4)]  # each once


def test_a_restart_makes_again_the_attempts_cut_short_and_not_the_confirmed_ones(
    tmp_path: Path, receiver: Receiver
) -> None:
    with serving(tmp_path / "data", callbacks=LOOPBACK) as lorafox:
        fleet = _fleet(lorafox)
        fleet.callback(url=receiver.url + "/in?seq={seqNumber}")
        for seq in (1, 2, 3):
            fleet.uplink(seq)
        wait_until(lambda: len(receiver.delivered()) == 3)  # confirmed: the cursor passes them
        receiver.gate.clear()  # the receiver holds the next requests unanswered
        for seq in (4, 5):
            fleet.uplink(seq)
        wait_until(lambda: receiver.arrived == 5)  # stopped with their attempts in flight
        fleet.http.close()
    receiver.gate.set()  # the held requests are answered, to a lorafox that has stopped
    wait_until(lambda: len(receiver.requests) == 5)
    receiver.requests.clear()
    receiver._answers.clear()
    with serving(tmp_path / "data", callbacks=LOOPBACK) as lorafox:
        fleet = Fleet(
            httpx.Client(base_url=lorafox.base_url, auth=ADMIN), fleet.device_type, fleet.device
        )
        wait_until(lambda: len(receiver.requests) >= 2)
        fleet.uplink(6)
        wait_until(lambda: len(receiver.requests) >= 3)
        fleet.http.close()
    paths = sorted(r.path for r in receiver.delivered())
    assert paths == [f"/in?seq={seq}" for seq in (4, 5, 6)]  # each once, none of 1 to 3


def _bidir(fleet: Fleet, seq: int) -> httpx.Response:
    return fleet.http.post("/sigfox/bidir", json=body(fleet.device, seq, ack=True), auth=SIGFOX)


def _queue(fleet: Fleet, data: str) -> None:
    r = fleet.http.post(f"/api/v2/devices/{fleet.device}/downlinks", json={"data": data})
    assert r.status_code in (200, 201), r.text


def _downlink_callback(fleet: Fleet, url: str) -> str:
    made = fleet.callback(url=url, callbackSubtype=3, bodyTemplate='{"seq":{seqNumber}}')
    path = f"/api/v2/device-types/{fleet.device_type}/callbacks/{made}/downlink"
    r = fleet.http.put(path)
    assert r.status_code == 204, r.text
    return made


def test_the_downlink_callback_answers_a_device_waiting_for_a_downlink(
    fleet: Fleet, receiver: Receiver
) -> None:
    receiver.statuses = [200]
    receiver.answer_body = json.dumps({fleet.device: {"downlinkData": "0A0B0C0D0E0F1011"}}).encode()
    made = _downlink_callback(fleet, receiver.url + "/dl/{device}")
    [shown] = fleet.http.get(f"/api/v2/device-types/{fleet.device_type}/callbacks").json()["data"]
    assert shown["id"] == made and shown["downlinkHook"] is True
    _queue(fleet, "1111111111111111")

    r = _bidir(fleet, 1)
    assert r.status_code == 200 and r.json() == {fleet.device: {"downlinkData": "0a0b0c0d0e0f1011"}}
    [asked] = receiver.requests
    assert asked.path == f"/dl/{fleet.device}" and json.loads(asked.body) == {"seq": 1}
    # Sigfox's retry of the same call gets the same downlink; the queue is left as it was
    assert _bidir(fleet, 1).json() == r.json()
    queued = fleet.http.get(f"/api/v2/devices/{fleet.device}/downlinks").json()["data"]
    assert [d["state"] for d in queued if d["data"] == "1111111111111111"] == ["queued"]
    fleet.uplink(2)  # no downlink asked: the downlink callback is not called, nor queued
    assert len(receiver.requests) == 2


@pytest.mark.parametrize(
    "answer", [(204, b""), (200, b'{"%s": {"noData": true}}')], ids=["204", "noData"]
)
def test_a_downlink_callback_answering_no_data_gives_no_downlink(
    fleet: Fleet, receiver: Receiver, answer: tuple[int, bytes]
) -> None:
    receiver.statuses = [answer[0]]
    receiver.answer_body = answer[1].replace(b"%s", fleet.device.encode())
    _downlink_callback(fleet, receiver.url + "/dl")
    _queue(fleet, "2222222222222222")
    assert _bidir(fleet, 1).status_code == 204
    wait_until(lambda: receiver.requests)


@pytest.mark.parametrize(
    "failure", ["500", "not json", "bad data", "late"], ids=lambda f: f.replace(" ", "-")
)
def test_the_queue_answers_when_the_downlink_callback_fails_or_is_late(
    lorafox_factory: Callable[..., Running], receiver: Receiver, failure: str
) -> None:
    fleet = _fleet(lorafox_factory(callbacks={**LOOPBACK, "downlink_timeout_seconds": 0.5}))
    receiver.statuses = [500] if failure == "500" else [200]
    receiver.answer_body = {
        "500": b"",
        "not json": b"<html>",
        "bad data": json.dumps({fleet.device: {"downlinkData": "12"}}).encode(),
        "late": json.dumps({fleet.device: {"downlinkData": "0A0B0C0D0E0F1011"}}).encode(),
    }[failure]
    if failure == "late":
        receiver.gate.clear()
    _downlink_callback(fleet, receiver.url + "/dl")
    _queue(fleet, "3333333333333333")
    r = _bidir(fleet, 1)
    assert r.status_code == 200 and r.json() == {fleet.device: {"downlinkData": "3333333333333333"}}
    receiver.gate.set()


def test_only_a_bidir_callback_can_be_the_downlink_callback(fleet: Fleet) -> None:
    made = fleet.callback(url="http://example.com/")
    path = f"/api/v2/device-types/{fleet.device_type}/callbacks/{made}/downlink"
    r = fleet.http.put(path)
    assert r.status_code == 400 and "BIDIR" in r.json()["message"]
    other = f"/api/v2/device-types/{fleet.device_type}/callbacks/{'0' * 24}/downlink"
    assert fleet.http.put(other).status_code == 404


def test_a_batch_callback_sends_the_lines_of_many_messages_together(
    fleet: Fleet, receiver: Receiver
) -> None:
    fleet.callback(
        channel="BATCH_URL", url=receiver.url + "/batch", linePattern="{device};{seqNumber};{data}"
    )
    for seq in range(1, 31):
        fleet.uplink(seq)
    wait_until(lambda: sum(r.body.count("\n") + 1 for r in receiver.requests) == 30)
    assert len(receiver.requests) < 30  # gathered: fewer requests than messages
    lines = [line for r in receiver.requests for line in r.body.split("\n")]
    assert sorted(lines, key=lambda line: int(line.split(";")[1])) == [
        f"{fleet.device};{seq};{body(fleet.device, seq)['data']}" for seq in range(1, 31)
    ]
    assert {r.method for r in receiver.requests} == {"POST"}
    assert {r.headers["Content-Type"] for r in receiver.requests} == {"text/plain"}
    wait_until(lambda: fleet.not_delivered() == [])


def test_service_and_error_reports_are_forwarded_once_with_their_variables(
    fleet: Fleet, receiver: Receiver
) -> None:
    kinds = {
        "status": (1, 0, '{"t":{temp},"b":{batt},"at":{time}}'),
        "ack": (1, 4, '{"code":{infoCode},"ack":{downlinkAck},"msg":"{infoMessage}"}'),
        "advanced": (1, 6, '{"seq":{seqNumber},"lqi":"{lqi}","op":"{operatorName}"}'),
        "error": (2, None, '{"info":"{info}","severity":"{severity}","type":"{deviceTypeId}"}'),
    }
    for name, (kind, subtype, template) in kinds.items():
        spec: dict[str, Any] = {"callbackType": kind, "bodyTemplate": template}
        if subtype is not None:
            spec["callbackSubtype"] = subtype
        fleet.callback(url=receiver.url + f"/{name}/{{device}}", **spec)
    listed = fleet.http.get(f"/api/v2/device-types/{fleet.device_type}/callbacks").json()["data"]
    assert sorted((c["callbackType"], c["callbackSubtype"]) for c in listed) == [
        (1, 0),
        (1, 4),
        (1, 6),
        (2, None),
    ]
    dev, at = fleet.device, 1_700_000_000
    fleet.uplink(1)
    reports = [
        ("/sigfox/service/status", {"device": dev, "time": at, "temp": "21.5", "batt": "3.1"}),
        ("/sigfox/service/acknowledge", {"device": dev, "time": at, "infoCode": 1,
                                         "infoMessage": "No answer", "downlinkAck": False}),
        ("/sigfox/service/data-advanced", {"device": dev, "time": at + 60, "seqNumber": 1,
                                           "data": body(dev, 1)["data"], "lqi": "Good",
                                           "operatorName": "SIGFOX_France", "linkQuality": 2}),
        ("/sigfox/error", {"device": dev, "time": at, "severity": "ERROR", "info": "Lost"}),
    ]  # fmt: skip
    for path, fields in reports * 2:  # the Back-End retries: forwarded once all the same
        r = fleet.http.post(path, json=fields, auth=SIGFOX)
        assert r.status_code in (200, 204), (path, r.text)
    wait_until(lambda: len(receiver.requests) >= 4)
    got = {r.path.split("/")[1]: json.loads(r.body) for r in receiver.requests}
    assert got == {
        "status": {"t": 21.5, "b": 3.1, "at": at},
        "ack": {"code": 1, "ack": False, "msg": "No answer"},
        "advanced": {"seq": 1, "lqi": "Good", "op": "SIGFOX_France"},
        "error": {"info": "Lost", "severity": "ERROR", "type": fleet.device_type},
    }
    wait_until(lambda: fleet.not_delivered() == [])
    assert len(receiver.requests) == 4


def test_service_variables_are_refused_in_data_callbacks_and_the_other_way_round(
    fleet: Fleet,
) -> None:
    path = f"/api/v2/device-types/{fleet.device_type}/callbacks"
    status = {"channel": "URL", "callbackType": 1, "callbackSubtype": 0}
    r = fleet.http.post(path, json={**status, "url": "http://example.com/?d={data}"})
    assert r.status_code == 400 and "{data} is not a variable of SERVICE STATUS" in r.text
    r = fleet.http.post(path, json={**status, "callbackSubtype": 1, "url": "http://example.com/"})
    assert r.status_code == 400 and "0 STATUS, 4 ACKNOWLEDGE, 6 DATA_ADVANCED" in r.text
    error = {"channel": "URL", "callbackType": 2, "url": "http://example.com/?s={seqNumber}"}
    r = fleet.http.post(path, json=error)
    assert r.status_code == 400 and "{seqNumber} is not a variable of ERROR callbacks" in r.text
