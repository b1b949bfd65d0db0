"""A rate limit per caller on ``/api/v2``: 429 Too Many Requests with ``Retry-After``, as Sigfox.

Sigfox limits its API per API user and answers ``429`` beyond the limit. lorafox keeps one token
bucket per authenticated caller (user or API user) in memory: ``rate`` tokens a second, up to
``burst`` (two seconds' worth, at least one); each request takes one token. The callbacks
(``/sigfox/*``), ``/healthz`` and the DynamoDB endpoint are not limited, and neither are requests
that fail authentication (they never reach the bucket). Several instances behind a load
balancer each keep their own buckets.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request
from starlette.exceptions import HTTPException

from lorafox.api.context import Caller

__all__ = ["RateLimiter", "rate_limited"]

_MAX_CALLERS = 10_000
"""Buckets kept before the full (idle) ones are dropped."""


@dataclass(slots=True)
class _Bucket:
    tokens: float
    stamp: float


class RateLimiter:
    """Token buckets keyed by caller; ``take`` answers how long to wait (0: go ahead)."""

    def __init__(
        self,
        rate: float,
        *,
        burst: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = float(burst if burst is not None else max(1, round(2 * rate)))
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str) -> float:
        """Take a token for ``key``: 0.0 when there was one, else the seconds until there is."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= _MAX_CALLERS:
                self._forget_idle(now)
            bucket = self._buckets[key] = _Bucket(self.burst, now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.stamp) * self.rate)
            bucket.stamp = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate

    def _forget_idle(self, now: float) -> None:
        full = [
            key
            for key, b in self._buckets.items()
            if b.tokens + (now - b.stamp) * self.rate >= self.burst
        ]
        for key in full:
            del self._buckets[key]


async def rate_limited(request: Request, caller: Caller) -> None:
    """Dependency of the ``/api/v2`` routers: 429 when the caller's bucket is empty."""
    limiter: RateLimiter | None = request.app.state.rate_limiter
    if limiter is None:
        return
    wait = limiter.take(f"{caller.kind.value}:{caller.id}")
    if wait:
        seconds = max(1, math.ceil(wait))
        raise HTTPException(
            429,
            f"Too many requests: at most {limiter.rate:g} a second per caller; "
            f"retry in {seconds} s",
            headers={"Retry-After": str(seconds)},
        )
