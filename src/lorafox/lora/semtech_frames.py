"""The Semtech customer-server socket's messages: NUL-framed JSON, parsed into what lorafox does.

Pure, no I/O. ``NulFramer`` cuts a TCP byte stream into frames however it was split or joined
(an empty frame is a keep-alive, a frame over the limit is dropped up to its NUL);
``parse_message`` reads one JSON object into ``SemtechMessage``; ``downlink_frame`` writes one
downlink. Field names follow Semtech's inter-server interface: ``app`` (``moteeui``, ``dir``,
``seqno``, ``userdata{port,payload}``, ``motetx``, ``gwrx[]``), ``join``, ``gw``, ``mote``,
``ackreq``. EUIs come as hex without leading zeros and are padded to 16 digits.
"""

from __future__ import annotations

import base64
from typing import Any

import orjson

from lorafox.domain import LoraGateway
from lorafox.domain.records import record
from lorafox.errors import InvalidInput
from lorafox.lora.model import (
    MAX_GATEWAYS,
    LoraUplink,
    as_float,
    as_int,
    decode_base64,
    normalize_eui,
)

__all__ = [
    "MAX_FRAME",
    "NulFramer",
    "SemtechMessage",
    "ack_frame",
    "downlink_frame",
    "parse_frame",
    "parse_message",
]

MAX_FRAME = 64 * 1024
"""Bytes of one JSON message (a full ``gwrx`` list is a few kB)."""


