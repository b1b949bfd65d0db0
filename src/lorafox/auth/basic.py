"""HTTP Basic authentication with a cache, so a callback storm costs no argon2 per request.

A pair that verified once is remembered as a keyed BLAKE2b digest (key made per process) for
``ttl`` seconds; later requests compare digests in constant time. Failures are remembered
briefly too, so wrong passwords cannot make the server hash at will.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import secrets
import time
from collections.abc import Awaitable, Callable

from lorafox.errors import AuthenticationFailed

__all__ = ["BasicAuthenticator", "parse_basic"]

Verify = Callable[[str, str], Awaitable[bool]]


def parse_basic(header: str | None) -> tuple[str, str]:
    """(username, password) from an ``Authorization: Basic ...`` value."""
    if not header:
        raise AuthenticationFailed("credentials are missing (HTTP Basic auth)")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or not encoded:
        raise AuthenticationFailed("only HTTP Basic auth is accepted here")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise AuthenticationFailed("malformed Basic credentials") from exc
    username, sep, password = decoded.partition(":")
    if not sep:
        raise AuthenticationFailed("malformed Basic credentials")
    return username, password


class BasicAuthenticator:
    """Checks Basic credentials with ``verify`` and caches the outcome."""

    def __init__(
        self,
        verify: Verify,
        *,
        ttl: float = 300.0,
        failure_ttl: float = 2.0,
        max_entries: int = 10_000,
    ) -> None:
        self._verify = verify
        self._ttl = ttl
        self._failure_ttl = failure_ttl
        self._max_entries = max_entries
        self._key = secrets.token_bytes(32)
        self._known: dict[bytes, tuple[float, str | None]] = {}  # digest -> (expiry, user)
        self._inflight: dict[bytes, asyncio.Future[str | None]] = {}

    def _digest(self, credentials: str) -> bytes:
        return hashlib.blake2b(credentials.encode(), key=self._key, digest_size=32).digest()

    def forget(self) -> None:
        """Drop the cache (after a password change)."""
        self._known.clear()

    async def authenticate(self, header: str | None) -> str:
        """The username, or ``AuthenticationFailed``."""
        username, password = parse_basic(header)
        # The cache is keyed by a keyed digest: timing of the lookup reveals nothing usable.
        digest = self._digest(f"{username}:{password}")
        entry = self._known.get(digest)
        if entry is not None and entry[0] > time.monotonic():
            user = entry[1]
        else:
            user = await self._check(digest, username, password)
        if user is None:
            raise AuthenticationFailed("wrong username or password")
        return user

    async def _check(self, digest: bytes, username: str, password: str) -> str | None:
        pending = self._inflight.get(digest)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()
        self._inflight[digest] = future
        try:
            ok = await self._verify(username, password)
            user = username if ok else None
            if len(self._known) >= self._max_entries:
                self._known.clear()
            ttl = self._ttl if ok else self._failure_ttl
            self._known[digest] = (time.monotonic() + ttl, user)
            future.set_result(user)
            return user
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved
            raise
        finally:
            del self._inflight[digest]
