"""Outages lorafox lives through without a restart: the MQTT broker stopped, PostgreSQL away,
the disk under SQLite full. What was acknowledged is kept and published once the broker is
back; what cannot be stored is answered 503 with a JSON body and a Retry-After."""

from __future__ import annotations

import contextlib
import logging
import secrets
import sqlite3
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.cluster.servers import MosquittoServer, PostgresCluster
from tests.cluster.test_brokers import (
    mqtt_state,
    post_uplinks,
    publish,
    queued,
    request,
    subscriber_of,
)
from tests.conftest import ADMIN_PASSWORD, SIGFOX_PASSWORD, SIGFOX_USER, Running
from tests.integration.test_sigfox_flow import body
from tests.mqtt_helpers import wait_until

SIGFOX = (SIGFOX_USER, SIGFOX_PASSWORD)
ADMIN = ("admin", ADMIN_PASSWORD)


def new_device() -> str:
    return "F" + secrets.token_hex(3).upper()


@pytest.fixture
def mosquitto_server(tmp_path: Path) -> Iterator[MosquittoServer]:
    server = MosquittoServer(tmp_path / "mosquitto")
    server.start()
    yield server
    server.stop()


def test_uplinks_acknowledged_while_the_broker_is_stopped_are_published_after(
    mosquitto_server: MosquittoServer, lorafox_factory: Callable[..., Running]
) -> None:
    lorafox = lorafox_factory(mqtt_url=f"mqtt://127.0.0.1:{mosquitto_server.port}", mqtt_port=0)
    wait_until(lambda: mqtt_state(lorafox) == "connected", timeout=30)
    device = new_device()
    subscriber = subscriber_of(mosquitto_server.port, f"sigfox/uplink/{device}")
    post_uplinks(lorafox, device, range(1, 3))
    assert subscriber.distinct(2) == [1, 2]
    subscriber.close()

    mosquitto_server.stop()  # sessions in memory only: the broker forgets every one
    wait_until(lambda: mqtt_state(lorafox) == "disconnected", timeout=60)
    post_uplinks(lorafox, device, range(3, 33))  # every one acknowledged: stored
    health = httpx.get(f"{lorafox.base_url}/healthz")
    assert health.status_code == 200 and health.json()["mqtt"] == "disconnected"

    mosquitto_server.start()
    subscriber = subscriber_of(mosquitto_server.port, f"sigfox/uplink/{device}")
    try:
        # lorafox retries every 1 s doubling to 30 s: the subscriber is there before
        wait_until(lambda: mqtt_state(lorafox) == "connected", timeout=60)
        assert subscriber.distinct(30) == list(range(3, 33))
        # the broker forgot lorafox's session: it subscribed again
        publish(mosquitto_server.port, [(f"sigfox/downlink/{device}", request("00000000000000bb"))])
        assert wait_until(lambda: queued(lorafox, device), timeout=30) == ["00000000000000bb"]
    finally:
        subscriber.close()


@pytest.fixture
def postgres_cluster() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster()
    cluster.start()
    yield cluster
    cluster.remove()


def test_postgresql_away_is_503_then_recovered_without_a_restart(
    postgres_cluster: PostgresCluster,
    lorafox_factory: Callable[..., Running],
) -> None:
    lorafox = lorafox_factory(database_url=postgres_cluster.url)
    device = new_device()
    with httpx.Client(base_url=lorafox.base_url, timeout=30) as http:
        assert http.post("/sigfox/uplink", json=body(device, 1), auth=SIGFOX).status_code == 204

        postgres_cluster.stop()
        for request_ in (
            http.build_request("POST", "/sigfox/uplink", json=body(device, 2)),
            http.build_request("POST", "/sigfox/bidir", json=body(device, 3, ack=True)),
            http.build_request("GET", "/api/v2/devices"),
            http.build_request("GET", f"/api/v2/devices/{device}/messages"),
        ):
            auth = SIGFOX if "sigfox" in str(request_.url) else ADMIN
            r = http.send(request_, auth=auth)
            assert r.status_code == 503, (request_.url, r.status_code, r.text)
            assert r.headers["retry-after"] == "5"
            assert r.json()["message"] == "the database is unavailable"
        health = http.get("/healthz")
        assert health.status_code == 503 and health.json()["database"] == "error"

        postgres_cluster.start()  # the same lorafox, not restarted
        wait_until(lambda: http.get("/healthz").status_code == 200, timeout=30)
        assert http.post("/sigfox/uplink", json=body(device, 4), auth=SIGFOX).status_code == 204
        messages = http.get(f"/api/v2/devices/{device}/messages", auth=ADMIN).json()["data"]
        assert sorted(m["seqNumber"] for m in messages) == [1, 4]


@pytest.fixture
def small_disk() -> Iterator[Path]:
    """A 16 MB tmpfs: a disk that fills up (mounting needs root; skipped otherwise)."""
    mountpoint = Path(tempfile.mkdtemp(prefix="lorafox-disk-"))
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mountpoint)],  # noqa: S607
        capture_output=True,
        check=False,
    )
    if mounted.returncode != 0:
        mountpoint.rmdir()
        pytest.skip(f"cannot mount a small filesystem: {mounted.stderr.decode().strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)  # noqa: S607
        mountpoint.rmdir()


def fill(path: Path) -> None:
    """Write ``path`` until the disk holding it is full."""
    with contextlib.suppress(OSError), path.open("wb", buffering=0) as out:
        while True:
            out.write(b"\0" * 65536)


@pytest.mark.sqlite
def test_sqlite_disk_full_is_503_without_corruption(
    small_disk: Path, lorafox_factory: Callable[..., Running], caplog: pytest.LogCaptureFixture
) -> None:
    data_dir = small_disk / "data"
    lorafox = lorafox_factory(data_dir=data_dir, database_url=None)
    database = data_dir / "lorafox.db"
    device = new_device()
    filler = small_disk / "filler"
    with httpx.Client(base_url=lorafox.base_url, timeout=30) as http:
        assert http.post("/sigfox/uplink", json=body(device, 1), auth=SIGFOX).status_code == 204
        fill(filler)
        refused = None
        with caplog.at_level(logging.ERROR):
            for seq in range(2, 200):
                r = http.post("/sigfox/uplink", json=body(device, seq), auth=SIGFOX)
                if r.status_code != 204:
                    refused = r
                    break
        assert refused is not None, "the full disk never refused an uplink"
        assert refused.status_code == 503 and refused.headers["retry-after"] == "5"
        assert "full" in refused.json()["message"]
        assert any("full" in record.getMessage() for record in caplog.records)
        accepted = seq - 1

        filler.unlink()  # space is back
        r = http.post("/sigfox/uplink", json=body(device, 500), auth=SIGFOX)
        assert r.status_code == 204, r.text
        listed = http.get(f"/api/v2/devices/{device}/messages", auth=ADMIN)
        assert listed.status_code == 200, listed.text
        messages = listed.json()["data"]
        assert sorted(m["seqNumber"] for m in messages) == [*range(1, accepted + 1), 500]
    lorafox.stop()
    with sqlite3.connect(database) as check:
        assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
