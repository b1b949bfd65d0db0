"""SERVICE and ERROR callbacks, downlink modes, decoding and device events, over real sockets:
the bodies the Sigfox Back-End sends (JSON, form, query string) in, the state changes and
events out on the REST API and on MQTT (``sigfox/events/{device}``)."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_PASSWORD, SIGFOX_PASSWORD, SIGFOX_USER, Running
from tests.mqtt_helpers import Recorder, wait_until

SIGFOX = (SIGFOX_USER, SIGFOX_PASSWORD)
ADMIN = ("admin", ADMIN_PASSWORD)
PAC = "0011223344556677"


@dataclass
class Setup:
    lorafox: Running
    http: httpx.Client
    mqtt: Recorder
    root: str

    def device_type(self, **fields: Any) -> str:
        body = {"name": f"type {secrets.token_hex(3)}", "groupId": self.root, **fields}
        response = self.http.post("/api/v2/device-types", json=body, auth=ADMIN)
        assert response.status_code == 201, response.text
        made: str = response.json()["id"]
        return made

    def device(self, device_type: str) -> str:
        device = "E" + secrets.token_hex(3).upper()
        body = {"id": device, "name": "d", "deviceTypeId": device_type, "pac": PAC}
        response = self.http.post("/api/v2/devices", json=body, auth=ADMIN)
        assert response.status_code == 201, response.text
        return device

    def get(self, path: str, **params: Any) -> Any:
        response = self.http.get(path, params=params, auth=ADMIN)
        assert response.status_code == 200, response.text
        return response.json()

    def events(self, device: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get(f"/api/v2/devices/{device}/events")["data"]
        return found

    def event_types(self, device: str) -> list[str]:
        return [e["type"] for e in self.events(device)]

    def published(self, device: str, count: int = 1) -> list[dict[str, Any]]:
        return self.mqtt.wait_for(f"sigfox/events/{device}", count)


def start(factory: Callable[..., Running], **overrides: Any) -> Setup:
    lorafox = factory(**overrides)
    http = httpx.Client(base_url=lorafox.base_url, timeout=10)
    groups = http.get("/api/v2/groups", auth=ADMIN).json()["data"]
    [root] = [g["id"] for g in groups if not g["path"]]
    assert lorafox.mqtt_port is not None
    recorder = Recorder("127.0.0.1", lorafox.mqtt_port, "sigfox/events/#", "sigfox/uplink/#")
    return Setup(lorafox, http, recorder, root)


@pytest.fixture
def setup(lorafox_factory: Callable[..., Running]) -> Iterator[Setup]:
    s = start(lorafox_factory)
    yield s
    s.mqtt.close()
    s.http.close()


def uplink(device: str, seq: int, *, at: int | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "device": device,
        "time": at if at is not None else 1_700_000_000 + seq * 600,
        "seqNumber": seq,
        "data": "0102",
        "station": "1A2B",
        "rssi": "-120.00",
        "snr": "10.5",
        **extra,
    }


# -- STATUS ----------------------------------------------------------------------------------


@pytest.mark.parametrize("encoding", ["json", "form", "query"])
def test_status_callback_is_kept_and_low_battery_raised_once(setup: Setup, encoding: str) -> None:
    device = setup.device(setup.device_type())

    def status(at: int, batt: str) -> httpx.Response:
        fields = {"device": device, "time": str(at), "temp": "21.5", "batt": batt, "seqNumber": "7"}
        if encoding == "json":
            return setup.http.post("/sigfox/service", json=fields, auth=SIGFOX)
        if encoding == "form":
            return setup.http.post("/sigfox/service/status", data=fields, auth=SIGFOX)
        return setup.http.get("/sigfox/service/status", params=fields, auth=SIGFOX)

    first = status(1_700_000_000, "3.25")
    assert first.status_code == 200, first.text
    assert first.json() == {"recorded": "status", "events": 1}
    assert status(1_700_000_100, "2.41").json()["events"] == 2  # status + low_battery
    assert status(1_700_000_200, "2.40").json()["events"] == 1  # still low: no new alert
    assert status(1_700_000_200, "2.40").json()["events"] == 0  # a retried callback
    events = setup.events(device)
    assert [e["type"] for e in events] == ["status", "low_battery", "status", "status"]
    low = events[1]
    assert low["severity"] == "WARN"
    assert low["data"] == {"battery": 2.41, "threshold": 2.7}
    assert events[-1]["data"] == {"temperature": 21.5, "battery": 3.25, "seqNumber": 7}
    # paging one by one meets each event once, also the two at the same millisecond
    paged: list[int] = []
    page = setup.get(f"/api/v2/devices/{device}/events", limit=1)
    while page["data"]:
        paged += [e["id"] for e in page["data"]]
        if not page["paging"].get("next"):
            break
        response = setup.http.get(page["paging"]["next"], auth=ADMIN)
        assert response.status_code == 200
        page = response.json()
    assert paged == [e["id"] for e in events]
    shown = setup.get(f"/api/v2/devices/{device}")["status"]
    assert shown == {"time": 1_700_000_200_000, "temperature": 21.5, "battery": 2.40}
    published = setup.published(device, 4)
    assert [p["type"] for p in published] == ["status", "status", "low_battery", "status"]
    assert {p["id"] for p in published} == {e["id"] for e in events}


# -- ACKNOWLEDGE -----------------------------------------------------------------------------


def test_acknowledge_moves_downlinks_to_acked_or_failed(setup: Setup) -> None:
    device = setup.device(setup.device_type())
    for data in ("0102030405060708", "1112131415161718"):
        queued = setup.http.post(
            f"/api/v2/devices/{device}/downlinks", json={"data": data}, auth=ADMIN
        )
        assert queued.status_code == 201
    for seq in (1, 2):
        answer = setup.http.post("/sigfox/bidir", json=uplink(device, seq, ack=True), auth=SIGFOX)
        assert answer.status_code == 200
    sent = setup.get(f"/api/v2/devices/{device}/downlinks")["data"]
    assert [d["state"] for d in sent] == ["sent", "sent"]

    acked = {
        "device": device,
        "time": 1_700_000_600,
        "infoCode": 0,
        "infoMessage": "Acked",
        "downlinkAck": True,
        "downlinkOverusage": False,
    }
    response = setup.http.post("/sigfox/service/acknowledge", json=acked, auth=SIGFOX)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "recorded": "acknowledge",
        "downlinkId": sent[0]["id"],
        "state": "acked",
    }
    failed = {
        "device": device,
        "time": "1700001200",
        "infoCode": "1",
        "infoMessage": "No answer from the customer",
        "downlinkAck": "false",
        "downlinkOverusage": "false",
    }
    assert setup.http.post("/sigfox/service", data=failed, auth=SIGFOX).json()["state"] == "failed"
    # the Back-End retries a callback it thinks failed: recorded once
    assert setup.http.post("/sigfox/service", data=failed, auth=SIGFOX).status_code == 200

    first, second = setup.get(f"/api/v2/devices/{device}/downlinks")["data"]
    assert first["state"] == "acked" and first["info"] == "ACKED" and first["endTime"]
    assert second["state"] == "failed"
    assert (second["infoCode"], second["info"]) == (1, "NO_ANSWER")
    assert second["infoMessage"] == "No answer from the customer"
    assert setup.event_types(device) == ["downlink_failed", "downlink_acked"]
    published = setup.published(device, 2)
    assert published[1]["message"] == (
        f"Downlink {second['id']} failed (NO_ANSWER): No answer from the customer"
    )


def test_acknowledge_of_a_bidir_answered_without_downlink(setup: Setup) -> None:
    device = setup.device(setup.device_type())
    answer = setup.http.post("/sigfox/bidir", json=uplink(device, 1, ack=True), auth=SIGFOX)
    assert answer.status_code == 204
    body = {"device": device, "time": 1_700_000_600, "infoCode": 1, "infoMessage": "No answer"}
    response = setup.http.post("/sigfox/service/acknowledge", json=body, auth=SIGFOX)
    assert response.status_code == 200
    assert response.json() == {"recorded": "acknowledge", "downlinkId": None, "state": None}
    assert setup.events(device) == []


# -- DATA_ADVANCED ---------------------------------------------------------------------------


def advanced(device: str, seq: int, **extra: Any) -> dict[str, Any]:
    return {
        "device": device,
        "time": 1_700_000_000 + seq * 600,
        "data": "0102",
        "seqNumber": seq,
        "lqi": "Good",
        "linkQuality": 2,
        "operatorName": "SIGFOX_France",
        "countryCode": 250,
        "deviceTypeId": "5f0f",
        "duplicates": [
            {"bsId": "1A2B", "rssi": -120.0, "snr": 10.5, "nbRep": 3},
            {"bsId": "3C4D", "rssi": -131.0, "snr": 5.0, "nbRep": 1},
        ],
        "computedLocation": {"lat": 43.6, "lng": 1.44, "radius": 1500, "source": 2, "status": 1},
        **extra,
    }


def test_data_advanced_adds_link_quality_stations_and_location(setup: Setup) -> None:
    device = setup.device(setup.device_type())
    assert setup.http.post("/sigfox/uplink", json=uplink(device, 1), auth=SIGFOX).status_code == 204
    for _ in range(2):  # the Back-End may retry: recorded once
        response = setup.http.post("/sigfox/service", json=advanced(device, 1), auth=SIGFOX)
        assert response.status_code == 200, response.text
    [message] = setup.get(f"/api/v2/devices/{device}/messages")["data"]
    assert message["lqi"] == 2
    assert message["operator"] == "SIGFOX_France"
    assert message["country"] == "250"
    assert message["rinfos"] == [
        {"baseStation": {"id": "1A2B"}, "rssi": -120.0, "snr": 10.5, "rep": 3},
        {"baseStation": {"id": "3C4D"}, "rssi": -131.0, "snr": 5.0, "rep": 1},
    ]
    assert message["computedLocation"] == [
        {"lat": 43.6, "lng": 1.44, "radius": 1500, "sourceCode": 2}
    ]
    assert setup.get(f"/api/v2/devices/{device}")["lastComputedLocation"] == {
        "time": 1_700_000_600_000,
        "lat": 43.6,
        "lng": 1.44,
        "radius": 1500,
        "sourceCode": 2,
    }
    [event] = setup.events(device)
    assert event["type"] == "location"
    assert event["data"]["radius"] == 1500
    assert setup.published(device)[0]["id"] == event["id"]


def test_data_advanced_before_its_data_callback_stores_the_message(setup: Setup) -> None:
    device = setup.device(setup.device_type(payloadType=3, payloadConfig="n::uint:16"))
    form = {
        k: v for k, v in advanced(device, 4).items() if k not in ("duplicates", "computedLocation")
    }
    form["duplicates"] = '[{"bsId": "AB12", "rssi": -100, "snr": 20, "nbRep": 2}]'
    response = setup.http.post("/sigfox/service/data-advanced", data=form, auth=SIGFOX)
    assert response.status_code == 200, response.text
    [message] = setup.get(f"/api/v2/devices/{device}/messages")["data"]
    assert (message["seqNumber"], message["data"]) == (4, "0102")
    assert message["decoded"] == {"n": 258}  # decoded as a DATA callback's would be
    assert message["rinfos"][0]["baseStation"] == {"id": "AB12"}
    assert message["computedLocation"] == []


def test_service_callbacks_refuse_what_they_cannot_read(setup: Setup) -> None:
    device = setup.device(setup.device_type())
    unknown = setup.http.post("/sigfox/service", json={"device": device, "time": 1}, auth=SIGFOX)
    assert unknown.status_code == 400
    assert "/sigfox/service/status" in unknown.json()["message"]
    bad_location = advanced(device, 1, computedLocation={"lat": 123, "lng": 1})
    response = setup.http.post("/sigfox/service", json=bad_location, auth=SIGFOX)
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "computedLocation.lat"
    no_auth = setup.http.post("/sigfox/error", json={"device": device, "time": 1})
    assert no_auth.status_code == 401


# -- ERROR -----------------------------------------------------------------------------------


def test_error_callback_is_an_event_with_its_own_text(setup: Setup) -> None:
    device = setup.device(setup.device_type())
    info = "No message received since 2026-11-20 10:00:00"
    body = {"device": device, "time": 1_700_000_000, "severity": "ERROR", "info": info}
    response = setup.http.post("/sigfox/error", json=body, auth=SIGFOX)
    assert response.status_code == 200, response.text
    warn = {"device": device, "time": "1700000100", "severity": "WARN", "info": "network issue"}
    first = setup.http.get("/sigfox/error", params=warn, auth=SIGFOX)
    again = setup.http.get("/sigfox/error", params=warn, auth=SIGFOX)  # a retried callback
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    events = setup.events(device)
    assert [(e["severity"], e["message"]) for e in events] == [
        ("WARN", "network issue"),
        ("ERROR", info),
    ]
    assert events[1]["time"] == 1_700_000_000_000
    assert [p["message"] for p in setup.published(device, 2)] == [info, "network issue"]
    bad = {"device": device, "time": 1, "severity": "PANIC"}
    assert setup.http.post("/sigfox/error", json=bad, auth=SIGFOX).status_code == 400


# -- downlink modes --------------------------------------------------------------------------


def test_direct_mode_answers_from_the_template(setup: Setup) -> None:
    device = setup.device(
        setup.device_type(downlinkMode=0, downlinkDataString="{time}{tapId}{rssi}")
    )
    body = uplink(device, 1, ack=True, at=1_700_000_000)
    first = setup.http.post("/sigfox/bidir", json=body, auth=SIGFOX)
    assert first.status_code == 200
    # 1_700_000_000 = 0x6553f100, station 1A2B, -120 dBm = 0xff88
    assert first.json() == {device: {"downlinkData": "6553f1001a2bff88"}}
    again = setup.http.post("/sigfox/bidir", json=body, auth=SIGFOX)
    assert again.json() == first.json()
    [recorded] = setup.get(f"/api/v2/devices/{device}/downlinks")["data"]
    assert (recorded["source"], recorded["state"], recorded["seqNumber"]) == ("direct", "sent", 1)
    ack = {"device": device, "time": 1_700_000_000, "infoCode": 0, "downlinkAck": True}
    assert setup.http.post("/sigfox/service", json=ack, auth=SIGFOX).json()["state"] == "acked"


def test_none_mode_never_answers(setup: Setup) -> None:
    device = setup.device(setup.device_type(downlinkMode=2))
    queued = setup.http.post(
        f"/api/v2/devices/{device}/downlinks", json={"data": "0102030405060708"}, auth=ADMIN
    )
    assert queued.status_code == 201
    answer = setup.http.post("/sigfox/bidir", json=uplink(device, 1, ack=True), auth=SIGFOX)
    assert answer.status_code == 204
    only = setup.http.post("/sigfox/bidir", json={"device": device}, auth=SIGFOX)
    assert only.status_code == 204
    [still] = setup.get(f"/api/v2/devices/{device}/downlinks")["data"]
    assert still["state"] == "queued"


# -- decoding --------------------------------------------------------------------------------


def test_messages_are_decoded_with_the_device_type_format(setup: Setup) -> None:
    device = setup.device(
        setup.device_type(payloadType=3, payloadConfig="b1::bool:7 b2::bool:6 i1:1:uint:16")
    )
    good = uplink(device, 1, data="C01234")
    short = uplink(device, 2, data="C0")
    for body in (good, short):
        assert setup.http.post("/sigfox/uplink", json=body, auth=SIGFOX).status_code == 204
    second, first = setup.get(f"/api/v2/devices/{device}/messages")["data"]
    assert first["decoded"] == {"b1": True, "b2": True, "i1": 4660}
    assert first["decodeError"] is None
    assert second["decoded"] is None
    assert '"i1"' in second["decodeError"]
    published = setup.mqtt.wait_for(f"sigfox/uplink/{device}", 2)
    assert published[0]["decoded"] == {"b1": True, "b2": True, "i1": 4660}
    assert "decodeError" in published[1] and "decoded" not in published[1]


def test_string_payloads_are_decoded_as_text(setup: Setup) -> None:
    device = setup.device(setup.device_type(payloadType=5))
    body = uplink(device, 1, data="48656c6c6f")
    assert setup.http.post("/sigfox/uplink", json=body, auth=SIGFOX).status_code == 204
    [message] = setup.get(f"/api/v2/devices/{device}/messages")["data"]
    assert message["decoded"] == {"text": "Hello"}


# -- lost messages, refused registrations, expired downlinks --------------------------------


def test_sequence_gaps_raise_messages_lost(setup: Setup) -> None:
    device = setup.device(setup.device_type())
    for i, seq in enumerate((4094, 4095, 2, 3)):  # wraps at 4096: 0 and 1 were lost
        body = uplink(device, seq, at=1_700_000_000 + i * 60)
        assert setup.http.post("/sigfox/uplink", json=body, auth=SIGFOX).status_code == 204
    wait_until(lambda: setup.event_types(device) == ["messages_lost"])
    [event] = setup.events(device)
    assert event["data"] == {"count": 2, "fromSeqNumber": 4095, "toSeqNumber": 2}
    assert setup.published(device)[0]["type"] == "messages_lost"


def test_refused_registration_is_an_event(lorafox_factory: Callable[..., Running]) -> None:
    s = start(lorafox_factory, sigfox={"unknown_devices": "refuse"})
    try:
        response = s.http.post("/sigfox/uplink", json=uplink("ABCDEF", 1), auth=SIGFOX)
        assert response.status_code == 404
        wait_until(lambda: s.event_types("ABCDEF") == ["registration_refused"])
        # SERVICE and ERROR callbacks of a device that is not registered are refused alike
        status = {"device": "ABCDEF", "time": 1_700_000_000, "temp": 20, "batt": 3.3}
        assert s.http.post("/sigfox/service", json=status, auth=SIGFOX).status_code == 404
        error = {"device": "ABCDEF", "time": 1_700_000_000, "info": "x"}
        assert s.http.post("/sigfox/error", json=error, auth=SIGFOX).status_code == 404
        assert s.event_types("ABCDEF") == ["registration_refused"]
        assert s.published("ABCDEF")[0]["severity"] == "WARN"
    finally:
        s.mqtt.close()
        s.http.close()


def test_queued_downlinks_expire(lorafox_factory: Callable[..., Running]) -> None:
    s = start(
        lorafox_factory, events={"keepalive_check_seconds": 0.2, "downlink_expiry_seconds": 1}
    )
    try:
        device = s.device(s.device_type())
        queued = s.http.post(
            f"/api/v2/devices/{device}/downlinks", json={"data": "0102030405060708"}, auth=ADMIN
        )
        assert queued.status_code == 201
        wait_until(
            lambda: s.get(f"/api/v2/devices/{device}/downlinks")["data"][0]["state"] == "expired"
        )
        assert s.event_types(device) == ["downlink_expired"]
        answer = s.http.post("/sigfox/bidir", json=uplink(device, 1, ack=True), auth=SIGFOX)
        assert answer.status_code == 204  # an expired downlink is never sent
    finally:
        s.mqtt.close()
        s.http.close()


# -- keep-alive ------------------------------------------------------------------------------


def test_keep_alive_across_restarts(lorafox_factory: Callable[..., Running]) -> None:
    """A device whose keepAlive ran out while lorafox was down is reported at start, once — not
    again after another restart; its next message reports the communication restored."""
    now = int(time.time())
    s = start(lorafox_factory, events={"keepalive_check_seconds": 3600})  # checks at start only
    watched = s.device(s.device_type(keepAlive=1800))
    unwatched = s.device(s.device_type(keepAlive=0))
    for device in (watched, unwatched):  # 1 s before the keepAlive runs out
        body = uplink(device, 1, at=now - 1799)
        assert s.http.post("/sigfox/uplink", json=body, auth=SIGFOX).status_code == 204
    s.mqtt.close()
    s.http.close()
    s.lorafox.stop()
    time.sleep(1.5)

    quick = {"keepalive_check_seconds": 0.2}
    s = start(lorafox_factory, events=quick)
    wait_until(lambda: s.event_types(watched) == ["communication_lost"])
    [lost] = s.events(watched)
    assert lost["severity"] == "ERROR"
    assert lost["message"].startswith("No message received since ")
    assert lost["data"] == {"lastMessage": (now - 1799) * 1000, "keepAlive": 1800}
    time.sleep(0.6)  # more checks: still one report
    assert s.event_types(watched) == ["communication_lost"]
    assert s.events(unwatched) == []
    s.mqtt.close()
    s.http.close()
    s.lorafox.stop()

    s = start(lorafox_factory, events=quick)
    try:
        time.sleep(0.6)
        assert s.event_types(watched) == ["communication_lost"]  # reported before the restart
        body = uplink(watched, 2, at=int(time.time()))
        assert s.http.post("/sigfox/uplink", json=body, auth=SIGFOX).status_code == 204
        wait_until(lambda: s.event_types(watched)[0] == "communication_restored")
        restored = s.events(watched)[0]
        assert restored["data"]["silentSince"] == (now - 1799) * 1000
        assert s.published(watched)[0]["type"] == "communication_restored"
        time.sleep(0.6)
        assert s.event_types(watched) == ["communication_restored", "communication_lost"]
    finally:
        s.mqtt.close()
        s.http.close()
