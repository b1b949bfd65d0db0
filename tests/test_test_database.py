"""The database the tests' lorafox instances run on: SQLite, or PostgreSQL with
``LORAFOX_TEST_DATABASE=postgresql`` (one fresh database per data dir, found again on restart)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import TEST_DATABASE, Running, command_env, database_url_of, make_settings

EXPECTED = {"sqlite": "sqlite+aiosqlite:", "postgresql": "postgresql+asyncpg:"}


def test_lorafox_runs_on_the_chosen_database(
    lorafox_factory: Callable[..., Running], tmp_path: Path
) -> None:
    lorafox = lorafox_factory(data_dir=tmp_path / "one")
    url = lorafox.service.settings.sqlalchemy_url
    assert url.startswith(EXPECTED[TEST_DATABASE])
    # the same data dir is the same database; another data dir is another one
    assert make_settings(tmp_path / "one").sqlalchemy_url == url
    other = make_settings(tmp_path / "two").sqlalchemy_url
    assert other.startswith(EXPECTED[TEST_DATABASE]) and other != url
    # a lorafox command given the data dir uses its database too
    env = command_env(["users", "list", "--data-dir", str(tmp_path / "one")])
    assert env.get("LORAFOX_DATABASE_URL") == database_url_of(tmp_path / "one")


@pytest.mark.sqlite
def test_a_test_about_sqlite_keeps_it(tmp_path: Path) -> None:
    assert make_settings(tmp_path).sqlalchemy_url.startswith("sqlite+aiosqlite:")
    assert database_url_of(tmp_path) is None and command_env(["--data-dir", str(tmp_path)]) == {}


@pytest.fixture(scope="session")
def session_data_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str | None]:
    data_dir = tmp_path_factory.mktemp("session-wide")
    return data_dir, make_settings(data_dir).database_url


@pytest.mark.parametrize("test", [1, 2])
def test_a_session_fixture_s_database_outlives_each_test(
    session_data_dir: tuple[Path, str | None], test: int
) -> None:
    data_dir, url = session_data_dir
    assert database_url_of(data_dir) == url  # not dropped (and made anew) after the first test
