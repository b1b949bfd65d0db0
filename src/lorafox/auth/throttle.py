"""Login throttling: wrong passwords are counted per address and per login, and past a limit
the next attempts are refused before any password hashing is done.

Every wrong password costs an argon2 verification (tens of ms of CPU); without a bound, a few
parallel guessers saturate the machine and slow real logins down. ``LoginThrottle`` keeps, per
key (``addr:…`` and ``login:…``), the failures of the current window; a key with
``max_failures`` failures in ``window`` seconds is locked for ``lockout`` seconds. The address
limit is the lower one, so a guesser is stopped at its address before it can lock a real user
out; the login limit stops guessing spread over many addresses. Memory is bounded by
``max_keys`` (the oldest windows are dropped first).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["LoginThrottle", "ThrottleLimits"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ThrottleLimits:
    """Failures allowed per address and per login within ``window`` seconds, and how long a key
    that went past its limit stays locked."""

    per_address: int = 20
    per_login: int = 50
    window: float = 60.0
    lockout: float = 60.0
    max_keys: int = 100_000


@dataclass(slots=True)
class _Count:
    started: float
    failures: int = 0
    locked_until: float = 0.0


class LoginThrottle:
    """``retry_after`` before checking a password; ``failed`` / ``succeeded`` after."""

    def __init__(
        self,
        limits: ThrottleLimits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        self.limits = limits or ThrottleLimits()
        self._clock = clock
        self._on_failure = on_failure
        self._counts: dict[str, _Count] = {}

    def retry_after(self, address: str | None, login: str) -> float:
        """Seconds until ``login`` may be tried from ``address`` again; 0 when it may now."""
        now = self._clock()
        wait = 0.0
        for key in _keys(address, login):
            count = self._counts.get(key)
            if count is not None and count.locked_until > now:
                wait = max(wait, count.locked_until - now)
        return wait

    def failed(self, address: str | None, login: str) -> None:
        """A wrong password (or an unknown login) for ``login`` from ``address``."""
        if self._on_failure is not None:
            self._on_failure()
        now = self._clock()
        limits = self.limits
        for key in _keys(address, login):
            count = self._counts.get(key)
            if count is None or now - count.started >= limits.window:
                if count is None and len(self._counts) >= limits.max_keys:
                    self._evict(now)
                count = self._counts[key] = _Count(started=now)
            count.failures += 1
            limit = limits.per_address if key.startswith("addr:") else limits.per_login
            if count.failures >= limit and count.locked_until <= now:
                count.locked_until = now + limits.lockout
                log.warning(
                    "login throttled: %d wrong passwords for %s within %g s; refused for %g s",
                    count.failures,
                    key,
                    limits.window,
                    limits.lockout,
                )

    def succeeded(self, address: str | None, login: str) -> None:
        """A right password: the login's failures are forgotten (the address's are kept)."""
        self._counts.pop(f"login:{login}", None)

    def _evict(self, now: float) -> None:
        stale = [
            k
            for k, c in self._counts.items()
            if now - c.started >= self.limits.window and c.locked_until <= now
        ]
        for key in stale or sorted(self._counts, key=lambda k: self._counts[k].started)[:1000]:
            del self._counts[key]


def _keys(address: str | None, login: str) -> tuple[str, ...]:
    login_key = f"login:{login[:256]}"
    return (f"addr:{address}", login_key) if address else (login_key,)
