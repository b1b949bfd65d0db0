"""LoRa devices: integrations with network servers, their uplinks in the shared flow, and the
downlinks back to them.

Pure parsers (``model``, ``semtech_frames``, ``chirpstack``, ``tts``, ``aws``), the use cases
(``integrations``, ``ingest``) and the Semtech socket server (``semtech``)."""

from __future__ import annotations

from dataclasses import dataclass

from lorafox.lora.downlinks import DeviceScope, LoraDownlinks
from lorafox.lora.ingest import LoraIngest
from lorafox.lora.integrations import LoraIntegrations
from lorafox.lora.network import LoraNetwork
from lorafox.ports.bus import Bus
from lorafox.ports.lora import LoraDownlinkStore

__all__ = [
    "LoraDownlinks",
    "LoraIngest",
    "LoraIntegrations",
    "LoraNetwork",
    "LoraServices",
]


@dataclass(slots=True)
class LoraServices:
    """What the HTTP adapters of LoRa use."""

    integrations: LoraIntegrations
    ingest: LoraIngest
    downlinks: LoraDownlinks
    network: LoraNetwork

    @classmethod
    def create(
        cls,
        store: LoraDownlinkStore,
        integrations: LoraIntegrations,
        ingest: LoraIngest,
        *,
        bus: Bus | None,
        scope: DeviceScope | None,
    ) -> LoraServices:
        downlinks = LoraDownlinks(store, integrations, ingest, bus=bus, scope=scope)
        return cls(integrations, ingest, downlinks, LoraNetwork(ingest, downlinks, integrations))
