"""What the ``lorafox`` commands share: the Typer app, common options, errors, the store."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import tomllib
import typing
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
import uvloop
from pydantic import ValidationError

from lorafox.auth.secretbox import SecretBox
from lorafox.settings import Settings
from lorafox.store.sql.store import SqlStore

__all__ = [
    "ConfigOpt",
    "DataDirOpt",
    "DatabaseOpt",
    "JsonOpt",
    "app",
    "fail",
    "load_settings",
    "opened_store",
    "print_notes",
    "run",
    "with_settings",
]

app = typer.Typer(
    name="lorafox",
    help="Self-hosted backend for Sigfox and LoRa devices.",
    no_args_is_help=True,
    add_completion=False,
)

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML settings file.")]
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory [LORAFOX_DATA_DIR].")
]
DatabaseOpt = Annotated[
    str | None,
    typer.Option("--database-url", help="sqlite:///path or postgresql://… [LORAFOX_DATABASE_URL]."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print as JSON.")]

_SETTINGS_OPTIONS = [
    inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=option)
    for name, option in (
        ("config", ConfigOpt),
        ("data_dir", DataDirOpt),
        ("database_url", DatabaseOpt),
    )
]


def fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"lorafox: error: {message}", err=True)
    return typer.Exit(code)


def load_settings(config: Path | None, **flags: Any) -> Settings:
    if config is not None and not config.is_file():
        raise fail(f"--config {config}: no such file")
    try:
        return Settings.load(config, **flags)
    except tomllib.TOMLDecodeError as exc:
        raise fail(f"--config {config}: not valid TOML: {exc}") from exc
    except OSError as exc:
        raise fail(f"--config {config}: cannot read it: {exc.strerror}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        raise fail(f"invalid settings: {problems}") from exc


def with_settings(command: Callable[..., None]) -> Callable[..., None]:
    """``command(settings, …)`` as a command that takes the ``--config``, ``--data-dir`` and
    ``--database-url`` options (before ``--json``) and first loads the settings from them."""
    hints = typing.get_type_hints(command, include_extras=True)
    _, *own = (
        p.replace(kind=inspect.Parameter.KEYWORD_ONLY, annotation=hints[p.name])
        for p in inspect.signature(command).parameters.values()
    )
    json = [p for p in own if p.name == "as_json"]
    parameters = [*(p for p in own if p.name != "as_json"), *_SETTINGS_OPTIONS, *json]

    @functools.wraps(command)
    def load_then_run(
        *, config: Path | None, data_dir: Path | None, database_url: str | None, **options: Any
    ) -> None:
        command(load_settings(config, data_dir=data_dir, database_url=database_url), **options)

    load_then_run.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    load_then_run.__annotations__ = {p.name: p.annotation for p in parameters}
    return load_then_run


def run(coro: Any) -> Any:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def print_notes(notes: Sequence[str]) -> None:
    typer.echo("")
    for note in notes:
        typer.secho(f"  {note}", bold=True)
    typer.echo("  (shown once: keep them somewhere safe)\n")


@contextlib.asynccontextmanager
async def opened_store(settings: Settings) -> AsyncIterator[tuple[SqlStore, SecretBox]]:
    """The store (migrated) and the secret box of ``settings``' data dir."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    box = SecretBox.from_data_dir(settings.data_dir)
    store = await SqlStore.open(settings.sqlalchemy_url)
    try:
        yield store, box
    finally:
        await store.close()
