"""The downlink queue's front door: requests from MQTT and REST, answers to BIDIR callbacks."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from lorafox.auth import rbac
from lorafox.domain import Downlink, Principal
from lorafox.downlink.rejections import DownlinkRejections
from lorafox.errors import InvalidInput, LorafoxError
from lorafox.ingest.sigfox import json_object, normalize_device, normalize_downlink
from lorafox.metrics import Metrics
from lorafox.ports.bus import Audience, Bus, publisher
from lorafox.ports.store import DownlinkStore
from lorafox.settings import MqttSettings

__all__ = ["REQUEST_ID_MAX", "DeviceScope", "DownlinkQueue", "request_id_of"]

DeviceScope = Callable[[Principal, str], Awaitable[str]]
"""The device id once the principal may queue downlinks for it (else ``NotFound``/``Forbidden``)."""

log = logging.getLogger(__name__)


REQUEST_ID_FIELD = "requestId"
REQUEST_ID_MAX = 64
"""The longest ``requestId`` an MQTT downlink request may carry (the ``request_id`` column)."""


def request_id_of(body: dict[str, Any]) -> str | None:
    """The optional ``requestId`` of a downlink request: 1 to 64 printable characters."""
    value = body.get(REQUEST_ID_FIELD)
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= REQUEST_ID_MAX
        or not value.isprintable()
    ):
        raise InvalidInput(
            f"{REQUEST_ID_FIELD} must be a string of 1 to {REQUEST_ID_MAX} printable characters",
            field=REQUEST_ID_FIELD,
        )
    return value


def _valid_device(device: Any) -> str | None:
    """The device id a request named, None when it is not one."""
    if device is None:
        return None
    try:
        return normalize_device(device)
    except InvalidInput:
        return None


class DownlinkQueue:
    """Queues validated downlinks; refusals from MQTT go back on ``<topic>/rejected``."""

    def __init__(
        self,
        store: DownlinkStore,
        metrics: Metrics,
        mqtt: MqttSettings,
        bus: Bus | None,
        scope: DeviceScope | None = None,
    ) -> None:
        self._store = store
        self._scope = scope
        self._metrics = metrics
        self._mqtt = mqtt
        self._bus = bus
        self._level = mqtt.downlink_topic_level()
        self._sent = metrics.downlinks.labels("sent")
        self.on_rejected: DownlinkRejections | None = None
        """Keeps the MQTT requests refused (as ``downlink_rejected`` events)."""

    async def queue(
        self,
        device: Any,
        data: Any,
        *,
        source: str,
        field: str = "data",
        request_id: str | None = None,
    ) -> Downlink:
        """Validate and queue one downlink (``InvalidInput`` says what is wrong); with
        ``request_id``, once per device and id: a repeated request gets the first's downlink."""
        device, data = normalize_device(device), normalize_downlink(data, field)
        if request_id is None:
            downlink = await self._store.enqueue_downlink(device, data, source=source)
        else:
            downlink, new = await self._store.enqueue_requested_downlink(
                device, data, source=source, request_id=request_id
            )
            if not new:
                log.info(
                    "downlink request %r for %s repeated: downlink %d already queued",
                    request_id,
                    device,
                    downlink.id,
                )
                return downlink
        self._metrics.downlinks.labels("queued").inc()
        log.info("downlink %d queued for %s from %s", downlink.id, downlink.device, source)
        return downlink

    async def answer(
        self, device: str, seq_number: int | None, time: int | None
    ) -> Downlink | None:
        """The downlink for a BIDIR callback, or None (then the answer is 204)."""
        downlink = await self._store.take_downlink(device, seq_number, time)
        self.count_answer(downlink)
        return downlink

    def count_answer(self, downlink: Downlink | None) -> None:
        """Count a downlink handed to a BIDIR callback."""
        if downlink is not None:
            self._sent.inc()

    def _device_from(self, topic: str, payload: dict[str, Any]) -> Any:
        if self._level is None:
            return payload.get(self._mqtt.downlink_device)
        levels = topic.split("/")
        return levels[self._level - 1] if len(levels) >= self._level else None

    async def on_mqtt(self, topic: str, payload: bytes) -> None:
        """Handle one message on the downlink topic filter (``handle_mqtt``)."""
        await self.handle_mqtt(topic, payload)

    async def handle_mqtt(self, topic: str, payload: bytes) -> str | None:
        """Handle one message on the downlink topic filter; a client of the embedded broker
        (``publisher``) may queue only for the devices it may operate. None once queued, else
        why not (published on ``<topic>/rejected``)."""
        if topic.endswith("/rejected"):
            return None
        sender = publisher.get()
        audience = rbac.visible_roots(sender) if isinstance(sender, Principal) else None
        device: Any = self._device_from(topic, {}) if self._level is not None else None
        request_id: str | None = None
        try:
            body = json_object(payload, "payload")
            field = self._mqtt.downlink_field
            if field not in body:
                raise InvalidInput(f"payload has no {field!r} field", field=field)
            device = self._device_from(topic, body)
            if device is None:
                raise InvalidInput(
                    f"no device id at {self._mqtt.downlink_device} of topic {topic!r}"
                )
            request_id = request_id_of(body)
            if isinstance(sender, Principal) and self._scope is not None:
                device = await self._scope(sender, normalize_device(device))
            await self.queue(device, body[field], source="mqtt", field=field, request_id=request_id)
        except LorafoxError as exc:
            await self._reject(topic, payload, exc, audience)
            if self.on_rejected is not None:
                self.on_rejected.rejected(
                    topic,
                    _valid_device(device),
                    exc.message,
                    field=getattr(exc, "field", None),
                    request_id=request_id,
                )
            return exc.message
        return None

    async def _reject(
        self, topic: str, payload: bytes, exc: LorafoxError, audience: Audience
    ) -> None:
        self._metrics.downlinks.labels("rejected").inc()
        log.warning("downlink on %s rejected: %s", topic, exc.message)
        if self._bus is None:
            return
        body = {
            "error": exc.message,
            "field": getattr(exc, "field", None),
            "topic": topic,
            "payload": payload.decode("utf-8", "replace")[:1024],
        }
        try:
            await self._bus.publish(
                f"{topic}/rejected", orjson.dumps(body), qos=1, audience=audience
            )
        except LorafoxError as publish_error:
            log.warning("cannot publish the rejection on %s/rejected: %s", topic, publish_error)
