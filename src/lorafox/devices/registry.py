"""Which devices and device types exist, in memory: the ingest path asks it, never the database.

Loaded when the service starts, then kept up to date by this process's own changes (the REST
API, bulk jobs, devices provisioned by callbacks). Instances sharing a PostgreSQL database tell
each other of these changes (``follow``: ``ports.cluster.Changes``), and each reads the devices
and device types named again from the database.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from lorafox.decoding import Decoder, DownlinkTemplate, compile_decoder, compile_downlink_template
from lorafox.domain import DeviceType, DownlinkMode
from lorafox.errors import InvalidInput
from lorafox.ports.cluster import Changes
from lorafox.ports.store import DeviceStore

__all__ = ["DEVICES", "DEVICE_TYPES", "Codec", "DeviceRegistry"]

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

DEVICES = "devices"
"""The topic of changed devices (keys: device ids)."""
DEVICE_TYPES = "device_types"
"""The topic of changed device types (keys: device type ids)."""


class DeviceRegistry:
    """Device id → device type id, and device type id → device type."""

    def __init__(self) -> None:
        self._devices: dict[str, str] = {}
        self._types: dict[str, DeviceType] = {}
        self._codecs: dict[str, Codec] = {}
        self._changes: Changes | None = None

    @classmethod
    async def load(cls, store: DeviceStore) -> DeviceRegistry:
        registry = cls()
        await registry._read_all(store)
        return registry

    async def _read_all(self, store: DeviceStore) -> None:
        types = await store.all_device_types()
        index = await store.device_index()
        self._types = {t.id: t for t in types}
        self._codecs = {t.id: _codec(t) for t in types}
        self._devices = index

    def follow(self, changes: Changes, store: DeviceStore) -> None:
        """Tell ``changes`` of this registry's changes from now on, and read from ``store``
        what other instances say they changed."""

        async def devices(keys: Sequence[str] | None) -> None:
            if keys is None:
                await self._read_all(store)
                return
            for key in keys:
                device = await store.get_device(key)
                if device is None:
                    self._devices.pop(key, None)
                else:
                    self._devices[key] = device.device_type_id

        async def device_types(keys: Sequence[str] | None) -> None:
            if keys is None:
                await self._read_all(store)
                return
            for key in keys:
                device_type = await store.get_device_type(key)
                if device_type is None:
                    self._types.pop(key, None)
                    self._codecs.pop(key, None)
                else:
                    self._types[key] = device_type
                    self._codecs[key] = _codec(device_type)

        self._changes = changes
        changes.on(DEVICES, devices)
        changes.on(DEVICE_TYPES, device_types)

    def _tell(self, topic: str, keys: Sequence[str]) -> None:
        if self._changes is not None and keys:
            self._changes.changed(topic, keys)

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

    # The changes below are committed ones: the other instances are told of them.

    def put_device(self, device: str, device_type_id: str) -> None:
        if self._devices.get(device) != device_type_id:
            self._devices[device] = device_type_id
            self._tell(DEVICES, [device])

    def put_devices(self, pairs: Iterable[tuple[str, str]]) -> None:
        new = dict(pairs)
        self._devices.update(new)
        self._tell(DEVICES, list(new))

    def drop_device(self, device: str) -> None:
        self._devices.pop(device, None)
        self._tell(DEVICES, [device])

    def put_type(self, device_type: DeviceType) -> None:
        self._types[device_type.id] = device_type
        self._codecs[device_type.id] = _codec(device_type)
        self._tell(DEVICE_TYPES, [device_type.id])

    def drop_type(self, device_type_id: str) -> None:
        self._types.pop(device_type_id, None)
        self._codecs.pop(device_type_id, None)
        self._tell(DEVICE_TYPES, [device_type_id])
