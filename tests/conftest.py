"""Shared fixtures: free ports, the local services, a running lorafox."""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvloop

from lorafox.service import Service
from lorafox.settings import Settings

ADMIN_PASSWORD = "admin-secret-pw"
SIGFOX_USER = "sigfox"
SIGFOX_PASSWORD = "sigfox-secret-pw"
MOSQUITTO = ("127.0.0.1", 1883)
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _reachable(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=1):
            return True
    except OSError:
        return False


def require_service(name: str, address: tuple[str, int]) -> None:
    """Skip when a local service is missing; in CI (CI=true) fail instead."""
    if _reachable(address):
        return
    message = f"{name} is not reachable on {address[0]}:{address[1]}"
    if os.environ.get("CI") == "true":
        pytest.fail(message + " (CI requires it)")
    pytest.skip(message)


def require_binary(name: str) -> None:
    """Skip when a program is missing; in CI (CI=true) fail instead."""
    import shutil

    if shutil.which(name) or Path(f"/usr/sbin/{name}").exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{name} is not installed (CI requires it)")
    pytest.skip(f"{name} is not installed")


@pytest.fixture
def mosquitto() -> tuple[str, int]:
    require_service("Mosquitto", MOSQUITTO)
    return MOSQUITTO


@pytest.fixture
def postgres_url() -> str:
    require_service("PostgreSQL", ("127.0.0.1", 5432))
    return POSTGRES_URL


@dataclass
class Running:
    """A lorafox running in a thread of the test process."""

    service: Service
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread
    errors: list[BaseException]

    @property
    def http_port(self) -> int:
        assert self.service.http_port is not None
        return self.service.http_port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def mqtt_port(self) -> int | None:
        return self.service.mqtt_port

    def stop(self) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.service.stop)
            self.thread.join(30)
        assert not self.thread.is_alive(), "lorafox did not stop"


def start_lorafox(settings: Settings) -> Running:
    """Start lorafox with ``settings`` in a thread and wait until it serves."""
    loop = uvloop.new_event_loop()
    service = Service(settings, on_notes=lambda notes: None)
    errors: list[BaseException] = []
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)

        async def main() -> None:
            waiter = asyncio.create_task(service.ready.wait())
            waiter.add_done_callback(lambda _: started.set())
            try:
                await service.run()
            finally:
                waiter.cancel()

        try:
            loop.run_until_complete(main())
        except BaseException as exc:
            errors.append(exc)
        finally:
            started.set()
            loop.close()

    thread = threading.Thread(target=run, name="lorafox-under-test", daemon=True)
    thread.start()
    started.wait(30)
    if errors:
        raise errors[0]
    assert service.ready.is_set(), "lorafox did not start"
    return Running(service, loop, thread, errors)


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "host": "127.0.0.1",
        "http_port": free_port(),
        "mqtt_port": free_port(),
        "admin_password": ADMIN_PASSWORD,
        "sigfox_username": SIGFOX_USER,
        "sigfox_password": SIGFOX_PASSWORD,
        "log_level": "INFO",
        # every test client comes from 127.0.0.1, and the role and fuzz tests send many wrong
        # passwords on purpose: the throttling tests set their own limits
        "login_failures_per_address": 100_000,
        "login_failures_per_login": 100_000,
    }
    values.update(overrides)
    return Settings.load(None, **values)


@pytest.fixture
def lorafox_factory(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    """Start lorafox instances (stopped at teardown); keyword args override settings."""
    running: list[Running] = []

    def factory(**overrides: Any) -> Running:
        instance = start_lorafox(
            make_settings(overrides.pop("data_dir", tmp_path / "data"), **overrides)
        )
        running.append(instance)
        return instance

    yield factory
    for instance in running:
        instance.stop()


@pytest.fixture
def lorafox(lorafox_factory: Callable[..., Running]) -> Running:
    """lorafox on SQLite with its embedded broker on a free port."""
    return lorafox_factory()


@pytest.fixture
def pg_database(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one test (dropped afterwards); yields its URL."""
    import asyncpg

    name = f"lorafox_test_{os.getpid()}_{threading.get_ident() % 10_000}_{free_port()}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(postgres_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def run(sql: str) -> None:  # in a thread: callers may be inside an event loop
        worker = threading.Thread(target=asyncio.run, args=(admin(sql),))
        worker.start()
        worker.join()

    run(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def root_api_user(base_url: str, name: str, profile: str = "ADMIN") -> tuple[str, str]:
    """A new API user of the root group with ``profile``: its (login, password)."""
    import httpx

    with httpx.Client(base_url=base_url, auth=("admin", ADMIN_PASSWORD)) as http:
        [root] = [g for g in http.get("/api/v2/groups").json()["data"] if not g["path"]]
        made = http.post(
            "/api/v2/api-users",
            json={"groupId": root["id"], "name": name, "profileIds": [profile]},
        ).json()
    return made["id"], made["accessToken"]
