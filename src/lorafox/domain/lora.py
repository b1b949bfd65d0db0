"""LoRa devices next to Sigfox's: the integrations that bring their uplinks, EUIs, gateways.

A LoRa device is a ``Device`` whose id is its DevEUI as 16 lower-case hex digits (a Sigfox id
is 1 to 8 upper-case digits: the two never collide). Its uplinks are ``Uplink`` values with
``seq_number`` = fCnt, ``data`` = the FRMPayload in hex and the LoRa fields in ``extra``
(``network: "lora"``, ``fPort``, ``fCnt``, ``appEui``, ``gateways``, ``dataRate``, ``frequency``,
``integration``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from lorafox.domain.records import record

__all__ = [
    "EUI_DIGITS",
    "LORA_NETWORK",
    "LoraGateway",
    "LoraIntegration",
    "LoraKind",
    "is_lora_device",
]

EUI_DIGITS = 16
LORA_NETWORK = "lora"
"""The ``network`` value in a LoRa uplink's ``extra``."""


class LoraKind(StrEnum):
    """The network servers lorafox takes LoRa uplinks from."""

    SEMTECH = "semtech"
    CHIRPSTACK = "chirpstack"
    TTS = "tts"
    AWS_IOTWIRELESS = "aws-iotwireless"


@dataclass(slots=True, frozen=True)
class LoraIntegration:
    """One network server feeding a group: its devices are provisioned into ``device_type_id``
    (else the group's "Unregistered" type). ``token_hash`` is the SHA-256 of the Bearer token
    (shown once); ``config`` the kind's settings (addresses of a Semtech server, downlink
    endpoints); ``app_eui`` the application EUI used in topics when the source gives none."""

    id: str
    name: str
    kind: LoraKind
    group_id: str
    token_hash: str
    created_at: int
    device_type_id: str | None = None
    app_eui: str | None = None
    config: dict[str, Any] = field(default_factory=dict)


@record
class LoraGateway:
    """A gateway that heard an uplink."""

    id: str
    rssi: float | None = None
    snr: float | None = None
    lat: float | None = None
    lng: float | None = None
    """Where the gateway is, when the network server says."""

    def as_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"id": self.id, "rssi": self.rssi, "snr": self.snr}
        if self.lat is not None and self.lng is not None:
            found["lat"], found["lng"] = self.lat, self.lng
        return found


def is_lora_device(device: str) -> bool:
    """True for a DevEUI-shaped id (16 digits), False for a Sigfox id."""
    return len(device) == EUI_DIGITS
