"""``lorafox sigfox-setup``: what to type in the Sigfox Back-End."""

from __future__ import annotations

import base64
import json
from typing import Annotated, Any

import typer

from lorafox.bootstrap import ensure_credentials
from lorafox.cli.common import (
    ConfigOpt,
    DatabaseOpt,
    DataDirOpt,
    JsonOpt,
    app,
    fail,
    load_settings,
    opened_store,
    print_notes,
    run,
)
from lorafox.errors import LorafoxError

__all__ = ["SIGFOX_BODY", "sigfox_setup"]

BIDIR_NOTE = "Answer 200 with the queued downlink when ack is true, else 204."

SIGFOX_BODY = """{
  "device": "{device}",
  "time": {time},
  "data": "{data}",
  "seqNumber": {seqNumber},
  "ack": {ack},
  "longPolling": {longPolling},
  "snr": {snr},
  "rssi": {rssi},
  "avgSnr": {avgSnr},
  "station": "{station}",
  "lat": {lat},
  "lng": {lng},
  "deviceTypeId": "{deviceTypeId}",
  "duplicate": {duplicate}
}"""


@app.command("sigfox-setup")
def sigfox_setup(
    public_url: Annotated[
        str, typer.Option(help="The URL the Sigfox Back-End reaches lorafox at.")
    ],
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    database_url: DatabaseOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Print what to enter in the Sigfox Back-End for the DATA UPLINK and BIDIR callbacks."""
    if not public_url.startswith(("http://", "https://")):
        raise fail("--public-url must start with https:// (or http://)")
    settings = load_settings(config, data_dir=data_dir, database_url=database_url)

    async def credentials() -> tuple[str, str, list[str]]:
        async with opened_store(settings) as (store, box):
            callback, notes = await ensure_credentials(store, settings, box)
        return callback.username, callback.password, notes

    try:
        username, password, notes = run(credentials())
    except LorafoxError as exc:
        raise fail(exc.message) from exc
    if notes:
        print_notes(notes)
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    base = public_url.rstrip("/")
    callbacks: list[dict[str, Any]] = [
        {
            "type": "DATA / UPLINK",
            "channel": "URL",
            "url": f"{base}/sigfox/uplink",
            "method": "POST",
            "headers": {"Authorization": f"Basic {token}"},
            "contentType": "application/json",
            "body": SIGFOX_BODY,
        },
        {
            "type": "DATA / BIDIR",
            "channel": "URL",
            "url": f"{base}/sigfox/bidir",
            "method": "POST",
            "headers": {"Authorization": f"Basic {token}"},
            "contentType": "application/json",
            "body": SIGFOX_BODY,
        },
    ]
    if as_json:
        typer.echo(json.dumps({"callbacks": callbacks}, indent=2))
        return
    typer.echo(
        "In the Sigfox Back-End: Device type → your type → Callbacks → New → Custom callback."
    )
    typer.echo("Create these two callbacks (the BIDIR one also needs Downlink mode = CALLBACK")
    typer.echo("in the device type, and the downlink ticked on the callback list).\n")
    for number, cb in enumerate(callbacks, 1):
        typer.secho(f"{number}. {cb['type']}", bold=True)
        typer.echo(f"   Type:          {cb['type']}")
        typer.echo(f"   Channel:       {cb['channel']}")
        typer.echo(f"   Url pattern:   {cb['url']}")
        typer.echo(f"   HTTP Method:   {cb['method']}")
        typer.echo(f"   Headers:       Authorization = {cb['headers']['Authorization']}")
        typer.echo(f"   Content type:  {cb['contentType']}")
        typer.echo("   Body:")
        for line in SIGFOX_BODY.splitlines():
            typer.echo(f"     {line}")
        if cb["type"].endswith("BIDIR"):
            typer.echo(f"   ({BIDIR_NOTE})")
        typer.echo("")
