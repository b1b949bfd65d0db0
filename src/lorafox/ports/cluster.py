"""What instances sharing one database need from it and from each other: the queue of stored
messages still to publish (``PublishQueue``), the queue of stored messages whose callbacks'
first attempts are not yet owed (``CallbackQueue``) and the news of a changed cache
(``Changes``)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from lorafox.domain import StoredUplink

__all__ = ["CallbackQueue", "Changes", "Claimed", "Owed", "PublishQueue", "Reload"]


@dataclass(slots=True)
class Claimed:
    """Queued messages held by one publisher: ``messages`` in id order; the ids it adds to
    ``published`` leave the queue when the claim ends, the others stay for the next."""

    messages: list[StoredUplink]
    published: list[int] = field(default_factory=list)


class PublishQueue(Protocol):
    """Stored messages not yet published, each claimed by one publisher at a time."""

    def claim(self, limit: int) -> AbstractAsyncContextManager[Claimed]:
        """Up to ``limit`` queued messages no other publisher holds, held until the block ends
        (a publisher that dies lets them go)."""
        ...


class Owed(NamedTuple):
    """What one claim of the callbacks' queue did."""

    messages: int
    """Queued messages claimed (and taken off the queue)."""
    deliveries: int
    """Rows of the outbox written for them."""


class CallbackQueue(Protocol):
    """Stored messages whose callbacks' first attempts are not yet rows of the outbox."""

    async def owe(self, limit: int, now: int, batch_delay: int) -> Owed:
        """Claim up to ``limit`` queued messages no other instance holds and, in the same
        transaction, write the deliveries their callbacks owe (due at ``now``, a BATCH_URL
        callback's ``batch_delay`` ms later) and take them off the queue."""
        ...


Reload = Callable[[Sequence[str] | None], Awaitable[None]]
"""Reads one cache again: the keys changed (device ids, device type ids …), or None: all of it
(notifications may have been missed)."""


class Changes(Protocol):
    """Tells the other instances that a committed change made a cache stale; runs this
    instance's reloads when another one says so."""

    def changed(self, topic: str, keys: Sequence[str] = ()) -> None:
        """After a commit: ``topic``'s cache (``keys`` in it, or all of it) is stale elsewhere
        (told soon after, in order; never waits for the database)."""
        ...

    def on(self, topic: str, reload: Reload) -> None:
        """Run ``reload`` when another instance changed ``topic``."""
        ...
