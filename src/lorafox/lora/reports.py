"""What an HTTP network server's message amounts to, whatever its format (pure)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from lorafox.domain import DownlinkState, Severity
from lorafox.lora.model import LoraUplink

__all__ = ["Feedback", "NetworkEvent", "Report", "Solved", "parse_time", "scalars", "solved"]

_FRACTION = re.compile(r"(\.\d{6})\d+")


@dataclass(slots=True, frozen=True)
class Feedback:
    """News of a downlink: the one lorafox queued as ``downlink_id``, or the one the network
    server knows as ``network_id``."""

    state: DownlinkState
    device: str | None = None
    downlink_id: int | None = None
    network_id: str | None = None
    info: str | None = None


@dataclass(slots=True, frozen=True)
class NetworkEvent:
    kind: str
    message: str
    device: str | None = None
    severity: Severity = Severity.INFO
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class Solved:
    """A position the network server solved for the device itself."""

    lat: float
    lng: float
    radius: int | None = None


def solved(value: Any) -> Solved | None:
    """``{"latitude","longitude","accuracy"?}`` → the position, None when absent or invalid."""
    if not isinstance(value, dict):
        return None
    lat, lng, accuracy = (_number(value.get(k)) for k in ("latitude", "longitude", "accuracy"))
    if lat is None or lng is None or not (-90 <= lat <= 90 and -180 <= lng <= 180):
        return None
    radius = round(accuracy) if accuracy is not None and 0 <= accuracy < 10_000_000 else None
    return Solved(lat, lng, radius)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return float(value)


@dataclass(slots=True, frozen=True)
class Report:
    """One message of a network server: an uplink, feedback on a downlink, an event, or
    nothing lorafox keeps (``ignored``). ``context`` holds what later downlinks need (the
    ChirpStack application id, the TTS push URL and key, the AWS wireless device id)."""

    uplink: LoraUplink | None = None
    feedback: Feedback | None = None
    event: NetworkEvent | None = None
    ignored: str | None = None
    context: dict[str, str] = field(default_factory=dict)
    position: Solved | None = None
    """A position solved for the device (ChirpStack ``location``, TTS ``location_solved``)."""


def parse_time(value: Any) -> int | None:
    """RFC 3339 (nanoseconds allowed) → epoch ms; None when absent or malformed (the frame is
    then dated on reception)."""
    if not isinstance(value, str) or len(value) > 64:
        return None
    text = _FRACTION.sub(r"\1", value.strip()).replace("Z", "+00:00").replace("z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return int(moment.timestamp() * 1000)


def scalars(part: Any, depth: int = 2) -> dict[str, Any]:
    """The scalar fields of a JSON object (nested objects to ``depth``), bounded, for events."""
    if not isinstance(part, dict):
        return {}
    kept: dict[str, Any] = {}
    for key, value in list(part.items())[:24]:
        name = str(key)[:40]
        if isinstance(value, bool | int | float) or value is None:
            kept[name] = value
        elif isinstance(value, str):
            kept[name] = value[:200]
        elif isinstance(value, dict) and depth > 1:
            kept[name] = scalars(value, depth - 1)
    return kept
