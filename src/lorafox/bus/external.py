"""A client to an external MQTT broker (Mosquitto, EMQX, NATS, RabbitMQ, AWS IoT Core) with
aiomqtt, in MQTT 3.1.1 with QoS 0 and 1 only: what every one of them speaks.

It keeps reconnecting (1 s, doubling to 30 s; keep-alive 15 s); ``publish`` raises
``BusUnavailable`` while disconnected so that the outbox keeps the message. Its session is
persistent under the fixed ``mqtt.client_id``: it subscribes when the broker holds no session
for it, and otherwise lets the broker deliver what waited. It subscribes once to a filter that
covers others (``#`` covers ``sigfox/downlink/+``): brokers such as NATS and RabbitMQ deliver
one copy of a message for each matching subscription, and each copy would be handled again.

The rules feed connects a second client of its own (``lorafox.bus.rules_source``): either with a
clean session (``persistent=False``) subscribing to a shared subscription
(``$share/<group>/<filter>``, handed to the handlers of ``<filter>``), or with a persistent
session that one instance after another takes over (``wipe=False``: what waits in it is kept).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from lorafox.bus.topics import filter_matcher
from lorafox.errors import BusUnavailable, ConfigError
from lorafox.ports.bus import Audience, Bus, MessageHandler, PublishProperties

__all__ = ["BrokerAddress", "ExternalBus", "broker_filters"]

log = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class BrokerAddress:
    """Where the broker is and how to log in, from ``mqtt[s]://user:pass@host:port``."""

    host: str
    port: int
    tls: bool
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ConfigError(
                f"--mqtt-url must look like mqtt[s]://user:pass@host:port, got {url!r}"
            )
        tls = parts.scheme == "mqtts"
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError as exc:
            raise ConfigError(f"--mqtt-url has a bad port: {exc}") from exc
        return cls(
            host=parts.hostname,
            port=port,
            tls=tls,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    def __repr__(self) -> str:  # never show the password
        scheme = "mqtts" if self.tls else "mqtt"
        user = f"{self.username}@" if self.username else ""
        return f"{scheme}://{user}{self.host}:{self.port}"


def tls_context(
    ca_file: Path | None, cert_file: Path | None, key_file: Path | None
) -> ssl.SSLContext:
    """A client TLS context: the system CAs or ``ca_file``, and a client certificate if given."""
    try:
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
        if cert_file:
            context.load_cert_chain(str(cert_file), str(key_file) if key_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the MQTT TLS files: {exc}") from exc
    return context


class _Client(aiomqtt.Client):
    """aiomqtt's client, keeping the CONNACK's session-present flag."""

    session_present = False

    def _on_connect(
        self,
        client: mqtt.Client,
        userdata: Any,
        flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        properties: Properties | None = None,
    ) -> None:
        self.session_present = bool(flags.session_present)
        super()._on_connect(client, userdata, flags, reason_code, properties)

    def abandon(self, reason: str) -> None:
        """Give up a connection that no longer carries anything (a PUBACK overdue): its socket
        is closed and the message iteration ends with ``MqttError``, so the bus connects anew."""
        sock = self._client.socket()
        if sock is not None:
            fileno = sock.fileno()
            if fileno >= 0:
                self._loop.remove_reader(fileno)
                self._loop.remove_writer(fileno)
            sock.close()
        if not self._disconnected.done():
            self._disconnected.set_exception(aiomqtt.MqttError(reason))


def _shared_filter(topic_filter: str) -> str:
    """The filter of a shared subscription ``$share/<group>/<filter>``, else ``topic_filter``."""
    if topic_filter.startswith("$share/"):
        parts = topic_filter.split("/", 2)
        if len(parts) == 3 and parts[1] and parts[2]:
            return parts[2]
        raise ConfigError(f"a shared subscription is $share/<group>/<filter>, not {topic_filter!r}")
    return topic_filter


def _covers(wide: str, narrow: str) -> bool:
    """Whether every topic ``narrow`` matches is matched by ``wide`` too."""
    wide_levels, narrow_levels = wide.split("/"), narrow.split("/")
    if narrow.startswith("$") and wide[:1] in ("+", "#"):
        return False  # wildcards at the first level match no $ topic
    for i, level in enumerate(wide_levels):
        if level == "#":
            return True
        if i >= len(narrow_levels) or narrow_levels[i] == "#":
            return False
        if level != "+" and (level != narrow_levels[i] or narrow_levels[i] == "+"):
            return False
    return len(wide_levels) == len(narrow_levels)


def broker_filters(topic_filters: list[str]) -> list[str]:
    """The filters to subscribe to on the broker: each once, none another covers."""
    unique = list(dict.fromkeys(topic_filters))
    return [f for f in unique if not any(g != f and _covers(g, f) for g in unique)]


class ExternalBus:
    """Implements ``Bus`` as a client of an external broker."""

    def __init__(
        self,
        address: BrokerAddress,
        *,
        client_id: str,
        tls: ssl.SSLContext | None = None,
        max_backoff: float = 30.0,
        persistent: bool = True,
        wipe: bool = True,
    ) -> None:
        self._address = address
        self._client_id = client_id
        self._persistent = persistent
        self._wipe = wipe and persistent
        self._tls = (
            tls if tls is not None else (tls_context(None, None, None) if address.tls else None)
        )
        self._max_backoff = max_backoff
        self._subscriptions: list[tuple[str, MessageHandler]] = []
        self._matchers: list[tuple[Callable[[str], bool], MessageHandler]] = []
        self._client: _Client | None = None
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def max_in_flight(self) -> int:
        return 256  # each publish waits for its PUBACK: keep a window of them in flight

    def subscribe(self, topic_filter: str, handler: MessageHandler) -> None:
        """Subscribe ``handler`` to ``topic_filter`` (``$share/<group>/<filter>``: a shared
        subscription, delivering the topics ``<filter>`` matches)."""
        self._subscriptions.append((topic_filter, handler))
        self._matchers.append((filter_matcher(_shared_filter(topic_filter)), handler))

    async def wait_connected(self) -> None:
        await self._connected.wait()

    async def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        audience: Audience = None,  # the external broker's own access control decides
        properties: PublishProperties | None = None,  # MQTT 3.1.1 to the broker: not sent
    ) -> None:
        client = self._client
        if client is None or not self._connected.is_set():
            raise BusUnavailable(f"not connected to {self._address!r}")
        try:
            await client.publish(topic, payload, qos=qos, retain=retain, timeout=10)
        except aiomqtt.MqttError as exc:
            if client is self._client:
                log.warning("giving up the connection to %r: %s", self._address, exc)
                client.abandon(f"publish failed: {exc}")
            raise BusUnavailable(f"publish to {self._address!r} failed: {exc}") from exc

    async def __aenter__(self) -> Bus:
        self._task = asyncio.create_task(self._run(), name="lorafox-mqtt-client")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._handlers):
            task.cancel()

    def _dispatch(self, message: aiomqtt.Message) -> None:
        topic = message.topic.value
        payload = (
            message.payload
            if isinstance(message.payload, bytes)
            else str(message.payload or "").encode()
        )
        for match, handler in self._matchers:
            if match(topic):
                task = asyncio.create_task(handler(topic, payload))
                self._handlers.add(task)
                task.add_done_callback(self._handler_done)

    def _handler_done(self, task: asyncio.Task[None]) -> None:
        self._handlers.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("MQTT message handler failed", exc_info=task.exception())

    def _client_for(self, *, clean_session: bool) -> _Client:
        return _Client(
            self._address.host,
            self._address.port,
            username=self._address.username,
            password=self._address.password,
            identifier=self._client_id,
            tls_context=self._tls,
            clean_session=clean_session,
            timeout=10,
            # a broker that went away without closing the connection (or a close the event
            # loop missed) is noticed by the unanswered PINGREQ within 2 x 15 s
            keepalive=15,
            max_queued_outgoing_messages=100_000,
        )

    async def _run(self) -> None:
        backoff = 1.0
        # The session is persistent, so that what is published while lorafox reconnects waits
        # for it on the broker; but the first connection wipes what a former run left (made
        # perhaps with other topics) with a clean session, before starting the persistent one.
        wiped = not self._wipe
        while True:
            try:
                if not wiped:
                    async with self._client_for(clean_session=True):
                        wiped = True
                async with self._client_for(clean_session=not self._persistent) as client:
                    # a session the broker kept has the subscriptions: subscribing again
                    # makes some brokers (NATS) deliver what is unacknowledged once more
                    if not client.session_present:
                        filters = broker_filters([f for f, _ in self._subscriptions])
                        if filters:
                            await client.subscribe([(f, 1) for f in filters])
                    self._client = client
                    self._connected.set()
                    backoff = 1.0
                    log.info("connected to the MQTT broker %r", self._address)
                    async for message in client.messages:
                        self._dispatch(message)
            except aiomqtt.MqttError as exc:
                if self._connected.is_set():
                    log.warning("lost the MQTT broker %r: %s", self._address, exc)
                else:
                    log.warning(
                        "cannot reach the MQTT broker %r: %s; retrying in %.0f s",
                        self._address,
                        exc,
                        backoff,
                    )
            finally:
                self._connected.clear()
                self._client = None
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff)
