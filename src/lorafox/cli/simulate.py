"""``lorafox simulate``: the Sigfox Back-End's callbacks for a simulated fleet, against a running
lorafox (or any URL), with a live display and a summary; exit status 1 on any unexpected answer.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.live import Live
from rich.table import Table

from lorafox.cli.common import (
    ConfigOpt,
    DatabaseOpt,
    DataDirOpt,
    app,
    fail,
    load_settings,
    opened_store,
    run,
)
from lorafox.errors import LorafoxError
from lorafox.simulator import Call, Fleet, Scenario, acknowledge

__all__ = ["simulate"]

_SHOWN_PROBLEMS = 5


def _share(of_what: str) -> Any:
    """The option of a share (0 to 1) of the messages."""
    return typer.Option(min=0, max=1, help=f"Share {of_what}.")


@dataclass(slots=True)
class _Tally:
    sent: int = 0
    ok: int = 0
    unexpected: int = 0
    downlinks: int = 0
    acknowledged: int = 0
    latencies: list[float] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def percentile(self, share: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] * 1000

    def table(self, total: int, elapsed: float) -> Table:
        table = Table(
            title=f"lorafox simulate — {self.sent} sent ({total} planned + acknowledgements), "
            f"{elapsed:.1f} s"
        )
        for column in ("sent", "2xx", "unexpected", "downlinks", "acked", "p50 ms", "p99 ms"):
            table.add_column(column, justify="right")
        table.add_row(
            str(self.sent),
            str(self.ok),
            str(self.unexpected),
            str(self.downlinks),
            str(self.acknowledged),
            f"{self.percentile(0.5):.1f}",
            f"{self.percentile(0.99):.1f}",
        )
        return table


def _callback_credentials(
    username: str | None, password: str | None, settings_args: dict[str, object]
) -> tuple[str, str]:
    username = username or os.environ.get("LORAFOX_SIGFOX_USERNAME")
    password = password or os.environ.get("LORAFOX_SIGFOX_PASSWORD")
    if username and password:
        return username, password
    config = settings_args.pop("config")
    settings = load_settings(config, **settings_args)  # type: ignore[arg-type]
    if not settings.data_dir.is_dir():
        raise fail(
            f"no data dir at {settings.data_dir} to read the Sigfox callback credentials from "
            "(use --data-dir, or --username and --password)"
        )

    async def read() -> tuple[str, str] | None:
        async with opened_store(settings) as (store, box):
            found = await store.credentials.get_credential("sigfox")
            return None if found is None else (found.username, box.decrypt(found.secret))

    try:
        pair: tuple[str, str] | None = run(read())
    except (LorafoxError, OSError) as exc:
        raise fail(f"cannot read the callback credentials in {settings.data_dir}: {exc}") from exc
    if pair is None:
        raise fail(
            f"the data dir {settings.data_dir} has no Sigfox callback credentials yet: start "
            "`lorafox serve` once (or use --username and --password)"
        )
    return pair


@app.command()
def simulate(
    url: Annotated[
        str | None,
        typer.Option(
            help="lorafox's base URL [from LORAFOX_HOST/LORAFOX_HTTP_PORT: 127.0.0.1:8080]."
        ),
    ] = None,
    devices: Annotated[int, typer.Option(min=1, max=1_000_000, help="Devices.")] = 10,
    messages: Annotated[int, typer.Option(min=1, max=100_000, help="Messages per device.")] = 5,
    rate: Annotated[
        float, typer.Option(min=0, help="Callbacks a second; 0 = as fast as possible.")
    ] = 0,
    concurrency: Annotated[int, typer.Option(min=1, max=1024, help="Requests at once.")] = 16,
    bidir: Annotated[float, _share("of BIDIR messages")] = 0.1,
    duplicates: Annotated[float, _share("heard by more stations")] = 0.0,
    status: Annotated[float, _share("with a STATUS")] = 0.0,
    advanced: Annotated[float, _share("with a DATA_ADVANCED")] = 0.0,
    retries: Annotated[float, _share("sent twice")] = 0.0,
    out_of_order: Annotated[float, _share("delivered after the next one")] = 0.0,
    gaps: Annotated[float, _share("lost on the radio")] = 0.0,
    device_type_id: Annotated[
        str | None, typer.Option(help="deviceTypeId the callbacks carry.")
    ] = None,
    payload_format: Annotated[
        str | None, typer.Option(help="Sigfox custom payload format the payloads follow.")
    ] = None,
    first_device: Annotated[
        str, typer.Option(help="First device id (hex); the others follow.")
    ] = "5100000",
    seed: Annotated[int, typer.Option(help="Random seed (a scenario replays the same).")] = 1,
    username: Annotated[
        str | None, typer.Option(help="Callback login [LORAFOX_SIGFOX_USERNAME; else data dir].")
    ] = None,
    password: Annotated[
        str | None, typer.Option(help="Callback password [LORAFOX_SIGFOX_PASSWORD].")
    ] = None,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    database_url: DatabaseOpt = None,
) -> None:
    """Play the Sigfox Back-End against lorafox: a fleet's DATA, BIDIR (then ACKNOWLEDGE),
    STATUS and DATA_ADVANCED callbacks, duplicates and faults."""
    try:
        first = int(first_device, 16)
    except ValueError as exc:
        raise fail(f"--first-device: expected hex digits, got {first_device!r}") from exc
    try:
        fleet = Fleet(
            Scenario(
                devices=devices,
                messages=messages,
                first_device=first,
                device_type_id=device_type_id,
                payload_format=payload_format,
                bidir=bidir,
                duplicates=duplicates,
                status=status,
                advanced=advanced,
                retries=retries,
                out_of_order=out_of_order,
                gaps=gaps,
                start_time=int(time.time()) - messages * 600 - 60,
                seed=seed,
            )
        )
    except LorafoxError as exc:
        raise fail(f"--payload-format: {exc.message}") from exc
    auth = _callback_credentials(
        username, password, {"config": config, "data_dir": data_dir, "database_url": database_url}
    )
    if url is None:
        settings = load_settings(config, data_dir=data_dir, database_url=database_url)
        host = "127.0.0.1" if settings.host in ("0.0.0.0", "::") else settings.host
        url = f"http://{host}:{settings.http_port}"
    calls = fleet.plan()
    tally = run(_play(url.rstrip("/"), auth, calls, rate, concurrency))
    typer.echo("\n" + _summary(tally, len(calls)))
    if tally.unexpected:
        raise typer.Exit(1)


def _summary(tally: _Tally, total: int) -> str:
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(tally.by_kind.items()))
    lines = [
        f"{tally.sent} of {total} callbacks sent ({kinds}); {tally.ok} answered as expected, "
        f"{tally.unexpected} not",
        f"{tally.downlinks} downlinks received, {tally.acknowledged} acknowledged",
        f"latency p50 {tally.percentile(0.5):.1f} ms, p99 {tally.percentile(0.99):.1f} ms",
        *tally.problems,
    ]
    return "\n".join(lines)


async def _play(
    url: str, auth: tuple[str, str], calls: list[Call], rate: float, concurrency: int
) -> _Tally:
    tally = _Tally()
    console = Console(stderr=True)
    started = time.monotonic()
    queue: asyncio.Queue[tuple[int, Call]] = asyncio.Queue()
    for n, call in enumerate(calls):
        queue.put_nowait((n, call))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, auth=auth, limits=limits, timeout=15) as http:

        async def send(call: Call) -> httpx.Response | None:
            begun = time.perf_counter()
            try:
                answer = await http.post(call.path, json=call.body)
            except httpx.HTTPError as exc:
                _unexpected(tally, call, f"{type(exc).__name__}: {exc}")
                return None
            tally.latencies.append(time.perf_counter() - begun)
            tally.sent += 1
            tally.by_kind[call.kind] = tally.by_kind.get(call.kind, 0) + 1
            return answer

        async def worker() -> None:
            while not queue.empty():
                n, call = queue.get_nowait()
                if rate:
                    delay = started + n / rate - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                answer = await send(call)
                if answer is None:
                    continue
                if not answer.is_success:
                    _unexpected(tally, call, f"HTTP {answer.status_code} {answer.text[:200]}")
                    continue
                tally.ok += 1
                if call.kind == "bidir" and answer.status_code == 200:
                    data = _downlink(answer, call.body["device"])
                    if data is None:
                        _unexpected(
                            tally, call, f"BIDIR answer without downlinkData: {answer.text}"
                        )
                        continue
                    tally.downlinks += 1
                    console.print(f"downlink for {call.body['device']}: {data}")
                    ack = await send(acknowledge(call))
                    if ack is not None and ack.is_success:
                        tally.acknowledged += 1
                    elif ack is not None:
                        _unexpected(tally, call, f"ACKNOWLEDGE: HTTP {ack.status_code} {ack.text}")

        with Live(tally.table(len(calls), 0), console=console, refresh_per_second=4) as live:
            workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
            while not all(w.done() for w in workers):
                await asyncio.sleep(0.25)
                live.update(tally.table(len(calls), time.monotonic() - started))
            await asyncio.gather(*workers)
            live.update(tally.table(len(calls), time.monotonic() - started))
    return tally


def _downlink(answer: httpx.Response, device: str) -> str | None:
    try:
        body = answer.json()
        data = body[device]["downlinkData"]
    except (ValueError, KeyError, TypeError):
        return None
    return data if isinstance(data, str) else None


def _unexpected(tally: _Tally, call: Call, what: str) -> None:
    tally.unexpected += 1
    if len(tally.problems) < _SHOWN_PROBLEMS:
        tally.problems.append(
            f"unexpected answer to {call.kind} {call.path} (device {call.body['device']}): {what}"
        )
