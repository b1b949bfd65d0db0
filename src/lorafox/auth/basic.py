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

__all__ = ["BasicAuthenticator", "VerifiedCache", "parse_basic"]

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


class VerifiedCache:
    """Outcomes of expensive credential checks, keyed by a keyed BLAKE2b digest (key made per
    process) of what was checked: successes for ``ttl`` seconds, failures for ``failure_ttl``.
    Concurrent checks of the same digest share one verification."""

    def __init__(
        self, *, ttl: float = 300.0, failure_ttl: float = 2.0, max_entries: int = 10_000
    ) -> None:
        self._ttl = ttl
        self._failure_ttl = failure_ttl
        self._max_entries = max_entries
        self._key = secrets.token_bytes(32)
        self._known: dict[bytes, tuple[float, bool]] = {}  # digest -> (expiry, outcome)
        self._inflight: dict[bytes, asyncio.Future[bool]] = {}

    def digest(self, material: str) -> bytes:
        return hashlib.blake2b(material.encode(), key=self._key, digest_size=32).digest()

    def known(self, digest: bytes) -> bool | None:
        """The remembered outcome for ``digest``, None when unknown or expired."""
        # Keyed digests: the timing of the lookup reveals nothing usable.
        entry = self._known.get(digest)
        if entry is not None and entry[0] > time.monotonic():
            return entry[1]
        return None

    def forget(self) -> None:
        self._known.clear()

    async def verify(self, digest: bytes, check: Callable[[], Awaitable[bool]]) -> bool:
        """Run ``check`` (once for concurrent callers of one digest) and remember its outcome."""
        pending = self._inflight.get(digest)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._inflight[digest] = future
        try:
            ok = await check()
            if len(self._known) >= self._max_entries:
                self._known.clear()
            ttl = self._ttl if ok else self._failure_ttl
            self._known[digest] = (time.monotonic() + ttl, ok)
            future.set_result(ok)
            return ok
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved
            raise
        finally:
            del self._inflight[digest]


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
        self._cache = VerifiedCache(ttl=ttl, failure_ttl=failure_ttl, max_entries=max_entries)

    def forget(self) -> None:
        """Drop the cache (after a password change)."""
        self._cache.forget()

    async def authenticate(self, header: str | None) -> str:
        """The username, or ``AuthenticationFailed``."""
        username, password = parse_basic(header)
        cache = self._cache
        digest = cache.digest(f"{username}:{password}")
        ok = cache.known(digest)
        if ok is None:
            ok = await cache.verify(digest, lambda: self._verify(username, password))
        if not ok:
            raise AuthenticationFailed("wrong username or password")
        return username
