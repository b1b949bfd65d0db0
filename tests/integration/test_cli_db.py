"""``lorafox db migrate``: the schema brought to this version without serving."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from lorafox import store as lorafox_store
from tests.integration.test_cli import lorafox


def head_revision() -> str:
    config = Config()
    config.set_main_option(
        "script_location", str(Path(lorafox_store.__file__).parent / "migrations")
    )
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None
    return head


def test_db_migrate_brings_a_new_database_to_the_head_and_says_so(tmp_path: Path) -> None:
    head = head_revision()
    for _ in range(2):  # a second run finds nothing to do
        proc = lorafox("db", "migrate", "--data-dir", str(tmp_path))
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert out.strip() == f"database at revision {head}"


def test_db_migrate_on_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    url = "postgresql://nobody@127.0.0.1:1/none"
    proc = lorafox("db", "migrate", "--data-dir", str(tmp_path), "--database-url", url)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert err.strip().splitlines() == [err.strip()]
    assert "cannot open the database" in err
