"""One ``lorafox serve`` on its SQLite file, killed with SIGKILL while Sigfox DATA callbacks pour
in, then started again on the same file: every uplink it acknowledged is stored once and
reaches an MQTT subscriber (on the shared Mosquitto, which outlives the kill)."""

from __future__ import annotations

import secrets
import signal
import sqlite3
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.cluster.conftest import ADMIN, SIGFOX, Instance, Subscriber, broker_env, created
from tests.conftest import MOSQUITTO

pytestmark = [pytest.mark.sqlite, pytest.mark.mosquitto]

THREADS = 8  # each sends the uplinks of a device of its own, on one keep-alive connection
KILL_AFTER = 2.0  # seconds of load before the kill


def settings(prefix: str) -> dict[str, str]:
    url = f"mqtt://{MOSQUITTO[0]}:{MOSQUITTO[1]}"
    return {**broker_env(url, prefix), "LORAFOX_MQTT__CLIENT_ID": prefix}


def stored(database: Path) -> Counter[tuple[str, int]]:
    """The rows of each (device, seqNumber) in the messages table."""
    with sqlite3.connect(database) as conn:
        rows = conn.execute("SELECT device, seq_number, count(*) FROM messages GROUP BY 1, 2")
        return Counter({(device, seq): n for device, seq, n in rows})


def test_what_a_killed_instance_acknowledged_is_stored_once_and_published(
    mosquitto: tuple[str, int], tmp_path: Path
) -> None:
    prefix = "lorafox-kill-" + secrets.token_hex(4)
    database = tmp_path / "lorafox.db"
    url = f"sqlite:///{database}"
    secret_key = Fernet.generate_key().decode()
    subscriber = Subscriber(MOSQUITTO[1], prefix + "/uplink/#", client_id="t" + prefix)
    first = Instance(tmp_path / "first", url, secret_key, settings(prefix))
    second: Instance | None = None
    try:
        groups = first.http.get("/api/v2/groups", auth=ADMIN).json()["data"]
        [root] = [g["id"] for g in groups if not g["path"]]
        type_id = created(first.http, "/api/v2/device-types", {"name": "l", "groupId": root})
        devices = []
        for _ in range(THREADS):
            device = "E" + secrets.token_hex(3).upper()
            body = {"id": device, "name": "d", "deviceTypeId": type_id, "pac": "0011223344556677"}
            created(first.http, "/api/v2/devices", body)
            devices.append(device)

        acknowledged: set[tuple[str, int]] = set()
        cut: list[str] = []  # requests the kill left unanswered
        lock = threading.Lock()

        def load(device: str) -> None:
            with httpx.Client(base_url=first.http.base_url, timeout=10) as client:
                for seq in range(1, 4096):
                    body = {"device": device, "time": 1_700_000_000 + seq, "seqNumber": seq}
                    try:
                        answer = client.post(
                            "/sigfox/uplink", json={**body, "data": "0102"}, auth=SIGFOX
                        )
                    except httpx.TransportError as exc:
                        with lock:
                            cut.append(repr(exc))
                        return  # not acknowledged: the Sigfox Back-End would send it again
                    assert answer.status_code == 204, answer.text
                    with lock:
                        acknowledged.add((device, seq))

        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            loads = [pool.submit(load, device) for device in devices]
            time.sleep(KILL_AFTER)
            first.proc.send_signal(signal.SIGKILL)
            assert first.proc.wait(5) == -signal.SIGKILL
            for done in loads:
                done.result()
        assert len(acknowledged) > 100, "the load did not get going"
        assert cut, "every request was answered before the kill: nothing was in flight"

        rows = stored(database)  # what the killed process left on disk
        assert {key for key in acknowledged if rows[key] != 1} == set()

        second = Instance(tmp_path / "second", url, secret_key, settings(prefix))
        # the new instance publishes what the killed one had stored but not yet published
        received = subscriber.wait_for(acknowledged, seconds=30)
        assert acknowledged <= set(received)
        assert {key for key, n in stored(database).items() if n != 1} == set()
    finally:
        subscriber.close()
        first.stop()
        if second is not None:
            second.stop()
