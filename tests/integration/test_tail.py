"""``lorafox tail`` follows the bus of a live lorafox: one line per uplink, downlink request and
event, filtered by device."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

import httpx

from lorafox.cli.tail import format_line
from tests.conftest import ADMIN_PASSWORD, SIGFOX_PASSWORD, SIGFOX_USER, Running
from tests.integration.test_sigfox_flow import body
from tests.mqtt_helpers import Recorder

SIGFOX = (SIGFOX_USER, SIGFOX_PASSWORD)


def _tail(lorafox: Running, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lorafox",
            "tail",
            "--mqtt-url",
            f"mqtt://127.0.0.1:{lorafox.mqtt_port}",
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_tail_shows_the_device_s_traffic(lorafox_factory: Callable[..., Running]) -> None:
    lorafox = lorafox_factory()
    assert lorafox.mqtt_port
    follower = _tail(
        lorafox,
        "--username",
        "admin",
        "--password",
        ADMIN_PASSWORD,
        "--device",
        "7A1",
        "--count",
        "2",
    )
    publisher = Recorder("127.0.0.1", lorafox.mqtt_port, "sigfox/downlink/7A1/rejected")
    try:
        seq = 0
        deadline = time.monotonic() + 30
        while follower.poll() is None and time.monotonic() < deadline:
            seq += 1  # until the follower has subscribed and seen its two lines
            for device in ("7A2", "7A1"):
                posted = httpx.post(
                    f"{lorafox.base_url}/sigfox/uplink", json=body(device, seq), auth=SIGFOX
                )
                assert posted.is_success
            publisher.publish("sigfox/downlink/7A1", b'{"downlinkData":"0102030405060708"}')
            time.sleep(0.3)
        out, err = follower.communicate(timeout=30)
    finally:
        follower.kill()
        publisher.close()
    assert follower.returncode == 0, err
    lines = out.splitlines()
    assert len(lines) == 2 and all(" 7A1 " in line for line in lines), out
    assert all(line.split()[0] in ("uplink", "downlink") for line in lines), out
    uplinks = [line for line in lines if line.startswith("uplink ")]
    assert all("seqNumber" in line and "station 1A2B" in line for line in uplinks), out
    assert "7A2" not in out


def test_tail_with_a_wrong_password_is_one_line(lorafox_factory: Callable[..., Running]) -> None:
    lorafox = lorafox_factory()
    follower = _tail(lorafox, "--username", "admin", "--password", "wrong")
    _, err = follower.communicate(timeout=30)
    assert follower.returncode == 2
    assert err.strip().startswith("lorafox: error: the broker refused the login")
    assert "Traceback" not in err


def test_lines_for_each_kind_of_message() -> None:
    event = b'{"type":"low_battery","severity":"WARN","message":"battery 2.1 V"}'
    assert format_line("sigfox/events/1A", event) == (
        "event     1A       low_battery [WARN] battery 2.1 V"
    )
    refused = b'{"error":"downlinkData must be 8 bytes","field":"downlinkData"}'
    assert format_line("sigfox/downlink/1A/rejected", refused).startswith("refused   1A ")
    uplink = b'{"data":"0102","ack":true,"seqNumber":7,"decoded":{"t":1}}'
    line = format_line("sigfox/uplink/1A", uplink)
    assert line == 'uplink    1A       0102 BIDIR (seqNumber 7) {"t":1}'
    assert format_line("sigfox/uplink/1A", b"not json").startswith("uplink    1A ")


def test_tail_by_group(lorafox_factory: Callable[..., Running]) -> None:
    """``--group``: only the devices of that group (read from the REST API with the same login);
    an unknown group is one line."""
    lorafox = lorafox_factory()
    admin = ("admin", ADMIN_PASSWORD)
    with httpx.Client(base_url=lorafox.base_url, auth=admin, timeout=10) as http:
        [root] = [g for g in http.get("/api/v2/groups").json()["data"] if not g["path"]]
        group = http.post("/api/v2/groups", json={"name": "field team", "parentId": root["id"]})
        group_id = group.json()["id"]
        kind = http.post("/api/v2/device-types", json={"name": "meters", "groupId": group_id})
        made = http.post(
            "/api/v2/devices",
            json={
                "id": "6B1",
                "name": "meter",
                "deviceTypeId": kind.json()["id"],
                "pac": "0011223344556677",
            },
        )
        assert made.status_code == 201, made.text
    login = ("--username", "admin", "--password", ADMIN_PASSWORD, "--api-url", lorafox.base_url)
    follower = _tail(lorafox, *login, "--group", group_id, "--count", "1")
    try:
        seq = 0
        deadline = time.monotonic() + 30
        while follower.poll() is None and time.monotonic() < deadline:
            seq += 1  # until the follower has subscribed and seen its line
            for device in ("6B2", "6B1"):
                posted = httpx.post(
                    f"{lorafox.base_url}/sigfox/uplink", json=body(device, seq), auth=SIGFOX
                )
                assert posted.is_success
            time.sleep(0.3)
        out, err = follower.communicate(timeout=30)
    finally:
        follower.kill()
    assert follower.returncode == 0, err
    assert out.startswith("uplink    6B1 ") and "6B2" not in out, out
    wrong = _tail(lorafox, *login, "--group", "ffffffffffffffffffffffff")
    _, err = wrong.communicate(timeout=30)
    assert wrong.returncode == 2
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("lorafox: error: --group"), err
