"""Shared fixtures: free ports, the local services, a running lorafox.

The lorafox instances the tests start use a SQLite file in their data dir, or, with
``LORAFOX_TEST_DATABASE=postgresql``, a fresh PostgreSQL database per data dir (created when a
test first uses the data dir, dropped once the test or the fixture that made it is done). Tests
about SQLite itself are marked ``sqlite`` and keep it."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
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
POSTGRES = ("127.0.0.1", 5432)
TEST_DATABASES = ("sqlite", "postgresql")
#: the database the lorafox instances of the tests run on (``LORAFOX_TEST_DATABASE``)
TEST_DATABASE = os.environ.get("LORAFOX_TEST_DATABASE", "sqlite")


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
    require_service("PostgreSQL", POSTGRES)
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
        "semtech_port": 0,  # the LoRa tests that use it give a free port
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
    if "database_url" not in overrides:  # a test that names its database keeps it
        values.update(database_settings(data_dir))
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
    """lorafox on the test database with its embedded broker on a free port."""
    return lorafox_factory()


def _postgres_execute(url: str, *statements: str) -> None:
    """Run ``statements`` on the PostgreSQL database at ``url``, in one transaction when there are
    several; in a thread of its own, since callers may be inside an event loop."""
    import asyncpg

    async def execute() -> None:
        conn = await asyncpg.connect(url)
        try:
            if len(statements) == 1:  # CREATE and DROP DATABASE refuse a transaction
                await conn.execute(statements[0])
            else:
                async with conn.transaction():
                    for statement in statements:
                        await conn.execute(statement)
        finally:
            await conn.close()

    errors: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(execute())
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    if errors:
        raise errors[0]


def postgres_admin(sql: str) -> None:
    """Run ``sql`` on the ``test`` database (create or drop another one)."""
    _postgres_execute(POSTGRES_URL, sql)


def _new_database_url() -> str:
    """A new, empty PostgreSQL database: its URL (the caller drops it)."""
    name = f"lorafox_test_{os.getpid()}_{secrets.token_hex(6)}"
    postgres_admin(f'CREATE DATABASE "{name}"')
    return POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"


def _drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_database(postgres_url: str) -> Iterator[str]:
    """A fresh PostgreSQL database for one test (dropped afterwards); yields its URL."""
    url = _new_database_url()
    try:
        yield url
    finally:
        _drop_database(url)


# -- the database of each data dir ----------------------------------------------------------
#
# With LORAFOX_TEST_DATABASE=postgresql, a data dir's database is a PostgreSQL database made the
# first time a test uses the data dir (in-process, or a ``lorafox`` command given it): a restart
# on the same data dir finds its data again, as on SQLite. It belongs to what was running when
# it was made, a fixture being set up (a module-scoped one: its module) or else the test, and is
# dropped after the test at whose teardown that owner is gone.


@dataclass
class _Database:
    url: str
    owner: object  # the test, or the collector (module, session, …) of a fixture


_databases: dict[Path, _Database] = {}
_fixtures_being_set_up: list[pytest.FixtureRequest] = []
_current_test: list[pytest.Item] = []


def _on_postgresql() -> bool:
    """True when the running test's lorafox instances use PostgreSQL."""
    if TEST_DATABASE != "postgresql":
        return False
    return not any(test.get_closest_marker("sqlite") for test in _current_test)


def database_url_of(data_dir: Path | str) -> str | None:
    """The PostgreSQL URL of ``data_dir``'s database, made on first use; None on SQLite."""
    if not _on_postgresql():
        return None
    key = Path(os.path.abspath(data_dir))
    if key not in _databases:
        require_service("PostgreSQL", POSTGRES)
        owner: object
        if _fixtures_being_set_up:
            owner = _fixtures_being_set_up[-1].node
        else:
            assert _current_test, "a test database is made while a test runs"
            owner = _current_test[-1]
        _databases[key] = _Database(_new_database_url(), owner)
    return _databases[key].url


def database_settings(data_dir: Path | str) -> dict[str, Any]:
    """The settings that put ``data_dir``'s lorafox on the test database (none on SQLite)."""
    url = database_url_of(data_dir)
    return {} if url is None else {"database_url": url}


