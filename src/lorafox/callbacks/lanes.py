"""From stored uplinks to the first attempts of their callbacks, writing nothing per message.

Each enabled DATA callback has a lane: a durable cursor (the id of the last message up to which
the callback was delivered, or owes a row of the outbox) and, in memory, the messages it reads
after it. The uplink pipeline tells ``Lanes.add`` of each committed batch (kept in a window in
memory; the ingest path does not wait for callbacks). The sender takes first attempts from the
lanes; a first attempt that fails becomes a row of the outbox (retried from there), one
delivered beyond the cursor (an earlier one still in flight) a row marked delivered, and the
cursor moves over the rest — in the transaction that records those rows. A crash between an
uplink's commit and its deliveries loses nothing (the lane reads the messages after its cursor
again at start), and a delivery recorded as done is never made again.
"""

from __future__ import annotations

import bisect
import dataclasses
import logging
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence

from lorafox.callbacks.directory import CallbackDirectory
from lorafox.domain import (
    Callback,
    CallbackChannel,
    CallbackSubtype,
    CallbackType,
    Delivery,
    DeliveryState,
    StoredUplink,
)
from lorafox.ports.callbacks import AttemptOutcome, CallbackStore
from lorafox.ports.store import MessageStore

__all__ = ["BATCH_EVERY_MS", "Lane", "Lanes", "fires"]

log = logging.getLogger(__name__)

BATCH_EVERY_MS = 1000
"""How long the messages of a BATCH_URL callback are gathered into one request."""
_READ = 500
"""Messages a lane reads ahead (from the window or the store)."""
_READS = 8
"""Reads of one ``fill``."""
_WINDOW = 20_000
"""Recent messages kept in memory for the lanes that keep up."""
_TRIM_AT = 1000
_OWED = 0  # an open message with a row (written or to write with the cursor)


def fires(callback: Callback, stored: StoredUplink) -> bool:
    """Whether ``callback`` is delivered for ``stored`` (the downlink callback is not: it is
    called while the device waits, by ``DownlinkHooks``)."""
    if not callback.enabled or callback.downlink_hook:
        return False
    if callback.callback_type is not CallbackType.DATA:
        return False
    if callback.callback_subtype is CallbackSubtype.BIDIR:
        return stored.uplink.ack
    return callback.callback_subtype is CallbackSubtype.UPLINK


class Lane:
    """One callback's way through the messages.

    ``cursor``: every message up to it was delivered or has a row; ``read_to``: every message
    up to it is in ``buffer``, handed out (``open`` until the cursor passes it) or not this
    callback's. ``open`` maps a handed-out message to None while in flight, to its delivered
    row (written only if the cursor has not passed it at the next record), or to ``_OWED``."""

    def __init__(self, callback_id: str, cursor: int, owed: set[int], saved: int | None) -> None:
        self.callback_id = callback_id
        self.cursor = self.read_to = cursor
        self.saved = saved
        self.owed = owed
        self.buffer: deque[StoredUplink] = deque()
        self.open: OrderedDict[int, Delivery | int | None] = OrderedDict()
        self.failed: list[Delivery] = []  # rows to write with the next cursor

    def hand_out(self, count: int) -> list[StoredUplink]:
        taken = [self.buffer.popleft() for _ in range(min(count, len(self.buffer)))]
        for stored in taken:
            self.open[stored.id] = None
        return taken

    def put_back(self, taken: Sequence[StoredUplink]) -> None:
        """Messages handed out but not started (their destination was full)."""
        for stored in reversed(taken):
            del self.open[stored.id]
            self.buffer.appendleft(stored)

    def finished(self, delivery: Delivery, outcome: AttemptOutcome) -> None:
        assert delivery.message_id is not None  # noqa: S101 - lanes hand out messages only
        if delivery.message_id not in self.open:
            return
        row = dataclasses.replace(
            delivery,
            state=outcome.state,
            attempts=outcome.attempts,
            next_attempt_at=outcome.next_attempt_at,
            last_status=outcome.last_status,
            last_error=outcome.last_error,
            ended_at=outcome.ended_at,
        )
        if outcome.state is DeliveryState.DELIVERED:
            self.open[delivery.message_id] = row
        else:
            self.failed.append(row)
            self.open[delivery.message_id] = _OWED

    def advance(self) -> list[Delivery]:
        """Move the cursor as far as nothing in flight or unread holds it; the rows to write
        with it (failed first attempts, and those delivered beyond it)."""
        limit = self.read_to
        if self.buffer:
            limit = min(limit, self.buffer[0].id - 1)
        for message_id, state in self.open.items():
            if state is None:
                limit = min(limit, message_id - 1)
                break
        while self.open and next(iter(self.open)) <= limit:
            self.open.popitem(last=False)
        self.cursor = max(self.cursor, limit)
        if self.owed:
            self.owed = {m for m in self.owed if m > self.cursor}
        rows = self.failed
        done = [(m, state) for m, state in self.open.items() if isinstance(state, Delivery)]
        for message_id, row in done:
            rows.append(row)
            self.open[message_id] = _OWED
        self.failed = []
        return rows

    def accept(self, stored: StoredUplink) -> None:
        if stored.id not in self.owed:
            self.buffer.append(stored)


