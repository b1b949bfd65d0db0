"""``AppriseNotifications``: notifications through apprise (Slack, Teams, Telegram, Discord,
ntfy, generic webhooks …). Its log never shows the URLs, which hold the services' tokens."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import apprise

from lorafox.errors import NotificationError

__all__ = ["AppriseNotifications"]

logging.getLogger("apprise").setLevel(logging.ERROR)  # its debug lines show tokens


class AppriseNotifications:
    """Implements ``lorafox.ports.alerts.Notifications``."""

    async def notify(self, urls: Sequence[str], title: str, body: str) -> None:
        targets = apprise.Apprise()
        for url in urls:
            if not targets.add(url):
                raise NotificationError("an apprise URL is not valid", permanent=True)
        if not await targets.async_notify(body=body, title=title):
            raise NotificationError(f"{len(urls)} notification URL(s): not every one was reached")