def store_url(data_dir: Path) -> str:
    """The SQLAlchemy URL of the test database of ``data_dir``, for a store opened directly."""
    return Settings.load(None, data_dir=data_dir, **database_settings(data_dir)).sqlalchemy_url


def command_env(args: Sequence[str], env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` for a ``lorafox`` command line given ``args``: on PostgreSQL, plus
    ``LORAFOX_DATABASE_URL`` of the data dir it names (``--data-dir`` or ``LORAFOX_DATA_DIR``),
    unless it names its own database; for ``serve``, no Semtech socket unless asked for."""
    env = dict(env or {})
    if args and args[0] == "serve" and "--semtech-port" not in args:
        env.setdefault("LORAFOX_SEMTECH_PORT", "0")  # no fixed port 6500 shared between tests
    if "--database-url" in args or "LORAFOX_DATABASE_URL" in env:
        return env
    data_dir = env.get("LORAFOX_DATA_DIR")
    if "--data-dir" in args:
        data_dir = args[list(args).index("--data-dir") + 1]
    url = None if data_dir is None else database_url_of(data_dir)
    if url is not None:
        env["LORAFOX_DATABASE_URL"] = url
    return env


TABLES_AFTER_0009 = (
    "DROP TABLE console_sessions",
    "DROP TABLE callback_queue",
    "DROP TABLE publish_queue",
    "DROP TABLE lora_devices",
    "DROP TABLE password_tokens",
    "DROP TABLE alerts",
    "DROP TABLE mail_outbox",
    "DROP TABLE callback_deliveries",
    "DROP TABLE callbacks",
    "DROP TABLE ddb_stream_records",
    "DROP TABLE topic_rules",
    "DROP TABLE rule_http_outbox",
    "ALTER TABLE device_types DROP COLUMN retention_days",
    "DROP INDEX ux_downlinks_request",
    "ALTER TABLE downlinks DROP COLUMN request_id",
    "DROP INDEX ix_events_type_time",
)
"""Statements that drop the tables and columns of the revisions after 0009 (to test an upgrade
from it; PostgreSQL's messages stay partitioned, which revision 0019 then leaves as they are)."""


def execute_sql(data_dir: Path, *statements: str) -> None:
    """Run ``statements`` on ``data_dir``'s database, SQLite or PostgreSQL (as an older version
    of lorafox or an operator would have left it)."""
    url = database_url_of(data_dir)
    if url is None:
        with sqlite3.connect(data_dir / "lorafox.db") as db:
            for statement in statements:
                db.execute(statement)
        db.close()
        return
    _postgres_execute(url, *statements)


def _drop_databases(keep: set[object]) -> None:
    for key, database in list(_databases.items()):
        if database.owner not in keep:
            del _databases[key]
            _drop_database(database.url)


class _DatabaseOwners:
    """Follows the test and the fixture being set up, and drops the databases whose owner is
    gone. A plugin rather than hooks of this conftest: those would not see the session-scoped
    fixtures (set up on the session node, outside tests/)."""

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Iterator[None]:
        _current_test.append(item)
        try:
            return (yield)
        finally:
            _current_test.pop()

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(self, request: pytest.FixtureRequest) -> Iterator[Any]:
        _fixtures_being_set_up.append(request)
        try:
            return (yield)
        finally:
            _fixtures_being_set_up.pop()

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, nextitem: pytest.Item | None) -> Iterator[None]:
        try:
            return (yield)
        finally:
            _drop_databases(set(nextitem.listchain()) if nextitem is not None else set())

    @pytest.hookimpl(wrapper=True)
    def pytest_sessionfinish(self) -> Iterator[None]:
        try:
            return (yield)
        finally:  # a run stopped early (-x) tears down here
            _drop_databases(set())


def pytest_configure(config: pytest.Config) -> None:
    if TEST_DATABASE not in TEST_DATABASES:
        raise pytest.UsageError(
            f"LORAFOX_TEST_DATABASE={TEST_DATABASE!r}: expected one of {', '.join(TEST_DATABASES)}"
        )
    config.pluginmanager.register(_DatabaseOwners(), "lorafox-test-databases")


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
