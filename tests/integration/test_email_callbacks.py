"""EMAIL callbacks: a mail per message or report, with the callback's variables, through the
mail outbox to a real SMTP server."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from tests.conftest import Running
from tests.integration.helpers import ADMIN, SIGFOX, created
from tests.integration.test_sigfox_flow import body
from tests.mqtt_helpers import wait_until
from tests.smtp_helpers import SmtpSink, body_of, smtp

__all__ = ["smtp"]


def _type(http: httpx.Client) -> str:
    groups = http.get("/api/v2/groups").json()["data"]
    [root] = [g["id"] for g in groups if not g["path"]]
    spec = {"name": f"t {time.monotonic_ns()}", "groupId": root}
    return str(created(http, "/api/v2/device-types", spec)["id"])


def _callback(http: httpx.Client, device_type: str, **fields: Any) -> str:
    spec = {"channel": "EMAIL", "callbackType": 0, "callbackSubtype": 2, **fields}
    return str(created(http, f"/api/v2/device-types/{device_type}/callbacks", spec)["id"])


def test_email_callbacks_mail_messages_and_reports(
    lorafox_factory: Callable[..., Running], smtp: SmtpSink
) -> None:
    lorafox = lorafox_factory(mail=smtp.settings())
    with httpx.Client(base_url=lorafox.base_url, auth=ADMIN, timeout=10) as http:
        device_type = _type(http)
        made = _callback(
            http,
            device_type,
            recipient="app@example.com, ops@example.com",
            subject="{device} sent {seqNumber}",
            message="data={data} rssi={rssi} station={station}",
        )
        _callback(
            http,
            device_type,
            callbackType=1,
            callbackSubtype=0,
            recipient="ops@example.com",
            subject="status of {device}",
            message="battery {batt} V, {temp} C",
        )
        [shown] = [
            c
            for c in http.get(f"/api/v2/device-types/{device_type}/callbacks").json()["data"]
            if c["id"] == made
        ]
        assert (
            shown["channel"] == "EMAIL" and shown["recipient"] == "app@example.com,ops@example.com"
        )
        uplink = {**body("E1", 3), "deviceTypeId": device_type}
        assert http.post("/sigfox/uplink", json=uplink, auth=SIGFOX).status_code == 204
        [mail] = smtp.wait(1)
        assert mail["Subject"] == "E1 sent 3"
        assert body_of(mail).strip() == "data=000000000000000000000003 rssi=-110.00 station=1A2B"
        assert smtp.envelopes[0][1] == ["app@example.com", "ops@example.com"]
        status = {"device": "E1", "time": 1_700_000_500, "temp": "21.5", "batt": "3.1"}
        assert http.post("/sigfox/service", json=status, auth=SIGFOX).status_code == 200
        mails = smtp.wait(2)
        assert mails[1]["Subject"] == "status of E1"
        assert body_of(mails[1]).strip() == "battery 3.1 V, 21.5 C"


def test_without_a_mail_server_an_email_callback_is_not_delivered(
    lorafox_factory: Callable[..., Running],
) -> None:
    lorafox = lorafox_factory()
    with httpx.Client(base_url=lorafox.base_url, auth=ADMIN, timeout=10) as http:
        device_type = _type(http)
        _callback(http, device_type, recipient="a@example.com", subject="s", message="{data}")
        uplink = {**body("E2", 1), "deviceTypeId": device_type}
        assert http.post("/sigfox/uplink", json=uplink, auth=SIGFOX).status_code == 204
        listed = f"/api/v2/device-types/{device_type}/callbacks-not-delivered"
        wait_until(lambda: len(http.get(listed).json()["data"]) == 1)
        [failed] = http.get(listed).json()["data"]
        assert "no mail server" in str(failed)
