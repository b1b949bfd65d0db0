"""Where the topic rules take the messages of an external broker: a connection of their own, so
that among several instances each message runs through the rules once.

* ``shared``: every instance subscribes to ``$share/<group>/#`` with a clean session, under a
  client id of its own (``<mqtt.client_id>-rules``); the broker hands each message to one member
  of the group. An instance that goes away leaves the group with its connection (a clean session
  keeps nothing for it), so the others get every message from then on.
* leader feed (brokers without shared subscriptions: RabbitMQ, NATS): only the instance holding
  the rules feeder's advisory lock subscribes to ``#``, under the group's name as client id (the
  same on every instance) with a persistent session. When it dies or stops, the broker keeps the
  session and queues what is published meanwhile (QoS 1); the instance taking the lock next
  connects under the same client id and is handed what waited. An instance that loses the lock
  disconnects at once; the broker disconnects an older connection under the same client id when
  a newer one connects, so two instances never take the same message from the session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable

from lorafox.bus.external import BrokerAddress, ExternalBus
from lorafox.ports.bus import MessageHandler

__all__ = ["BrokerRulesSource"]

log = logging.getLogger(__name__)

#: how often the leader feed looks whether this instance holds the rules feeder's lock
FOLLOW_SECONDS = 0.1


class BrokerRulesSource:
    """Hands ``handler`` the broker's messages this instance runs the rules on."""

    def __init__(
        self,
        address: BrokerAddress,
        handler: MessageHandler,
        *,
        group: str,
        client_id: str,
        shared: bool,
        leads: Callable[[], bool],
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._address = address
        self._handler = handler
        self._group = group
        self._client_id = client_id
        self._shared = shared
        self._leads = leads
        self._tls = tls

    def _bus(self) -> ExternalBus:
        if self._shared:
            bus = ExternalBus(
                self._address, client_id=self._client_id, tls=self._tls, persistent=False
            )
            bus.subscribe(f"$share/{self._group}/#", self._handler)
        else:
            bus = ExternalBus(self._address, client_id=self._group, tls=self._tls, wipe=False)
            bus.subscribe("#", self._handler)
        return bus

    async def run(self, stopped: asyncio.Event) -> None:
        """Feed the rules until ``stopped``: always (shared), else while this instance leads."""
        bus: ExternalBus | None = None
        try:
            while not stopped.is_set():
                leads = self._shared or self._leads()
                if leads and bus is None:
                    bus = self._bus()
                    await bus.__aenter__()
                    log.info(
                        "the topic rules take the broker's messages (%s)",
                        f"shared subscription $share/{self._group}/#"
                        if self._shared
                        else f"client id {self._group}, persistent session",
                    )
                elif not leads and bus is not None:
                    await bus.__aexit__(None, None, None)
                    bus = None
                    log.info("the topic rules no longer take the broker's messages here")
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopped.wait(), FOLLOW_SECONDS)
        finally:
            if bus is not None:
                await bus.__aexit__(None, None, None)
