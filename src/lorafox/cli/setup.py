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

__all__ = ["SERVICE_BODIES", "SIGFOX_BODY", "sigfox_setup"]

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

SERVICE_BODIES = {
    "SERVICE / STATUS": (
        "/sigfox/service/status",
        """{
  "device": "{device}",
  "time": {time},
  "temp": {temp},
  "batt": {batt},
  "seqNumber": {seqNumber}
}""",
    ),
    "SERVICE / ACKNOWLEDGE": (
        "/sigfox/service/acknowledge",
        """{
  "device": "{device}",
  "time": {time},
  "infoCode": {infoCode},
  "infoMessage": "{infoMessage}",
  "downlinkAck": {downlinkAck},
  "downlinkOverusage": {downlinkOverusage}
}""",
    ),
    "SERVICE / DATA_ADVANCED": (
        "/sigfox/service/data-advanced",
        """{
  "device": "{device}",
  "time": {time},
  "data": "{data}",
  "seqNumber": {seqNumber},
  "lqi": "{lqi}",
  "linkQuality": {linkQuality},
  "operatorName": "{operatorName}",
  "countryCode": {countryCode},
  "deviceTypeId": "{deviceTypeId}",
  "duplicates": {duplicates},
  "computedLocation": {computedLocation}
}""",
    ),
    "ERROR": (
        "/sigfox/error",
        """{
  "device": "{device}",
  "time": {time},
  "severity": "{severity}",
  "info": "{info}"
}""",
    ),
}
"""The other callbacks: their paths and JSON bodies (DATA_ADVANCED's objects are inserted as
JSON by the Back-End, hence unquoted)."""


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
    """Print what to enter in the Sigfox Back-End for the DATA (UPLINK, BIDIR), SERVICE
    (STATUS, ACKNOWLEDGE, DATA_ADVANCED) and ERROR callbacks."""
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
        *(
            {
                "type": kind,
                "channel": "URL",
                "url": f"{base}{path}",
                "method": "POST",
                "headers": {"Authorization": f"Basic {token}"},
                "contentType": "application/json",
                "body": body,
            }
            for kind, (path, body) in SERVICE_BODIES.items()
        ),
    ]
    if as_json:
        typer.echo(json.dumps({"callbacks": callbacks}, indent=2))
        return
    typer.echo(
        "In the Sigfox Back-End: Device type → your type → Callbacks → New → Custom callback."
    )
    typer.echo("Create these callbacks: DATA / UPLINK or DATA / BIDIR for the messages (BIDIR")
    typer.echo("when devices ask for downlinks: tick its downlink box in the callback list and")
    typer.echo("set the device type's Downlink mode to CALLBACK), the SERVICE and ERROR ones for")
    typer.echo("device status, downlink acknowledgements, link quality and alerts.\n")
    for number, cb in enumerate(callbacks, 1):
        typer.secho(f"{number}. {cb['type']}", bold=True)
        typer.echo(f"   Type:          {cb['type']}")
        typer.echo(f"   Channel:       {cb['channel']}")
        typer.echo(f"   Url pattern:   {cb['url']}")
        typer.echo(f"   HTTP Method:   {cb['method']}")
        typer.echo(f"   Headers:       Authorization = {cb['headers']['Authorization']}")
        typer.echo(f"   Content type:  {cb['contentType']}")
        typer.echo("   Body:")
        for line in cb["body"].splitlines():
            typer.echo(f"     {line}")
        if cb["type"].endswith("BIDIR"):
            typer.echo(f"   ({BIDIR_NOTE})")
        typer.echo("")
