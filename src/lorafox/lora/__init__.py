"""LoRa devices: integrations with network servers, their uplinks in the shared flow, and the
downlinks back to them.

Pure parsers (``model``, ``semtech_frames``, ``chirpstack``, ``tts``, ``aws``), the use cases
(``integrations``, ``ingest``) and the Semtech socket server (``semtech``)."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import httpx

from lorafox.domain import LoraKind
from lorafox.errors import ConfigError
from lorafox.lora.brokers import BrokerSubscriptions
from lorafox.lora.downlinks import DeviceScope, LoraDownlinks
from lorafox.lora.health import IntegrationHealth
from lorafox.lora.ingest import LoraIngest
from lorafox.lora.integrations import LoraIntegrations
from lorafox.lora.network import LoraNetwork
from lorafox.lora.push import AwsDestinations, AwsSendData, ChirpstackCommands, TtsPush
from lorafox.lora.semtech import SemtechServer
from lorafox.ports.bus import Bus
from lorafox.ports.lora import LoraDownlinkStore
from lorafox.settings import LoraSettings

__all__ = [
    "IntegrationHealth",
    "LoraDownlinks",
    "LoraIngest",
    "LoraIntegrations",
    "LoraNetwork",
    "LoraServices",
]


@dataclass(slots=True)
class LoraServices:
    """What the HTTP adapters of LoRa use."""

    integrations: LoraIntegrations
    ingest: LoraIngest
    downlinks: LoraDownlinks
    network: LoraNetwork
    health: IntegrationHealth = field(default_factory=IntegrationHealth)
    """Whether the integrations' brokers and downlink hand-overs work."""
    semtech_port: int | None = field(default=None)
    """The Semtech socket's port once started (None: off)."""

    @classmethod
    def create(
        cls,
        store: LoraDownlinkStore,
        integrations: LoraIntegrations,
        ingest: LoraIngest,
        *,
        bus: Bus | None,
        scope: DeviceScope | None,
        retry: LoraSettings | None = None,
        health: IntegrationHealth | None = None,
    ) -> LoraServices:
        downlinks = LoraDownlinks(store, integrations, ingest, bus=bus, scope=scope, retry=retry)
        network = LoraNetwork(ingest, downlinks, integrations)
        return cls(integrations, ingest, downlinks, network, health or IntegrationHealth())

    async def start(
        self, host: str, semtech_port: int, client_id: str = "lorafox"
    ) -> contextlib.AsyncExitStack:
        """Start what does I/O: the downlink transports, the brokers followed (as
        ``<client_id>-<integration id>``: instances with client ids of their own follow a broker
        side by side), the Semtech socket (``semtech_port`` 0: none); the stack returned stops
        them."""
        stack = contextlib.AsyncExitStack()
        client = await stack.enter_async_context(httpx.AsyncClient(follow_redirects=False))
        downlinks, health = self.downlinks, self.health
        downlinks.add_transport(
            LoraKind.TTS, TtsPush(self.integrations, self.ingest, client, health)
        )
        downlinks.add_transport(
            LoraKind.AWS_IOTWIRELESS, AwsSendData(self.integrations, self.ingest, client, health)
        )
        downlinks.add_transport(LoraKind.CHIRPSTACK, ChirpstackCommands(self.ingest, health))
        self.network.confirmer = AwsDestinations(client)
        if not semtech_port:
            await downlinks.resume()
        subscriptions = BrokerSubscriptions(
            self.integrations, self.network, health, client_id=client_id
        )
        follow = asyncio.create_task(subscriptions.run())

        async def stop_following() -> None:
            follow.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follow

        stack.push_async_callback(stop_following)
        stack.push_async_callback(downlinks.close)
        if not semtech_port:
            return stack
        semtech = SemtechServer(host, semtech_port, self.integrations, self.ingest, downlinks)
        try:
            await semtech.start()
        except OSError as exc:
            await stack.aclose()
            raise ConfigError(
                f"cannot listen on --semtech-port {semtech_port} on {host}: {exc.strerror} "
                "(choose another, or 0 for no Semtech socket)"
            ) from exc
        stack.push_async_callback(semtech.close)
        downlinks.add_transport(LoraKind.SEMTECH, semtech)
        self.semtech_port = semtech.port
        await downlinks.resume()
        return stack
