"""``lorafox serve``: run everything."""

from __future__ import annotations

import asyncio
import gc
import logging
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from lorafox.cli.common import (
    ConfigOpt,
    DatabaseOpt,
    DataDirOpt,
    app,
    fail,
    load_settings,
    print_notes,
    run,
)
from lorafox.errors import LorafoxError

__all__ = ["serve"]


def settle_garbage_collector() -> None:
    """Once lorafox is up: what start-up built (device registry, caches, modules) lives as long
    as the process, so it leaves the collector's scans (``gc.freeze``), and young collections
    run less often. A full collection of a process holding 100,000 devices otherwise stops the
    event loop for 100 ms or more, which every callback answered meanwhile waits for."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


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
    semtech_port: Annotated[
        int | None,
        typer.Option(help="Semtech LoRa socket port, 0 = off [LORAFOX_SEMTECH_PORT, 6500]."),
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
    settings = load_settings(
        config,
        data_dir=data_dir,
        host=host,
        http_port=http_port,
        mqtt_port=mqtt_port,
        mqtt_url=mqtt_url,
        semtech_port=semtech_port,
        database_url=database_url,
        log_level=log_level,
        mqtt=mqtt or None,
    )
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # aiosqlite logs each call with its arguments (SQL parameters) at DEBUG: keep it quieter.
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, logging.getLogger().level))
    service = Service(settings, on_notes=print_notes)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, service.stop)
        ready = asyncio.create_task(service.ready.wait())
        ready.add_done_callback(lambda _: settle_garbage_collector())
        try:
            await service.run()
        finally:
            ready.cancel()

    try:
        run(main())
    except LorafoxError as exc:  # a bad setting, a database that cannot be opened, …
        raise fail(exc.message) from exc
    except KeyboardInterrupt:
        pass
