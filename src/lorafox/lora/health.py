"""Whether each LoRa integration's transports work: ``integration_down`` once one has failed
without a success for ``down_after`` seconds, ``integration_restored`` at its next success.

The transports are the broker an integration follows (``broker``: it cannot be reached, or the
connection drops) and its downlink hand-over (``downlink``: The Things Stack's push, AWS's
SendDataToWirelessDevice, ChirpStack's command topic). Each is followed on its own, and
reported at the first failure past ``down_after`` (the broker is retried at least once a
minute, a downlink push at each of its retries). The events carry the integration's group
(``groupId``) and device type, so that the alerts of either see them. The state is in memory.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from lorafox.domain import Event, EventType, LoraIntegration, Severity

__all__ = ["BROKER", "DOWNLINK", "IntegrationHealth"]

log = logging.getLogger(__name__)

BROKER = "broker"
DOWNLINK = "downlink"


@dataclass(slots=True)
class _Failing:
    since: float
    down: bool = False


class IntegrationHealth:
    """Follows the failures of each integration's transports and reports the changes
    (``report`` None: only followed, for a transport used without an event log)."""

    def __init__(
        self,
        report: Callable[[Event], None] | None = None,
        clock: Callable[[], int] = lambda: int(time.time() * 1000),
        *,
        down_after: float = 60.0,
    ) -> None:
        self._report = report
        self._clock = clock
        self._after = down_after
        self._failing: dict[tuple[str, str], _Failing] = {}

    def failed(self, integration: LoraIntegration, transport: str, error: str) -> None:
        """``transport`` of ``integration`` failed with ``error``."""
        now = time.monotonic()
        state = self._failing.setdefault((integration.id, transport), _Failing(now))
        if state.down or now - state.since < self._after:
            return
        state.down = True
        message = (
            f"integration {integration.name}: its {transport} has failed for "
            f"{now - state.since:.0f} s: {error}"
        )
        log.warning(message)
        self._event(
            EventType.INTEGRATION_DOWN, Severity.ERROR, integration, transport, message, error
        )

    def succeeded(self, integration: LoraIntegration, transport: str) -> None:
        """``transport`` of ``integration`` worked."""
        state = self._failing.pop((integration.id, transport), None)
        if state is None or not state.down:
            return
        message = f"integration {integration.name}: its {transport} works again"
        log.info(message)
        self._event(EventType.INTEGRATION_RESTORED, Severity.INFO, integration, transport, message)

    def down(self, integration_id: str) -> list[str]:
        """The transports of the integration that are down now on this instance."""
        return sorted(
            t for (i, t), state in self._failing.items() if i == integration_id and state.down
        )

    def forget(self, integration_id: str, transport: str) -> None:
        """The transport is no longer used (integration deleted, broker removed)."""
        self._failing.pop((integration_id, transport), None)

    def _event(
        self,
        kind: EventType,
        severity: Severity,
        integration: LoraIntegration,
        transport: str,
        message: str,
        error: str | None = None,
    ) -> None:
        if self._report is None:
            return
        data = {
            "integrationId": integration.id,
            "integrationName": integration.name,
            "kind": integration.kind.value,
            "transport": transport,
            "groupId": integration.group_id,
        }
        if error is not None:
            data["error"] = error
        event = Event(
            kind,
            severity,
            self._clock(),
            message,
            device_type_id=integration.device_type_id,
            data=data,
        )
        self._report(event)
