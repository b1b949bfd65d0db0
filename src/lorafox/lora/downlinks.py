"""LoRa downlinks: queued by REST or MQTT, handed to the device's network server in its own
form, and moved along queued → sent → acked | failed by what the network server reports.

A downlink goes to the integration that brought the device's latest uplink (kept in the store
with what its downlinks need, so a restart forgets neither; a device never heard waits for its
first uplink). At start, downlinks whose hand-over a stop cut short are queued again and every
waiting downlink of a known device is handed over. Each
kind of network server is a ``LoraTransport``: it delivers one downlink and gives back the
network server's id of it (a Semtech token, a ChirpStack queue item, an AWS MessageId, a TTS
correlation id), which later feedback names. While handed over, a downlink stays ``queued``
with that id; its feedback moves it on.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

import orjson

from lorafox.domain import Downlink, DownlinkState, LoraKind, Principal, Severity
from lorafox.downlink.queue import request_id_of
from lorafox.errors import Forbidden, InvalidInput, LorafoxError, NotFound
from lorafox.lora.ingest import LoraIngest
from lorafox.lora.integrations import LoraIntegrations, Sender
from lorafox.lora.model import MAX_PAYLOAD, as_int, normalize_eui
from lorafox.lora.reports import Feedback
from lorafox.ports.bus import Bus, publisher
from lorafox.ports.lora import LoraDownlinkStore
from lorafox.settings import LoraSettings

__all__ = [
    "DOWNLINK_TOPIC",
    "LoraDownlinks",
    "LoraTransport",
    "chirpstack_id",
    "downlink_of_chirpstack_id",
]

log = logging.getLogger(__name__)

DOWNLINK_TOPIC = "lora/downlink/+"
_HEX = re.compile(r"^(?:[0-9a-fA-F]{2}){0,255}$")
_PENDING_MAX = 100_000
_HANDOVER = "handing-over"
"""The network id of a downlink being handed over (a concurrent dispatch skips it)."""

DeviceScope = Callable[[Principal, str], Awaitable[str]]


_PUSHED = frozenset({LoraKind.CHIRPSTACK, LoraKind.TTS, LoraKind.AWS_IOTWIRELESS})
"""The network servers lorafox pushes downlinks to (a Semtech one takes them on its socket,
at the device's next uplink)."""


class LoraTransport(Protocol):
    async def deliver(self, sender: Sender, downlink: Downlink) -> str | None:
        """Hand ``downlink`` to the network server: its id there, or None when it cannot be
        reached now (the downlink waits for the device's next uplink). ``LorafoxError`` when
        the network server refused it (the downlink fails)."""
        ...


def chirpstack_id(downlink_id: int) -> str:
    """The queue item id given to ChirpStack: a UUID holding lorafox's downlink id."""
    return str(uuid.UUID(int=downlink_id))


def downlink_of_chirpstack_id(value: str) -> int | None:
    try:
        number = uuid.UUID(value).int
    except ValueError:
        return None
    return number if number < 2**63 else None


def check_downlink(body: dict[str, Any]) -> tuple[str, int, bool]:
    """``{"data": "<hex>" | "bytes": [..], "fPort": N, "confirmed": bool}`` → (hex, port,
    confirmed); ``InvalidInput`` naming the field at fault."""
    data = body.get("data")
    if data is None and "bytes" in body:
        raw = body["bytes"]
        if not isinstance(raw, list) or len(raw) > MAX_PAYLOAD:
            raise InvalidInput(f"bytes: a list of at most {MAX_PAYLOAD} bytes", field="bytes")
        if not all(isinstance(b, int) and not isinstance(b, bool) and 0 <= b < 256 for b in raw):
            raise InvalidInput("bytes: numbers from 0 to 255", field="bytes")
        data = bytes(raw).hex()
    if not isinstance(data, str) or not _HEX.match(data):
        raise InvalidInput(f"data: hex of at most {MAX_PAYLOAD} bytes", field="data")
    port = as_int(body.get("fPort", body.get("port")), "fPort", 1, 223)
    if port is None:
        raise InvalidInput("fPort: 1 to 223", field="fPort")
    confirmed = body.get("confirmed", False)
    if not isinstance(confirmed, bool):
        raise InvalidInput("confirmed: true or false", field="confirmed")
    return data.lower(), port, confirmed


class LoraDownlinks:
    """The LoRa downlink flow: queue, hand over, follow."""

    def __init__(
        self,
        store: LoraDownlinkStore,
        integrations: LoraIntegrations,
        ingest: LoraIngest,
        *,
        bus: Bus | None = None,
        scope: DeviceScope | None = None,
        retry: LoraSettings | None = None,
    ) -> None:
        self._store = store
        self._retry = retry or LoraSettings()
        self._backoff: dict[str, float] = {}
        """Device → the wait before its next try, while its network server cannot be reached."""
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._integrations = integrations
        self._ingest = ingest
        self._bus = bus
        self._scope = scope
        self._transports: dict[LoraKind, LoraTransport] = {}
        self._waiting: set[str] = set()
        """Devices with downlinks not handed over yet (queued in this process)."""
        self._dispatching: set[str] = set()
        self._again: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def add_transport(self, kind: LoraKind, transport: LoraTransport) -> None:
        self._transports[kind] = transport

    async def queue(
        self,
        device: str,
        data: str,
        *,
        port: int,
        confirmed: bool,
        source: str,
        request_id: str | None = None,
    ) -> Downlink:
        downlink = await self._store.enqueue_lora_downlink(
            device, data, port=port, confirmed=confirmed, source=source, request_id=request_id
        )
        log.info("LoRa downlink %d queued for %s from %s", downlink.id, device, source)
        if len(self._waiting) < _PENDING_MAX:
            self._waiting.add(device)
        self._spawn(device)
        return downlink

    async def after_uplink(self, device: str) -> None:
        """The device was just heard: hand over what waits for it (in the background)."""
        if device in self._waiting:
            self._spawn(device)

    def _spawn(self, device: str) -> None:
        """Dispatch in a task of its own: no request waits for a network server."""
        if device in self._dispatching:
            self._again.add(device)
            return
        self._dispatching.add(device)
        task = asyncio.get_running_loop().create_task(self._dispatch_task(device))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _dispatch_task(self, device: str) -> None:
        try:
            while True:
                self._again.discard(device)
                try:
                    await self.dispatch(device)
                except LorafoxError as exc:
                    log.warning("LoRa downlinks of %s not handed over: %s", device, exc.message)
                except Exception:
                    log.exception("LoRa downlinks of %s not handed over", device)
                if device not in self._again:
                    return
        finally:
            self._dispatching.discard(device)

    async def resume(self) -> None:
        """After a start: what was known of the devices back in memory, the hand-overs a stop
        cut short queued again, and every waiting downlink handed over (in the background)."""
        await self._ingest.load()
        for device in await self._store.release_lora_claims(_HANDOVER):
            if len(self._waiting) < _PENDING_MAX:
                self._waiting.add(device)
            if device in self._ingest.last_integration:
                self._spawn(device)

    async def close(self) -> None:
        """Wait a little for the hand-overs under way, then cancel them (the downlinks stay
        queued or are handed over again at the device's next uplink)."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=5)
        for task in pending:
            task.cancel()

    async def dispatch(self, device: str) -> None:
        """Hand the device's waiting downlinks to the network server it was last heard on."""
        integration_id = self._ingest.last_integration.get(device)
        if integration_id is None:
            return
        try:
            sender = await self._integrations.sender_by_id(integration_id)
        except NotFound:
            return
        transport = self._transports.get(sender.integration.kind)
        if transport is None:
            return
        claimed = await self._store.claim_lora_downlinks(device, _HANDOVER, limit=16)
        for n, downlink in enumerate(claimed):
            try:
                network_id = await transport.deliver(sender, downlink)
            except LorafoxError as exc:
                log.warning("LoRa downlink %d refused: %s", downlink.id, exc.message)
                self._ingest.counters.downlink(sender.integration.kind.value, "failed")
                await self._store.set_lora_downlink(
                    downlink.id, DownlinkState.FAILED, info_message=exc.message
                )
                continue
            if network_id is None:  # not reachable now: back in the queue
                for waiting in claimed[n:]:
                    await self._store.set_lora_downlink(
                        waiting.id, DownlinkState.QUEUED, network_id=""
                    )
                if sender.integration.kind in _PUSHED:
                    await self._retry_later(sender, device, claimed[n:])
                return
            self._backoff.pop(device, None)
            await self._store.set_lora_downlink(
                downlink.id, DownlinkState.QUEUED, network_id=network_id
            )
            self._ingest.counters.downlink(sender.integration.kind.value, "handed-over")
        self._waiting.discard(device)

    async def _retry_later(self, sender: Sender, device: str, waiting: list[Downlink]) -> None:
        """Fail the downlinks queued longer than the give-up time (with an event); try the
        others again after a wait that doubles up to its maximum. The give-up time counts
        from when each was queued, so a restart does not extend it."""
        retry = self._retry
        limit = time.time() * 1000 - retry.downlink_give_up_seconds * 1000
        failed = [d for d in waiting if d.created_at <= limit]
        kind = sender.integration.kind
        for downlink in failed:
            why = f"network server unreachable for {retry.downlink_give_up_seconds:g} s"
            await self._store.set_lora_downlink(downlink.id, DownlinkState.FAILED, info_message=why)
            self._ingest.counters.downlink(kind.value, "failed")
            log.warning("LoRa downlink %d of %s failed: %s", downlink.id, device, why)
            self._ingest.event(
                sender,
                "downlink-failed",
                f"LoRa downlink {downlink.id} failed: {why}",
                device=device,
                severity=Severity.WARN,
                data={"downlink": downlink.id, "reason": why},
            )
        if failed:
            self._backoff.pop(device, None)
            self._spawn(device)  # the next ones in the queue, if any
            return
        wait = self._backoff.get(device, retry.downlink_retry_seconds)
        self._backoff[device] = min(wait * 2, retry.downlink_retry_max_seconds)
        if len(self._backoff) > _PENDING_MAX:
            self._backoff.pop(next(iter(self._backoff)))
        timer = self._timers.pop(device, None)
        if timer is not None:
            timer.cancel()
        self._timers[device] = asyncio.get_running_loop().call_later(wait, self._again_now, device)

    def _again_now(self, device: str) -> None:
        self._timers.pop(device, None)
        self._spawn(device)

    async def feedback(
        self, device: str, network_id: str, state: DownlinkState, info: str | None = None
    ) -> Downlink | None:
        """The Semtech network server reports on the downlink it knows as ``network_id``."""
        found = await self._store.find_lora_downlink(device, network_id)
        if found is None:
            log.info("LoRa feedback on unknown downlink %s of %s", network_id, device)
            return None
        return await self.move(found, state, info, kind=LoraKind.SEMTECH)

    async def move(
        self,
        downlink: Downlink,
        state: DownlinkState,
        info: str | None = None,
        *,
        kind: LoraKind | None = None,
    ) -> Downlink | None:
        if downlink.state in (DownlinkState.ACKED, DownlinkState.FAILED, DownlinkState.EXPIRED):
            return downlink  # ended: a late or repeated report changes nothing
        if downlink.state is DownlinkState.SENT and state is DownlinkState.SENT:
            return downlink
        moved = await self._store.set_lora_downlink(downlink.id, state, info_message=info)
        log.info("LoRa downlink %d of %s: %s", downlink.id, downlink.device, state.value)
        if moved is not None and kind is not None:
            self._ingest.counters.downlink(kind.value, state.value)
        return moved

    async def report(self, sender: Sender, feedback: Feedback) -> Downlink | None:
        """What a network server said about a downlink, if it is one of the devices
        ``sender`` may operate (else ignored)."""
        if feedback.state is DownlinkState.QUEUED:
            return None  # the network server queued it: it already is, for lorafox
        found = None
        if feedback.downlink_id is not None:
            found = await self._store.get_lora_downlink(feedback.downlink_id)
        elif feedback.network_id is not None and feedback.device is not None:
            found = await self._store.find_lora_downlink(feedback.device, feedback.network_id)
        if found is None or (feedback.device is not None and feedback.device != found.device):
            log.info("LoRa feedback on an unknown downlink from %s", sender.integration.id)
            return None
        if self._scope is not None:
            try:
                await self._scope(sender.principal, found.device)
            except (NotFound, Forbidden):
                log.warning(
                    "LoRa integration %s reported on downlink %d of a device it does not serve",
                    sender.integration.id,
                    found.id,
                )
                return None
        return await self.move(found, feedback.state, feedback.info, kind=sender.integration.kind)

    async def on_mqtt(self, topic: str, payload: bytes) -> None:
        """``lora/downlink/{devEui}`` with ``{"data"|"bytes","fPort","confirmed"}``; a client of
        the embedded broker queues only for the devices it may operate; refusals go back on
        ``<topic>/rejected``."""
        if topic.endswith("/rejected"):
            return
        sender = publisher.get()
        try:
            try:
                body = orjson.loads(payload)
            except orjson.JSONDecodeError as exc:
                raise InvalidInput(f"payload is not JSON: {exc}") from exc
            if not isinstance(body, dict):
                raise InvalidInput("payload must be a JSON object")
            device = normalize_eui(topic.rsplit("/", 1)[-1], "devEui")
            data, port, confirmed = check_downlink(body)
            request_id = request_id_of(body)
            if isinstance(sender, Principal) and self._scope is not None:
                device = await self._scope(sender, device)
            await self.queue(
                device,
                data,
                port=port,
                confirmed=confirmed,
                source="mqtt",
                request_id=request_id,
            )
        except LorafoxError as exc:
            log.warning("LoRa downlink on %s rejected: %s", topic, exc.message)
            if self._bus is not None:
                body = {"error": exc.message, "field": getattr(exc, "field", None), "topic": topic}
                try:
                    await self._bus.publish(f"{topic}/rejected", orjson.dumps(body), qos=1)
                except LorafoxError as publish_error:
                    log.warning("cannot publish the rejection: %s", publish_error)
