"""Hourly statistics of device types (``type_hourly``), added to where their data is stored.

Each statement adds to the row of (device type, hour) — inserting it when missing — in the
transaction of what it counts: the uplinks of an ingest batch, a DATA_ADVANCED callback's link
quality and base stations, a STATUS report. A message counts in the type its device is in
when it is stored (messages of devices that are not registered count nowhere). The SQL is
written once per dialect; the SQLite fast path runs it on its own cursor, the other paths
through SQLAlchemy.
"""

# ruff: noqa: S608 -- the SQL here is assembled from this module's constants only; every value
# from outside is a bound parameter.
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import bindparam, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection

from lorafox.domain import AdvancedData, DeviceStatus

__all__ = [
    "HOUR_MS",
    "LQI_NAMES",
    "SPREADS",
    "add_advanced",
    "add_downlink",
    "add_messages",
    "add_status",
    "advanced_figures",
    "backfill",
    "frequency_sql",
    "sqlite_add_downlink",
    "sqlite_add_messages",
]

HOUR_MS = 3_600_000
SPREADS = ("snr", "rssi", "freq", "bs", "temp", "batt")
"""Figures kept as count, sum, minimum and maximum (``<name>_n``, ``_sum``, ``_min``, ``_max``)."""
LQI_NAMES = ("LIMIT", "AVERAGE", "GOOD", "EXCELLENT", "NA")
"""Sigfox's link quality classes, by their ``linkQuality`` code (0 to 4)."""
_COUNTS = (
    "messages",
    "chars",
    "bs_1",
    "bs_2",
    "bs_3",
    *(f"lqi_{i}" for i in range(5)),
    "reports",
    "dl_sent",
    "dl_acked",
    "dl_failed",
    "dl_expired",
)
_ALL = (
    *_COUNTS,
    *(f"{name}_{part}" for name in SPREADS for part in ("n", "sum", "min", "max")),
)

# SQLite and PostgreSQL spellings of what is read from the JSON columns.
_DIALECT = {
    "sqlite": {
        "freq": (
            "(SELECT CASE WHEN CAST(v AS TEXT) GLOB '[0-9]*' AND NOT CAST(v AS TEXT) GLOB"
            " '*[^0-9.]*' THEN CAST(v AS REAL) END FROM (SELECT coalesce("
            "json_extract(m.extra, '$.freq'), json_extract(m.extra, '$.frequency')) AS v))"
        ),
        "lqi": "upper(json_extract(advanced, '$.lqi'))",
        "code": "CAST(json_extract(advanced, '$.linkQuality') AS TEXT)",
        "stations": "json_array_length(advanced, '$.duplicates')",
    },
    "postgresql": {
        "freq": (
            "CASE WHEN coalesce(m.extra->>'freq', m.extra->>'frequency')"
            " ~ '^\\s*[0-9]{1,15}(\\.[0-9]{1,9})?\\s*$'"
            " THEN CAST(coalesce(m.extra->>'freq', m.extra->>'frequency') AS DOUBLE PRECISION)"
            " END"
        ),
        "lqi": "upper(advanced->>'lqi')",
        "code": "(advanced->>'linkQuality')",
        "stations": (
            "CASE WHEN json_typeof(advanced->'duplicates') = 'array'"
            " THEN json_array_length(advanced->'duplicates') END"
        ),
    },
}


def frequency_sql(dialect: str) -> str:
    """The uplink's frequency (SQL on ``messages m``), when its callback carried one as
    ``freq`` or ``frequency`` (not a standard Sigfox variable) that reads as a plain decimal
    number; anything else is left out rather than failing the query on a cast."""
    return _DIALECT[dialect]["freq"]


def _merge_clause() -> str:
    """``ON CONFLICT``: counts and sums add up, minimums and maximums combine."""
    parts = []
    for column in _ALL:
        old, new = f"type_hourly.{column}", f"excluded.{column}"
        if column.endswith(("_min", "_max")):
            better = "<=" if column.endswith("_min") else ">="
            parts.append(
                f"{column} = CASE WHEN {new} IS NULL OR ({old} IS NOT NULL AND {old} {better}"
                f" {new}) THEN {old} ELSE {new} END"
            )
        else:
            parts.append(f"{column} = {old} + {new}")
    return " ON CONFLICT (device_type_id, hour) DO UPDATE SET " + ", ".join(parts)


_MERGE = _merge_clause()
_INSERT = f"INSERT INTO type_hourly (device_type_id, hour, {', '.join(_ALL)}) "


