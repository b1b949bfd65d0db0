"""Downlinks to the network servers that take them over HTTP or MQTT (the ``LoraTransport``s
of The Things Stack, AWS IoT Core for LoRaWAN and ChirpStack).

- The Things Stack: ``POST`` to the ``X-Downlink-Push`` URL its webhook sent (or the configured
  ``downlinkPushUrl``, ``{devID}`` replaced) with ``Authorization: Bearer <X-Downlink-Apikey or
  downlinkApiKey>`` and ``{"downlinks":[{f_port, frm_payload, priority, confirmed,
  correlation_ids:["lorafox:downlink:<id>"]}]}``; without those, the same body published on
  ``v3/{user}/devices/{device_id}/down/push`` of its MQTT server (``mqttUrl``).
- AWS: ``SendDataToWirelessDevice`` (``POST /wireless-devices/{Id}/data``), SigV4-signed for
  service ``iotwireless``; its ``MessageId`` is kept.
- ChirpStack: ``application/{applicationId}/device/{devEui}/command/down`` published on the
  integration's broker (``mqttUrl``) with ``id`` = a UUID holding lorafox's downlink id, which
  ChirpStack's ``ack``/``txack`` echo as ``queueItemId``.

A network server that cannot be reached leaves the downlink queued (retried at the device's
next uplink); a 4xx answer fails it. Each hand-over that reached the server or not (unreachable,
a 5xx) is told to ``IntegrationHealth`` (integration_down, integration_restored).
"""

from __future__ import annotations

import base64
import logging
import ssl
import time
from datetime import UTC, datetime
from urllib.parse import quote, unquote, urlsplit

import aiomqtt
import httpx
import orjson

from lorafox.auth.sigv4.canonical import amz_date
from lorafox.auth.sigv4.model import SigV4Request
from lorafox.auth.sigv4.signing import sign
from lorafox.domain import Downlink
from lorafox.errors import DeliveryRefused
from lorafox.lora.downlinks import chirpstack_id
from lorafox.lora.health import DOWNLINK, IntegrationHealth
from lorafox.lora.ingest import LoraIngest
from lorafox.lora.integrations import LoraIntegrations, Sender
from lorafox.lora.tts import correlation_id

__all__ = ["AwsDestinations", "AwsSendData", "ChirpstackCommands", "TtsPush"]

log = logging.getLogger(__name__)

_TIMEOUT = 10.0
_PRIORITIES = {"LOWEST", "LOW", "BELOW_NORMAL", "NORMAL", "ABOVE_NORMAL", "HIGH", "HIGHEST"}


def _b64(downlink: Downlink) -> str:
    return base64.b64encode(bytes.fromhex(downlink.data)).decode()


async def _post(
    client: httpx.AsyncClient, url: str, content: bytes, headers: dict[str, str], what: str
) -> httpx.Response | str:
    """The answer, or why the peer could not be reached or failed (5xx); ``DeliveryRefused``
    on a 4xx."""
    try:
        answer = await client.post(url, content=content, headers=headers, timeout=_TIMEOUT)
    except httpx.HTTPError as exc:
        log.warning("%s unreachable: %s", what, type(exc).__name__)
        return f"unreachable: {type(exc).__name__}"
    if answer.status_code >= 500:
        log.warning("%s answered %d", what, answer.status_code)
        return f"answered {answer.status_code}"
    if answer.status_code >= 400:
        raise DeliveryRefused(
            f"{what} refused the downlink: {answer.status_code} {answer.text[:200]}",
            status=answer.status_code,
        )
    return answer


