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
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from lorafox.callbacks.destinations import DestinationGuard, DestinationRefused
from lorafox.callbacks.directory import CallbackDirectory
from lorafox.callbacks.lanes import Lane, Lanes
from lorafox.callbacks.requests import batch_request_for, request_for, values_request
from lorafox.callbacks.templates import render, uplink_values
from lorafox.domain import (
    Callback,
    CallbackChannel,
    CallbackRequest,
    Delivery,
    DeliveryState,
    Event,
    EventType,
    Mail,
    Severity,
    StoredUplink,
)
from lorafox.errors import LorafoxError
from lorafox.ports.callbacks import AttemptOutcome, CallbackStore, WithMessage

__all__ = ["CallbackSender", "Delivering", "mail_for", "next_attempt"]

log = logging.getLogger(__name__)

MAX_LINES = 500
"""Messages in one request of a BATCH_URL callback."""
_COALESCE_S = 0.02
"""How long outcomes are gathered before they are recorded together."""
_CURSOR_EVERY_S = 1.0
"""How often the lanes' cursors are stored when no outcome comes."""


def first_delivery(callback: Callback, stored: StoredUplink, now: int) -> Delivery:
    """A lane's first attempt for ``stored``: not a row (yet)."""
    return Delivery.owed(
        callback, stored.uplink.device, stored.uplink.time, now, message_id=stored.id
    )


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


def mail_for(callback: Callback, values: Mapping[str, Any]) -> Mail:
    """The mail an EMAIL callback sends with these variables."""
    return Mail(
        callback.recipient or "",
        render(callback.subject or "", values),
        render(callback.message or "", values),
        "callback",
    )


def _destination(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.lower()}"


