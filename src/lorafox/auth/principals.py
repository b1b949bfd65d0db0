"""Who is calling: HTTP Basic credentials → a ``Principal`` (a user or an API user).

The login is looked up in the store on every request, so a deleted login, changed roles or a
renewed credential take effect at once, on every instance sharing the database. Then:

- API users (login = their id): the password is compared in constant time with the decrypted
  secret; no hashing, so they stay cheap under load.
- users (login = their email): argon2 verifies the password once; the success is remembered
  for ``ttl`` seconds under a keyed digest of (user id, stored hash, password). Changing the
  password changes the stored hash, so entries made with the old one stop matching everywhere.

Unknown logins pay one argon2 verification too, so timing does not tell which emails exist.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import time

from lorafox.auth.basic import VerifiedCache, parse_basic
from lorafox.auth.passwords import hash_password, verify_password
from lorafox.auth.secretbox import SecretBox
from lorafox.auth.throttle import LoginThrottle
from lorafox.domain import Principal, PrincipalKind
from lorafox.errors import AuthenticationFailed, LoginThrottled
from lorafox.ports.store import IdentityStore

__all__ = ["PrincipalAuthenticator"]

log = logging.getLogger(__name__)

_WRONG = "wrong username or password"
_LOGIN_MAX = 250  # the longest email


class PrincipalAuthenticator:
    """Resolves credentials to principals; ``authenticate`` for a Basic header, ``check`` for
    a pair (MQTT, the console's login), ``user`` for a console session's user,
    ``api_user_secret`` for request signing (SigV4)."""

    def __init__(
        self,
        store: IdentityStore,
        box: SecretBox,
        *,
        ttl: float = 300.0,
        failure_ttl: float = 2.0,
        max_entries: int = 10_000,
        throttle: LoginThrottle | None = None,
        max_hashing: int = 2,
    ) -> None:
        self._store = store
        self._box = box
        self._throttle = throttle or LoginThrottle()
        # argon2 runs in threads: at most this many at once, whatever the number of guessers
        self._hashing = asyncio.Semaphore(max_hashing)
        self._cache = VerifiedCache(ttl=ttl, failure_ttl=failure_ttl, max_entries=max_entries)
        self._dummy_hash: str | None = None

    async def authenticate(self, header: str | None, address: str | None = None) -> Principal:
        """The principal behind an ``Authorization: Basic`` value, or ``AuthenticationFailed``
        (``LoginThrottled`` after too many wrong passwords from ``address`` or for the login)."""
        login, password = parse_basic(header)
        return await self.check(login, password, address)

    async def check(self, login: str, password: str, address: str | None = None) -> Principal:
        """The principal for this login and password, or ``AuthenticationFailed``; refused
        before any hashing while ``address`` or ``login`` is throttled."""
        wait = self._throttle.retry_after(address, login)
        if wait:
            seconds = max(1, math.ceil(wait))
            raise LoginThrottled(
                f"too many wrong passwords: retry in {seconds} s", retry_after=seconds
            )
        try:
            principal = await self._check(login, password)
        except AuthenticationFailed:
            self._throttle.failed(address, login)
            raise
        self._throttle.succeeded(address, login)
        return principal

    async def _check(self, login: str, password: str) -> Principal:
        usable = len(login) <= _LOGIN_MAX and "\x00" not in login
        found = await self._store.find_login(login) if usable else None
        if found is None:
            await self._unknown(login, password)
            raise AuthenticationFailed(_WRONG)
        principal = found.principal
        if principal.kind is PrincipalKind.API_USER:
            expected = self._box.decrypt(found.secret).encode()
            if not hmac.compare_digest(password.encode(), expected):
                raise AuthenticationFailed(_WRONG)
            return principal
        digest = self._cache.digest(f"{principal.id}\0{found.secret}\0{password}")
        ok = self._cache.known(digest)
        if ok is None:
            stored_hash = found.secret

            async def verify() -> bool:
                async with self._hashing:
                    ok = await asyncio.to_thread(verify_password, stored_hash, password)
                if ok:
                    await self._store.record_login(principal.id, int(time.time() * 1000))
                return ok

            ok = await self._cache.verify(digest, verify)
        if not ok:
            raise AuthenticationFailed(_WRONG)
        return principal

    async def user(self, login: str) -> Principal | None:
        """The user behind ``login`` as it is now (its grants read again), None when it is
        gone; no password is checked (the console's sessions were opened with one)."""
        usable = len(login) <= _LOGIN_MAX and "\x00" not in login
        found = await self._store.find_login(login) if usable else None
        if found is None or found.principal.kind is not PrincipalKind.USER:
            return None
        return found.principal

    async def api_user_secret(self, login: str) -> tuple[Principal, str] | None:
        """An API user and its password (the secret key of SigV4 requests), or None."""
        usable = len(login) <= _LOGIN_MAX and "\x00" not in login
        found = await self._store.find_login(login) if usable else None
        if found is None or found.principal.kind is not PrincipalKind.API_USER:
            return None
        return found.principal, self._box.decrypt(found.secret)

    def forget(self) -> None:
        """Drop what was remembered (not needed after a password change; see the module)."""
        self._cache.forget()

    async def _unknown(self, login: str, password: str) -> None:
        digest = self._cache.digest(f"\0unknown\0{login}\0{password}")
        if self._cache.known(digest) is not None:
            return
        if self._dummy_hash is None:
            self._dummy_hash = await asyncio.to_thread(hash_password, "lorafox: no such login")
        dummy = self._dummy_hash

        async def verify() -> bool:
            async with self._hashing:
                await asyncio.to_thread(verify_password, dummy, password)
            return False

        await self._cache.verify(digest, verify)
