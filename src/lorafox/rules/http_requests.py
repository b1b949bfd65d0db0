"""The http action's requests: kept in the store (``RuleHttpOutbox``) until answered or given
up, each sent by one instance at a time under a claim with a lease.

* ``post`` keeps a request already claimed by this instance until ``now + lease``, sends it at
  once (retried with back-off), then forgets it.
* ``run`` renews every claim this instance holds each third of the lease, so that no claim
  lapses under a living instance however long its requests take, and claims — one statement,
  ``FOR UPDATE SKIP LOCKED`` on PostgreSQL — the requests whose claim lapsed, and sends them:
  those of an instance that died (after at most one lease) or stopped (``close`` ends its
  claims at once), and those a former run of this instance left.
* Before each retry a sender checks that it still holds its claim (renewing it); one that lost
  it (its instance stalled past the lease and another took the request) stops there.

So a request is sent by one instance at a time, and only a request whose instance died or
stopped while sending it may reach its receiver twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable

import httpx

from lorafox.errors import LorafoxError
from lorafox.ports.rules import HttpRequest, RuleHttpOutbox
from lorafox.rules.errors import ActionFailed

__all__ = ["MAX_RESENDING", "HttpRequests", "instance_name"]

log = logging.getLogger(__name__)

MAX_RESENDING = 64
"""Requests claimed from the outbox (left by a dead or stopped instance) sent at once, at most."""


def instance_name() -> str:
    """This process among the instances: host, pid and a random part (at most 64 characters)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclasses.dataclass(slots=True)
class HttpRequests:
    """Sends the http action's requests (see the module docstring)."""

    http: httpx.AsyncClient
    outbox: RuleHttpOutbox | None = None
    attempts: int = 3
    backoff: float = 1.0
    lease: float = 30.0
    """Seconds a claim lasts without being renewed (``rules.http_lease_seconds``)."""
    instance: str = dataclasses.field(default_factory=instance_name)
    clock: Callable[[], float] = time.time
    _resending: set[asyncio.Task[None]] = dataclasses.field(default_factory=set)

    def _ms(self, seconds: float = 0.0) -> int:
        return int((self.clock() + seconds) * 1000)

    async def post(self, request: HttpRequest) -> None:
        """Keep ``request`` (claimed here), send it with the retries, then forget it;
        ``ActionFailed`` when it is given up. Cancelled, it stays kept for another sender."""
        if self.outbox is None:
            await self._send(request)
            return
        kept = await self.outbox.keep(request, self.instance, self._ms(self.lease))
        try:
            answered = await self._send(dataclasses.replace(request, id=kept))
        except ActionFailed:
            await self.outbox.forget(kept)
            raise
        if answered:  # else another instance holds it now, and forgets it once it is done
            await self.outbox.forget(kept)

    async def run(self) -> None:
        """Renew this instance's claims and send the lapsed requests, every third of the
        lease, until cancelled."""
        if self.outbox is None:
            return
        while True:
            await self.sweep()
            await asyncio.sleep(self.lease / 3)

    async def sweep(self) -> int:
        """One round of ``run``: the claims renewed, the lapsed requests claimed and started
        (how many)."""
        if self.outbox is None:
            return 0
        room = MAX_RESENDING - len(self._resending)
        try:
            await self.outbox.renew(self.instance, self._ms(self.lease))
            claimed = (
                await self.outbox.claim(self.instance, self._ms(), self._ms(self.lease), room)
                if room > 0
                else []
            )
        except LorafoxError as exc:
            log.warning("cannot claim the http requests of topic rules: %s", exc.message)
            return 0
        if claimed:
            log.info("sending %d http requests of topic rules left unanswered", len(claimed))
        for request in claimed:
            task = asyncio.create_task(self._resend(request))
            self._resending.add(task)
            task.add_done_callback(self._resending.discard)
        return len(claimed)

    async def _resend(self, request: HttpRequest) -> None:
        try:
            if not await self._send(request):
                return
        except ActionFailed as exc:
            log.warning("rule %s: a kept http request failed: %s", request.rule, exc)
        except LorafoxError as exc:
            log.warning("rule %s: a kept http request: %s", request.rule, exc.message)
            return  # the store is away: the claim lapses and a sweep takes it again
        if self.outbox is not None:
            with contextlib.suppress(LorafoxError):
                await self.outbox.forget(request.id)

    async def close(self) -> None:
        """Stop the requests being resent and end this instance's claims, so that another
        instance (or the next start) sends at once what is left."""
        for task in list(self._resending):
            task.cancel()
        for task in list(self._resending):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.outbox is not None:
            try:
                await self.outbox.release(self.instance)
            except LorafoxError as exc:
                log.warning("cannot release the http requests of topic rules: %s", exc.message)

    async def _holds(self, request: HttpRequest) -> bool:
        """Whether this instance still holds ``request`` (its claim renewed); True when it is
        not kept."""
        if self.outbox is None or not request.id:
            return True
        return await self.outbox.renew(self.instance, self._ms(self.lease), request.id) > 0

    async def _send(self, request: HttpRequest) -> bool:
        """Whether it was answered (False: another instance took it between two tries);
        ``ActionFailed`` when it is given up."""
        delay = self.backoff
        failure = ""
        for attempt in range(self.attempts):
            if attempt:
                await asyncio.sleep(delay)
                delay *= 2
                if not await self._holds(request):
                    log.info("rule %s: its http request is sent by another instance", request.rule)
                    return False
            try:
                response = await self.http.post(
                    request.url, content=request.body, headers=request.headers
                )
            except httpx.HTTPError as exc:
                failure = f"POST {request.url} failed: {exc}"
                continue
            if response.status_code < 300:
                return True
            failure = f"POST {request.url} answered {response.status_code}"
            if response.status_code < 500 and response.status_code != 429:
                break  # the request itself is refused: retrying would not help
        raise ActionFailed(failure)
