"""``lorafox backup FILE``: an online, consistent copy of the SQLite database.

It runs beside a serving lorafox: SQLite's backup API copies the database as one read
transaction (the WAL lets the server go on writing meanwhile), so the copy is the database as
it was at one instant. The copy is written next to ``FILE``, checked with ``PRAGMA
quick_check``, synced to disk and only then renamed to ``FILE``: a backup that is there is
whole. On PostgreSQL the operator's tools do this better (``pg_dump``), and the command says so.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from lorafox.cli.common import app, fail, with_settings
from lorafox.settings import Settings

__all__ = ["backup", "backup_sqlite"]


def _source(settings: Settings) -> Path:
    try:
        url = make_url(settings.sqlalchemy_url)
    except ArgumentError as exc:
        raise fail(f"--database-url: {exc}") from exc
    if url.get_backend_name() != "sqlite":
        raise fail(
            "backup copies a SQLite database; on PostgreSQL use pg_dump "
            "(pg_dump --format=custom --file=lorafox.dump DATABASE_URL, see docs/deployment.md)"
        )
    if not url.database or url.database == ":memory:":
        raise fail("backup needs a SQLite file, not an in-memory database")
    return Path(url.database)


def _copy(source: Path, partial: Path) -> dict[str, int]:
    """``source`` copied into the new file ``partial`` and checked; its row counts."""
    with contextlib.closing(
        sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    ) as live:
        live.execute("PRAGMA busy_timeout = 10000")
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        with contextlib.closing(sqlite3.connect(partial)) as copy:
            live.backup(copy)  # all pages in one step: one read transaction, one instant
            copy.execute("PRAGMA journal_mode = DELETE")
            problems = [row[0] for row in copy.execute("PRAGMA quick_check")]
            if problems != ["ok"]:
                raise sqlite3.DatabaseError("the copy fails its check: " + "; ".join(problems))
            return {
                table: int(copy.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608 (fixed names)
                for table in ("devices", "messages")
            }


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def backup_sqlite(source: Path, target: Path) -> dict[str, int]:
    """Copy ``source`` to ``target`` as one consistent snapshot; the row counts it holds.
    ``sqlite3.Error`` or ``OSError`` if it cannot; ``target`` then does not exist."""
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        counts = _copy(source, partial)
        _fsync(partial)
        partial.replace(target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    _fsync(target.parent)
    return counts


@app.command("backup")
@with_settings
def backup(
    settings: Settings,
    target: Annotated[Path, typer.Argument(help="The file to write (must not exist).")],
) -> None:
    """Copy the SQLite database to FILE while lorafox runs (online, consistent)."""
    source = _source(settings)
    if not source.is_file():
        raise fail(f"no database at {source} (check --data-dir or --database-url)")
    if target.exists():
        raise fail(f"{target} exists: remove it or name another file")
    if not target.parent.is_dir():
        raise fail(f"{target.parent}: no such directory")
    try:
        counts = backup_sqlite(source, target)
    except (sqlite3.Error, OSError) as exc:
        raise fail(f"backup of {source} failed: {exc}", 1) from exc
    size = target.stat().st_size
    typer.echo(
        f"backed up {source} to {target}: {counts['devices']} devices, "
        f"{counts['messages']} messages, {size / 1e6:.1f} MB"
    )
    typer.echo(
        "The secret key (LORAFOX_SECRET_KEY or secret.key in the data dir) is not in the backup: "
        "keep a copy of it apart; the integrations' stored secrets need it."
    )
