"""A device type in the CALLBACK downlink mode mails each message to its alertEmail, as the
Sigfox Back-End does; a burst makes one digest mail."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from tests.conftest import Running
from tests.integration.helpers import ADMIN, SIGFOX, created
from tests.integration.test_sigfox_flow import body
from tests.smtp_helpers import SmtpSink, body_of, smtp

__all__ = ["smtp"]


def _type(http: httpx.Client, **fields: object) -> str:
    groups = http.get("/api/v2/groups").json()["data"]
    [root] = [g["id"] for g in groups if not g["path"]]
    spec = {"name": f"t {time.monotonic_ns()}", "groupId": root, **fields}
    return str(created(http, "/api/v2/device-types", spec)["id"])


def test_each_message_is_mailed_then_a_burst_is_one_digest(
    lorafox_factory: Callable[..., Running], smtp: SmtpSink
) -> None:
    lorafox = lorafox_factory(mail=smtp.settings())
    with httpx.Client(base_url=lorafox.base_url, auth=ADMIN, timeout=10) as http:
        mailed = _type(http, downlinkMode=1, alertEmail="backend@example.com")
        direct = _type(http, downlinkMode=2, alertEmail="nobody@example.com")  # NONE
        for device, device_type in (("D1", mailed), ("D2", direct)):
            uplink = {**body(device, 7), "deviceTypeId": device_type}
            assert http.post("/sigfox/uplink", json=uplink, auth=SIGFOX).status_code == 204
        [mail] = smtp.wait(1)
        assert mail["To"] == "backend@example.com"
        assert mail["Subject"] == "Message from D1 (seq 7)"
        text = body_of(mail)
        assert "data: 000000000000000000000007" in text
        assert f"deviceTypeId: {mailed}" in text and "rssi: -110.00" in text
        for seq in range(10, 60):  # 50 messages within a second
            uplink = {**body("D1", seq), "deviceTypeId": mailed}
            assert http.post("/sigfox/uplink", json=uplink, auth=SIGFOX).status_code == 204
        smtp.wait(2)
        time.sleep(2.5)
        later = smtp.received[1:]
        digests = [m for m in later if " messages of device type t " in m["Subject"]]
        singles = [m for m in later if m["Subject"].startswith("Message from D1")]
        assert digests and len(later) == len(digests) + len(singles) <= 8, len(later)
        lines = [line for m in digests for line in body_of(m).splitlines() if "  D1  " in line]
        assert len(lines) + len(singles) == 50  # every message, once
        assert all(m["To"] == "backend@example.com" for m in later)