class CallbackSender:
    """Runs the outbox of deliveries until ``close``."""

    def __init__(
        self,
        store: CallbackStore,
        directory: CallbackDirectory,
        guard: DestinationGuard,
        settings: Delivering,
        clock: Callable[[], int],
        report: Callable[[Event], None],
        *,
        poll_interval: float = 0.5,
        mail: Callable[[Sequence[Mail]], Awaitable[bool]] | None = None,
        lanes: Lanes | None = None,
    ) -> None:
        self._store = store
        self._lanes = lanes
        self._mail = mail
        self._directory = directory
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
        self._in_flight: set[int] = set()  # deliveries until their outcome is recorded
        self._first = 0  # first attempts (of the lanes) in flight
        self._rows_changed = True  # the outbox's rows may have become due
        self._rows_read_at = 0.0
        self._per_destination: dict[str, int] = {}  # requests in flight
        self._tasks: set[asyncio.Task[None]] = set()
        self._dead: set[str] = set()
        self._outcomes: list[tuple[Delivery, AttemptOutcome]] = []
        self._outcome_ready = asyncio.Event()
        self._wakeup = asyncio.Event()
        self._closing = False
        # instances sharing a database: only the leader retries the outbox's rows
        self.leads: Callable[[], bool] = lambda: True
        # the first attempts are rows of the outbox (``SharedLanes``): a message's row, once
        # delivered, is deleted (its message left the queue when it was written)
        self.forgets_delivered = False

    async def start(self) -> None:
        self._dead = {c.id for c in await self._store.all_callbacks() if c.dead}

    def wake(self) -> None:
        """Deliveries were stored or made due again."""
        self._rows_changed = True
        self._wakeup.set()

    def add(self, stored: Sequence[StoredUplink]) -> None:
        """A pipeline sink: newly committed uplinks, for the lanes (nothing is awaited)."""
        if self._lanes is not None and self._lanes.lanes:
            self._lanes.add(stored)
            self._wakeup.set()
        elif self._lanes is not None:
            self._lanes.add(stored)

    async def run(self) -> None:
        recorder = asyncio.create_task(self._record_outcomes())
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
            await self._stop(recorder)

    async def _start_due(self) -> int:
        """Start the due deliveries whose destination has room (those of a BATCH_URL callback
        together, in one request); how many started."""
        free = self._settings.max_in_flight - len(self._in_flight) - self._first
        if free <= 0:
            return 0
        loop = asyncio.get_running_loop()
        due: list[WithMessage] = []
        read = self._rows_changed or loop.time() - self._rows_read_at >= self._poll_interval
        if read and self.leads():
            self._rows_changed = False
            self._rows_read_at = loop.time()
            due = await self._store.due(self._clock(), free * 4, skip=self._in_flight)
            if len(due) == free * 4:
                self._rows_changed = True  # more may be due
            await self._know({d.callback_id for d, _ in due})
        started = 0
        batches: dict[str, list[tuple[Delivery, StoredUplink]]] = {}
        for delivery, message in due:
            if started >= free:
                break
            callback = self._directory.by_id(delivery.callback_id)
            if (
                callback is not None
                and callback.channel is CallbackChannel.EMAIL
                and (delivery.variables is not None or message is not None)
            ):
                values = delivery.variables
                if values is None and message is not None:
                    values = uplink_values(message, callback.device_type_id)
                started += self._start_mail(delivery, mail_for(callback, values or {}))
            elif callback is not None and delivery.variables is not None:
                started += self._start([delivery], values_request(callback, delivery.variables))
            elif callback is None or message is None:
                started += self._start([delivery], None, deleted=message is None)
            elif callback.channel is CallbackChannel.BATCH_URL:
                batch = batches.setdefault(callback.id, [])
                if len(batch) < MAX_LINES:
                    batch.append((delivery, message))
            else:
                started += self._start([delivery], request_for(callback, message))
        for callback_id, items in batches.items():
            callback = self._directory.by_id(callback_id)
            assert callback is not None  # noqa: S101 - read just above, on the same loop turn
            request = batch_request_for(callback, [message for _, message in items])
            started += self._start([delivery for delivery, _ in items], request)
        if started < free and self._lanes is not None:
            started += await self._start_first(free - started)
        return started

    async def _know(self, callback_ids: set[str]) -> None:
        """Read the callbacks of due rows that the directory does not know: one saved on
        another instance a moment ago may owe rows before this one heard of it (a disabled or
        deleted one's rows are then given up)."""
        for callback_id in callback_ids:
            if self._directory.by_id(callback_id) is None:
                found = await self._store.get_callback(callback_id)
                if found is not None and found.enabled:
                    await self._directory.refresh(found.device_type_id)

    async def _start_first(self, free: int) -> int:
        """Start the lanes' first attempts, a request per lane in turn while there is room."""
        assert self._lanes is not None  # noqa: S101 - checked by the caller
        now = self._clock()
        active = [
            (lane, callback)
            for lane in list(self._lanes.lanes.values())
            if (callback := self._directory.by_id(lane.callback_id)) is not None
        ]
        started = 0
        while active and started < free:
            still = []
            for lane, callback in active:
                if started >= free:
                    break
                await self._lanes.fill(lane, callback)
                if not self._lanes.ready(lane, callback, now):
                    continue
                count = self._start_lane(lane, callback, now)
                if count:
                    started += count
                    still.append((lane, callback))
            active = still
        return started

    def _start_lane(self, lane: Lane, callback: Callback, now: int) -> int:
        """Start the lane's next request (or mail); how many messages it carries."""
        batch = callback.channel is CallbackChannel.BATCH_URL
        taken = lane.hand_out(MAX_LINES if batch else 1)
        deliveries = [first_delivery(callback, stored, now) for stored in taken]
        if callback.channel is CallbackChannel.EMAIL:
            values = uplink_values(taken[0], callback.device_type_id)
            count = self._start_mail(deliveries[0], mail_for(callback, values))
        elif batch:
            count = self._start(deliveries, batch_request_for(callback, taken))
        else:
            count = self._start(deliveries, request_for(callback, taken[0]))
        if not count:
            lane.put_back(taken)
        return count

    def _track(self, delivery: Delivery) -> None:
        if delivery.id:
            self._in_flight.add(delivery.id)
        else:
            self._first += 1

    def _start_mail(self, delivery: Delivery, mail: Mail) -> int:
        """Queue an EMAIL callback's mail in the mail outbox (its delivery is then made)."""
        if self._per_destination.get("mail:", 0) >= self._settings.per_destination:
            return 0
        self._per_destination["mail:"] = self._per_destination.get("mail:", 0) + 1
        self._track(delivery)
        task = asyncio.create_task(self._mail_attempt(delivery, mail))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return 1

    async def _mail_attempt(self, delivery: Delivery, mail: Mail) -> None:
        error: str | None = None
        give_up = False
        try:
            if self._mail is None or not await self._mail([mail]):
                error, give_up = "no mail server is configured (mail.host)", True
        except LorafoxError as exc:
            error = exc.message
        finally:
            self._per_destination["mail:"] -= 1
            if not self._per_destination["mail:"]:
                del self._per_destination["mail:"]
        self._outcomes.append((delivery, self._outcome(delivery, None, error, give_up)))
        self._outcome_ready.set()

    def _start(
        self, deliveries: list[Delivery], request: CallbackRequest | None, *, deleted: bool = False
    ) -> int:
        """Start one request for ``deliveries`` unless its destination is full; how many."""
        destination = "" if request is None else _destination(request.url)
        if self._per_destination.get(destination, 0) >= self._settings.per_destination:
            return 0
        self._per_destination[destination] = self._per_destination.get(destination, 0) + 1
        for delivery in deliveries:
            self._track(delivery)
        task = asyncio.create_task(self._attempt(deliveries, request, destination, deleted))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return len(deliveries)

    async def _attempt(
        self,
        deliveries: list[Delivery],
        request: CallbackRequest | None,
        destination: str,
        deleted: bool,
    ) -> None:
        """Make the request; its outcome is recorded with others' (``_record_outcomes``).
        Without a request (its callback disabled, its message deleted) it is given up."""
        status: int | None
        error: str | None
        try:
            if request is None:
                why = "the message was deleted" if deleted else "the callback is disabled"
                status, error, give_up = None, why, True
            else:
                status, error, give_up = await self._send(request)
        finally:
            self._per_destination[destination] -= 1
            if not self._per_destination[destination]:
                del self._per_destination[destination]
        for delivery in deliveries:
            self._outcomes.append((delivery, self._outcome(delivery, status, error, give_up)))
        self._outcome_ready.set()

    async def _send(self, request: CallbackRequest) -> tuple[int | None, str | None, bool]:
        """The answer's status, what went wrong, and whether retrying is pointless."""
        try:
            await self._guard.check(request.url)
            async with self._client.stream(
                request.method,
                request.url,
                headers=request.headers,
                content=None if request.body is None else request.body.encode(),
            ) as response:
                status = response.status_code
        except DestinationRefused as exc:
            return None, str(exc), True
        except httpx.TimeoutException:
            return None, f"no answer within {self._settings.timeout:g} s", False
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:500], False
        return status, None if 200 <= status < 300 else f"HTTP {status}", False

    def _outcome(
        self, delivery: Delivery, status: int | None, error: str | None, give_up: bool
    ) -> AttemptOutcome:
        now = self._clock()
        attempts = delivery.attempts + 1
        if error is None:
            return AttemptOutcome(DeliveryState.DELIVERED, attempts, now, status, None, now)
        if give_up or now - delivery.created_at >= self._settings.retry_for * 1000:
            return AttemptOutcome(DeliveryState.FAILED, attempts, now, status, error, now)
        retry = next_attempt(self._settings, attempts, now)
        return AttemptOutcome(DeliveryState.PENDING, attempts, retry, status, error, None)

    async def _record_outcomes(self) -> None:
        """Record the attempts' outcomes, those finished together in one transaction; a
        delivery is taken again (or not) only once its outcome is recorded."""
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_CURSOR_EVERY_S):
                    await self._outcome_ready.wait()
            await asyncio.sleep(_COALESCE_S)
            self._outcome_ready.clear()
            await self._flush_outcomes()

    def _forgotten(self, delivery: Delivery, outcome: AttemptOutcome) -> bool:
        """Whether a delivered row is deleted rather than marked (``forgets_delivered``)."""
        return (
            self.forgets_delivered
            and outcome.state is DeliveryState.DELIVERED
            and delivery.message_id is not None
            and delivery.report_key is None
        )

    async def _flush_outcomes(self) -> None:
        batch, self._outcomes = self._outcomes, []
        forget = [d.id for d, outcome in batch if d.id and self._forgotten(d, outcome)]
        gone = set(forget)
        updates = [(d.id, outcome) for d, outcome in batch if d.id and d.id not in gone]
        lanes = {} if self._lanes is None else self._lanes.lanes
        for delivery, outcome in batch:
            if not delivery.id:
                self._first -= 1
                lane = lanes.get(delivery.callback_id)
                if lane is not None:
                    lane.finished(delivery, outcome)
        rows: list[Delivery] = []
        moved: dict[str, int] = {}
        for callback_id, lane in lanes.items():
            if self._directory.by_id(callback_id) is None:
                continue  # deleted or disabled meanwhile: its lane is dropped next
            rows += lane.advance()
            if lane.cursor != lane.saved:
                moved[callback_id] = lane.cursor
        try:
            await self._store.record_attempts(updates, rows, moved, forget)
        except LorafoxError as exc:  # they stay pending and in flight: recorded later
            log.error("callbacks: cannot record %d deliveries: %s", len(batch), exc)
            self._outcomes[:0] = [(d, outcome) for d, outcome in batch if d.id]
            for row in rows:
                if (lane := lanes.get(row.callback_id)) is not None:
                    lane.failed.append(row)
            await asyncio.sleep(1)
            self._outcome_ready.set()
            return
        for callback_id, cursor in moved.items():
            lanes[callback_id].saved = cursor
        if rows:
            self._rows_changed = True
        for delivery, outcome in batch:
            self._in_flight.discard(delivery.id)
            if outcome.state is DeliveryState.FAILED and delivery.callback_id not in self._dead:
                await self._mark(delivery, dead=True, why=outcome.last_error or "")
            elif outcome.state is DeliveryState.DELIVERED and delivery.callback_id in self._dead:
                await self._mark(delivery, dead=False, why="")
        if batch or rows:
            self._wakeup.set()

    async def _mark(self, delivery: Delivery, *, dead: bool, why: str) -> None:
        await self._store.set_dead(delivery.callback_id, dead)
        if dead:
            self._dead.add(delivery.callback_id)
            message = f"callback {delivery.callback_id} is failing: {why}"
            log.warning(message)
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

    async def _stop(self, recorder: asyncio.Task[None], grace: float = 2.0) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=grace)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        recorder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await recorder
        with contextlib.suppress(LorafoxError):
            await self._flush_outcomes()
        await self._client.aclose()
