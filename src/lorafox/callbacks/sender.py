"""Makes the stored deliveries' requests: bounded in time and concurrency, retried with
exponential back-off for a bounded time, each attempt recorded.

A delivery is marked delivered only once its destination answered 2xx; one whose attempt was
cut short (a crash, a shutdown) stays pending and is made again at the next start, so nothing
confirmed is sent twice and nothing unconfirmed is lost. A callback whose delivery is given up
is marked ``dead`` and reported as an event; its next success clears the mark.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from lorafox.callbacks.destinations import DestinationGuard, DestinationRefused
from lorafox.domain import Delivery, DeliveryState, Event, EventType, Severity
from lorafox.errors import LorafoxError
from lorafox.ports.callbacks import AttemptOutcome, CallbackStore

__all__ = ["CallbackSender", "Delivering", "next_attempt"]

log = logging.getLogger(__name__)


@dataclass(slots=True, frozen=True)
class Delivering:
    """How deliveries are made."""

    timeout: float = 10.0
    """Seconds for one request (connect, send and the answer's head)."""
    retry_for: float = 6 * 3600.0
    """Seconds after a message's first attempt beyond which it is given up."""
    backoff: float = 1.0
    """Seconds before the first retry; doubled at each further one."""
    max_backoff: float = 600.0
    per_destination: int = 4
    """Requests in flight to one host and port."""
    max_in_flight: int = 64


def next_attempt(settings: Delivering, attempts: int, now: int) -> int:
    """When to retry after ``attempts`` failed attempts (epoch ms)."""
    delay = min(settings.backoff * 2 ** (attempts - 1), settings.max_backoff)
    return now + int(delay * 1000)


def _destination(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.lower()}"


class CallbackSender:
    """Runs the outbox of deliveries until ``close``."""

    def __init__(
        self,
        store: CallbackStore,
        guard: DestinationGuard,
        settings: Delivering,
        clock: Callable[[], int],
        report: Callable[[Event], None],
        *,
        poll_interval: float = 0.5,
    ) -> None:
        self._store = store
        self._guard = guard
        self._settings = settings
        self._clock = clock
        self._report = report
        self._poll_interval = poll_interval
        self._client = httpx.AsyncClient(
            timeout=settings.timeout,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=settings.max_in_flight),
            headers={"User-Agent": "lorafox callbacks"},
        )
        self._in_flight: dict[int, str] = {}  # delivery id → destination
        self._per_destination: dict[str, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._dead: set[str] = set()
        self._wakeup = asyncio.Event()
        self._closing = False

    async def start(self) -> None:
        self._dead = {c.id for c in await self._store.all_callbacks() if c.dead}

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self) -> None:
        try:
            while not self._closing:
                try:
                    started = await self._start_due()
                except LorafoxError as exc:
                    log.error("callbacks: cannot read the deliveries due: %s", exc)
                    started = 0
                if started:
                    continue
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._poll_interval):
                        await self._wakeup.wait()
        finally:
            await self._stop()

    async def _start_due(self) -> int:
        """Start the due deliveries whose destination has room; how many started."""
        free = self._settings.max_in_flight - len(self._in_flight)
        if free <= 0:
            return 0
        due = await self._store.due(self._clock(), free * 4, skip=self._in_flight.keys())
        started = 0
        for delivery in due:
            destination = _destination(delivery.url)
            if self._per_destination.get(destination, 0) >= self._settings.per_destination:
                continue
            self._in_flight[delivery.id] = destination
            self._per_destination[destination] = self._per_destination.get(destination, 0) + 1
            task = asyncio.create_task(self._attempt(delivery))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
            started += 1
            if started >= free:
                break
        return started

    async def _attempt(self, delivery: Delivery) -> None:
        status: int | None = None
        error: str | None = None
        give_up = False
        try:
            await self._guard.check(delivery.url)
            async with self._client.stream(
                delivery.method,
                delivery.url,
                headers=delivery.headers,
                content=None if delivery.body is None else delivery.body.encode(),
            ) as response:
                status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except DestinationRefused as exc:
            error, give_up = str(exc), True
        except httpx.TimeoutException:
            error = f"no answer within {self._settings.timeout:g} s"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        try:
            await self._record(delivery, status, error, give_up)
        except LorafoxError as exc:  # stays pending: made again later
            log.error("callbacks: cannot record delivery %d: %s", delivery.id, exc)
        finally:
            destination = self._in_flight.pop(delivery.id)
            self._per_destination[destination] -= 1
            if not self._per_destination[destination]:
                del self._per_destination[destination]
            self._wakeup.set()

    async def _record(
        self, delivery: Delivery, status: int | None, error: str | None, give_up: bool
    ) -> None:
        now = self._clock()
        attempts = delivery.attempts + 1
        if error is None:
            outcome = AttemptOutcome(DeliveryState.DELIVERED, attempts, now, status, None, now)
        elif give_up or now - delivery.created_at >= self._settings.retry_for * 1000:
            outcome = AttemptOutcome(DeliveryState.FAILED, attempts, now, status, error, now)
        else:
            retry = next_attempt(self._settings, attempts, now)
            outcome = AttemptOutcome(DeliveryState.PENDING, attempts, retry, status, error, None)
        await self._store.record_attempt(delivery.id, outcome)
        if outcome.state is DeliveryState.FAILED and delivery.callback_id not in self._dead:
            await self._mark(delivery, dead=True, why=error or "")
        elif outcome.state is DeliveryState.DELIVERED and delivery.callback_id in self._dead:
            await self._mark(delivery, dead=False, why="")

    async def _mark(self, delivery: Delivery, *, dead: bool, why: str) -> None:
        await self._store.set_dead(delivery.callback_id, dead)
        if dead:
            self._dead.add(delivery.callback_id)
            message = f"callback {delivery.callback_id} is failing: {why}"
            log.warning("%s (to %s)", message, _destination(delivery.url))
        else:
            self._dead.discard(delivery.callback_id)
            message = f"callback {delivery.callback_id} delivers again"
            log.info(message)
        self._report(
            Event(
                type=EventType.CALLBACK_FAILING if dead else EventType.CALLBACK_RESTORED,
                severity=Severity.ERROR if dead else Severity.INFO,
                time=self._clock(),
                message=message,
                device_type_id=delivery.device_type_id,
                data={"callbackId": delivery.callback_id},
            )
        )

    def close(self) -> None:
        """Stop taking deliveries; those in flight get a moment to finish."""
        self._closing = True
        self._wakeup.set()

    async def _stop(self, grace: float = 2.0) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=grace)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._client.aclose()
