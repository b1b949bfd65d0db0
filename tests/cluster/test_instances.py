"""Several ``lorafox serve`` processes on one PostgreSQL database: the periodic jobs (here the
keep-alive check) run on one leader at a time, another instance takes over when it dies, and a
queued downlink is handed out by one BIDIR callback whichever instance gets it."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.conftest import ADMIN_PASSWORD, SIGFOX_PASSWORD, SIGFOX_USER, free_port

ADMIN = ("admin", ADMIN_PASSWORD)
SIGFOX = (SIGFOX_USER, SIGFOX_PASSWORD)
PAC = "0011223344556677"
LOST = "communication_lost"
LEADER_LINE = "this instance is now the leader"


class Instance:
    """One ``lorafox serve`` process on the shared database."""

    def __init__(self, data_dir: Path, database_url: str, secret_key: str) -> None:
        self.port = free_port()
        clean = {k: v for k, v in os.environ.items() if not k.startswith("LORAFOX_")}
        env = {
            **clean,
            "LORAFOX_DATABASE_URL": database_url,
            "LORAFOX_SECRET_KEY": secret_key,  # every instance decrypts what the others wrote
            "LORAFOX_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "LORAFOX_SIGFOX_USERNAME": SIGFOX_USER,
            "LORAFOX_SIGFOX_PASSWORD": SIGFOX_PASSWORD,
            "LORAFOX_SEMTECH_PORT": "0",
            "LORAFOX_LEADER_RETRY_SECONDS": "0.5",
            "LORAFOX_EVENTS__KEEPALIVE_CHECK_SECONDS": "0.3",
        }
        args = ["--data-dir", str(data_dir), "--http-port", str(self.port)]
        args += ["--mqtt-port", str(free_port())]
        data_dir.mkdir(parents=True)
        self.log = data_dir / "stderr.log"
        self._log_file = self.log.open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "lorafox", "serve", *args],
            stdout=subprocess.DEVNULL,
            stderr=self._log_file,
            text=True,
            env=env,
        )
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=10)
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, self.log.read_text()
            try:
                if self.http.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError("lorafox did not become healthy")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        self.http.close()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(timeout=30)
        self._log_file.close()

    def led(self) -> bool:
        """Whether this instance said it became the leader."""
        return LEADER_LINE in self.log.read_text()


@pytest.fixture
def start(pg_database: str, tmp_path: Path) -> Iterator[Callable[[], Instance]]:
    started: list[Instance] = []
    secret_key = Fernet.generate_key().decode()

    def make() -> Instance:
        instance = Instance(tmp_path / f"i{len(started)}", pg_database, secret_key)
        started.append(instance)
        return instance

    yield make
    for instance in started:
        instance.stop()


def created(http: httpx.Client, url: str, body: dict[str, Any]) -> str:
    response = http.post(url, json=body, auth=ADMIN)
    assert response.status_code == 201, response.text
    made: str = response.json()["id"]
    return made


def silent_device(http: httpx.Client, root: str, type_id: str) -> str:
    device = "E" + secrets.token_hex(3).upper()
    created(
        http, "/api/v2/devices", {"id": device, "name": "d", "deviceTypeId": type_id, "pac": PAC}
    )
    return device


def old_uplink(http: httpx.Client, device: str, seq: int = 1) -> None:
    """An uplink from long ago: the device has been silent past its keepAlive since."""
    body = {"device": device, "time": 1_700_000_000 + seq, "seqNumber": seq, "data": "0102"}
    response = http.post("/sigfox/uplink", json=body, auth=SIGFOX)
    assert response.status_code == 204, response.text


def lost_events(http: httpx.Client, device: str) -> int:
    response = http.get(f"/api/v2/devices/{device}/events", auth=ADMIN)
    assert response.status_code == 200, response.text
    return sum(1 for event in response.json()["data"] if event["type"] == LOST)


def wait_lost(http: httpx.Client, device: str) -> None:
    deadline = time.monotonic() + 30
    while lost_events(http, device) == 0:
        assert time.monotonic() < deadline, f"no {LOST} event for {device}"
        time.sleep(0.2)


def test_one_leader_runs_the_keep_alive_check_and_another_takes_over(
    start: Callable[[], Instance],
) -> None:
    first = start()
    groups = first.http.get("/api/v2/groups", auth=ADMIN).json()["data"]
    [root] = [g["id"] for g in groups if not g["path"]]
    type_id = created(
        first.http, "/api/v2/device-types", {"name": "t", "groupId": root, "keepAlive": 1800}
    )
    before, after = (
        silent_device(first.http, root, type_id),
        silent_device(first.http, root, type_id),
    )
    second = start()  # a follower: the first holds the lock

    # both instances take an uplink of the device, so both know it went silent: the alert is
    # raised once, by the leader
    old_uplink(first.http, before, seq=1)
    old_uplink(second.http, before, seq=2)
    wait_lost(first.http, before)
    time.sleep(2)  # many check periods of both instances
    assert lost_events(first.http, before) == 1
    assert lost_events(second.http, before) == 1
    assert first.led()
    assert not second.led()

    # the leader dies without releasing its lock: its connection closes, the other takes over
    first.stop(signal.SIGKILL)
    old_uplink(second.http, after)
    wait_lost(second.http, after)
    assert second.led()
    time.sleep(2)
    assert lost_events(second.http, after) == 1
    assert lost_events(second.http, before) == 1


def test_each_queued_downlink_is_handed_out_by_one_bidir_across_instances(
    start: Callable[[], Instance],
) -> None:
    first = start()
    groups = first.http.get("/api/v2/groups", auth=ADMIN).json()["data"]
    [root] = [g["id"] for g in groups if not g["path"]]
    type_id = created(first.http, "/api/v2/device-types", {"name": "t", "groupId": root})
    device = silent_device(first.http, root, type_id)
    second = start()
    queued = [f"{n:016x}" for n in range(1, 4)]
    for data in queued:
        response = first.http.post(
            f"/api/v2/devices/{device}/downlinks", json={"data": data}, auth=ADMIN
        )
        assert response.status_code == 201, response.text

    def bidir(seq: int) -> httpx.Response:
        instance = (first, second)[seq % 2]
        body = {"device": device, "time": 1_700_000_000 + seq, "seqNumber": seq, "data": "01"}
        body["ack"] = True
        with httpx.Client(base_url=instance.http.base_url, timeout=30) as http:
            return http.post("/sigfox/bidir", json=body, auth=SIGFOX)

    with ThreadPoolExecutor(max_workers=12) as pool:
        answers = list(pool.map(bidir, range(1, 13)))
    assert sorted(a.status_code for a in answers) == [200] * 3 + [204] * 9
    handed = sorted(a.json()[device]["downlinkData"] for a in answers if a.status_code == 200)
    assert handed == queued
    for instance in (first, second):
        listed = instance.http.get(f"/api/v2/devices/{device}/downlinks", auth=ADMIN)
        assert [d["state"] for d in listed.json()["data"]] == ["sent"] * 3
