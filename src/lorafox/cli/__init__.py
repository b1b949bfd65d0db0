"""The ``lorafox`` command: ``serve``, ``sigfox-setup``, ``users``, ``api-users``, ``devices``,
``version``.

One module per command (group); ``common`` holds what they share.
"""

from __future__ import annotations

import typer

from lorafox import __version__
from lorafox.cli import api_users, devices, serve, setup, users  # noqa: F401 (they add commands)
from lorafox.cli.common import app

__all__ = ["app", "main"]


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    app()
