"""The storage LoRa needs: its integrations, and the LoRa side of downlinks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from lorafox.domain import Downlink, DownlinkState, LoraIntegration

__all__ = ["LoraDeviceStore", "LoraDownlinkStore", "LoraIntegrationStore", "LoraMessageStore"]


class LoraIntegrationStore(Protocol):
    async def create_lora_integration(self, integration: LoraIntegration) -> None: ...

    async def get_lora_integration(self, integration_id: str) -> LoraIntegration | None: ...

    async def list_lora_integrations(
        self, paths: Sequence[str] | None, *, limit: int = 100, offset: int = 0
    ) -> list[LoraIntegration]:
        """Those of the groups under ``paths`` (every one with None), oldest first."""
        ...

    async def update_lora_integration(self, integration: LoraIntegration) -> None:
        """Name, device type, application EUI and config; ``NotFound`` when it is gone."""
        ...

    async def delete_lora_integration(self, integration_id: str) -> None: ...


class LoraDownlinkStore(Protocol):
    async def enqueue_lora_downlink(
        self,
        device: str,
        data: str,
        *,
        port: int,
        confirmed: bool,
        source: str,
        request_id: str | None = None,
    ) -> Downlink:
        """Queue it; with ``request_id``, once per (device, id): a repeated request gets the
        downlink the first queued, whatever its data."""
        ...

    async def claim_lora_downlinks(self, device: str, claim: str, *, limit: int) -> list[Downlink]:
        """The oldest queued downlinks of ``device`` not handed over yet, oldest first, now
        holding ``claim`` as their network id; concurrent callers never get the same one."""
        ...

    async def get_lora_downlink(self, downlink_id: int) -> Downlink | None: ...

    async def set_lora_downlink(
        self,
        downlink_id: int,
        state: DownlinkState,
        *,
        network_id: str | None = None,
        info_message: str | None = None,
    ) -> Downlink | None:
        """Move a LoRa downlink (``network_id`` kept when given, cleared when ``""``); None when
        there is none."""
        ...

    async def find_lora_downlink(self, device: str, network_id: str) -> Downlink | None:
        """The downlink of ``device`` the network server knows as ``network_id``."""
        ...

    async def release_lora_claims(self, claim: str) -> list[str]:
        """Queue again the downlinks left holding ``claim`` (a hand-over cut short by a stop);
        the devices with queued downlinks not handed over."""
        ...


class LoraDeviceStore(Protocol):
    """Where each LoRa device's downlinks go, kept across restarts."""

    async def save_lora_device(
        self, device: str, integration_id: str | None, context: dict[str, str]
    ) -> None: ...

    async def save_lora_devices(
        self, devices: Sequence[tuple[str, str | None, dict[str, str]]]
    ) -> None:
        """``save_lora_device`` for each (DevEUI, integration, context), in one transaction."""
        ...

    async def lora_devices(self, *, limit: int) -> list[tuple[str, str | None, dict[str, str]]]:
        """(DevEUI, integration, context), the most recently heard first."""
        ...


class LoraMessageStore(Protocol):
    async def set_message_extra(
        self, device: str, time: int, seq_number: int, extra: dict[str, Any]
    ) -> bool:
        """Replace the ``extra`` of the stored message (device, time, seqNumber); False when
        there is none."""
        ...

    async def locate_latest_message(
        self, device: str, lat: float, lng: float, radius: int | None
    ) -> bool:
        """Give the device's latest message the position the network server solved (its
        computed location); False when the device has no message."""
        ...
