"""The ``lorafox`` command: ``serve``, ``sigfox-setup``, ``simulate``, ``tail``, ``users``,
``api-users``, ``devices``, ``db``, ``backup``, ``version``.

One module per command (group); ``common`` holds what they share.
"""

from __future__ import annotations

from typing import Annotated

import typer

from lorafox import __version__
from lorafox.cli import (  # noqa: F401 (they add commands)
    api_users,
    backup,
    db,
    devices,
    serve,
    setup,
    simulate,
    tail,
    users,
)
from lorafox.cli.common import app

__all__ = ["app", "main"]


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"lorafox {__version__}")
        raise typer.Exit


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version."
        ),
    ] = False,
) -> None:
    """Self-hosted backend for Sigfox and LoRa devices."""


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(f"lorafox {__version__}")


def main() -> None:
    app()
