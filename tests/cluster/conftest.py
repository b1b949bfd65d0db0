"""Several ``lorafox serve`` processes on one PostgreSQL database (started by ``start``)."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import paho.mqtt.client as mqtt
import pytest
from cryptography.fernet import Fernet
from paho.mqtt.enums import CallbackAPIVersion

from tests.conftest import ADMIN_PASSWORD, SIGFOX_PASSWORD, SIGFOX_USER, free_port

ADMIN = ("admin", ADMIN_PASSWORD)
SIGFOX = (SIGFOX_USER, SIGFOX_PASSWORD)
LEADER_LINE = "this instance is now the leader"


class Instance:
    """One ``lorafox serve`` process on the shared database."""

    def __init__(
        self, data_dir: Path, database_url: str, secret_key: str, env: dict[str, str]
    ) -> None:
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
            **env,
        }
        args = ["--data-dir", str(data_dir), "--http-port", str(self.port)]
        if "LORAFOX_MQTT_URL" not in env:  # else the external broker, not an embedded one
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
def start(pg_database: str, tmp_path: Path) -> Iterator[Callable[..., Instance]]:
    """Starts an instance on the test's database; keyword arguments: ``LORAFOX_…`` settings."""
    started: list[Instance] = []
    secret_key = Fernet.generate_key().decode()

    def make(**env: str) -> Instance:
        instance = Instance(tmp_path / f"i{len(started)}", pg_database, secret_key, env)
        started.append(instance)
        return instance

    yield make
    for instance in started:
        instance.stop()


def broker_env(url: str, prefix: str) -> dict[str, str]:
    """Settings of an instance publishing on the broker at ``url`` under the topics of
    ``prefix`` (a test's own, on a broker other tests share)."""
    return {
        "LORAFOX_MQTT_URL": url,
        "LORAFOX_MQTT__UPLINK_TOPIC": prefix + "/uplink/{device}",
        "LORAFOX_MQTT__DOWNLINK_TOPIC": prefix + "/downlink/+",
        "LORAFOX_MQTT__EVENTS_TOPIC": prefix + "/events/{device}",
    }


def created(http: httpx.Client, url: str, body: dict[str, Any]) -> str:
    response = http.post(url, json=body, auth=ADMIN)
    assert response.status_code == 201, response.text
    made: str = response.json()["id"]
    return made


def uplink_key(payload: bytes) -> Any:
    """An uplink published by lorafox, as (device, seqNumber)."""
    body = orjson.loads(payload)
    return (body["device"], body["seqNumber"])


class Subscriber:
    """A QoS 1 paho client keeping, in arrival order, what arrives on ``topic_filter``: each
    message as ``key`` makes it of its payload (an uplink's (device, seqNumber) by default).

    ``persistent``: a persistent session that reconnects by itself every second, subscribed
    once, so that what is published while it is away (a broker restarting) waits for it."""

    def __init__(
        self,
        port: int,
        topic_filter: str,
        *,
        client_id: str = "",
        key: Callable[[bytes], Any] = uplink_key,
        persistent: bool = False,
        login: tuple[str, str] | None = None,
    ) -> None:
        self.received: list[Any] = []
        self._key = key
        self._lock = threading.Lock()
        subscribed = threading.Event()
        if persistent and not client_id:
            client_id = f"sub-{secrets.token_hex(4)}"
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=not persistent
        )
        if login is not None:
            self.client.username_pw_set(*login)
        if persistent:
            self.client.reconnect_delay_set(1, 1)
        else:
            self.client.on_connect = lambda c, *_: c.subscribe(topic_filter, qos=1)
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        if persistent:
            self.client.subscribe(topic_filter, qos=1)
        assert subscribed.wait(10), "no SUBACK"

    def _on_message(self, _c: object, _u: object, message: mqtt.MQTTMessage) -> None:
        item = self._key(bytes(message.payload))
        with self._lock:
            self.received.append(item)

    def counts(self) -> Counter[Any]:
        with self._lock:
            return Counter(self.received)

    def wait_for(self, expected: set[Any], seconds: float = 30, settle: float = 1) -> Counter[Any]:
        """The count of each message received, once every expected one was (and ``settle``
        seconds more, for late duplicates to show)."""
        deadline = time.monotonic() + seconds
        while not expected <= set(self.counts()):
            missing = expected - set(self.counts())
            assert time.monotonic() < deadline, f"not received: {missing}"
            time.sleep(0.05)
        time.sleep(settle)
        return self.counts()

    def distinct(self, count: int, seconds: float = 60) -> list[Any]:
        """What was received, each once and sorted, once ``count`` distinct ones are in."""
        deadline = time.monotonic() + seconds
        while len(set(self.counts())) < count:
            assert time.monotonic() < deadline, f"received only {sorted(set(self.counts()))}"
            time.sleep(0.05)
        return sorted(set(self.counts()))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
