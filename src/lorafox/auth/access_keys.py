"""The access keys of SigV4-signed requests (the DynamoDB and AWS IoT APIs): an API user's
login is the access key id and its password the secret key.

A key's secret (or its absence) is looked up at most once a second (``SECRET_SECONDS``), not at
every request: a deleted API user or a renewed password applies within that time.
"""

from __future__ import annotations

import time

from lorafox.auth.principals import PrincipalAuthenticator
from lorafox.domain import Principal

__all__ = ["SECRET_SECONDS", "AccessKeys"]

SECRET_SECONDS = 1.0
_MAX_KEYS = 10_000
"""Keys remembered at most (beyond, all are forgotten)."""


class AccessKeys:
    def __init__(self, auth: PrincipalAuthenticator) -> None:
        self._auth = auth
        self._remembered: dict[str, tuple[float, tuple[Principal, str] | None]] = {}

    async def api_user(self, login: str) -> tuple[Principal, str] | None:
        """The API user of an access key id and its secret, or None."""
        now = time.monotonic()
        hit = self._remembered.get(login)
        if hit is not None and now - hit[0] < SECRET_SECONDS:
            return hit[1]
        found = await self._auth.api_user_secret(login)
        if len(self._remembered) >= _MAX_KEYS:
            self._remembered.clear()
        self._remembered[login] = (now, found)
        return found

    async def secret(self, login: str) -> str | None:
        """The secret key of an access key id, or None."""
        found = await self.api_user(login)
        return None if found is None else found[1]
