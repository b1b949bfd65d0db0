"""What outgoing callbacks need from a database: the callbacks of device types, a cursor per
callback over the messages, and the outbox of the requests whose first attempt failed (a row
per callback and message, kept until delivered or given up), so a restart neither loses nor
repeats a confirmed one."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from lorafox.domain import Callback, Delivery, DeliveryState, StoredUplink, Uplink

__all__ = [
    "AttemptOutcome",
    "CallbackStore",
    "DeliveryQuery",
    "DownlinkHook",
    "DuplicateSink",
    "HookAnswer",
    "WithMessage",
]

WithMessage = tuple[Delivery, StoredUplink | None]
"""A delivery and its message (None once the message is deleted)."""

HookAnswer = str | bool | None
"""A downlink callback's answer: the downlink's data (16 hex digits), False for no downlink,
None when there is no downlink callback or it did not answer (the queue answers then)."""


class DuplicateSink(Protocol):
    async def forward(self, uplink: Uplink, device_type_id: str | None) -> None:
        """Owe another station's copy of a stored message to the callbacks asking for
        duplicates (stored before the copy is acknowledged)."""


class DownlinkHook(Protocol):
    async def answer(self, uplink: Uplink, device_type_id: str | None) -> HookAnswer:
        """Ask the device type's downlink callback for ``uplink``'s downlink."""


@dataclass(slots=True, frozen=True)
class AttemptOutcome:
    """What one attempt left: the delivery's new state and when to try again."""

    state: DeliveryState
    attempts: int
    next_attempt_at: int
    last_status: int | None
    last_error: str | None
    ended_at: int | None


@dataclass(slots=True, frozen=True)
class DeliveryQuery:
    """Deliveries not (yet) delivered after at least one attempt, newest first: of one device,
    or of some device types; ``since``/``before`` bound the message time (epoch ms);
    ``delivery_ids``: only these."""

    device: str | None = None
    device_type_ids: Collection[str] = ()
    delivery_ids: Collection[int] = ()
    since: int | None = None
    before: int | None = None
    limit: int = 100
    offset: int = 0


class CallbackStore(Protocol):
    async def list_callbacks(self, device_type_id: str) -> list[Callback]: ...

    async def all_callbacks(self) -> list[Callback]: ...

    async def get_callback(self, callback_id: str) -> Callback | None: ...

    async def create_callback(self, callback: Callback) -> None: ...

    async def update_callback(self, callback: Callback) -> None: ...

    async def delete_callback(self, callback_id: str) -> None: ...

    async def get_cursor(self) -> int | None:
        """The outbox's cursor from before each callback had its own: the id of the last
        message whose deliveries were stored as rows (None if there never was one)."""

    async def enqueue(self, deliveries: Sequence[Delivery], cursor: int | None) -> None:
        """Store ``deliveries`` (their ``id`` is chosen by the store; one already owed for the
        same message or report is left out) and move that cursor to ``cursor`` (unless None),
        in one transaction."""

    async def lane_cursors(self) -> dict[str, int]:
        """Each callback's cursor (by callback id): the last message id up to which it was
        delivered, or owes a row of ``callback_deliveries``."""

    async def owed_after(self, callback_id: str, message_id: int) -> set[int]:
        """The messages after ``message_id`` that ``callback_id`` has a delivery row for."""

    async def due(self, now: int, limit: int, skip: Collection[int] = ()) -> list[WithMessage]:
        """Pending deliveries whose next attempt is due, oldest first, but those in ``skip``."""

    async def record_attempts(
        self,
        outcomes: Sequence[tuple[int, AttemptOutcome]],
        rows: Sequence[Delivery] = (),
        lanes: Mapping[str, int] | None = None,
        forget: Collection[int] = (),
    ) -> None:
        """In one transaction: record the outcome of an attempt of each delivery (by id), store
        ``rows`` (first attempts that failed, or were delivered beyond their callback's cursor;
        one already there is left out), move the callbacks' cursors to ``lanes`` and delete the
        deliveries ``forget`` names (delivered, and needed no more)."""

    async def not_delivered(self, query: DeliveryQuery) -> list[WithMessage]: ...

    async def retry(self, query: DeliveryQuery, now: int, *, pending: bool = False) -> int:
        """Make the failed deliveries matching ``query`` pending again, due now; how many.
        ``pending``: the pending ones matching it are made due now as well."""

    async def set_dead(self, callback_id: str, dead: bool) -> None: ...
