"""Network servers' MQTT brokers: lorafox subscribes on the broker each ``chirpstack`` or
``tts`` integration names (``mqttUrl``) and handles the messages as their HTTP counterparts':

- ChirpStack's MQTT integration: ``application/+/device/+/event/+``, the event named by the
  topic's last level (``lorafox.lora.chirpstack``);
- The Things Stack's MQTT server: ``v3/+/devices/+/#`` (``…/up``, ``…/join``, ``…/down/ack`` …),
  bodies as its webhooks' (``lorafox.lora.tts``); lorafox's own ``…/down/push`` is skipped.

One client task per integration with a broker (client id ``<mqtt.client_id>-<integration id>``),
started, restarted (changed URL) and stopped as integrations change, here or on another
instance (``LoraIntegrations.on_change``; compared with the store every 30 s too); a lost
connection is retried with a growing delay (1 s to 60 s), and told to ``IntegrationHealth``
(integration_down, integration_restored). A message over ``MAX_MESSAGE`` bytes or malformed is
logged and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from urllib.parse import unquote, urlsplit

import aiomqtt
import orjson

from lorafox.domain import LoraKind
from lorafox.errors import LorafoxError
from lorafox.lora.chirpstack import parse_event
from lorafox.lora.health import BROKER, IntegrationHealth
from lorafox.lora.integrations import LoraIntegrations, Sender
from lorafox.lora.network import LoraNetwork
from lorafox.lora.tts import parse_message

__all__ = ["CHIRPSTACK_FILTER", "MAX_MESSAGE", "TTS_FILTER", "BrokerSubscriptions"]

log = logging.getLogger(__name__)

CHIRPSTACK_FILTER = "application/+/device/+/event/+"
TTS_FILTER = "v3/+/devices/+/#"
_FILTERS = {LoraKind.CHIRPSTACK: CHIRPSTACK_FILTER, LoraKind.TTS: TTS_FILTER}
MAX_MESSAGE = 64 * 1024
_REFRESH = 30.0


class BrokerSubscriptions:
    def __init__(
        self,
        integrations: LoraIntegrations,
        network: LoraNetwork,
        health: IntegrationHealth,
        *,
        client_id: str = "lorafox",
    ) -> None:
        self._client_id = client_id
        self._integrations = integrations
        self._network = network
        self._health = health
        self._clients: dict[str, tuple[str, asyncio.Task[None]]] = {}
        self._wakeup = asyncio.Event()
        integrations.on_change = self._wakeup.set

    async def run(self) -> None:
        """Keep one subscription per integration with a broker, until cancelled."""
        try:
            while True:
                try:
                    await self._refresh()
                except LorafoxError as exc:
                    log.warning("cannot list the ChirpStack integrations: %s", exc.message)
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(_REFRESH):
                        await self._wakeup.wait()
        finally:
            for _, task in self._clients.values():
                task.cancel()
            for _, task in self._clients.values():
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _refresh(self) -> None:
        wanted: dict[str, str] = {}
        senders: dict[str, Sender] = {}
        found = [
            *await self._integrations.of_kind(LoraKind.CHIRPSTACK),
            *await self._integrations.of_kind(LoraKind.TTS),
        ]
        for integration in found:
            url = integration.config.get("mqttUrl")
            if isinstance(url, str) and url:
                wanted[integration.id] = url
                senders[integration.id] = await self._integrations.sender(integration)
        for integration_id, (url, task) in list(self._clients.items()):
            if wanted.get(integration_id) != url:
                task.cancel()
                del self._clients[integration_id]
                log.info("no longer following the broker of integration %s", integration_id)
                if integration_id not in wanted:  # a new URL: its success restores it
                    self._health.forget(integration_id, BROKER)
        for integration_id, url in wanted.items():
            if integration_id not in self._clients:
                task = asyncio.create_task(self._follow(senders[integration_id], url))
                self._clients[integration_id] = (url, task)

    async def _follow(self, sender: Sender, url: str) -> None:
        parts = urlsplit(url)
        delay = 1.0
        while True:
            try:
                async with aiomqtt.Client(
                    parts.hostname or "127.0.0.1",
                    parts.port or (8883 if parts.scheme == "mqtts" else 1883),
                    username=unquote(parts.username) if parts.username else None,
                    password=unquote(parts.password) if parts.password else None,
                    identifier=f"{self._client_id}-{sender.integration.id}",
                    tls_context=ssl.create_default_context() if parts.scheme == "mqtts" else None,
                ) as client:
                    await client.subscribe(_FILTERS[sender.integration.kind], qos=1)
                    log.info("following the broker of integration %s", sender.integration.id)
                    self._health.succeeded(sender.integration, BROKER)
                    delay = 1.0
                    async for message in client.messages:
                        await self._handle(sender, str(message.topic), message.payload)
            except aiomqtt.MqttError as exc:
                log.warning(
                    "the broker of integration %s: %s (retrying in %.0f s)",
                    sender.integration.id,
                    type(exc).__name__,
                    delay,
                )
                self._health.failed(sender.integration, BROKER, f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 60.0)

    async def _handle(self, sender: Sender, topic: str, payload: object) -> None:
        if topic.endswith(("/down/push", "/down/replace")):
            return  # downlinks, lorafox's own among them
        if not isinstance(payload, bytes | bytearray) or len(payload) > MAX_MESSAGE:
            log.warning("message on %s skipped: not bytes or too large", topic)
            return
        try:
            body = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            log.warning("message on %s skipped: not JSON (%s)", topic, exc)
            return
        if not isinstance(body, dict):
            log.warning("message on %s skipped: not a JSON object", topic)
            return
        try:
            if sender.integration.kind is LoraKind.CHIRPSTACK:
                report = parse_event(topic.rsplit("/", 1)[-1], body)
            else:
                report = parse_message(body)
            await self._network.handle(sender, report)
        except LorafoxError as exc:
            log.warning("message on %s skipped: %s", topic, exc.message)
