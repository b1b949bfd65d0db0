"""What alerts need: their subscriptions stored, and a way to reach chat and push services."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from lorafox.domain import Alert

__all__ = ["AlertStore", "Notifications"]


class AlertStore(Protocol):
    async def all_alerts(self) -> list[Alert]: ...

    async def get_alert(self, alert_id: str) -> Alert | None: ...

    async def create_alert(self, alert: Alert) -> None: ...

    async def update_alert(self, alert: Alert) -> None: ...

    async def delete_alert(self, alert_id: str) -> None: ...


class Notifications(Protocol):
    """Sends a notification to service URLs (apprise's); ``NotificationError`` when one fails."""

    async def notify(self, urls: Sequence[str], title: str, body: str) -> None: ...
