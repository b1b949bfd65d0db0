"""The whole path over real sockets: the Sigfox Back-End's callbacks over HTTP, applications on
MQTT, the REST API — once on the embedded broker and once on the external Mosquitto."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson
import pytest

from tests.conftest import SIGFOX_USER, TABLES_AFTER_0009, Running, execute_sql
from tests.integration.helpers import ADMIN, SIGFOX, serving
from tests.mqtt_helpers import Recorder, wait_until


@dataclass
class Setup:
    lorafox: Running
    mqtt: Recorder
    http: httpx.Client
    device: str


def new_device() -> str:
    return "F" + secrets.token_hex(3).upper()  # unique per test: the Mosquitto is shared


@pytest.fixture(params=["embedded", "mosquitto"])
def setup(
    request: pytest.FixtureRequest, lorafox_factory: Callable[..., Running]
) -> Iterator[Setup]:
    device = new_device()
    if request.param == "embedded":
        lorafox = lorafox_factory()
        host, port = "127.0.0.1", lorafox.mqtt_port
        assert port is not None
    else:
        request.applymarker(pytest.mark.mosquitto)
        host, port = request.getfixturevalue("mosquitto")
        lorafox = lorafox_factory(mqtt_url=f"mqtt://{host}:{port}", mqtt_port=0)
        wait_until(lambda: httpx.get(f"{lorafox.base_url}/healthz").json()["mqtt"] == "connected")
    recorder = Recorder(host, port, f"sigfox/uplink/{device}", f"sigfox/downlink/{device}/rejected")
    with httpx.Client(base_url=lorafox.base_url, timeout=10) as http:
        yield Setup(lorafox, recorder, http, device)
    recorder.close()


def body(
    device: str, seq: int, *, ack: bool = False, station: str = "1A2B", **extra: object
) -> dict[str, object]:
    return {
        "device": device,
        "time": 1_700_000_000 + seq * 60,
        "data": f"{seq:024x}",
        "seqNumber": seq,
        "ack": ack,
        "longPolling": False,
        "snr": "12.34",
        "rssi": "-110.00",
        "avgSnr": "20.1",
        "station": station,
        "lat": "43",
        "lng": "1",
        "deviceTypeId": "5f0f",
        "duplicate": False,
        **extra,
    }


def queued(s: Setup) -> list[dict[str, object]]:
    response = s.http.get(f"/api/v2/devices/{s.device}/downlinks", auth=ADMIN)
    assert response.status_code == 200
    data: list[dict[str, object]] = response.json()["data"]
    return data


def test_end_to_end(setup: Setup) -> None:
    s, dev = setup, setup.device

    # an uplink is stored, acknowledged and published
    r = s.http.post("/sigfox/uplink", json=body(dev, 1), auth=SIGFOX)
    assert r.status_code == 204
    [published] = s.mqtt.wait_for(f"sigfox/uplink/{dev}")
    assert published["device"] == dev
    assert published["seqNumber"] == 1
    assert published["data"] == f"{1:024x}"
    assert published["time"] == 1_700_000_060
    assert (
        published["snr"] == 12.34 and published["rssi"] == -110.0 and published["station"] == "1A2B"
    )

    # BIDIR with nothing queued, and with ack=false: 204
    assert s.http.post("/sigfox/bidir", json=body(dev, 2, ack=True), auth=SIGFOX).status_code == 204

    # the application queues a downlink on MQTT; a bad one is rejected on .../rejected
    s.mqtt.publish(f"sigfox/downlink/{dev}", b'{"downlinkData":"0102030405060708"}')
    s.mqtt.publish(f"sigfox/downlink/{dev}", b'{"downlinkData":"0102"}')
    s.mqtt.publish(f"sigfox/downlink/{dev}", b"not json")
    rejected = s.mqtt.wait_for(f"sigfox/downlink/{dev}/rejected", count=2)
    assert {r["payload"] for r in rejected} == {'{"downlinkData":"0102"}', "not json"}
    assert any("8 bytes" in r["error"] for r in rejected)
    wait_until(lambda: len(queued(s)) == 1)
    assert queued(s)[0]["state"] == "queued" and queued(s)[0]["source"] == "mqtt"

    assert (
        s.http.post("/sigfox/bidir", json=body(dev, 3, ack=False), auth=SIGFOX).status_code == 204
    )
    assert queued(s)[0]["state"] == "queued"

    # the next BIDIR with ack=true gets it; Sigfox's retry of that call gets the same one
    r = s.http.post("/sigfox/bidir", json=body(dev, 4, ack=True), auth=SIGFOX)
    assert r.status_code == 200
    assert r.json() == {dev: {"downlinkData": "0102030405060708"}}
    s.http.post(f"/api/v2/devices/{dev}/downlinks", json={"data": "1112131415161718"}, auth=ADMIN)
    retry = s.http.post("/sigfox/bidir", json=body(dev, 4, ack=True), auth=SIGFOX)
    assert retry.status_code == 200 and retry.json() == r.json()
    # a duplicate from another base station: stored once, still 2xx, same answer
    dup = s.http.post(
        "/sigfox/bidir", json=body(dev, 4, ack=True, station="9999", duplicate=True), auth=SIGFOX
    )
    assert dup.status_code == 200 and dup.json() == r.json()

    # form-encoded BIDIR (the way a callback typed as form sends it) gets the REST-queued one
    form = {
        k: str(v).lower() if isinstance(v, bool) else str(v)
        for k, v in body(dev, 5, ack=True).items()
    }
    r = s.http.post("/sigfox/bidir", data=form, auth=SIGFOX)
    assert r.status_code == 200 and r.json() == {dev: {"downlinkData": "1112131415161718"}}
    # GET with a query string works too
    r = s.http.get(
        "/sigfox/uplink", params={**form, "seqNumber": "6", "time": "1700000360"}, auth=SIGFOX
    )
    assert r.status_code == 204
    states = [(d["data"], d["state"], d["seqNumber"]) for d in queued(s)]
    assert states == [("0102030405060708", "sent", 4), ("1112131415161718", "sent", 5)]

    # the REST API lists each message once, newest first, with paging
    r = s.http.get(f"/api/v2/devices/{dev}/messages", auth=ADMIN)
    assert r.status_code == 200
    listed = r.json()
    assert [m["seqNumber"] for m in listed["data"]] == [6, 5, 4, 3, 2, 1]
    assert listed["data"][0]["device"] == {"id": dev}
    assert listed["data"][0]["time"] == 1_700_000_360_000
    assert listed["paging"] == {} or listed["paging"].get("next") is None
    page1 = s.http.get(f"/api/v2/devices/{dev}/messages", params={"limit": 4}, auth=ADMIN).json()
    assert [m["seqNumber"] for m in page1["data"]] == [6, 5, 4, 3]
    page2 = s.http.get(page1["paging"]["next"], auth=ADMIN).json()
    assert [m["seqNumber"] for m in page2["data"]] == [2, 1]
    window = s.http.get(
        f"/api/v2/devices/{dev}/messages",
        params={"since": 1_700_000_120_000, "before": 1_700_000_300_000},
        auth=ADMIN,
    ).json()
    assert [m["seqNumber"] for m in window["data"]] == [4, 3, 2]

    # MQTT saw every stored uplink exactly once (retries and duplicates are not republished)
    uplinks = s.mqtt.wait_for(f"sigfox/uplink/{dev}", count=6)
    assert sorted(u["seqNumber"] for u in uplinks) == [1, 2, 3, 4, 5, 6]


def test_bad_requests_get_clear_errors(setup: Setup) -> None:
    s, dev = setup, setup.device
    r = s.http.post("/sigfox/uplink", json=body(dev, 1))
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Basic")
    r = s.http.post("/sigfox/uplink", json=body(dev, 1), auth=(SIGFOX_USER, "wrong"))
    assert r.status_code == 401 and r.json()["message"]
    cases = [
        (b"{not json", "application/json", None),
        (
            orjson.dumps({k: v for k, v in body(dev, 1).items() if k != "device"}),
            "application/json",
            "device",
        ),
        (orjson.dumps(body(dev, 1) | {"data": "0g"}), "application/json", "data"),
        (orjson.dumps(body(dev, 1) | {"data": "00" * 13}), "application/json", "data"),
        (orjson.dumps(body(dev, 1) | {"seqNumber": "x"}), "application/json", "seqNumber"),
        (b"device=%ZZ&&", "application/x-www-form-urlencoded", None),
    ]
    for content, content_type, field in cases:
        r = s.http.post(
            "/sigfox/bidir", content=content, headers={"content-type": content_type}, auth=SIGFOX
        )
        assert r.status_code == 400, content
        error = r.json()
        assert error["message"]
        if field:
            assert error["errors"][0]["field"] == field
    r = s.http.put("/sigfox/uplink", json=body(dev, 1), auth=SIGFOX)
    assert r.status_code == 405
    r = s.http.post(f"/api/v2/devices/{dev}/downlinks", json={"data": "01"}, auth=ADMIN)
    assert r.status_code == 400 and "8 bytes" in r.json()["message"]
    r = s.http.post(f"/api/v2/devices/{dev}/downlinks", json={"nodata": 1}, auth=ADMIN)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "data"
    r = s.http.get("/api/v2/devices/NOTHEX/messages", auth=ADMIN)
    assert r.status_code == 400
    r = s.http.get(f"/api/v2/devices/{dev}/messages", params={"limit": 101}, auth=ADMIN)
    assert r.status_code == 400
    assert s.http.get(f"/api/v2/devices/{dev}/messages").status_code == 401
    assert s.http.get(f"/api/v2/devices/{dev}/messages", auth=SIGFOX).status_code == 401
    # nothing bad was stored or published
    assert s.http.get(f"/api/v2/devices/{dev}/messages", auth=ADMIN).json()["data"] == []


def test_aws_reference_body_is_a_downlink_request(setup: Setup) -> None:
    s, dev = setup, setup.device
    s.http.post(f"/api/v2/devices/{dev}/downlinks", json={"data": "A1A2A3A4A5A6A7A8"}, auth=ADMIN)
    r = s.http.post("/sigfox/bidir", json={"id": dev}, auth=SIGFOX)
    assert r.status_code == 200 and r.json() == {dev: {"downlinkData": "a1a2a3a4a5a6a7a8"}}
    assert s.http.post("/sigfox/bidir", json={"id": dev}, auth=SIGFOX).status_code == 204


def test_concurrent_bidir_never_share_a_downlink(setup: Setup) -> None:
    s, dev = setup, setup.device
    sent = {f"{i:016x}" for i in range(5)}
    for data in sorted(sent):
        assert (
            s.http.post(
                f"/api/v2/devices/{dev}/downlinks", json={"data": data}, auth=ADMIN
            ).status_code
            == 201
        )

    def call(seq: int) -> httpx.Response:
        with httpx.Client(base_url=s.lorafox.base_url, timeout=10) as client:
            return client.post("/sigfox/bidir", json=body(dev, seq, ack=True), auth=SIGFOX)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(call, range(100, 120)))
    got = [r.json()[dev]["downlinkData"] for r in answers if r.status_code == 200]
    assert sorted(got) == sorted(sent)
    assert sum(r.status_code == 204 for r in answers) == 15


def test_delete_queued_downlink(setup: Setup) -> None:
    s, dev = setup, setup.device
    created = s.http.post(
        f"/api/v2/devices/{dev}/downlinks", json={"data": "0102030405060708"}, auth=ADMIN
    ).json()
    assert created["state"] == "queued" and created["device"] == {"id": dev}
    assert (
        s.http.delete(f"/api/v2/devices/{dev}/downlinks/{created['id']}", auth=ADMIN).status_code
        == 204
    )
    r = s.http.delete(f"/api/v2/devices/{dev}/downlinks/{created['id']}", auth=ADMIN)
    assert r.status_code == 404 and r.json()["message"]
    assert queued(s) == []
    assert s.http.post("/sigfox/bidir", json=body(dev, 1, ack=True), auth=SIGFOX).status_code == 204


@pytest.mark.parametrize("path", ["/sigfox/uplink", "/sigfox/bidir", "/sigfox/service/status"])
def test_time_in_milliseconds_and_seq_numbers_beyond_12_bits_are_refused(
    lorafox_factory: Callable[..., Running], path: str
) -> None:
    dev = new_device()
    lorafox = lorafox_factory()
    good = body(dev, 1) | {"temp": "21.5", "batt": "3.1"}
    with httpx.Client(base_url=lorafox.base_url, timeout=10) as http:
        millis = http.post(path, json=good | {"time": 1_700_000_000_000}, auth=SIGFOX)
        assert millis.status_code == 400, millis.text
        error = millis.json()
        assert error["errors"][0]["field"] == "time"
        assert "looks like milliseconds" in error["message"]
        assert "1700000000" in error["message"]  # the value in seconds, as a hint
        future = http.post(path, json=good | {"time": 4_000_000_000}, auth=SIGFOX)
        assert future.status_code == 400 and "in the future" in future.json()["message"]
        seq = http.post(path, json=good | {"seqNumber": 4096}, auth=SIGFOX)
        assert seq.status_code == 400, seq.text
        assert seq.json()["errors"][0]["field"] == "seqNumber"
        assert "0 to 4095" in seq.json()["message"]
        assert http.post(path, json=good | {"seqNumber": 4095}, auth=SIGFOX).is_success
        if path != "/sigfox/service/status":
            stored = http.get(f"/api/v2/devices/{dev}/messages", auth=ADMIN).json()["data"]
            assert [(m["time"], m["seqNumber"]) for m in stored] == [(1_700_000_060_000, 4095)]


def test_rest_errors_say_what_is_wrong(lorafox_factory: Callable[..., Running]) -> None:
    lorafox = lorafox_factory()
    url = f"/api/v2/devices/{new_device()}/downlinks"
    with httpx.Client(base_url=lorafox.base_url, timeout=10) as http:
        broken = http.post(
            url, content=b'{"data": "01",', headers={"content-type": "application/json"}, auth=ADMIN
        )
        assert broken.status_code == 400
        assert broken.json()["message"].startswith("body is not valid JSON: ")
        assert "(at character " in broken.json()["message"]
        untyped = http.post(url, content=b'{"data": "0102030405060708"}', auth=ADMIN)
        assert untyped.status_code == 400
        assert untyped.json()["message"] == (
            "body: expected a JSON object (send it with Content-Type: application/json)"
        )
        listed = http.post(url, json=["0102030405060708"], auth=ADMIN)
        assert listed.status_code == 400 and "expected a JSON object" in listed.json()["message"]
        missing = http.post(url, json={"nodata": 1}, auth=ADMIN)
        assert missing.json()["errors"][0]["field"] == "data"
        assert missing.json()["message"].startswith("data: ")
        browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
        home = http.get("/", headers=browser, follow_redirects=False)
        assert home.status_code == 307 and home.headers["location"] == "/console"
        assert http.get("/", headers=browser, follow_redirects=True).status_code == 200


def test_a_json_body_sent_as_a_form_is_read_as_json(
    lorafox_factory: Callable[..., Running],
) -> None:
    """``curl -d '{…}'`` labels a JSON body application/x-www-form-urlencoded."""
    lorafox = lorafox_factory()
    dev = new_device()
    with httpx.Client(base_url=lorafox.base_url, timeout=10) as http:
        sent = http.post(
            "/sigfox/uplink",
            content=orjson.dumps(body(dev, 3)),
            headers={"content-type": "application/x-www-form-urlencoded"},
            auth=SIGFOX,
        )
        assert sent.status_code == 204, sent.text
        stored = http.get(f"/api/v2/devices/{dev}/messages", auth=ADMIN).json()["data"]
        assert [m["seqNumber"] for m in stored] == [3]


def test_api_docs_are_served_from_the_package(lorafox_factory: Callable[..., Running]) -> None:
    """Swagger UI works on a box without internet: no CDN, every asset served by lorafox."""
    lorafox = lorafox_factory()
    with httpx.Client(base_url=lorafox.base_url, timeout=10) as http:
        page = http.get("/api/docs")
        assert page.status_code == 200 and "swagger-ui" in page.text
        assets = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert assets and all(a.startswith("/api/docs/assets/") for a in assets), assets
        assert "cdn" not in page.text.lower()
        for asset in assets:
            answer = http.get(asset)
            assert answer.status_code == 200 and len(answer.content) > 100, asset
        assert http.get("/api/openapi.json").json()["info"]["title"] == "lorafox"


def test_rows_dated_in_the_far_future_are_redated_on_upgrade(tmp_path: Path) -> None:
    """A message stored before callbacks refused millisecond times (year 55,000) is dated when
    it was received once lorafox upgrades: it no longer sorts first nor freezes ``lastCom``."""
    data = tmp_path / "data"
    with serving(data) as server, httpx.Client(base_url=server.base_url, timeout=10) as http:
        for seq in (1, 2):
            sent = http.post("/sigfox/uplink", json=body("FA7E", seq), auth=SIGFOX)
            assert sent.status_code == 204
    execute_sql(  # as an older version stored it
        data,
        "UPDATE messages SET time = time * 1000 WHERE seq_number = 1",
        "UPDATE alembic_version SET version_num = '0008'",
        *TABLES_AFTER_0009,
    )
    with serving(data) as server, httpx.Client(base_url=server.base_url, timeout=10) as http:
        listed = http.get("/api/v2/devices/FA7E/messages", auth=ADMIN).json()["data"]
        assert len(listed) == 2
        assert all(m["time"] < 10_000_000_000_000 for m in listed)  # epoch ms, before 2286
        assert listed[0]["seqNumber"] == 1  # redated to its reception, after message 2
        device = http.get("/api/v2/devices/FA7E", auth=ADMIN).json()
        assert device["lastCom"] == listed[0]["time"]
