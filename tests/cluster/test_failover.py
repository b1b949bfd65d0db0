"""Two instances on one PostgreSQL database and one MQTT broker (the shared Mosquitto or a NATS
server of the test's own) while Sigfox uplinks pour in through both, and the leader is killed
in the middle: what was acknowledged is stored once and published, a queued downlink is handed
out once by the survivor, the survivor takes the lead, and no alert is raised twice."""

from __future__ import annotations

import asyncio
import secrets
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.cluster.conftest import ADMIN, SIGFOX, Instance, Subscriber, broker_env, created
from tests.cluster.servers import NatsServer
from tests.conftest import MOSQUITTO

PAC = "0011223344556677"
LOST = "communication_lost"
KEEP_ALIVE = 1800  # the least a device type takes
THREADS = 6  # each sends the uplinks of a device of its own
KILL_AFTER = 2.5  # seconds of load before the leader is killed
LOAD_AFTER = 2.5  # seconds of load on the survivor after the kill
RETRY = 0.5  # LORAFOX_LEADER_RETRY_SECONDS
BATCH = 500  # the publish queue's batch: the most a killed instance can leave half published


@pytest.fixture(params=["mosquitto", "nats"])
def broker_port(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[int]:
    if request.param == "mosquitto":
        request.getfixturevalue("mosquitto")
        yield MOSQUITTO[1]
        return
    server = NatsServer(tmp_path / "nats")
    server.start()
    yield server.port
    server.stop()


def settings(port: int, prefix: str, name: str) -> dict[str, str]:
    return {
        **broker_env(f"mqtt://127.0.0.1:{port}", prefix),
        "LORAFOX_MQTT__CLIENT_ID": f"{prefix}-{name}",  # one each: docs/mqtt.md
        "LORAFOX_LEADER_RETRY_SECONDS": str(RETRY),
    }


def new_device(instance: Instance, type_id: str) -> str:
    device = "E" + secrets.token_hex(3).upper()
    body = {"id": device, "name": "d", "deviceTypeId": type_id, "pac": PAC}
    created(instance.http, "/api/v2/devices", body)
    return device


def post(instance: Instance, path: str, device: str, seq: int, when: int) -> httpx.Response:
    body = {"device": device, "time": when, "seqNumber": seq, "data": "0102"}
    body["ack"] = path == "/sigfox/bidir"
    with httpx.Client(base_url=instance.http.base_url, timeout=10) as client:
        return client.post(path, json=body, auth=SIGFOX)


def lost_events(instance: Instance, device: str) -> int:
    response = instance.http.get(f"/api/v2/devices/{device}/events", auth=ADMIN)
    assert response.status_code == 200, response.text
    return sum(1 for event in response.json()["data"] if event["type"] == LOST)


def wait(condition: Callable[[], bool], seconds: float, what: str) -> float:
    """Seconds until ``condition`` held (fails after ``seconds``)."""
    began = time.monotonic()
    while not condition():
        assert time.monotonic() - began < seconds, what
        time.sleep(0.05)
    return time.monotonic() - began


def stored(database_url: str) -> Counter[tuple[str, int]]:
    """The rows of each (device, seqNumber) in the messages table."""

    async def count() -> Counter[tuple[str, int]]:
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch(
                "SELECT device, seq_number, count(*) AS n FROM messages GROUP BY 1, 2"
            )
        finally:
            await conn.close()
        return Counter({(row["device"], row["seq_number"]): row["n"] for row in rows})

    return asyncio.run(count())


def test_killing_the_leader_under_load_loses_and_repeats_nothing(
    start: Callable[..., Instance], pg_database: str, broker_port: int
) -> None:
    prefix = "lorafox-failover-" + secrets.token_hex(4)
    subscriber = Subscriber(broker_port, prefix + "/uplink/#", client_id="t" + prefix)
    try:
        leader = start(**settings(broker_port, prefix, "a"))
        wait(leader.led, 10, "the first instance did not lead")
        survivor = start(**settings(broker_port, prefix, "b"))
        groups = leader.http.get("/api/v2/groups", auth=ADMIN).json()["data"]
        [root] = [g["id"] for g in groups if not g["path"]]
        load_type = created(leader.http, "/api/v2/device-types", {"name": "l", "groupId": root})
        watched_type = created(
            leader.http,
            "/api/v2/device-types",
            {"name": "w", "groupId": root, "keepAlive": KEEP_ALIVE},
        )
        devices = [new_device(leader, load_type) for _ in range(THREADS)]
        addressee = new_device(leader, load_type)
        early, late = new_device(leader, watched_type), new_device(leader, watched_type)

        queued = leader.http.post(
            f"/api/v2/devices/{addressee}/downlinks", json={"data": "00112233aabbccdd"}, auth=ADMIN
        )
        assert queued.status_code == 201, queued.text
        # their silence outlasts the keepAlive one second before the kill (the leader raises
        # it, the survivor must not again) and one and a half after (the survivor raises it);
        # each told to the instance that is not to raise it
        kill_at = time.time() + KILL_AFTER
        for instance, device, ends in ((survivor, early, -1), (leader, late, 1.5)):
            answer = post(instance, "/sigfox/uplink", device, 1, int(kill_at + ends) - KEEP_ALIVE)
            assert answer.status_code == 204, answer.text

        acknowledged: dict[tuple[str, int], float] = {}  # uplink answered 2xx → when sent
        lock = threading.Lock()
        stop = threading.Event()

        def load(thread: int) -> None:
            device = devices[thread]
            clients = [httpx.Client(base_url=i.http.base_url, timeout=10) for i in instances]
            try:
                for seq in range(1, 4096):
                    if stop.is_set():
                        return
                    body = {"device": device, "time": 1_700_000_000 + seq, "seqNumber": seq}
                    sent = time.monotonic()
                    try:  # round-robin: the even ones to the leader
                        answer = clients[seq % 2].post(
                            "/sigfox/uplink", json={**body, "data": "0102"}, auth=SIGFOX
                        )
                    except httpx.TransportError:
                        continue  # not acknowledged: the Sigfox Back-End would send it again
                    assert answer.status_code == 204, answer.text
                    with lock:
                        acknowledged[(device, seq)] = sent
            finally:
                for client in clients:
                    client.close()

        instances = (leader, survivor)
        with ThreadPoolExecutor(max_workers=THREADS) as pool:
            loads = [pool.submit(load, thread) for thread in range(THREADS)]
            time.sleep(KILL_AFTER)
            wait(lambda: lost_events(leader, early) == 1, 5, f"the leader raised no {LOST}")
            assert not survivor.led()
            killed_at = time.monotonic()
            leader.proc.send_signal(signal.SIGKILL)
            took_over = wait(survivor.led, RETRY + 5, "the survivor did not take the lead")
            time.sleep(LOAD_AFTER)
            stop.set()
            for done in loads:
                done.result()
        assert leader.proc.wait(5) == -signal.SIGKILL

        before = {u for u, at in acknowledged.items() if at < killed_at}
        after = set(acknowledged) - before
        assert any(seq % 2 == 0 for _, seq in before)  # the leader took some before it died
        assert after  # and the survivor went on

        # the downlink queued through the dead leader: handed out once, by the survivor
        bidir = post(survivor, "/sigfox/bidir", addressee, 1, 1_700_000_001)
        assert bidir.status_code == 200, bidir.text
        assert bidir.json() == {addressee: {"downlinkData": "00112233aabbccdd"}}
        again = post(survivor, "/sigfox/bidir", addressee, 2, 1_700_000_002)
        assert again.status_code == 204, again.text

        # every acknowledged uplink stored once, published at least once
        rows = stored(pg_database)
        assert {u: rows[u] for u in acknowledged} == dict.fromkeys(acknowledged, 1)
        published = subscriber.wait_for(set(acknowledged), settle=2)
        duplicates = {u: n for u, n in published.items() if n > 1}
        print(
            f"\n{len(acknowledged)} uplinks acknowledged ({len(before)} before the kill), "
            f"{len(duplicates)} published twice; the survivor led {took_over:.2f} s after"
        )
        # twice at most, and only what the dead leader may have published without committing:
        # uplinks stored before the kill, so sent before it
        assert set(duplicates.values()) <= {2}
        assert set(duplicates) <= before
        assert len(duplicates) <= BATCH

        # the alerts: each device lost once in all
        wait(lambda: lost_events(survivor, late) > 0, 10, f"no {LOST} for {late}")
        time.sleep(1)  # several check periods more
        assert lost_events(survivor, early) == 1
        assert lost_events(survivor, late) == 1
    finally:
        subscriber.close()
