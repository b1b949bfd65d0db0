"""``UplinkService``: what happens to one uplink, whatever source it came from."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence

from lorafox.auth import rbac
from lorafox.decoding import decode_payload
from lorafox.devices import DeviceManagement
from lorafox.devices.registry import Codec
from lorafox.devices.unknown import UnknownDevices
from lorafox.domain import Device, DownlinkMode, Principal, Uplink
from lorafox.downlink.queue import DownlinkQueue
from lorafox.errors import Forbidden, LorafoxError, NotFound
from lorafox.metrics import Metrics
from lorafox.ports.callbacks import DownlinkHook, DuplicateSink
from lorafox.ports.store import DownlinkAsk, Ingested
from lorafox.uplink.pipeline import UplinkPipeline

__all__ = ["UplinkService"]

_QUEUE = Codec(DownlinkMode.CALLBACK)


class UplinkService:
    """Registration policy, decoding, storage with the downlink its device type gives, sinks.

    ``unknown`` decides about devices that are not registered (None: accept them, create
    nothing); ``devices`` gives each device type's decoder and downlink mode and checks what an
    API user sending callbacks may reach (None: no decoding, downlinks from the queue, and only
    the instance's own callback credentials); ``hook`` asks a device type's downlink callback
    before the queue; ``duplicates`` is told of another station's copy of a stored message
    (``duplicate`` true) before it is acknowledged.
    """

    def __init__(
        self,
        pipeline: UplinkPipeline,
        downlinks: DownlinkQueue,
        metrics: Metrics,
        *,
        unknown: UnknownDevices | None = None,
        devices: DeviceManagement | None = None,
        hook: DownlinkHook | None = None,
        duplicates: DuplicateSink | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._duplicates = duplicates
        self._hook = hook
        self._downlinks = downlinks
        self._metrics = metrics
        self._unknown = unknown
        self._devices = devices
        if unknown is not None:
            pipeline.add_provisioned_sink(unknown.provisioned)

    @property
    def unknown(self) -> UnknownDevices | None:
        return self._unknown

    async def receive(
        self, uplink: Uplink, *, wants_downlink: bool = False, sender: Principal | None = None
    ) -> Ingested:
        """Store ``uplink`` (once: a retry or another station's copy is a duplicate) and, when
        it waits for one, take the downlink its device type's mode gives: queued (CALLBACK),
        rendered from the template (DIRECT) or none. ``NotFound`` when the unknown-device
        policy refuses it.

        ``sender``: the API user whose credentials the source checked, when they are not the
        instance's own callback credentials. Its uplinks are those of the devices it may
        operate (else ``NotFound``/``Forbidden``), and a device it makes known is provisioned
        only into a device type it may operate (else into its group's "Unregistered" type)."""
        uplink, provision, codec = await self._prepare(uplink, sender)
        ask: DownlinkAsk = False
        if wants_downlink and codec.mode is DownlinkMode.CALLBACK:
            ask = await self._ask_hook(uplink, provision)
        elif wants_downlink and codec.mode is DownlinkMode.DIRECT and codec.template is not None:
            ask = codec.template.render(uplink.time // 1000, uplink.station, uplink.rssi)
        result = await self._pipeline.submit(uplink, downlink=ask, provision=provision)
        await self._stored(uplink, provision, result)
        if wants_downlink:
            self._downlinks.count_answer(result.downlink)
        return result

    async def receive_many(
        self, uplinks: Sequence[Uplink], *, sender: Principal | None = None
    ) -> list[Ingested | LorafoxError]:
        """``receive`` for several uplinks that ask for no downlink, stored together (one
        transaction when they fit in one batch): each one's result, or the error that refused
        it (``NotFound``/``Forbidden`` of the policy, ``StoreError``). Nothing is stored before
        every uplink of the call has passed the policy; the call returns once all are stored."""
        results: list[Ingested | LorafoxError | None] = []
        entries: list[tuple[Uplink, Device | None]] = []
        for uplink in uplinks:
            try:
                prepared, provision, _ = await self._prepare(uplink, sender)
            except LorafoxError as exc:
                results.append(exc)
                continue
            results.append(None)
            entries.append((prepared, provision))
        outcomes = await self._pipeline.submit_many(entries) if entries else []
        stored = iter(zip(entries, outcomes, strict=True))
        final: list[Ingested | LorafoxError] = []
        for result in results:
            if result is not None:
                final.append(result)
                continue
            (uplink, provision), outcome = next(stored)
            if isinstance(outcome, Ingested):
                await self._stored(uplink, provision, outcome)
            final.append(outcome)
        return final

    async def _stored(self, uplink: Uplink, provision: Device | None, result: Ingested) -> None:
        """Count what the store did with ``uplink``; another station's copy of a stored
        message goes to the ``sendDuplicate`` callbacks."""
        if result.stored:
            self._metrics.callbacks.stored += 1
            return
        self._metrics.callbacks.duplicates += 1
        if uplink.duplicate and self._duplicates is not None:
            await self._duplicates.forward(uplink, self._type_of(uplink, provision))

    async def _prepare(
        self, uplink: Uplink, sender: Principal | None
    ) -> tuple[Uplink, Device | None, Codec]:
        """The uplink decoded, the device to provision for it (policy checked), its codec."""
        unknown = self._unknown
        provision = None
        if sender is not None:
            provision = await self._provision_for(sender, uplink)
        elif unknown is not None and not unknown.knows(uplink.device):
            provision = await unknown.check(uplink.device, uplink.device_type_id)
        codec = self.codec(uplink.device, provision.device_type_id if provision else None)
        if codec.decoder is not None:
            port = uplink.extra.get("fPort")  # a LoRa uplink's: formats may be per port
            port = port if isinstance(port, int) else None
            decoded, error = decode_payload(codec.decoder, uplink.data, port)
            uplink = dataclasses.replace(uplink, decoded=decoded, decode_error=error)
        return uplink, provision, codec

    async def _ask_hook(self, uplink: Uplink, provision: Device | None) -> DownlinkAsk:
        """The downlink callback's answer, or the queue's (True) when there is none."""
        if self._hook is None or self._devices is None:
            return True
        answered = await self._hook.answer(uplink, self._type_of(uplink, provision))
        return True if answered is None else answered

    def _type_of(self, uplink: Uplink, provision: Device | None) -> str | None:
        if provision is not None:
            return provision.device_type_id
        if self._devices is None:
            return uplink.device_type_id
        return self._devices.registry.device_type_of(uplink.device)

    async def _provision_for(self, sender: Principal, uplink: Uplink) -> Device | None:
        """The device to provision for ``sender``'s uplink, None when it is registered and
        ``sender`` may operate it (``NotFound``/``Forbidden`` otherwise)."""
        devices = self._operated_by(sender)
        unknown = self._unknown
        device = uplink.device
        if unknown is None or unknown.knows(device):
            await devices.devices.scope(sender, device, rbac.OPERATE)
            return None
        type_id = uplink.device_type_id
        if type_id is not None:
            try:
                await devices.types.get(sender, type_id, rbac.OPERATE)
            except (NotFound, Forbidden):
                type_id = None  # not one of its types: its own group's "Unregistered"
        home = rbac.home(sender)
        if home is None:
            raise Forbidden("these credentials hold no group")
        provision = await unknown.check(device, type_id, group_id=home.group_id)
        if provision is None:  # registered after all (another instance, the CLI)
            await devices.devices.scope(sender, device, rbac.OPERATE)
        return provision

    def _operated_by(self, sender: Principal) -> DeviceManagement:
        """The device use cases that check ``sender``; ``Forbidden`` without them."""
        if self._devices is None:
            raise Forbidden("these credentials may not send callbacks")
        return self._devices

    async def check_reporter(self, sender: Principal, device: str, *, advanced: bool) -> None:
        """A SERVICE or ERROR callback of ``sender`` about ``device``: the device must be one it
        may operate; a DATA_ADVANCED of a device not registered yet goes on to ``receive``,
        which provisions it for ``sender`` (``NotFound``/``Forbidden`` otherwise)."""
        if advanced and self._unknown is not None and not self._unknown.knows(device):
            return
        await self._operated_by(sender).devices.scope(sender, device, rbac.OPERATE)

    async def downlink_only(self, device: str, sender: Principal | None = None) -> str | None:
        """The downlink data for a device asking without a message (a BIDIR callback that
        names only the device), or None; nothing is stored."""
        if sender is not None:
            await self._operated_by(sender).devices.scope(sender, device, rbac.OPERATE)
        elif self._unknown is not None and not self._unknown.knows(device):
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
        if self._devices is None:
            return _QUEUE
        registry = self._devices.registry
        if provisioned_type is not None:
            return registry.codec_of_type(provisioned_type)
        return registry.codec_of(device)
