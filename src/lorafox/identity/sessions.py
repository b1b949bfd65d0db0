"""The web console's sessions: a login with a user's email and password opens one.

A session id is 256 random bits, handed to the browser once (in a cookie) and stored as its
SHA-256 only, in the database: every instance behind a load balancer sees it, and a copy of the
table opens nothing. A session ends at an absolute expiry (``session_hours`` after the login),
after ``idle_minutes`` without a request, at logout, or with its user. Each request reads the
user's grants again, so a role change applies at once, as it does on the API.

The CSRF token of a session is derived from its id (an HMAC of a fixed label keyed by the id):
it is known only to whoever holds the session, needs no storage, and is compared in constant
time. The login goes through ``PrincipalAuthenticator.check``: the same argon2 verification,
the same throttling per address and per login, the same answer for an unknown email and a
wrong password; API users (machine logins) cannot open a session.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from lorafox.auth.principals import PrincipalAuthenticator
from lorafox.domain import Principal, PrincipalKind
from lorafox.errors import AuthenticationFailed
from lorafox.ports.sessions import SessionStore

__all__ = ["ConsoleSessions", "OpenSession", "SessionLimits", "csrf_token"]

log = logging.getLogger(__name__)

_TOUCH_MS = 60_000
"""Activity is written at most once a minute per session (not at every page view), or four
times per idle period when that is shorter."""
_CSRF_LABEL = b"lorafox console csrf"
_TOKEN_MAX = 100


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def csrf_token(session_token: str) -> str:
    """The CSRF token of the session ``session_token``."""
    return hmac.new(session_token.encode(), _CSRF_LABEL, hashlib.sha256).hexdigest()


@dataclass(slots=True, frozen=True)
class SessionLimits:
    """How long a session lasts: from the login, and without a request (seconds)."""

    lifetime: float = 12 * 3600
    idle: float = 3600


@dataclass(slots=True, frozen=True)
class OpenSession:
    """A session as one request sees it: its token (the cookie), the user, the CSRF token."""

    token: str
    principal: Principal
    csrf: str
    expires_at: int
    """epoch ms: the absolute expiry"""

    def csrf_matches(self, presented: str | None) -> bool:
        """Whether ``presented`` is this session's CSRF token (constant time)."""
        if not presented:
            return False
        return hmac.compare_digest(presented.encode("utf-8", "replace"), self.csrf.encode())


class ConsoleSessions:
    """``login`` opens a session, ``resolve`` finds one from its token, ``logout`` ends it."""

    def __init__(
        self,
        store: SessionStore,
        auth: PrincipalAuthenticator,
        limits: SessionLimits | None = None,
        clock: Callable[[], int] = lambda: int(time.time() * 1000),
    ) -> None:
        self._store = store
        self._auth = auth
        self.limits = limits or SessionLimits()
        self._clock = clock

    async def login(self, login: str, password: str, address: str | None) -> OpenSession:
        """A new session for this user, or ``AuthenticationFailed`` (``LoginThrottled``)."""
        principal = await self._auth.check(login.strip(), password, address)
        if principal.kind is not PrincipalKind.USER:
            raise AuthenticationFailed("wrong username or password")
        now = self._clock()
        await self._store.delete_expired_sessions(now, now - int(self.limits.idle * 1000))
        token = secrets.token_urlsafe(32)
        expires_at = now + int(self.limits.lifetime * 1000)
        await self._store.add_session(_hash(token), principal.id, now=now, expires_at=expires_at)
        log.info("console session opened for %s", principal.id)
        return OpenSession(token, principal, csrf_token(token), expires_at)

    async def resolve(self, token: str | None) -> OpenSession | None:
        """The session of ``token`` with its user's grants as they are now; None when there is
        none, or it expired (then it is deleted)."""
        if not token or len(token) > _TOKEN_MAX:
            return None
        now = self._clock()
        id_hash = _hash(token)
        row = await self._store.find_session(id_hash, now)
        if row is None:
            return None
        if now - row.seen_at >= self.limits.idle * 1000:
            await self._store.delete_session(id_hash)
            return None
        principal = await self._auth.user(row.login)
        if principal is None or principal.id != row.user_id:
            await self._store.delete_session(id_hash)
            return None
        if now - row.seen_at >= min(_TOUCH_MS, self.limits.idle * 250):
            await self._store.touch_session(id_hash, now)
        return OpenSession(token, principal, csrf_token(token), row.expires_at)

    async def logout(self, token: str | None) -> None:
        """End the session of ``token`` (nothing when there is none)."""
        if token and len(token) <= _TOKEN_MAX:
            await self._store.delete_session(_hash(token))
