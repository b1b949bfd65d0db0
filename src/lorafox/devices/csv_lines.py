"""Devices from a CSV file as the Sigfox Back-End's import takes it: one device a line, the
columns ``id, pac, name, lat, lng`` (name, lat and lng may be left out or empty).

The separator is a comma or a semicolon (whichever the first line has); a first line naming
the columns (``id``, ``pac``…, any case) is a header and may order them otherwise. The file is
bounded before it is read: ``MAX_LINES`` lines at most, UTF-8 (a BOM is ignored). A line that
is not a device's (too many columns, a coordinate that is no number) is refused with its
number; the others are checked as any device is when created.
"""

from __future__ import annotations

import csv
import io

from lorafox.devices.devices import DeviceLine, LineError
from lorafox.errors import InvalidInput

__all__ = ["COLUMNS", "MAX_LINES", "read_csv"]

MAX_LINES = 10_000
"""Lines one file may have (the API's bulk creation takes as many devices)."""
COLUMNS = ("id", "pac", "name", "lat", "lng")
_ALIASES = {
    "device": "id",
    "deviceid": "id",
    "latitude": "lat",
    "lon": "lng",
    "longitude": "lng",
}


def _coordinate(text: str, name: str) -> float | None:
    if not text:
        return None
    try:
        return float(text.replace(",", ".")) if text.count(",") == 1 else float(text)
    except ValueError:
        raise InvalidInput(f"{name}: {text!r} is not a number") from None


def _header(cells: list[str]) -> list[str] | None:
    """The columns a header line names, None when the line is a device's."""
    names = [_ALIASES.get(c.lower().replace(" ", ""), c.lower()) for c in cells]
    if "id" not in names:
        return None
    unknown = [c for c, n in zip(cells, names, strict=True) if n not in COLUMNS]
    if unknown:
        raise InvalidInput(f"line 1: unknown column {unknown[0]!r} (columns: {', '.join(COLUMNS)})")
    return names


def read_csv(data: bytes, device_type_id: str) -> tuple[list[DeviceLine], list[LineError]]:
    """The devices of a CSV file for ``device_type_id``, and the lines refused;
    ``InvalidInput`` for a file that is too long, not UTF-8, or has no device."""
    if data.count(b"\n") > MAX_LINES:
        raise InvalidInput(f"the file has more than {MAX_LINES} lines: split it")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput("the file is not UTF-8 text: save it as CSV (UTF-8)") from None
    first = text.split("\n", 1)[0]
    separator = ";" if first.count(";") > first.count(",") else ","
    columns = list(COLUMNS)
    lines: list[DeviceLine] = []
    refused: list[LineError] = []
    for number, row in enumerate(csv.reader(io.StringIO(text), delimiter=separator), start=1):
        cells = [c.strip() for c in row]
        if not any(cells):
            continue
        if number == 1 and (named := _header(cells)) is not None:
            columns = named
            continue
        if len(cells) > len(columns):
            refused.append(
                LineError(
                    number,
                    cells[0],
                    f"{len(cells)} columns, {len(columns)} expected: {', '.join(columns)}",
                )
            )
            continue
        values = dict(zip(columns, cells, strict=False))
        try:
            lat = _coordinate(values.get("lat", ""), "lat")
            lng = _coordinate(values.get("lng", ""), "lng")
        except InvalidInput as exc:
            refused.append(LineError(number, cells[0], exc.message))
            continue
        device = values.get("id", "")
        lines.append(
            DeviceLine(
                number,
                device,
                values.get("pac", ""),
                values.get("name") or device,
                device_type_id,
                lat=lat,
                lng=lng,
            )
        )
    if not lines and not refused:
        raise InvalidInput("the file has no device: one a line, id, pac, name, lat, lng")
    return lines, refused
