"""Two instances on one PostgreSQL database take Sigfox uplinks round-robin for a device type
with an UPLINK callback: every acknowledged uplink is delivered to the callback's URL exactly
once while both live; when one is killed (kill -9) under load, every acknowledged uplink is
still delivered, and only the deliveries the dead leader had in flight may be made twice."""

from __future__ import annotations

import asyncio
import http.server
import json
import secrets
import signal
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import asyncpg
import httpx
import pytest

from tests.cluster.conftest import ADMIN, SIGFOX, Instance, created

PAC = "0011223344556677"
THREADS = 4  # each sends the uplinks of a device of its own
MAX_IN_FLIGHT = 16  # deliveries made and not yet recorded, at most, per instance
SETTINGS = {
    "LORAFOX_CALLBACKS__ALLOWED_NETWORKS": "127.0.0.0/8",
    "LORAFOX_CALLBACKS__MAX_IN_FLIGHT": str(MAX_IN_FLIGHT),
    "LORAFOX_CALLBACKS__PER_DESTINATION": str(MAX_IN_FLIGHT),
    "LORAFOX_CALLBACKS__BACKOFF_SECONDS": "0.2",
    "LORAFOX_CALLBACKS__MAX_BACKOFF_SECONDS": "0.5",
}
LOAD_BEFORE_KILL = 2.0  # seconds
LOAD_AFTER_KILL = 2.0


class Receiver(http.server.ThreadingHTTPServer):
    """Answers 200 to every request after a few ms (so that some are in flight at a kill) and
    notes when each (device, seqNumber) first came and how often."""

    daemon_threads = True

    def __init__(self) -> None:
        self.count: Counter[tuple[str, int]] = Counter()
        self.first: dict[tuple[str, int], float] = {}
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = (body["device"], int(body["seq"]))
                with receiver.lock:
                    receiver.count[key] += 1
                    receiver.first.setdefault(key, time.monotonic())
                time.sleep(0.005)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        threading.Thread(target=self.serve_forever, daemon=True).start()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A connection of the killed instance reset mid-request is no error of the test."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def wait_for(self, expected: set[tuple[str, int]]) -> Counter[tuple[str, int]]:
        """The deliveries of each uplink, once every expected one came (and two seconds more,
        many retry and poll periods, for late repeats to show)."""
        deadline = time.monotonic() + 60
        while not expected <= set(self.count):
            missing = expected - set(self.count)
            assert time.monotonic() < deadline, f"not delivered: {sorted(missing)[:10]}"
            time.sleep(0.1)
        time.sleep(2)
        with self.lock:
            return Counter(self.count)


def owed(database_url: str) -> tuple[int, int]:
    """The messages still queued and the deliveries still in the outbox."""

    async def count() -> tuple[int, int]:
        conn = await asyncpg.connect(database_url)
        try:
            queued = await conn.fetchval("SELECT count(*) FROM callback_queue")
            rows = await conn.fetchval("SELECT count(*) FROM callback_deliveries")
        finally:
            await conn.close()
        return int(queued), int(rows)

    return asyncio.run(count())


def wait(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


class Load:
    """Threads posting DATA callbacks round-robin to the live instances, one device each,
    noting the uplinks acknowledged (2xx)."""

    def __init__(self, instances: tuple[Instance, ...], devices: list[str], first_seq: int) -> None:
        self.acknowledged: set[tuple[str, int]] = set()
        self.sent: set[tuple[str, int]] = set()  # acknowledged or not
        self._instances = instances
        self._devices = devices
        self._first_seq = first_seq
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=len(devices))
        self._runs = [self._pool.submit(self._run, device) for device in devices]

    def _run(self, device: str) -> None:
        clients = [httpx.Client(base_url=i.http.base_url, timeout=10) for i in self._instances]
        try:
            for seq in range(self._first_seq, self._first_seq + 2000):
                if self._stop.is_set():
                    return
                body = {"device": device, "time": 1_700_000_000 + seq, "seqNumber": seq}
                with self._lock:
                    self.sent.add((device, seq))
                try:
                    answer = clients[seq % len(clients)].post(
                        "/sigfox/uplink", json={**body, "data": "0102"}, auth=SIGFOX
                    )
                except httpx.TransportError:
                    continue  # not acknowledged: the Sigfox Back-End would send it again
                assert answer.status_code == 204, answer.text
                with self._lock:
                    self.acknowledged.add((device, seq))
        finally:
            for client in clients:
                client.close()

    def stop(self) -> set[tuple[str, int]]:
        self._stop.set()
        for run in self._runs:
            run.result()
        self._pool.shutdown()
        return set(self.acknowledged)


