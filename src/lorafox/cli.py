"""The ``lorafox`` command: ``serve`` and ``sigfox-setup``."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
import uvloop
from pydantic import ValidationError

from lorafox import __version__
from lorafox.auth.secretbox import SecretBox
from lorafox.bootstrap import ensure_credentials
from lorafox.errors import ConfigError, LorafoxError
from lorafox.settings import Settings
from lorafox.store.sql.store import SqlStore

__all__ = ["app", "main"]

app = typer.Typer(
    name="lorafox",
    help="Self-hosted backend for Sigfox and LoRa devices.",
    no_args_is_help=True,
    add_completion=False,
)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="TOML settings file.", exists=True, dir_okay=False)
]
DataDirOpt = Annotated[
    Path | None, typer.Option("--data-dir", help="Data directory [LORAFOX_DATA_DIR].")
]
DatabaseOpt = Annotated[
    str | None,
    typer.Option("--database-url", help="sqlite:///path or postgresql://… [LORAFOX_DATABASE_URL]."),
]

BIDIR_NOTE = "Answer 200 with the queued downlink when ack is true, else 204."


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"lorafox: error: {message}", err=True)
    return typer.Exit(code)


def _settings(config: Path | None, **flags: Any) -> Settings:
    try:
        return Settings.load(config, **flags)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        raise _fail(f"invalid settings: {problems}") from exc


def _run(coro: Any) -> Any:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


def _print_notes(notes: Sequence[str]) -> None:
    typer.echo("")
    for note in notes:
        typer.secho(f"  {note}", bold=True)
    typer.echo("  (shown once: keep them somewhere safe)\n")


@app.command()
def serve(
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    host: Annotated[
        str | None, typer.Option(help="Listen address [LORAFOX_HOST, 127.0.0.1].")
    ] = None,
    http_port: Annotated[
        int | None, typer.Option(help="HTTP port [LORAFOX_HTTP_PORT, 8080].")
    ] = None,
    mqtt_port: Annotated[
        int | None,
        typer.Option(help="Embedded MQTT broker port, 0 = none [LORAFOX_MQTT_PORT, 1883]."),
    ] = None,
    mqtt_url: Annotated[
        str | None,
        typer.Option(help="External broker mqtt[s]://user:pass@host:port [LORAFOX_MQTT_URL]."),
    ] = None,
    mqtt_ca: Annotated[Path | None, typer.Option(help="CA file for the external broker.")] = None,
    mqtt_cert: Annotated[
        Path | None, typer.Option(help="Client certificate for the broker.")
    ] = None,
    mqtt_key: Annotated[
        Path | None, typer.Option(help="Client private key for the broker.")
    ] = None,
    database_url: DatabaseOpt = None,
    log_level: Annotated[str | None, typer.Option(help="DEBUG, INFO, WARNING, ERROR.")] = None,
) -> None:
    """Run lorafox: HTTP callbacks and API, MQTT, storage."""
    from lorafox.service import Service

    mqtt = {
        k: v
        for k, v in {"ca_file": mqtt_ca, "cert_file": mqtt_cert, "key_file": mqtt_key}.items()
        if v
    }
    settings = _settings(
        config,
        data_dir=data_dir,
        host=host,
        http_port=http_port,
        mqtt_port=mqtt_port,
        mqtt_url=mqtt_url,
        database_url=database_url,
        log_level=log_level,
        mqtt=mqtt or None,
    )
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    service = Service(settings, on_notes=_print_notes)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, service.stop)
        await service.run()

    try:
        _run(run())
    except ConfigError as exc:
        raise _fail(exc.message) from exc
    except LorafoxError as exc:
        raise _fail(exc.message, 1) from exc
    except KeyboardInterrupt:
        pass


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
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """Print what to enter in the Sigfox Back-End for the DATA UPLINK and BIDIR callbacks."""
    if not public_url.startswith(("http://", "https://")):
        raise _fail("--public-url must start with https:// (or http://)")
    settings = _settings(config, data_dir=data_dir, database_url=database_url)

    async def credentials() -> tuple[str, str, list[str]]:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        store = await SqlStore.open(settings.sqlalchemy_url)
        try:
            callback, notes = await ensure_credentials(
                store, settings, SecretBox.from_data_dir(settings.data_dir)
            )
        finally:
            await store.close()
        return callback.username, callback.password, notes

    try:
        username, password, notes = _run(credentials())
    except LorafoxError as exc:
        raise _fail(exc.message) from exc
    if notes:
        _print_notes(notes)
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


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    app()
