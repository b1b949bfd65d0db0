"""``lorafox simulate`` against a live lorafox: the uplinks reach an MQTT subscriber, a queued
downlink is handed out and acknowledged, a wrong answer makes the command fail."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

import httpx

from tests.conftest import ADMIN_PASSWORD, SIGFOX_PASSWORD, SIGFOX_USER, Running, command_env
from tests.mqtt_helpers import Recorder, wait_until

ADMIN = ("admin", ADMIN_PASSWORD)


def _simulate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lorafox", "simulate", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, **command_env(args)},
    )


def test_simulated_fleet_flows_to_mqtt_and_downlinks_are_acknowledged(
    lorafox_factory: Callable[..., Running], tmp_path: object
) -> None:
    lorafox = lorafox_factory()
    assert lorafox.mqtt_port
    recorder = Recorder("127.0.0.1", lorafox.mqtt_port, "sigfox/uplink/#")
    queued = httpx.post(
        f"{lorafox.base_url}/api/v2/devices/6100003/downlinks",
        json={"data": "0102030405060708"},
        auth=ADMIN,
    )
    assert queued.status_code == 201
    try:
        done = _simulate(
            "--url",
            lorafox.base_url,
            "--data-dir",  # the credentials are read from the server's data dir
            str(lorafox.service.settings.data_dir),
            "--first-device",
            "6100000",
            "--devices",
            "5",
            "--messages",
            "8",
            "--bidir",
            "1",
            "--duplicates",
            "0.3",
            "--status",
            "0.2",
            "--advanced",
            "0.2",
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "downlink for 6100003: 0102030405060708" in done.stderr
        assert "1 downlinks received, 1 acknowledged" in done.stdout
        assert ", 0 not" in done.stdout
        wait_until(lambda: len(recorder.messages) >= 40)
        topics = {topic for topic, _ in recorder.messages}
        assert topics == {f"sigfox/uplink/610000{i}" for i in range(5)}
    finally:
        recorder.close()
    [downlink] = httpx.get(
        f"{lorafox.base_url}/api/v2/devices/6100003/downlinks", auth=ADMIN
    ).json()["data"]
    assert downlink["state"] == "acked"
    stored = httpx.get(f"{lorafox.base_url}/api/v2/devices/6100000/messages", auth=ADMIN).json()[
        "data"
    ]
    assert len(stored) == 8  # duplicates from other stations are stored once


def test_unexpected_answers_fail_the_command(lorafox_factory: Callable[..., Running]) -> None:
    lorafox = lorafox_factory()
    done = _simulate(
        "--url",
        lorafox.base_url,
        "--username",
        SIGFOX_USER,
        "--password",
        "wrong",
        "--devices",
        "2",
        "--messages",
        "2",
    )
    assert done.returncode == 1
    assert "4 answered as expected" not in done.stdout
    assert "HTTP 401" in done.stdout
    ok = _simulate(
        "--url",
        lorafox.base_url,
        "--username",
        SIGFOX_USER,
        "--password",
        SIGFOX_PASSWORD,
        "--devices",
        "2",
        "--messages",
        "2",
    )
    assert ok.returncode == 0 and "4 answered as expected, 0 not" in ok.stdout
