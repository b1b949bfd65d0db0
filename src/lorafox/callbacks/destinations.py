"""Where callbacks may go: public addresses, and private ones only where the operator allows.

A callback URL is written by any DEVICE_MANAGER; without this check it would let one reach
the operator's own network (the database, a metadata service, an admin page on loopback). A URL
is checked when a callback is saved (its scheme, and its host when it is an address) and again
before every request (every address its host name resolves to).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

from lorafox.errors import InvalidInput

__all__ = ["DestinationGuard", "DestinationRefused", "Network"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class DestinationRefused(InvalidInput):
    """The URL's host is not a destination callbacks may reach."""


def _public(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return _public(address.ipv4_mapped)
    return address.is_global and not address.is_multicast


class DestinationGuard:
    """Allows public addresses and those inside ``allowed`` networks."""

    def __init__(self, allowed: Sequence[Network] = ()) -> None:
        self._allowed = tuple(allowed)

    def _permitted(self, address: Address) -> bool:
        return _public(address) or any(address in network for network in self._allowed)

    def _refusal(self, host: str, address: Address) -> DestinationRefused:
        return DestinationRefused(
            f"url: {host} is (or resolves to) {address}, a private, loopback or reserved address "
            "callbacks may not reach (callbacks.allowed_networks lists those allowed)",
            field="url",
        )

    def check_url(self, url: str) -> str:
        """The URL's host; ``InvalidInput`` for a URL that is not http(s) with a host, or whose
        host is a refused address."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput("url: an http:// or https:// URL with a host", field="url")
        host = parts.hostname
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return host
        if not self._permitted(address):
            raise self._refusal(host, address)
        return host

    async def check(self, url: str) -> None:
        """Refuse (``DestinationRefused``) a URL whose host resolves to any refused address."""
        host = self.check_url(url)
        port = urlsplit(url).port or 443
        try:
            found = await asyncio.get_running_loop().getaddrinfo(
                host, port, type=socket.SOCK_STREAM
            )
        except OSError as exc:
            raise DestinationRefused(f"url: cannot resolve {host}: {exc}", field="url") from exc
        for *_, sockaddr in found:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if not self._permitted(address):
                raise self._refusal(host, address)
