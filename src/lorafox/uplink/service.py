"""``UplinkService``: what happens to one uplink, whatever source it came from."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence

from lorafox.decoding import decode_payload
from lorafox.devices.registry import Codec, DeviceRegistry
from lorafox.devices.unknown import UnknownDevices
from lorafox.domain import DownlinkMode, StoredUplink, Uplink
from lorafox.downlink.queue import DownlinkQueue
from lorafox.metrics import Metrics
from lorafox.ports.store import DownlinkAsk, Ingested
from lorafox.uplink.pipeline import UplinkPipeline

__all__ = ["StoredSink", "UplinkService"]

log = logging.getLogger(__name__)

StoredSink = Callable[[Sequence[StoredUplink]], None]
"""Told of the uplinks of each committed transaction (newly stored ones only)."""

_QUEUE = Codec(DownlinkMode.CALLBACK)


class UplinkService:
    """Registration policy, decoding, storage with the downlink its device type gives, sinks.

    ``unknown`` decides about devices that are not registered (None: accept them, create
    nothing); ``registry`` gives each device type's decoder and downlink mode (None: no
    decoding, downlinks from the queue).
    """

    def __init__(
        self,
        pipeline: UplinkPipeline,
        downlinks: DownlinkQueue,
        metrics: Metrics,
        *,
        unknown: UnknownDevices | None = None,
        registry: DeviceRegistry | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._downlinks = downlinks
        self._metrics = metrics
        self._unknown = unknown
        self._registry = registry

    @property
    def unknown(self) -> UnknownDevices | None:
        return self._unknown

    async def receive(self, uplink: Uplink, *, wants_downlink: bool = False) -> Ingested:
        """Store ``uplink`` (once: a retry or another station's copy is a duplicate) and, when
        it waits for one, take the downlink its device type's mode gives: queued (CALLBACK),
        rendered from the template (DIRECT) or none. ``NotFound`` when the unknown-device
        policy refuses it."""
        unknown = self._unknown
        provision = None
        if unknown is not None and not unknown.knows(uplink.device):
            provision = await unknown.check(uplink.device, uplink.device_type_id)
        codec = self.codec(uplink.device, provision.device_type_id if provision else None)
        if codec.decoder is not None:
            decoded, error = decode_payload(codec.decoder, uplink.data)
            uplink = dataclasses.replace(uplink, decoded=decoded, decode_error=error)
        ask: DownlinkAsk = False
        if wants_downlink and codec.mode is DownlinkMode.CALLBACK:
            ask = True
        elif wants_downlink and codec.mode is DownlinkMode.DIRECT and codec.template is not None:
            ask = codec.template.render(uplink.time // 1000, uplink.station, uplink.rssi)
        result = await self._pipeline.submit(uplink, downlink=ask, provision=provision)
        if provision is not None and unknown is not None:
            unknown.provisioned(provision)
        if result.stored:
            self._metrics.callbacks.stored += 1
        else:
            self._metrics.callbacks.duplicates += 1
        if wants_downlink:
            self._downlinks.count_answer(result.downlink)
        return result

    async def downlink_only(self, device: str) -> str | None:
        """The downlink data for a device asking without a message (a BIDIR callback that
        names only the device), or None; nothing is stored."""
        if self._unknown is not None and not self._unknown.knows(device):
            await self._unknown.check(device, None)  # refuses, or nothing to provision yet
        codec = self.codec(device, None)
        if codec.mode is DownlinkMode.NONE:
            return None
        if codec.mode is DownlinkMode.DIRECT:
            if codec.template is None:
                return None
            return codec.template.render(int(time.time()), None, None)
        downlink = await self._downlinks.answer(device, None, None)
        return downlink.data if downlink else None

    def codec(self, device: str, provisioned_type: str | None = None) -> Codec:
        """The decoder and downlink mode of ``device`` (or of the type it is provisioned in)."""
        if self._registry is None:
            return _QUEUE
        if provisioned_type is not None:
            return self._registry.codec_of_type(provisioned_type)
        return self._registry.codec_of(device)