async def _publish(url: str, topic: str, payload: bytes, what: str) -> str | None:
    """Publish once at QoS 1 on the broker at ``url``; why not when it cannot be reached."""
    parts = urlsplit(url)
    try:
        async with aiomqtt.Client(
            parts.hostname or "127.0.0.1",
            parts.port or (8883 if parts.scheme == "mqtts" else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            timeout=_TIMEOUT,
            tls_context=ssl.create_default_context() if parts.scheme == "mqtts" else None,
        ) as client:
            await client.publish(topic, payload, qos=1)
    except aiomqtt.MqttError as exc:
        log.warning("%s unreachable: %s", what, type(exc).__name__)
        return f"unreachable: {type(exc).__name__}"
    return None


def _handed(
    health: IntegrationHealth, sender: Sender, failure: str | None, done: str
) -> str | None:
    """``done`` (the hand-over's id) when ``failure`` is None, else None; told to ``health``."""
    if failure is None:
        health.succeeded(sender.integration, DOWNLINK)
        return done
    health.failed(sender.integration, DOWNLINK, failure)
    return None


class TtsPush:
    def __init__(
        self,
        integrations: LoraIntegrations,
        ingest: LoraIngest,
        client: httpx.AsyncClient,
        health: IntegrationHealth,
    ) -> None:
        self._integrations = integrations
        self._ingest = ingest
        self._client = client
        self._health = health

    async def deliver(self, sender: Sender, downlink: Downlink) -> str | None:
        integration = sender.integration
        context = self._ingest.contexts.get(downlink.device, {})
        url = context.get("downlinkPush")
        key = context.get("downlinkApikey")
        configured = integration.config.get("downlinkPushUrl")
        if not url and isinstance(configured, str) and configured:
            url = configured.replace("{devID}", quote(context.get("deviceId", ""), safe=""))
        key = key or self._integrations.secret(integration, "downlinkApiKey")
        priority = integration.config.get("priority", "NORMAL")
        item = {
            "f_port": downlink.port,
            "frm_payload": _b64(downlink),
            "priority": priority if priority in _PRIORITIES else "NORMAL",
            "confirmed": bool(downlink.confirmed),
            "correlation_ids": [correlation_id(downlink.id)],
        }
        body = orjson.dumps({"downlinks": [item]})
        broker = integration.config.get("mqttUrl")
        device_id = context.get("deviceId")
        if (not url or not key) and isinstance(broker, str) and broker and device_id:
            user = unquote(urlsplit(broker).username or "")
            topic = f"v3/{user}/devices/{device_id}/down/push"
            failure = await _publish(broker, topic, body, "The Things Stack's MQTT server")
            return _handed(self._health, sender, failure, correlation_id(downlink.id))
        if not url or not key:
            log.info("no downlink push URL or key yet for %s", downlink.device)
            return None
        headers = {"authorization": f"Bearer {key}", "content-type": "application/json"}
        answer = await _post(self._client, url, body, headers, "The Things Stack")
        failure = answer if isinstance(answer, str) else None
        return _handed(self._health, sender, failure, correlation_id(downlink.id))


class AwsSendData:
    def __init__(
        self,
        integrations: LoraIntegrations,
        ingest: LoraIngest,
        client: httpx.AsyncClient,
        health: IntegrationHealth,
    ) -> None:
        self._integrations = integrations
        self._ingest = ingest
        self._client = client
        self._health = health

    async def deliver(self, sender: Sender, downlink: Downlink) -> str | None:
        integration = sender.integration
        wireless_id = self._ingest.contexts.get(downlink.device, {}).get("wirelessDeviceId")
        config = integration.config
        region = str(config.get("region") or "us-east-1")
        endpoint = str(config.get("endpoint") or f"https://api.iotwireless.{region}.amazonaws.com")
        access_key = config.get("accessKeyId")
        secret = self._integrations.secret(integration, "secretAccessKey")
        if not wireless_id or not isinstance(access_key, str) or not secret:
            log.info("no wireless device id or AWS credentials yet for %s", downlink.device)
            return None
        path = f"/wireless-devices/{quote(wireless_id, safe='')}/data"
        body = orjson.dumps(
            {
                "PayloadData": _b64(downlink),
                "TransmitMode": 1 if downlink.confirmed else 0,
                "WirelessMetadata": {"LoRaWAN": {"FPort": downlink.port}},
            }
        )
        base = urlsplit(endpoint)
        headers = {
            "host": base.netloc,
            "x-amz-date": amz_date(datetime.now(UTC)),
            "content-type": "application/json",
        }
        full_path = base.path.rstrip("/") + path
        request = SigV4Request("POST", full_path, "", list(headers.items()), body)
        headers["authorization"] = sign(
            request,
            access_key_id=access_key,
            secret_key=secret,
            region=region,
            service="iotwireless",
        )
        url = f"{base.scheme}://{base.netloc}{full_path}"
        answer = await _post(self._client, url, body, headers, "AWS IoT Core for LoRaWAN")
        if isinstance(answer, str):
            return _handed(self._health, sender, answer, "")
        self._health.succeeded(integration, DOWNLINK)
        try:
            message_id = orjson.loads(answer.content).get("MessageId")
        except (orjson.JSONDecodeError, AttributeError):
            message_id = None
        return str(message_id)[:128] if message_id else f"aws:{downlink.id}"


class ChirpstackCommands:
    def __init__(self, ingest: LoraIngest, health: IntegrationHealth) -> None:
        self._ingest = ingest
        self._health = health

    async def deliver(self, sender: Sender, downlink: Downlink) -> str | None:
        config = sender.integration.config
        url = config.get("mqttUrl")
        application = self._ingest.contexts.get(downlink.device, {}).get(
            "applicationId"
        ) or config.get("applicationId")
        if not isinstance(url, str) or not url or not application:
            log.info("no ChirpStack broker or application yet for %s", downlink.device)
            return None
        item = chirpstack_id(downlink.id)
        body = {
            "id": item,
            "devEui": downlink.device,
            "confirmed": bool(downlink.confirmed),
            "fPort": downlink.port,
            "data": _b64(downlink),
        }
        topic = f"application/{application}/device/{downlink.device}/command/down"
        failure = await _publish(url, topic, orjson.dumps(body), "ChirpStack broker")
        return _handed(self._health, sender, failure, item)


class AwsDestinations:
    """Confirms AWS IoT HTTP topic rule destinations pointing at an ``aws-iotwireless``
    integration. AWS sends the confirmation without the rule's headers, so it arrives
    unauthenticated: lorafox only ``GET``s its ``enableUrl`` when it is an ``https`` URL of an
    AWS host (never anything else), at most once a minute per integration."""

    def __init__(self, client: httpx.AsyncClient, *, host_suffix: str = ".amazonaws.com") -> None:
        self._client = client
        self._suffix = host_suffix
        self._last: dict[str, float] = {}

    def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        return parts.scheme == "https" and host.endswith(self._suffix) and len(url) <= 2048

    async def confirm(self, integration_id: str, enable_url: str) -> bool:
        """True when AWS answered the ``enableUrl`` with a 2xx."""
        if not self.allowed(enable_url):
            log.warning("destination confirmation for %s ignored: not an AWS URL", integration_id)
            return False
        now = time.monotonic()
        if self._last.get(integration_id, -60.0) > now - 60:
            return False
        if len(self._last) > 10_000:
            self._last.clear()
        self._last[integration_id] = now
        try:
            answer = await self._client.get(enable_url, timeout=_TIMEOUT)
        except httpx.HTTPError as exc:
            log.warning("destination confirmation failed: %s", type(exc).__name__)
            return False
        ok = 200 <= answer.status_code < 300
        log.info(
            "AWS destination of integration %s %s (%d)",
            integration_id,
            "confirmed" if ok else "not confirmed",
            answer.status_code,
        )
        return ok
