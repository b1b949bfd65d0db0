"""From stored uplinks to the deliveries their device types' callbacks owe them.

The uplink pipeline tells the dispatcher of each committed batch (it only queues them: the
ingest path does not wait for callbacks). The dispatcher makes one delivery per enabled
callback and message, and stores them together with a cursor (the id of the last message
handled) in one transaction; at start it reads the messages stored after the cursor, so a crash
between an uplink's commit and its deliveries' loses none.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lorafox.callbacks.directory import CallbackDirectory
from lorafox.callbacks.templates import render, uplink_values, url_value
from lorafox.domain import (
    Callback,
    CallbackChannel,
    CallbackRequest,
    CallbackSubtype,
    CallbackType,
    Delivery,
    DeliveryState,
    StoredUplink,
)
from lorafox.errors import LorafoxError
from lorafox.ports.callbacks import CallbackStore
from lorafox.ports.store import MessageStore

__all__ = [
    "BATCH_EVERY_MS",
    "CallbackDispatcher",
    "batch_request_for",
    "delivery_for",
    "request_for",
]

log = logging.getLogger(__name__)

BATCH_EVERY_MS = 1000
"""How long the messages of a BATCH_URL callback are gathered into one request."""
_BATCH = 2000
_GATHER_S = 0.25
"""How long uplinks are gathered before their deliveries are stored together (one commit for
the uplinks of several ingest transactions)."""


def _fires(callback: Callback, stored: StoredUplink) -> bool:
    """Whether ``callback`` is delivered for ``stored`` (the downlink callback is not: it is
    called while the device waits, by ``DownlinkHooks``)."""
    if not callback.enabled or callback.downlink_hook:
        return False
    if callback.callback_type is not CallbackType.DATA:
        return False
    if callback.callback_subtype is CallbackSubtype.BIDIR:
        return stored.uplink.ack
    return callback.callback_subtype is CallbackSubtype.UPLINK


def request_for(callback: Callback, stored: StoredUplink) -> CallbackRequest:
    """The request ``callback`` makes for ``stored`` (alone)."""
    if callback.channel is CallbackChannel.BATCH_URL:
        return batch_request_for(callback, [stored])
    return values_request(callback, uplink_values(stored, callback.device_type_id))


def values_request(callback: Callback, values: Mapping[str, Any]) -> CallbackRequest:
    """The request ``callback`` makes with these variables."""
    headers = {name: render(value, values) for name, value in callback.headers.items()}
    body = None
    if callback.body_template is not None and callback.http_method != "GET":
        body = render(callback.body_template, values)
        headers["Content-Type"] = callback.content_type or "application/json"
    return CallbackRequest(
        callback.http_method, render(callback.url, values, url_value), headers, body
    )


def batch_request_for(callback: Callback, found: Sequence[StoredUplink]) -> CallbackRequest:
    """The request a BATCH_URL callback makes for ``found``: a line each."""
    lines = [
        render(callback.line_pattern or "", uplink_values(stored, callback.device_type_id))
        for stored in found
    ]
    headers = {**callback.headers, "Content-Type": callback.content_type or "text/plain"}
    return CallbackRequest(callback.http_method, callback.url, headers, "\n".join(lines))


def delivery_for(callback: Callback, stored: StoredUplink, now: int) -> Delivery:
    """What ``callback`` owes ``stored``: a pending delivery, due now (a BATCH_URL callback's
    after ``BATCH_EVERY_MS``, gathered with the others of that time)."""
    return Delivery(
        id=0,
        callback_id=callback.id,
        device_type_id=callback.device_type_id,
        device=stored.uplink.device,
        message_id=stored.id,
        message_time=stored.uplink.time,
        state=DeliveryState.PENDING,
        attempts=0,
        next_attempt_at=now + BATCH_EVERY_MS
        if callback.channel is CallbackChannel.BATCH_URL
        else now,
        created_at=now,
    )


class CallbackDispatcher:
    """Turns stored uplinks into stored deliveries; ``on_enqueued`` wakes the sender."""

    def __init__(
        self,
        store: CallbackStore,
        directory: CallbackDirectory,
        messages: MessageStore,
        type_of: Callable[[str], str | None],
        clock: Callable[[], int],
        on_enqueued: Callable[[], None],
        *,
        max_memory: int = 100_000,
        cursor_interval: float = 1.0,
    ) -> None:
        self._store = store
        self._directory = directory
        self._messages = messages
        self._type_of = type_of
        self._clock = clock
        self._on_enqueued = on_enqueued
        self._max_memory = max_memory
        self._cursor_interval = cursor_interval
        self._queue: deque[StoredUplink] = deque()
        self._from_store = False
        self._left_to_store = 0  # batches ``add`` left to the store reader
        self._cursor = 0  # the last message handled
        self._saved = 0
        self._wakeup = asyncio.Event()
        self._closing = False

    async def start(self) -> None:
        """Read the cursor; messages stored after it are handled first."""
        cursor = await self._store.get_cursor()
        if cursor is None:  # first run: from the newest message on
            cursor = await self._messages.last_message_id()
        self._cursor = self._saved = cursor
        self._from_store = cursor < await self._messages.last_message_id()

    def add(self, stored: Sequence[StoredUplink]) -> None:
        """A pipeline sink: newly committed uplinks (queued; nothing is awaited here)."""
        if self._from_store:
            self._left_to_store += 1  # the reader will find them in the store
            return
        if not stored:
            return
        if not self._directory:
            self._cursor = max(self._cursor, stored[-1].id)  # nothing to send: just move on
            return
        if len(self._queue) + len(stored) > self._max_memory:
            log.warning(
                "callback backlog over %d messages: reading it from the store", len(self._queue)
            )
            self._queue.clear()
            self._from_store = True
        else:
            self._queue.extend(stored)
        self._wakeup.set()

    async def run(self) -> None:
        """Handle messages until ``close``; saves the cursor regularly when idle."""
        while not self._closing:
            try:
                if self._from_store:
                    await self._from_the_store()
                elif self._queue:
                    if len(self._queue) < _BATCH:
                        await asyncio.sleep(_GATHER_S)
                    batch = [self._queue.popleft() for _ in range(min(len(self._queue), _BATCH))]
                    await self._handle(batch)
                else:
                    await self._save_cursor()
                    self._wakeup.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._cursor_interval):
                            await self._wakeup.wait()
            except LorafoxError as exc:
                log.error("callbacks: cannot store deliveries, retrying: %s", exc)
                self._queue.clear()
                self._from_store = True
                await asyncio.sleep(1)
        with contextlib.suppress(LorafoxError):
            await self._save_cursor()

    async def _from_the_store(self) -> None:
        left = self._left_to_store
        batch = await self._messages.messages_after(self._cursor, limit=_BATCH)
        if not batch:
            # caught up, unless messages stored while it read were left to it: read again
            if left == self._left_to_store:
                self._from_store = False
            return
        await self._handle(batch)

    async def _handle(self, batch: Sequence[StoredUplink]) -> None:
        batch = [s for s in batch if s.id > self._cursor]
        if not batch:
            return
        now = self._clock()
        deliveries = [
            delivery_for(callback, stored, now)
            for stored in batch
            for callback in self._directory.of_type(self._type_of(stored.uplink.device))
            if _fires(callback, stored)
        ]
        await self._store.enqueue(deliveries, batch[-1].id)
        self._cursor = self._saved = batch[-1].id
        if deliveries:
            self._on_enqueued()

    async def _save_cursor(self) -> None:
        if self._cursor > self._saved:
            value = self._cursor
            await self._store.enqueue((), value)
            self._saved = value

    def close(self) -> None:
        self._closing = True
        self._wakeup.set()