def _spread(value: str, name: str) -> dict[str, str]:
    return {
        f"{name}_n": f"count({value})",
        f"{name}_sum": f"coalesce(sum({value}), 0)",
        f"{name}_min": f"min({value})",
        f"{name}_max": f"max({value})",
    }


def _grouped_sql(dialect: str, figures: dict[str, str], rows: str) -> str:
    """Add ``figures`` (column → aggregate; the others nothing) of ``rows`` (a subquery with
    the device type ``t`` and hour ``h`` of each row) to their types' hours."""
    nothing = "CAST(NULL AS DOUBLE PRECISION)" if dialect == "postgresql" else "NULL"
    select = ", ".join(
        figures.get(c, nothing if c.endswith(("_min", "_max")) else "0") for c in _ALL
    )
    return f"{_INSERT}SELECT t, h, {select} FROM ({rows}) AS r WHERE true GROUP BY t, h{_MERGE}"


def _messages_sql(dialect: str, where: str) -> str:
    """Add the messages matching ``where`` (on ``messages m``) to their types' hours."""
    d = _DIALECT[dialect]
    figures = {
        "messages": "count(*)",
        "chars": "coalesce(sum(length(data)), 0)",
        "bs_1": "sum(CASE WHEN stations = 1 THEN 1 ELSE 0 END)",
        "bs_2": "sum(CASE WHEN stations = 2 THEN 1 ELSE 0 END)",
        "bs_3": "sum(CASE WHEN stations >= 3 THEN 1 ELSE 0 END)",
        **{
            f"lqi_{code}": f"sum(CASE WHEN link_quality = {code} THEN 1 ELSE 0 END)"
            for code in range(len(LQI_NAMES))
        },
        **_spread("snr", "snr"),
        **_spread("rssi", "rssi"),
        **_spread("f", "freq"),
        **_spread("CASE WHEN stations > 0 THEN stations END", "bs"),
    }
    rows = (
        f"SELECT d.device_type_id AS t, m.time / {HOUR_MS} AS h, m.data, m.snr, m.rssi,"
        f" {d['freq']} AS f, m.link_quality, m.stations"
        f" FROM messages m JOIN devices d ON d.id = m.device WHERE {where}"
    )
    return _grouped_sql(dialect, figures, rows)


def _one_row_sql(dialect: str) -> str:
    """Add one set of figures (bound by name) to the hour ``:hour`` of ``:device``'s type."""
    values = []
    for column in _ALL:
        value = f":{column}"
        if dialect == "postgresql" and column.endswith(("_min", "_max")):
            value = f"CAST(:{column} AS DOUBLE PRECISION)"
        values.append(value)
    return (
        f"{_INSERT}SELECT d.device_type_id, :hour, {', '.join(values)}"
        f" FROM devices d WHERE d.id = :device{_MERGE}"
    )


_SQLITE_INGEST = _messages_sql("sqlite", "m.id IN (SELECT value FROM json_each(:ids))")
_BY_IDS = {
    "sqlite": text(_SQLITE_INGEST),
    "postgresql": text(_messages_sql("postgresql", "m.id IN :ids")).bindparams(
        bindparam("ids", expanding=True)
    ),
}
_ONE_ROW = {dialect: text(_one_row_sql(dialect)) for dialect in _DIALECT}
_SQLITE_ONE_ROW = _one_row_sql("sqlite")


def sqlite_add_messages(cursor: Any, ids: Sequence[int]) -> None:
    """The SQLite fast path: add the messages ``ids`` (just inserted) on ``cursor``."""
    if ids:
        cursor.execute(_SQLITE_INGEST, {"ids": "[" + ",".join(map(str, ids)) + "]"})


async def add_messages(conn: AsyncConnection, ids: Sequence[int]) -> None:
    if not ids:
        return
    dialect = conn.dialect.name
    if dialect == "sqlite":
        await conn.execute(_BY_IDS[dialect], {"ids": "[" + ",".join(map(str, ids)) + "]"})
    else:
        await conn.execute(_BY_IDS[dialect], {"ids": list(ids)})


def _zeros() -> dict[str, Any]:
    found: dict[str, Any] = dict.fromkeys(_COUNTS, 0)
    for name in SPREADS:
        found.update({f"{name}_n": 0, f"{name}_sum": 0.0, f"{name}_min": None, f"{name}_max": None})
    return found


