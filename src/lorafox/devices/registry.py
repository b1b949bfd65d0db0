"""Which devices and device types exist, in memory: the ingest path asks it, never the database.

Loaded when the service starts, then kept up to date by this process's own changes (the REST
API, bulk jobs, devices provisioned by callbacks). Another instance sharing a PostgreSQL
database changes the database only; this instance checks the database once when it hears a
device it does not know (``UnknownDevices``), and remembers the answer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from lorafox.decoding import Decoder, DownlinkTemplate, compile_decoder, compile_downlink_template
from lorafox.domain import DeviceType, DownlinkMode
from lorafox.errors import InvalidInput
from lorafox.ports.store import DeviceStore

__all__ = ["Codec", "DeviceRegistry"]

log = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class Codec:
    """A device type's payload decoder and downlink behaviour, compiled once when it is saved."""

    mode: DownlinkMode
    decoder: Decoder | None = None
    template: DownlinkTemplate | None = None


def _codec(device_type: DeviceType) -> Codec:
    decoder = template = None
    try:
        decoder = compile_decoder(device_type.payload_type, device_type.payload_config)
    except InvalidInput as exc:  # saved by an older version: keep the messages undecoded
        log.warning("device type %s: payload format ignored: %s", device_type.id, exc.message)
    if device_type.downlink_mode is DownlinkMode.DIRECT and device_type.downlink_data:
        try:
            template = compile_downlink_template(device_type.downlink_data)
        except InvalidInput as exc:
            log.warning(
                "device type %s: downlink template ignored: %s", device_type.id, exc.message
            )
    return Codec(device_type.downlink_mode, decoder, template)


_DEFAULT = Codec(DownlinkMode.CALLBACK)


class DeviceRegistry:
    """Device id → device type id, and device type id → device type."""

    def __init__(self) -> None:
        self._devices: dict[str, str] = {}
        self._types: dict[str, DeviceType] = {}
        self._codecs: dict[str, Codec] = {}

    @classmethod
    async def load(cls, store: DeviceStore) -> DeviceRegistry:
        registry = cls()
        for device_type in await store.all_device_types():
            registry.put_type(device_type)
        registry._devices.update(await store.device_index())
        return registry

    def __contains__(self, device: object) -> bool:
        return device in self._devices

    def __len__(self) -> int:
        return len(self._devices)

    def device_type_of(self, device: str) -> str | None:
        return self._devices.get(device)

    def device_type(self, device_type_id: str) -> DeviceType | None:
        return self._types.get(device_type_id)

    def codec_of(self, device: str) -> Codec:
        """How to decode the device's payloads and answer its BIDIR callbacks (a device that
        is not registered: no decoding, downlinks from the queue)."""
        type_id = self._devices.get(device)
        return _DEFAULT if type_id is None else self._codecs.get(type_id, _DEFAULT)

    def codec_of_type(self, device_type_id: str) -> Codec:
        return self._codecs.get(device_type_id, _DEFAULT)

    def find_type(self, name: str, group_id: str) -> DeviceType | None:
        """A device type of ``group_id`` named ``name`` (the oldest when several are)."""
        found = [t for t in self._types.values() if t.name == name and t.group_id == group_id]
        return min(found, key=lambda t: t.created_at, default=None)

    def put_device(self, device: str, device_type_id: str) -> None:
        self._devices[device] = device_type_id

    def put_devices(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._devices.update(pairs)

    def drop_device(self, device: str) -> None:
        self._devices.pop(device, None)

    def put_type(self, device_type: DeviceType) -> None:
        self._types[device_type.id] = device_type
        self._codecs[device_type.id] = _codec(device_type)

    def drop_type(self, device_type_id: str) -> None:
        self._types.pop(device_type_id, None)
        self._codecs.pop(device_type_id, None)
