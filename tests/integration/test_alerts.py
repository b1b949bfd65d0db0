"""Alerts: subscriptions over the API (with the groups' access rules), notifications by mail to
a real SMTP server and through apprise to a real HTTP receiver, digests, rate limits, the test
endpoint and a device type's alertEmail."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import Running
from tests.integration.helpers import ADMIN, SIGFOX, created, group_with_a_device, new_api_user
from tests.integration.test_outgoing_callbacks import Receiver, receiver
from tests.mqtt_helpers import wait_until
from tests.smtp_helpers import SmtpSink, body_of, smtp

__all__ = ["receiver", "smtp"]

LOOPBACK = {"allowed_networks": "127.0.0.0/8"}


@dataclass
class Setup:
    lorafox: Running
    http: httpx.Client
    root: str

    def alert(self, **fields: Any) -> str:
        spec = {"name": "ops", "groupId": self.root, **fields}
        return str(created(self.http, "/api/v2/alerts", spec)["id"])

    def device_type(self, **fields: Any) -> str:
        spec = {"name": f"type {time.monotonic_ns()}", "groupId": self.root, **fields}
        return str(created(self.http, "/api/v2/device-types", spec)["id"])

    def low_battery(self, device: str, device_type: str) -> None:
        uplink = {"device": device, "time": int(time.time()), "data": "00", "seqNumber": 1}
        uplink["deviceTypeId"] = device_type
        assert self.http.post("/sigfox/uplink", json=uplink, auth=SIGFOX).status_code == 204
        status = {"device": device, "time": int(time.time()), "temp": "20", "batt": "2.1"}
        answer = self.http.post("/sigfox/service", json=status, auth=SIGFOX)
        assert answer.status_code == 200, answer.text


@pytest.fixture
def setup(lorafox_factory: Callable[..., Running], smtp: SmtpSink) -> Iterator[Setup]:
    yield from _setup(lorafox_factory, smtp)


def _setup(factory: Callable[..., Running], sink: SmtpSink | None, **kw: Any) -> Iterator[Setup]:
    mail = {} if sink is None else {"mail": sink.settings(alert_email_digest_seconds=0.5)}
    lorafox = factory(callbacks=LOOPBACK, **mail, **kw)
    http = httpx.Client(base_url=lorafox.base_url, auth=ADMIN, timeout=30)
    groups = http.get("/api/v2/groups").json()["data"]
    [root] = [g["id"] for g in groups if not g["path"]]
    try:
        yield Setup(lorafox, http, root)
    finally:
        http.close()


def _json(received: Receiver) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in received.requests]


def test_alerts_are_created_read_changed_and_deleted_within_their_group(setup: Setup) -> None:
    http = setup.http
    group, device_type, device = group_with_a_device(http, setup.root, "site A", "a")
    other, other_type, _ = group_with_a_device(http, setup.root, "site B", "b")
    spec = {
        "name": "site A down",
        "groupId": group,
        "eventTypes": ["communication_lost", "low_battery"],
        "deviceTypeId": device_type,
        "emails": ["ops@example.com"],
        "urls": ["ntfy://ntfy.sh/site-a"],
    }
    alert = created(http, "/api/v2/alerts", spec)["id"]
    shown = http.get(f"/api/v2/alerts/{alert}").json()
    assert shown["eventTypes"] == ["communication_lost", "low_battery"]
    assert shown["deviceTypeId"] == device_type and shown["digestSeconds"] == 60
    assert shown["mailConfigured"] is True
    answer = http.put(f"/api/v2/alerts/{alert}", json={"device": device, "maxPerHour": 3})
    assert answer.status_code == 204, answer.text
    shown = http.get(f"/api/v2/alerts/{alert}").json()
    assert (shown["device"], shown["deviceTypeId"], shown["maxPerHour"]) == (device, None, 3)

    viewer = new_api_user(http, group, "viewer", "VIEWER")
    manager_b = new_api_user(http, other, "manager b", "DEVICE_MANAGER")
    [seen] = http.get("/api/v2/alerts", auth=viewer).json()["data"]
    assert seen["id"] == alert and seen["urls"] == ["ntfy://…"]  # a viewer sees no tokens
    assert http.get(f"/api/v2/alerts/{alert}").json()["urls"] == ["ntfy://ntfy.sh/site-a"]
    assert http.get("/api/v2/alerts", auth=manager_b).json()["data"] == []
    assert http.get(f"/api/v2/alerts/{alert}", auth=manager_b).status_code == 404
    assert http.put(f"/api/v2/alerts/{alert}", json={}, auth=viewer).status_code == 403
    assert http.post(f"/api/v2/alerts/{alert}/test", auth=viewer).status_code == 403
    assert http.delete(f"/api/v2/alerts/{alert}", auth=manager_b).status_code == 404
    # another group's device type cannot be watched from here, nor this group from there
    spec_b = {**spec, "groupId": other, "deviceTypeId": device_type}
    assert http.post("/api/v2/alerts", json=spec_b, auth=manager_b).status_code == 404
    spec_a = {**spec, "deviceTypeId": other_type}
    answer = http.post("/api/v2/alerts", json=spec_a)
    assert answer.status_code == 400 and "not in the alert's group" in answer.text
    assert http.delete(f"/api/v2/alerts/{alert}").status_code == 204
    assert http.get(f"/api/v2/alerts/{alert}").status_code == 404


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"eventTypes": ["everything"]}, "eventTypes"),
        ({"eventTypes": []}, "eventTypes"),
        ({"emails": ["not an address"]}, "emails"),
        ({"emails": [], "urls": []}, "emails"),
        ({"urls": ["json://10.1.2.3/hook"]}, "urls"),
        ({"urls": ["json://192.168.0.1:8080/"], "emails": []}, "urls"),
        ({"urls": ["nonsense://x"]}, "urls"),
        ({"urls": ["x" * 3000]}, "urls"),
        ({"digestSeconds": -1}, "digestSeconds"),
        ({"maxPerHour": 0}, "maxPerHour"),
        ({"name": ""}, "name"),
        ({"device": "ZZZZ"}, "device"),
        ({"groupId": "nope"}, "group"),
    ],
)
def test_bad_alerts_are_refused_with_a_400_naming_the_field(
    lorafox_factory: Callable[..., Running], fields: dict[str, Any], named: str
) -> None:
    lorafox = lorafox_factory()  # callbacks may reach only public addresses
    with httpx.Client(base_url=lorafox.base_url, auth=ADMIN, timeout=10) as http:
        spec = {"name": "x", "eventTypes": ["low_battery"], "emails": ["a@example.com"], **fields}
        answer = http.post("/api/v2/alerts", json=spec)
        assert answer.status_code in (400, 404), answer.text
        assert named in answer.text
        garbage = http.post(
            "/api/v2/alerts", content=b"{", headers={"content-type": "application/json"}
        )
        assert garbage.status_code == 400
        assert http.post("/api/v2/alerts/nope/test").status_code == 404


def test_the_test_endpoint_notifies_now_by_mail_and_apprise(
    setup: Setup, smtp: SmtpSink, receiver: Receiver
) -> None:
    alert = setup.alert(
        name="night shift",
        eventTypes=["communication_lost"],
        emails=["ops@example.com"],
        urls=[f"json://127.0.0.1:{receiver.url.rsplit(':', 1)[1]}/hook"],
        maxPerHour=1,
    )
    answer = setup.http.post(f"/api/v2/alerts/{alert}/test")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"mailSent": True, "notified": 1, "errors": []}
    [mail] = smtp.wait(1)
    assert mail["To"] == "ops@example.com"
    assert mail["Subject"] == "lorafox: test of alert night shift"
    [posted] = _json(receiver)
    assert posted["title"] == "lorafox: test of alert night shift"
    assert "communication_lost" in posted["message"]
    again = setup.http.post(f"/api/v2/alerts/{alert}/test")  # maxPerHour 1
    assert again.status_code == 409, again.text
    assert len(receiver.requests) == 1


def test_a_dead_notification_url_is_reported_by_the_test(setup: Setup) -> None:
    alert = setup.alert(eventTypes=["low_battery"], urls=["json://127.0.0.1:9/none"])
    answer = setup.http.post(f"/api/v2/alerts/{alert}/test")
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["mailSent"] is None and result["notified"] == 0
    assert result["errors"] and "127.0.0.1:9" not in json.dumps(result)  # tokens stay hidden


def test_without_a_mail_server_the_answers_say_no_mail_is_sent(
    lorafox_factory: Callable[..., Running],
) -> None:
    for s in _setup(lorafox_factory, None):
        alert = s.alert(eventTypes=["low_battery"], emails=["ops@example.com"])
        assert s.http.get(f"/api/v2/alerts/{alert}").json()["mailConfigured"] is False
        answer = s.http.post(f"/api/v2/alerts/{alert}/test")
        assert answer.status_code == 200 and answer.json()["mailSent"] is False


def test_an_outage_of_1000_devices_is_one_notification(
    smtp: SmtpSink, receiver: Receiver, lorafox_factory: Callable[..., Running]
) -> None:
    """Each of 1,000 devices goes silent past its keepAlive within seconds: one mail and one
    chat message list them, not 1,000."""
    for setup in _setup(lorafox_factory, smtp, events={"keepalive_check_seconds": 0.5}):
        _outage(setup, smtp, receiver)


def _outage(setup: Setup, smtp: SmtpSink, receiver: Receiver) -> None:
    device_type = setup.device_type(keepAlive=1800)
    setup.alert(
        eventTypes=["communication_lost"],
        deviceTypeId=device_type,
        emails=["noc@example.com"],
        urls=[f"json://127.0.0.1:{receiver.url.rsplit(':', 1)[1]}/hook"],
        digestSeconds=20,  # long enough for the last uplink on a machine under load
    )
    lost_at = int(time.time()) - 1800 + 4  # their keepAlive runs out in 4 s
    for n in range(1000):
        device = f"{0xA00000 + n:X}"
        body = {"device": device, "time": lost_at, "data": "00", "seqNumber": 1}
        body["deviceTypeId"] = device_type
        assert setup.http.post("/sigfox/uplink", json=body, auth=SIGFOX).status_code == 204
    [mail] = smtp.wait(1, timeout=90)
    assert mail["Subject"] == "lorafox: 1000 events — 1000 communication_lost"
    text = body_of(mail)
    assert "communication_lost: 1000" in text and "… and 950 more" in text
    wait_until(lambda: len(receiver.requests) == 1, timeout=10)
    time.sleep(3)
    assert len(smtp.received) == 1 and len(receiver.requests) == 1
    assert "1000 events" in _json(receiver)[0]["title"]


def test_an_alert_sends_max_per_hour_notifications_at_most(setup: Setup, smtp: SmtpSink) -> None:
    device_type = setup.device_type()
    setup.alert(
        eventTypes=["low_battery"],
        deviceTypeId=device_type,
        emails=["ops@example.com"],
        digestSeconds=0,
        maxPerHour=2,
    )
    for n in range(5):
        setup.low_battery(f"{0xB00000 + n:X}", device_type)
        time.sleep(0.4)
    mails = smtp.wait(2)
    time.sleep(1.5)
    assert len(smtp.received) == 2
    assert all(m["Subject"].startswith("lorafox: low_battery B0000") for m in mails)


def test_a_device_types_alert_email_is_sent_its_devices_events(
    setup: Setup, smtp: SmtpSink
) -> None:
    device_type = setup.device_type(alertEmail="owner@example.com")
    setup.low_battery("C00001", device_type)
    # the type is in the CALLBACK downlink mode: its message is mailed to the same address too
    subject = "lorafox: low_battery C00001"
    [mail] = wait_until(lambda: [m for m in list(smtp.received) if m["Subject"] == subject])
    assert mail["To"] == "owner@example.com"
    assert "Device type" in body_of(mail)


def test_stopping_sends_what_the_digests_gathered(
    setup: Setup, smtp: SmtpSink, receiver: Receiver, lorafox_factory: Callable[..., Running]
) -> None:
    """A digest an hour long is open when lorafox stops (an upgrade, a restart): its events go
    out then, by chat at once and by mail into the outbox, sent once lorafox is back."""
    device_type = setup.device_type()
    setup.alert(
        eventTypes=["low_battery"],
        deviceTypeId=device_type,
        emails=["ops@example.com"],
        urls=[f"json://127.0.0.1:{receiver.url.rsplit(':', 1)[1]}/hook"],
        digestSeconds=3600,
    )
    setup.low_battery("D00001", device_type)
    setup.low_battery("D00002", device_type)
    wait_until(
        lambda: (
            len(setup.http.get(f"/api/v2/device-types/{device_type}/events").json()["data"]) >= 2
        )
    )
    time.sleep(1)
    assert receiver.requests == [] and smtp.received == []  # gathering for an hour
    setup.lorafox.stop()
    [notified] = _json(receiver)
    assert notified["title"] == "lorafox: 2 events — 2 low_battery"
    lorafox_factory(callbacks=LOOPBACK, mail=smtp.settings())  # the same data dir
    [mail] = smtp.wait(1, timeout=20)
    assert mail["Subject"] == "lorafox: 2 events — 2 low_battery"
    time.sleep(1)
    assert len(smtp.received) == 1 and len(receiver.requests) == 1  # once each