@pytest.mark.parametrize("killed", ["leader", "follower"])
def test_callbacks_first_attempts_once_across_instances_and_after_a_kill(
    start: Callable[..., Instance], pg_database: str, killed: str
) -> None:
    receiver = Receiver()
    try:
        leader = start(**SETTINGS)
        wait(leader.led, 10, "the first instance did not lead")
        follower = start(**SETTINGS)
        groups = leader.http.get("/api/v2/groups", auth=ADMIN).json()["data"]
        [root] = [g["id"] for g in groups if not g["path"]]
        type_id = created(leader.http, "/api/v2/device-types", {"name": "t", "groupId": root})
        spec = {
            "channel": "URL",
            "callbackType": 0,
            "callbackSubtype": 2,
            "url": receiver.url + "/in",
            "contentType": "application/json",
            "bodyTemplate": '{"device":"{device}","seq":{seqNumber}}',
        }
        created(leader.http, f"/api/v2/device-types/{type_id}/callbacks", spec)
        devices = []
        for _ in range(THREADS):
            device = "E" + secrets.token_hex(3).upper()
            body = {"id": device, "name": "d", "deviceTypeId": type_id, "pac": PAC}
            created(leader.http, "/api/v2/devices", body)
            devices.append(device)
        time.sleep(1)  # the follower hears of the new callback and devices

        # both live: each acknowledged uplink delivered exactly once
        load = Load((leader, follower), devices, first_seq=1)
        time.sleep(LOAD_BEFORE_KILL)
        both = load.stop()
        assert both
        delivered = receiver.wait_for(both)
        assert {u: delivered[u] for u in both} == dict.fromkeys(both, 1)
        assert set(delivered) == both
        wait(lambda: owed(pg_database) == (0, 0), 10, "deliveries left owed")

        # one is killed under load
        dead, survivor = (leader, follower) if killed == "leader" else (follower, leader)
        load = Load((leader, follower), devices, first_seq=2000)
        time.sleep(LOAD_BEFORE_KILL)
        dead.proc.send_signal(signal.SIGKILL)
        assert dead.proc.wait(5) == -signal.SIGKILL
        wait(survivor.led, 10, "the survivor did not lead")
        # the dead leader's requests were all made before: it died before the survivor led
        led_at = time.monotonic()
        time.sleep(LOAD_AFTER_KILL)
        acknowledged = load.stop()
        assert any(seq % 2 == (0 if dead is leader else 1) for _, seq in acknowledged)
        delivered = receiver.wait_for(acknowledged)
        assert acknowledged <= set(delivered)
        # nothing made up (one stored by the dead one and not acknowledged may come too)
        assert set(delivered) <= both | load.sent
        repeated = {u: n for u, n in delivered.items() if n > 1}
        print(
            f"\n{len(both)} uplinks with both instances, {len(acknowledged)} with a kill of the "
            f"{killed}: {len(repeated)} delivered twice"
        )
        if dead is follower:
            assert repeated == {}  # the follower delivers nothing: nothing of its in flight
        else:
            # only what the dead leader had made and not yet recorded: first delivered before
            # the survivor led, at most the deliveries it keeps in flight, twice at most
            assert set(repeated.values()) <= {2}
            assert all(receiver.first[u] < led_at for u in repeated)
            assert len(repeated) <= MAX_IN_FLIGHT
        # nothing left queued or owed: each delivered row was deleted
        wait(lambda: owed(pg_database) == (0, 0), 10, "deliveries left owed")
    finally:
        receiver.shutdown()
        receiver.server_close()
