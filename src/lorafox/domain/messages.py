"""The messages lorafox moves: uplinks from devices, downlinks to them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from lorafox.domain.records import record

__all__ = ["Downlink", "DownlinkState", "StoredUplink", "Uplink"]


@record
class Uplink:
    """One message a device sent, as a callback reported it (normalised).

    ``time`` is the Sigfox timestamp in epoch milliseconds (the callback sends seconds);
    ``data`` is lower-case hex, 0 to 12 bytes.
    """

    device: str
    time: int
    seq_number: int
    data: str
    ack: bool = False
    long_polling: bool = False
    snr: float | None = None
    rssi: float | None = None
    avg_snr: float | None = None
    station: str | None = None
    lat: float | None = None
    lng: float | None = None
    device_type_id: str | None = None
    duplicate: bool = False
    extra: dict[str, Any] = field(default_factory=dict)
    decoded: dict[str, Any] | None = None
    """The payload decoded with its device type's format (None when it has none)."""
    decode_error: str | None = None
    """Why the payload could not be decoded (the message is stored all the same)."""


@record
class StoredUplink:
    """An uplink once it is in the store: its id and the time lorafox received it (epoch ms),
    and what the DATA_ADVANCED callback added (its variables by their Sigfox names)."""

    id: int
    received_at: int
    uplink: Uplink
    advanced: dict[str, Any] | None = None
    computed_location: tuple[float, float, int | None, int | None] | None = None
    """DATA_ADVANCED's valid computedLocation: (lat, lng, radius in m, Sigfox source code)."""


class DownlinkState(StrEnum):
    """Where a downlink stands."""

    QUEUED = "queued"
    SENT = "sent"
    ACKED = "acked"
    FAILED = "failed"
    EXPIRED = "expired"


@dataclass(slots=True, frozen=True)
class Downlink:
    """Eight bytes waiting for (or given to) a device's next BIDIR callback; for a LoRa
    device, up to 255 bytes for its network server, with ``port``/``confirmed``.

    ``source`` is who asked for it (``rest``, ``mqtt``, ``direct`` for a DIRECT-mode answer);
    ``info_code``/``info_message`` are the ACKNOWLEDGE callback's, ``ended_at`` when the
    downlink was acked, failed or expired (epoch ms)."""

    id: int
    device: str
    data: str
    state: DownlinkState
    source: str
    created_at: int
    sent_at: int | None = None
    answered_seq: int | None = None
    answered_time: int | None = None
    info_code: int | None = None
    info_message: str | None = None
    ended_at: int | None = None
    port: int | None = None
    """LoRa: the fPort (None for Sigfox)."""
    confirmed: bool | None = None
    """LoRa: whether the device must acknowledge it."""
    network_id: str | None = None
    """LoRa: the network server's id of it (a ChirpStack queue item, an AWS MessageId…)."""
    request_id: str | None = None
    """The ``requestId`` of the MQTT request that queued it: a request repeated with the same
    id queues nothing more (instances sharing a broker without shared subscriptions)."""
