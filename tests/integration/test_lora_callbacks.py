"""Callbacks of a LoRa device's type: a real ChirpStack uplink over HTTP reaches a real HTTP
receiver with the LoRa variables ({devEui}, {appEui}, {fPort}, {fCnt} …), and those variables
are refused where a callback does not have them."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import Running
from tests.integration.helpers import ADMIN, SIGFOX, created, new_device_id
from tests.integration.test_outgoing_callbacks import LOOPBACK, Receiver, receiver
from tests.integration.test_sigfox_flow import body
from tests.mqtt_helpers import wait_until

__all__ = ["receiver"]

DATA = Path(__file__).resolve().parent.parent / "data" / "lora"


@pytest.fixture
def http(lorafox_factory: Callable[..., Running]) -> Iterator[httpx.Client]:
    lorafox = lorafox_factory(callbacks=LOOPBACK)
    with httpx.Client(base_url=lorafox.base_url, auth=ADMIN, timeout=10) as client:
        yield client


def _lora_type(http: httpx.Client) -> tuple[str, str, dict[str, str]]:
    """A device type with a decoder for port 1, and a ChirpStack integration into it."""
    [root] = [g for g in http.get("/api/v2/groups").json()["data"] if not g["path"]]
    spec = {
        "name": "lora meters",
        "groupId": root["id"],
        "payloadType": 3,
        "payloadConfig": "port 1: level::uint:8",
    }
    device_type = created(http, "/api/v2/device-types", spec)["id"]
    integration = created(
        http,
        "/api/v2/lora/integrations",
        {
            "name": "cs",
            "kind": "chirpstack",
            "groupId": root["id"],
            "appEui": "37817737f13",
            "deviceTypeId": device_type,
        },
    )
    return device_type, integration["id"], {"authorization": f"Bearer {integration['token']}"}


def test_a_lora_uplink_reaches_a_callback_with_its_lora_variables(
    http: httpx.Client, receiver: Receiver
) -> None:
    device_type, integration, auth = _lora_type(http)
    template = (
        '{"devEui":"{devEui}","appEui":"{appEui}","fPort":{fPort},"fCnt":{fCnt},'
        '"dataRate":"{dataRate}","frequency":{frequency},"deviceName":"{deviceName}",'
        '"device":"{device}","data":"{data}","seq":{seqNumber},"rssi":{rssi},'
        '"level":{customData#level}}'
    )
    spec: dict[str, Any] = {
        "channel": "URL",
        "callbackType": 0,
        "callbackSubtype": 2,
        "url": receiver.url + "/lora/{devEui}?port={fPort}&cnt={fCnt}",
        "headers": {"X-App": "{appEui}"},
        "bodyTemplate": template,
    }
    created(http, f"/api/v2/device-types/{device_type}/callbacks", spec)
    up = orjson.loads((DATA / "chirpstack_up.json").read_bytes())
    up["fCnt"] = 42
    with httpx.Client(base_url=http.base_url, headers=auth) as network_server:
        answer = network_server.post(
            f"/lora/chirpstack/{integration}", params={"event": "up"}, json=up
        )
    assert answer.status_code == 200, answer.text
    [got] = wait_until(lambda: receiver.requests)
    assert got.path == "/lora/0101010101010101?port=1&cnt=42"
    assert got.headers["X-App"] == "0000037817737f13"
    assert json.loads(got.body) == {
        "devEui": "0101010101010101",
        "appEui": "0000037817737f13",
        "fPort": 1,
        "fCnt": 42,
        "dataRate": "SF11BW125",
        "frequency": 867100000,
        "deviceName": "Test device",
        "device": "0101010101010101",
        "data": "aa",
        "seq": 42,
        "rssi": -36.0,
        "level": 170,
    }


def test_a_sigfox_message_leaves_the_lora_variables_empty(
    http: httpx.Client, receiver: Receiver
) -> None:
    device_type = created(http, "/api/v2/device-types", {"name": "sigfox meters"})["id"]
    device = new_device_id()
    created(
        http,
        "/api/v2/devices",
        {"id": device, "name": "m", "deviceTypeId": device_type, "pac": "0123456789ABCDEF"},
    )
    spec = {
        "channel": "URL",
        "callbackType": 0,
        "callbackSubtype": 2,
        "url": receiver.url + "/in?dev={devEui}&port={fPort}&seq={seqNumber}",
    }
    created(http, f"/api/v2/device-types/{device_type}/callbacks", spec)
    extra = {"fPort": 9, "devEui": "0202020202020202"}  # unknown Sigfox fields: not LoRa's
    r = http.post("/sigfox/uplink", json={**body(device, 3), **extra}, auth=SIGFOX)
    assert r.status_code == 204, r.text
    [got] = wait_until(lambda: receiver.requests)
    assert got.path == "/in?dev=&port=&seq=3"


@pytest.mark.parametrize("field", ["url", "bodyTemplate"])
def test_lora_variables_are_refused_in_service_callbacks(http: httpx.Client, field: str) -> None:
    device_type = created(http, "/api/v2/device-types", {"name": "t"})["id"]
    spec: dict[str, Any] = {
        "channel": "URL",
        "callbackType": 1,
        "callbackSubtype": 0,
        "url": "http://example.com/in",
        "bodyTemplate": "{}",
    }
    spec[field] = spec[field] + "{fCnt}"
    r = http.post(f"/api/v2/device-types/{device_type}/callbacks", json=spec)
    assert r.status_code == 400, r.text
    assert "{fCnt} is not a variable of SERVICE STATUS" in r.text
    assert r.json()
