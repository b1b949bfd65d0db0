"""``lorafox devices import FILE.csv``: register many devices without HTTP.

The CSV has the columns id, pac, name, device type id (a first line starting with ``id`` is a
header; ``--device-type`` fills the fourth column where it is missing). Valid lines are
created, 200 a transaction; the others are reported with their line number. The command acts
as an ADMIN of the root group. A running lorafox picks the new devices up when it first hears
them (its registry checks the database on a miss).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from lorafox.cli.common import (
    JsonOpt,
    app,
    fail,
    opened_store,
    with_settings,
)
from lorafox.cli.users import call
from lorafox.devices import DeviceLine, DeviceManagement, LineError
from lorafox.identity import Identity, system_principal
from lorafox.settings import Settings

__all__ = ["devices_app", "read_lines"]

devices_app = typer.Typer(help="Devices: register them in bulk.", no_args_is_help=True)
app.add_typer(devices_app, name="devices")


def read_lines(text: str, default_type: str | None) -> tuple[list[DeviceLine], list[LineError]]:
    """The CSV's devices, and the lines that are not even rows of 3 or 4 columns."""
    lines: list[DeviceLine] = []
    errors: list[LineError] = []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if number == 1 and cells[0].lower() == "id":
            continue
        device_type = cells[3] if len(cells) > 3 and cells[3] else default_type
        if len(cells) not in (3, 4):
            errors.append(
                LineError(
                    number,
                    cells[0],
                    f"expected 4 columns: id, pac, name, device type id (found {len(cells)})",
                )
            )
            continue
        if device_type is None:
            errors.append(
                LineError(
                    number,
                    cells[0],
                    "the device type id (4th column) is empty: fill it in, or give one for such "
                    "lines with --device-type",
                )
            )
            continue
        lines.append(DeviceLine(number, cells[0], cells[1], cells[2], device_type))
    return lines, errors


@devices_app.command("import")
@with_settings
def import_devices(
    settings: Settings,
    file: Annotated[
        Path,
        typer.Argument(help="CSV: id, pac, name, device type id.", exists=True, dir_okay=False),
    ],
    device_type: Annotated[
        str | None,
        typer.Option("--device-type", help="Device type id for lines without a fourth column."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create the devices of a CSV file; prints a report of the lines refused (exit 1 if any)."""
    try:
        text = file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {file}: {exc}") from exc
    lines, errors = read_lines(text, device_type)
    total = len(lines) + len(errors)
    console = Console(stderr=True)

    async def work() -> list[LineError]:
        async with opened_store(settings) as (store, box):
            root = await store.identity.root_group()
            identity = Identity.create(store.identity, box)
            management = await DeviceManagement.create(store, identity.groups, root)
            with Progress(
                TextColumn("importing"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[failed]} refused"),
                console=console,
                disable=as_json or not console.is_terminal,
            ) as progress:
                task = progress.add_task("import", total=total, failed=len(errors))

                def advance(created: int, failed: int) -> None:
                    done = created + failed + len(errors)
                    progress.update(task, completed=done, failed=failed + len(errors))

                return await management.devices.create_many(system_principal(root), lines, advance)

    refused = sorted([*errors, *call(work())], key=lambda e: e.line)
    created = total - len(refused)
    if as_json:
        failed = [{"line": e.line, "id": e.id, "message": e.message} for e in refused]
        typer.echo(json.dumps({"total": total, "created": created, "failed": failed}))
    else:
        typer.echo(f"{created} of {total} devices created, {len(refused)} lines refused")
        for e in refused:
            typer.echo(f"  line {e.line} ({e.id or '-'}): {e.message}")
    if refused:
        raise typer.Exit(1)
