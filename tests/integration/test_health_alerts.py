"""Alerts of what fails beside devices, over real sockets: a topic rule whose http action keeps
failing (rule_failing once, however many messages fail, then rule_restored), a ChirpStack
integration whose broker cannot be reached and a The Things Stack push endpoint that is down
(integration_down after the time set, integration_restored at the first success), each
notified by mail to a real SMTP server."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import Running, free_port
from tests.integration.helpers import ADMIN, created
from tests.integration.test_lora_downlink_retry import FAST, PushServer
from tests.integration.test_lora_http import sample
from tests.integration.test_outgoing_callbacks import Receiver, receiver
from tests.mqtt_helpers import Recorder, wait_until
from tests.smtp_helpers import SmtpSink, body_of, smtp

__all__ = ["receiver", "smtp"]

TTS_DEVICE = "0102030405060708"


@dataclass
class Site:
    lorafox: Running
    http: httpx.Client
    root: str

    def alert(self, *event_types: str) -> None:
        spec = {
            "name": "ops",
            "groupId": self.root,
            "eventTypes": list(event_types),
            "emails": ["ops@example.com"],
            "digestSeconds": 0,
        }
        created(self.http, "/api/v2/alerts", spec)

    def device_type(self) -> str:
        spec = {"name": f"type {uuid.uuid4().hex[:8]}", "groupId": self.root}
        return str(created(self.http, "/api/v2/device-types", spec)["id"])

    def integration(self, kind: str, device_type: str, **config: Any) -> dict[str, Any]:
        spec = {
            "name": f"{kind} network",
            "kind": kind,
            "groupId": self.root,
            "deviceTypeId": device_type,
            "config": config,
        }
        return created(self.http, "/api/v2/lora/integrations", spec)

    def events(self, device_type: str) -> list[dict[str, Any]]:
        answer = self.http.get(f"/api/v2/device-types/{device_type}/events")
        assert answer.status_code == 200, answer.text
        found: list[dict[str, Any]] = answer.json()["data"]
        return found

    def wait_events(self, device_type: str, count: int) -> list[dict[str, Any]]:
        """The device type's events once there are ``count``, oldest first."""
        found: list[dict[str, Any]] = wait_until(
            lambda: len(self.events(device_type)) == count and self.events(device_type),
            timeout=30,
        )
        return found[::-1]


@contextlib.contextmanager
def _site(factory: Callable[..., Running], sink: SmtpSink, **kw: Any) -> Iterator[Site]:
    lorafox = factory(mail=sink.settings(), **kw)
    with httpx.Client(base_url=lorafox.base_url, auth=ADMIN, timeout=30) as http:
        [root] = [g["id"] for g in http.get("/api/v2/groups").json()["data"] if not g["path"]]
        yield Site(lorafox, http, root)


def _subjects(sink: SmtpSink) -> list[str]:
    with sink.lock:
        return [str(m["Subject"]) for m in sink.received]


def test_a_failing_rule_is_one_event_and_one_mail_until_it_is_restored(
    lorafox_factory: Callable[..., Running], smtp: SmtpSink, receiver: Receiver
) -> None:
    receiver.statuses = [400]  # refused at once: no retries
    rules = {"http_allowed_urls": [receiver.url + "/"], "failing_after": 3}
    with _site(lorafox_factory, smtp, rules=rules) as site:
        site.alert("rule_failing", "rule_restored")
        name = "r_" + uuid.uuid4().hex[:8]
        rule = {
            "name": name,
            "sql": "SELECT n FROM 'plant/+'",
            "actions": [{"http": {"url": receiver.url + "/in"}}],
        }
        assert site.http.post("/api/v2/rules", json=rule).status_code == 201
        assert site.lorafox.mqtt_port is not None
        events = Recorder("127.0.0.1", site.lorafox.mqtt_port, "sigfox/events/#")
        try:
            for n in range(10):
                events.publish("plant/a", b'{"n": %d}' % n)
            wait_until(lambda: len(receiver.requests) == 10, timeout=30)
            [failing] = events.wait_for("sigfox/events/-")
            [mail] = smtp.wait(1)
            assert mail["Subject"] == f"lorafox: rule_failing {name}"
            assert "HttpAction" in body_of(mail) and "answered 400" in body_of(mail)
            metrics = site.http.get(f"/api/v2/rules/{name}").json()["metrics"]
            assert metrics["actionFailures"] == 10

            receiver.statuses = [400] * 10 + [204]  # the receiver recovers
            events.publish("plant/a", b'{"n": 10}')
            events.publish("plant/a", b'{"n": 11}')
            wait_until(lambda: len(receiver.requests) == 12, timeout=30)
            _, restored = events.wait_for("sigfox/events/-", 2)
            wait_until(lambda: len(_subjects(smtp)) == 2)
        finally:
            events.close()
        assert failing["type"] == "rule_failing"
        assert failing["data"]["rule"] == name
        assert failing["data"]["action"] == "HttpAction"  # AWS's failedAction
        assert failing["data"]["error"] == f"POST {receiver.url}/in answered 400"
        assert restored["type"] == "rule_restored" and restored["data"]["rule"] == name
        assert _subjects(smtp) == [
            f"lorafox: rule_failing {name}",
            f"lorafox: rule_restored {name}",
        ]
        assert len(events.on("sigfox/events/-")) == 2  # one each way, not one per message


