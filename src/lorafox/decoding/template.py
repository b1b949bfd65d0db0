"""The DIRECT downlink template (a device type's ``downlinkDataString``), compiled once.

A template is hex bytes and the Sigfox Back-End's variables, making exactly 8 bytes::

    {time}   4 bytes  the uplink's time, epoch seconds, big-endian
    {tapId}  2 bytes  the base station that answers (Sigfox shows station ids as 4 hex digits)
    {rssi}   2 bytes  the uplink's RSSI in dBm, rounded, signed big-endian (two's complement)

e.g. ``{time}{tapId}00ff``. Spaces and tabs between parts are ignored. A template that is not
one raises ``InvalidInput`` (field ``downlinkDataString``) naming the 1-based character.

Rendering never fails: values that do not fit are cut to their bytes (time modulo 2**32, a
station id to its low 16 bits, the RSSI clamped to -32768..32767); a missing station id, a
station id that is not hex, and a missing or NaN RSSI render as zero bytes.
"""

from __future__ import annotations

import json
import math
import re
import struct
from typing import Final, final

from lorafox.errors import InvalidInput

__all__ = ["DOWNLINK_BYTES", "DOWNLINK_VARIABLES", "DownlinkTemplate", "compile_downlink_template"]

DOWNLINK_BYTES: Final = 8
DOWNLINK_VARIABLES: Final = {"{time}": 4, "{tapId}": 2, "{rssi}": 2}
"""The variables and the bytes each one fills."""

_CODES = {"{time}": "I", "{tapId}": "H", "{rssi}": "h"}
_TOKEN = re.compile(r"\{[^{}]*\}?|[0-9A-Fa-f]+|[ \t]+|.", re.DOTALL)
_NAMES = "{time}, {tapId} or {rssi}"
_SHOWN = 40


@final
class DownlinkTemplate:
    """A compiled template: ``render`` gives the 16 lower-case hex digits of a downlink."""

    __slots__ = ("_args", "_constant", "_struct", "text")

    def __init__(self, text: str, parts: list[str | bytes]) -> None:
        self.text = text
        codes = "".join(_CODES[p] if isinstance(p, str) else f"{len(p)}s" for p in parts)
        self._struct = struct.Struct(">" + codes)
        self._args = tuple(parts)
        fixed = all(isinstance(p, bytes) for p in parts)
        self._constant = self._struct.pack(*parts).hex() if fixed else None

    def render(self, time_s: int, tap_id: str | int | None, rssi: float | None) -> str:
        """The downlink for an uplink at ``time_s`` heard by station ``tap_id`` at ``rssi``."""
        if self._constant is not None:
            return self._constant
        values = {
            "{time}": int(time_s) & 0xFFFF_FFFF,
            "{tapId}": _tap(tap_id),
            "{rssi}": _rssi(rssi),
        }
        args = [values[p] if isinstance(p, str) else p for p in self._args]
        return self._struct.pack(*args).hex()

    def __repr__(self) -> str:
        return f"DownlinkTemplate({self.text!r})"


def compile_downlink_template(
    template: str, *, field: str = "downlinkDataString"
) -> DownlinkTemplate:
    """The compiled template; ``InvalidInput`` naming ``field`` and the character if it is not
    one (never another exception)."""

    def fail(column: int, problem: str) -> InvalidInput:
        return InvalidInput(f"{field}: at character {column}: {problem}", field=field)

    parts: list[str | bytes] = []
    size = 0
    for match in _TOKEN.finditer(template):
        token, column = match.group(), match.start() + 1
        if token[0] in " \t":
            continue
        if token[0] == "{":
            if token[-1] != "}" or len(token) == 1:
                raise fail(column, '"{" is not closed by "}"')
            if token not in DOWNLINK_VARIABLES:
                raise fail(column, f"unknown variable {_show(token)} (expected {_NAMES})")
            width = DOWNLINK_VARIABLES[token]
            if size + width > DOWNLINK_BYTES:
                raise fail(
                    column,
                    f"{token} makes {size + width} bytes; a downlink is exactly {DOWNLINK_BYTES}",
                )
            parts.append(token)
        elif _is_hex(token):
            if len(token) % 2:
                raise fail(column, f"{_show(token)} is an odd number of hex digits (2 a byte)")
            width = len(token) // 2
            if size + width > DOWNLINK_BYTES:
                raise fail(
                    column + 2 * (DOWNLINK_BYTES - size),
                    f"byte {DOWNLINK_BYTES + 1} is past the {DOWNLINK_BYTES} bytes of a downlink",
                )
            parts.append(bytes.fromhex(token))
        else:
            raise fail(column, f"{_show(token)} is neither a hex digit nor a variable ({_NAMES})")
        size += width
    if size != DOWNLINK_BYTES:
        raise fail(
            len(template) + 1,
            f"the template ends after {size} bytes; a downlink is exactly {DOWNLINK_BYTES} "
            f"(hex bytes and {_NAMES})",
        )
    return DownlinkTemplate(template, parts)


def _is_hex(token: str) -> bool:
    return token.isascii() and all(c in "0123456789abcdefABCDEF" for c in token)


def _show(text: str) -> str:
    cut = text if len(text) <= _SHOWN else text[:_SHOWN] + "…"
    return json.dumps(cut, ensure_ascii=False)


def _tap(tap_id: str | int | None) -> int:
    if tap_id is None:
        return 0
    if isinstance(tap_id, int):
        return tap_id & 0xFFFF
    try:
        return int(tap_id, 16) & 0xFFFF
    except ValueError:
        return 0


def _rssi(rssi: float | None) -> int:
    if rssi is None or math.isnan(rssi):
        return 0
    if math.isinf(rssi):
        return 32767 if rssi > 0 else -32768
    return max(-32768, min(32767, math.floor(rssi + 0.5)))