def _figure(found: dict[str, Any], name: str, value: float | None) -> None:
    if value is not None:
        found.update(
            {f"{name}_n": 1, f"{name}_sum": value, f"{name}_min": value, f"{name}_max": value}
        )


def advanced_figures(details: dict[str, Any]) -> tuple[int | None, int | None]:
    """(link quality code 0-4, number of base stations) of DATA_ADVANCED details."""
    quality = None
    name = details.get("lqi")
    if isinstance(name, str) and name.upper() in LQI_NAMES:
        quality = LQI_NAMES.index(name.upper())
    elif name is None and str(details.get("linkQuality")) in ("0", "1", "2", "3", "4"):
        quality = int(details["linkQuality"])
    duplicates = details.get("duplicates")
    stations = len(duplicates) if isinstance(duplicates, list) else None
    return quality, stations


async def add_advanced(conn: AsyncConnection, advanced: AdvancedData) -> None:
    """Count the link quality and base stations of a message that had none."""
    quality, stations = advanced_figures(advanced.details)
    found = _zeros()
    if quality is not None:
        found[f"lqi_{quality}"] = 1
    if stations:
        found[f"bs_{min(stations, 3)}"] = 1
        _figure(found, "bs", float(stations))
    await conn.execute(
        _ONE_ROW[conn.dialect.name],
        {**found, "hour": advanced.time // HOUR_MS, "device": advanced.device},
    )


DownlinkCount = Literal["dl_sent", "dl_acked", "dl_failed", "dl_expired"]


def _downlink_row(device: str, when: int, column: DownlinkCount) -> dict[str, Any]:
    return {**_zeros(), column: 1, "hour": when // HOUR_MS, "device": device}


def sqlite_add_downlink(cursor: Any, device: str, when: int, column: DownlinkCount) -> None:
    """The SQLite fast path: count a downlink sent (or ended) at ``when`` (epoch ms)."""
    cursor.execute(_SQLITE_ONE_ROW, _downlink_row(device, when, column))


async def add_downlink(
    conn: AsyncConnection, device: str, when: int, column: DownlinkCount
) -> None:
    await conn.execute(_ONE_ROW[conn.dialect.name], _downlink_row(device, when, column))


async def add_status(conn: AsyncConnection, status: DeviceStatus) -> None:
    found = _zeros()
    found["reports"] = 1
    _figure(found, "temp", status.temperature)
    _figure(found, "batt", status.battery)
    await conn.execute(
        _ONE_ROW[conn.dialect.name],
        {**found, "hour": status.time // HOUR_MS, "device": status.device},
    )


def backfill(conn: Connection) -> None:
    """Count what is already stored (the migration that creates ``type_hourly``), after
    reading the link quality and stations of the messages' DATA_ADVANCED details."""
    dialect = conn.dialect.name
    d = _DIALECT[dialect]
    by_type = "JOIN devices v ON v.id = d.device"
    lqi, code = d["lqi"], d["code"]
    quality = " ".join(
        f"WHEN {lqi} = '{name}' OR ({lqi} IS NULL AND {code} = '{number}') THEN {number}"
        for number, name in enumerate(LQI_NAMES)
    )
    for statement in (
        f"UPDATE messages SET link_quality = CASE {quality} END, stations = {d['stations']}"
        " WHERE advanced IS NOT NULL",
        _messages_sql(dialect, "true"),
        _grouped_sql(
            dialect,
            {"reports": "count(*)", **_spread("temperature", "temp"), **_spread("battery", "batt")},
            f"SELECT v.device_type_id AS t, d.time / {HOUR_MS} AS h, d.temperature, d.battery"
            f" FROM device_status d {by_type}",
        ),
        _grouped_sql(
            dialect,
            {"dl_sent": "count(*)"},
            f"SELECT v.device_type_id AS t, d.sent_at / {HOUR_MS} AS h FROM downlinks d"
            f" {by_type} WHERE d.sent_at IS NOT NULL",
        ),
        _grouped_sql(
            dialect,
            {
                f"dl_{state}": f"sum(CASE WHEN state = '{state}' THEN 1 ELSE 0 END)"
                for state in ("acked", "failed", "expired")
            },
            f"SELECT v.device_type_id AS t, d.ended_at / {HOUR_MS} AS h, d.state FROM downlinks d"
            f" {by_type} WHERE d.state IN ('acked', 'failed', 'expired')"
            " AND d.ended_at IS NOT NULL",
        ),
    ):
        conn.execute(text(statement))