@pytest.mark.mosquitto
def test_a_chirpstack_broker_out_of_reach_is_integration_down_until_it_can_be_reached(
    lorafox_factory: Callable[..., Running], smtp: SmtpSink, mosquitto: tuple[str, int]
) -> None:
    with _site(lorafox_factory, smtp, lora={"integration_down_seconds": 2}) as site:
        site.alert("integration_down", "integration_restored")
        device_type = site.device_type()
        closed = f"mqtt://127.0.0.1:{free_port()}"
        made = site.integration("chirpstack", device_type, mqttUrl=closed)
        [down] = site.wait_events(device_type, 1)
        assert down["type"] == "integration_down"
        assert down["data"]["integrationId"] == made["id"]
        assert down["data"]["transport"] == "broker"
        assert down["data"]["error"].startswith("MqttError")
        [mail] = smtp.wait(1)
        assert mail["Subject"] == "lorafox: integration_down chirpstack network"
        assert "its broker has failed for" in body_of(mail)

        host, port = mosquitto
        config = {"config": {"mqttUrl": f"mqtt://{host}:{port}"}}
        answer = site.http.put(f"/api/v2/lora/integrations/{made['id']}", json=config)
        assert answer.status_code == 204, answer.text
        _, restored = site.wait_events(device_type, 2)
        assert restored["type"] == "integration_restored"
        assert restored["data"]["transport"] == "broker"
        wait_until(lambda: len(_subjects(smtp)) == 2)
        assert _subjects(smtp)[1] == "lorafox: integration_restored chirpstack network"


def test_a_tts_push_endpoint_down_is_integration_down_until_a_push_succeeds(
    lorafox_factory: Callable[..., Running], smtp: SmtpSink
) -> None:
    lora = {**FAST, "integration_down_seconds": 1}
    with _site(lorafox_factory, smtp, lora=lora) as site:
        site.alert("integration_down", "integration_restored")
        device_type = site.device_type()
        made = site.integration("tts", device_type)
        port = free_port()  # nothing listens there yet
        headers = {
            "authorization": f"Bearer {made['token']}",
            "x-downlink-push": f"http://127.0.0.1:{port}/devices/dev1/down/push",
            "x-downlink-apikey": "NNSXS.K",
        }
        up = httpx.post(  # the integration's token, not the admin's login
            f"{site.lorafox.base_url}/lora/tts/{made['id']}/up",
            json=sample("tts_uplink.json"),
            headers=headers,
        )
        assert up.status_code == 200, up.text
        queued = {"data": "01", "fPort": 5}
        answer = site.http.post(f"/api/v2/devices/{TTS_DEVICE}/downlinks", json=queued)
        assert answer.status_code == 201, answer.text
        [down] = site.wait_events(device_type, 1)
        assert down["type"] == "integration_down"
        assert down["data"]["transport"] == "downlink"
        assert down["data"]["error"] == "unreachable: ConnectError"
        [mail] = smtp.wait(1)
        assert mail["Subject"] == "lorafox: integration_down tts network"

        peer = PushServer(port)  # the network server comes up
        try:
            _, restored = site.wait_events(device_type, 2)
            assert len(peer.bodies) == 1  # the downlink, handed over at last
        finally:
            peer.close()
        assert restored["type"] == "integration_restored"
        assert restored["data"]["transport"] == "downlink"
        wait_until(lambda: len(_subjects(smtp)) == 2)
        assert _subjects(smtp)[1] == "lorafox: integration_restored tts network"
        time.sleep(1)  # the push retries have stopped: no further event
        assert len(site.events(device_type)) == 2
