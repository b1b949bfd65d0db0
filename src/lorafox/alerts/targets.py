"""Where alerts may be sent: addresses checked (``mail_addresses``), and apprise URLs whose
host the same ``DestinationGuard`` as callbacks allows (``NotificationTargets``).

Apprise URLs of the chat services (``slack://``, ``discord://``, ``tgram://``, ``msteams://`` …)
reach those services' public endpoints; every other URL names its own host (``json://``,
``form://``, ``ntfy://``, ``gotify://`` …), which must be an allowed destination, when saved and
before each notification.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

import apprise

from lorafox.callbacks.destinations import DestinationGuard
from lorafox.errors import InvalidInput
from lorafox.identity.validation import check_email

__all__ = ["FIXED_SERVICES", "MAX_TARGETS", "NotificationTargets", "mail_addresses"]

MAX_TARGETS = 10
"""Addresses, and URLs, of one alert."""

FIXED_SERVICES = frozenset(
    {"slack", "discord", "tgram", "msteams", "pover", "pbul", "signal", "ifttt", "join"}
)
"""Schemes whose notifications go to the service's own public endpoints."""


def mail_addresses(values: Sequence[str], field: str = "emails") -> tuple[str, ...]:
    if len(values) > MAX_TARGETS:
        raise InvalidInput(f"{field}: at most {MAX_TARGETS}", field=field)
    return tuple(check_email(v, field) for v in values)


def _http_url(scheme: str, host: str, port: int | None, secure: bool) -> str:
    try:
        address = ipaddress.ip_address(host)
        shown = f"[{host}]" if address.version == 6 else host
    except ValueError:
        shown = host
    protocol = "https" if secure or scheme.endswith("s") else "http"
    return f"{protocol}://{shown}" + (f":{port}" if port else "") + "/"


class NotificationTargets:
    """Apprise URLs checked against the destination guard."""

    def __init__(self, guard: DestinationGuard) -> None:
        self._guard = guard

    def _host_url(self, url: str, field: str) -> str | None:
        """The http(s) URL of the host ``url`` reaches; None for a fixed service."""
        plugin = apprise.Apprise.instantiate(url, suppress_exceptions=True)
        if plugin is None:
            raise InvalidInput(
                f"{field}: not an apprise URL lorafox can send to (slack://, discord://, "
                "tgram://, msteams://, ntfy://, json://, form:// …)",
                field=field,
            )
        scheme = url.split("://", 1)[0].lower()
        if scheme in FIXED_SERVICES:
            return None
        host = str(getattr(plugin, "host", "") or "")
        if not host:
            raise InvalidInput(f"{field}: the URL names no host", field=field)
        port = getattr(plugin, "port", None)
        return _http_url(scheme, host, port, bool(getattr(plugin, "secure", False)))

    def checked(self, urls: Sequence[str], field: str = "urls") -> tuple[str, ...]:
        """``urls`` once each is an apprise URL to an allowed destination (``InvalidInput``)."""
        if len(urls) > MAX_TARGETS:
            raise InvalidInput(f"{field}: at most {MAX_TARGETS}", field=field)
        for url in urls:
            if len(url) > 2048:
                raise InvalidInput(f"{field}: at most 2048 characters each", field=field)
            host_url = self._host_url(url, field)
            if host_url is not None:
                try:
                    self._guard.check_url(host_url)
                except InvalidInput as exc:
                    message = exc.message.replace("url:", f"{field}:", 1)
                    raise InvalidInput(message, field=field) from None
        return tuple(urls)

    async def check(self, url: str) -> None:
        """Refuse (``DestinationRefused``) a URL whose host resolves to a refused address."""
        host_url = self._host_url(url, "urls")
        if host_url is not None:
            await self._guard.check(host_url)