class Lanes:
    """The lanes of the enabled DATA callbacks, and the window of recent messages they read."""

    def __init__(
        self,
        store: CallbackStore,
        directory: CallbackDirectory,
        messages: MessageStore,
        type_of: Callable[[str], str | None],
        *,
        window: int = _WINDOW,
    ) -> None:
        self._store = store
        self._directory = directory
        self._messages = messages
        self._type_of = type_of
        self._max_window = window
        self._window: list[StoredUplink] = []
        self._ids: list[int] = []
        self._from = 0  # every message committed after it is in the window
        self._head = 0  # the newest message known
        self.lanes: dict[str, Lane] = {}

    async def start(self) -> None:
        """Read the cursors; a callback without one starts after the newest message (or where
        the outbox of rows had come to)."""
        self._head = self._from = await self._messages.last_message_id()
        cursors = await self._store.lane_cursors()
        legacy = await self._store.get_cursor()
        for callback in self._callbacks():
            cursor = cursors.get(callback.id)
            if cursor is None:
                start = self._head if legacy is None else legacy
                self.lanes[callback.id] = Lane(callback.id, start, set(), None)
            else:
                owed = await self._store.owed_after(callback.id, cursor)
                self.lanes[callback.id] = Lane(callback.id, cursor, owed, cursor)
        await self.save_new()

    def _callbacks(self) -> list[Callback]:
        return [
            c
            for c in self._directory.all()
            if c.callback_type is CallbackType.DATA and not c.downlink_hook
        ]

    async def changed(self) -> None:
        """The enabled callbacks changed: a new one starts after the newest message, one no
        longer enabled stops (its cursor stays, unused)."""
        wanted = {c.id for c in self._callbacks()}
        for callback_id in set(self.lanes) - wanted:
            del self.lanes[callback_id]
        for callback_id in wanted - set(self.lanes):
            self.lanes[callback_id] = Lane(callback_id, self._head, set(), None)
        await self.save_new()

    async def save_new(self) -> None:
        """Store the cursors of the lanes that never had one."""
        new = {c: lane.cursor for c, lane in self.lanes.items() if lane.saved is None}
        if new:
            await self._store.record_attempts((), (), new)
            for callback_id, cursor in new.items():
                self.lanes[callback_id].saved = cursor

    def add(self, stored: Sequence[StoredUplink]) -> None:
        """A pipeline sink: newly committed uplinks (kept; nothing is awaited here)."""
        if not stored:
            return
        self._head = max(self._head, stored[-1].id)
        if not self.lanes:
            self._window.clear()
            self._ids.clear()
            self._from = self._head
            return
        self._window.extend(stored)
        self._ids.extend(s.id for s in stored)
        if len(self._window) > _TRIM_AT:
            self._trim()

    def _trim(self) -> None:
        """Forget what every lane has read, and the oldest beyond the window's size (the lanes
        that still need them read them from the store)."""
        oldest = min((lane.read_to for lane in self.lanes.values()), default=self._head)
        cut = bisect.bisect_right(self._ids, oldest)
        if len(self._window) - cut > self._max_window:
            cut = len(self._window) - self._max_window // 2
        if cut > 0:
            self._from = max(self._from, self._ids[cut - 1])
            del self._window[:cut]
            del self._ids[:cut]

    async def fill(self, lane: Lane, callback: Callback) -> None:
        """Read ahead the lane's next messages (its callback's only), from the window when it
        covers them, else from the store (a few reads at most, to pass others' messages)."""
        for _ in range(_READS):
            if lane.buffer or lane.read_to >= self._head:
                return
            if lane.read_to >= self._from:
                start = bisect.bisect_right(self._ids, lane.read_to)
                found = self._window[start : start + _READ]
                last = found[-1].id if found else self._head
            else:
                found = await self._messages.messages_after(lane.read_to, limit=_READ)
                last = found[-1].id if len(found) == _READ else max(self._from, lane.read_to)
                if found:
                    last = max(last, found[-1].id)
            for stored in found:
                if stored.id > lane.read_to and self._fires(callback, stored):
                    lane.accept(stored)
            lane.read_to = max(lane.read_to, last)

    def _fires(self, callback: Callback, stored: StoredUplink) -> bool:
        return self._type_of(stored.uplink.device) == callback.device_type_id and fires(
            callback, stored
        )

    def ready(self, lane: Lane, callback: Callback, now: int) -> bool:
        """Whether a lane has messages to send now (a BATCH_URL callback's once its oldest has
        waited ``BATCH_EVERY_MS``, for the others to join it)."""
        if not lane.buffer:
            return False
        if callback.channel is not CallbackChannel.BATCH_URL:
            return True
        return lane.buffer[0].received_at + BATCH_EVERY_MS <= now

    def backlog(self) -> int:
        """Messages read ahead and not handed out yet."""
        return sum(len(lane.buffer) for lane in self.lanes.values())