class NulFramer:
    """Bytes in, complete frames out. ``oversized`` counts frames dropped for their size."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._max = max_frame
        self._buffer = bytearray()
        self._skipping = False
        self.oversized = 0

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """The frames ``data`` completes, empty ones (keep-alives) left out."""
        frames: list[bytes] = []
        start = 0
        while True:
            end = data.find(b"\0", start)
            if end < 0:
                break
            if self._skipping:
                self._skipping = False
            elif self._buffer:
                self._buffer += data[start:end]
                if len(self._buffer) <= self._max:
                    frames.append(bytes(self._buffer))
                else:
                    self.oversized += 1
                self._buffer.clear()
            elif end > start:
                if end - start <= self._max:
                    frames.append(data[start:end])
                else:
                    self.oversized += 1
            start = end + 1
        rest = len(data) - start
        if rest and not self._skipping:
            if len(self._buffer) + rest > self._max:
                self.oversized += 1
                self._buffer.clear()
                self._skipping = True  # drop up to the next NUL
            else:
                self._buffer += data[start:]
        return frames


@record
class SemtechMessage:
    """What one frame asks for: an uplink, an ack to send, events to record, feedback on a
    downlink (``msgsent``/``ackrx`` with its token)."""

    uplink: LoraUplink | None = None
    metadata_only: bool = False
    ackreq: int | None = None
    events: tuple[tuple[str, str | None, dict[str, Any]], ...] = ()
    """(kind, device EUI or None, details) for ``join``, ``gw`` and ``mote`` objects."""
    sent_token: int | None = None
    acked: str | None = None
    """The EUI of a device that acknowledged its confirmed downlink (``mote.ackrx``)."""
    feedback_device: str | None = None
    ignored: tuple[str, ...] = ()

    @property
    def plain_uplink(self) -> bool:
        """Nothing but an uplink (or metadata): nothing to do once it is handed over."""
        return (
            self.ackreq is None
            and not self.events
            and self.sent_token is None
            and self.acked is None
        )


def parse_frame(frame: bytes) -> SemtechMessage:
    """``InvalidInput`` when the frame is not a JSON object or an object is malformed."""
    try:
        obj = orjson.loads(frame)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"not JSON: {exc}") from exc
    if not isinstance(obj, dict):
        raise InvalidInput("a message must be a JSON object")
    return parse_message(obj)


def parse_message(obj: dict[str, Any]) -> SemtechMessage:
    if len(obj) == 1:  # the usual message: one uplink and nothing else
        app = obj.get("app")
        if type(app) is dict and app.get("dir", "up") == "up":
            uplink, metadata_only = _app_up(app)
            return SemtechMessage(uplink=uplink, metadata_only=metadata_only)
    return _parse_any(obj)


def _parse_any(obj: dict[str, Any]) -> SemtechMessage:
    uplink = None
    metadata_only = False
    events: list[tuple[str, str | None, dict[str, Any]]] = []
    sent_token = None
    acked = None
    feedback_device = None
    ackreq = as_int(obj.get("ackreq"), "ackreq") if "ackreq" in obj else None
    app = obj.get("app")
    if app is not None:
        if not isinstance(app, dict):
            raise InvalidInput("app must be an object", field="app")
        direction = app.get("dir", "up")
        if direction == "up":
            uplink, metadata_only = _app_up(app)
        elif direction != "dn":
            raise InvalidInput("app.dir must be up or dn", field="app.dir")
    for kind in ("join", "gw"):
        part = obj.get(kind)
        if part is not None:
            if not isinstance(part, dict):
                raise InvalidInput(f"{kind} must be an object", field=kind)
            events.append((kind, _eui_in(part), _summary(part)))
    mote = obj.get("mote")
    if mote is not None:
        if not isinstance(mote, dict):
            raise InvalidInput("mote must be an object", field="mote")
        device = _eui_in(mote)
        feedback_device = device
        if "msgsent" in mote:
            sent_token = as_int(mote["msgsent"], "mote.msgsent", 0, 0xFFFF)
        if "ackrx" in mote:
            acked = device
        events.append(("mote", device, _summary(mote)))
    ignored = tuple(k for k in obj if k not in {"app", "join", "gw", "mote", "ackreq"})
    return SemtechMessage(
        uplink=uplink,
        metadata_only=metadata_only,
        ackreq=ackreq,
        events=tuple(events),
        sent_token=sent_token,
        acked=acked,
        feedback_device=feedback_device,
        ignored=ignored,
    )


def _app_up(app: dict[str, Any]) -> tuple[LoraUplink | None, bool]:
    dev_eui = normalize_eui(app.get("moteeui"), "app.moteeui")
    userdata = app.get("userdata")
    if userdata is None:
        return None, True  # motetx/gwrx only: metadata, not an error
    if not isinstance(userdata, dict):
        raise InvalidInput("app.userdata must be an object", field="app.userdata")
    # one re-implementation nests seqno and motetx in userdata
    seqno = app.get("seqno", userdata.get("seqno"))
    motetx = app.get("motetx", userdata.get("motetx")) or {}
    if not isinstance(motetx, dict):
        raise InvalidInput("app.motetx must be an object", field="app.motetx")
    gwrx = app.get("gwrx") or []
    if not isinstance(gwrx, list):
        raise InvalidInput("app.gwrx must be a list", field="app.gwrx")
    gateways = tuple([_gateway(g) for g in gwrx[:MAX_GATEWAYS] if type(g) is dict])
    freq = as_float(motetx.get("freq"), "app.motetx.freq")
    app_eui = app.get("appeui")
    datr = motetx.get("datr")
    return (
        LoraUplink(
            dev_eui=dev_eui,
            f_cnt=as_int(seqno, "app.seqno") or 0,
            f_port=as_int(userdata.get("port"), "app.userdata.port", 0, 255),
            payload=decode_base64(userdata.get("payload"), "app.userdata.payload"),
            app_eui=None if app_eui is None else normalize_eui(app_eui, "app.appeui"),
            gateways=gateways,
            data_rate=datr if isinstance(datr, str) and len(datr) <= 32 else None,
            frequency=None if freq is None else round(freq * 1_000_000 if freq < 10_000 else freq),
        ),
        False,
    )


def _gateway(g: dict[str, Any]) -> LoraGateway:
    eui = g.get("eui")
    return LoraGateway(
        id=normalize_eui(eui, "app.gwrx.eui") if eui is not None else "",
        rssi=as_float(g.get("rssi"), "app.gwrx.rssi"),
        snr=as_float(g.get("lsnr"), "app.gwrx.lsnr"),
    )


def _eui_in(part: dict[str, Any]) -> str | None:
    for key in ("moteeui", "eui"):
        value = part.get(key)
        if value is not None:
            try:
                return normalize_eui(value, key)
            except InvalidInput:
                return None
    return None


def _summary(part: dict[str, Any]) -> dict[str, Any]:
    """The object's scalar fields, bounded, for the event log."""
    kept: dict[str, Any] = {}
    for key, value in list(part.items())[:16]:
        if isinstance(value, bool | int | float) or (isinstance(value, str) and len(value) < 100):
            kept[str(key)[:32]] = value
        elif isinstance(value, dict):
            kept[str(key)[:32]] = {
                str(k)[:32]: v
                for k, v in list(value.items())[:8]
                if isinstance(v, bool | int | float) or (isinstance(v, str) and len(v) < 100)
            }
    return kept


def ack_frame(ackreq: int) -> bytes:
    return orjson.dumps({"ack": ackreq}) + b"\0"


def downlink_frame(dev_eui: str, token: int, port: int, payload: bytes) -> bytes:
    """``{"app":{"moteeui","dir":"dn","token","userdata":{"port","payload"}}}`` + NUL; the EUI
    written as the server writes it (hex without leading zeros)."""
    body = {
        "app": {
            "moteeui": dev_eui.lstrip("0") or "0",
            "dir": "dn",
            "token": token,
            "userdata": {"port": port, "payload": base64.b64encode(payload).decode()},
        }
    }
    return orjson.dumps(body) + b"\0"
