"""``lorafox db migrate``: bring the database's schema to this version, without serving.

For operators who upgrade the schema as a step of its own, before starting the new version
(``lorafox serve`` migrates too, on start).
"""

from __future__ import annotations

import typer
from sqlalchemy import text

from lorafox.cli.common import app, fail, run, with_settings
from lorafox.errors import ConfigError, LorafoxError
from lorafox.settings import Settings
from lorafox.store.sql.database import Database

__all__ = ["db_app"]

db_app = typer.Typer(help="The database: schema migrations.", no_args_is_help=True)
app.add_typer(db_app, name="db")


async def _migrate(url: str) -> str:
    database = await Database.open(url, fast=False)
    try:
        async with database.reading() as conn:
            revision = (
                await conn.execute(text("SELECT version_num FROM alembic_version"))
            ).scalar()
    finally:
        await database.close()
    return str(revision)


@db_app.command("migrate")
@with_settings
def migrate(settings: Settings) -> None:
    """Run the schema migrations on the configured database and print its revision."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        revision = run(_migrate(settings.sqlalchemy_url))
    except ConfigError as exc:
        raise fail(exc.message) from exc
    except LorafoxError as exc:
        raise fail(exc.message, 1) from exc
    typer.echo(f"database at revision {revision}")
