"""The storage boundary: what lorafox needs from a database.

``lorafox.store.sql`` implements it on SQLite and PostgreSQL. Every write method returns only
once the data is durable (committed, fsynced): callers acknowledge clients after it returns.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from lorafox.domain import Downlink, StoredUplink, Uplink

__all__ = ["Credential", "CredentialStore", "DownlinkStore", "Ingested", "MessageStore", "Store"]


@dataclass(slots=True, frozen=True)
class Credential:
    """A stored login: ``secret`` is an argon2 hash (humans) or an encrypted token (machines)."""

    name: str
    username: str
    secret: str


@dataclass(slots=True, frozen=True)
class Ingested:
    """What storing one uplink gave: the stored message (None for a duplicate of a stored one)
    and, when the uplink asked for it, the downlink that answers it."""

    stored: StoredUplink | None
    downlink: Downlink | None = None


class MessageStore(Protocol):
    async def ingest(self, batch: Sequence[tuple[Uplink, bool]]) -> list[Ingested]:
        """Store a batch of uplinks in one transaction. For each one flagged True, also hand out
        its downlink in that transaction (as ``DownlinkStore.take_downlink`` does)."""
        ...

    async def list_messages(
        self, device: str, *, limit: int, since: int | None = None, before: int | None = None
    ) -> list[StoredUplink]:
        """Newest first; ``since`` inclusive and ``before`` exclusive, in epoch ms."""
        ...

    async def messages_after(self, message_id: int, *, limit: int) -> list[StoredUplink]:
        """Messages with an id above ``message_id``, oldest first (to replay publishes)."""
        ...

    async def last_message_id(self) -> int:
        """The highest message id, 0 when empty."""
        ...

    async def get_cursor(self, name: str) -> int | None: ...

    async def set_cursor(self, name: str, value: int) -> None: ...


class DownlinkStore(Protocol):
    async def enqueue_downlink(self, device: str, data: str, *, source: str) -> Downlink: ...

    async def list_downlinks(self, device: str) -> list[Downlink]:
        """Oldest first."""
        ...

    async def delete_downlink(self, device: str, downlink_id: int) -> None:
        """Remove a queued entry; ``NotFound`` if absent, ``Conflict`` if already sent."""
        ...

    async def take_downlink(
        self, device: str, seq_number: int | None, time: int | None
    ) -> Downlink | None:
        """The downlink answering this message: the one already given to the same
        (device, seqNumber, time) if any, else the oldest queued one, now marked sent.
        Concurrent callers never get the same queued entry."""
        ...


class CredentialStore(Protocol):
    async def get_credential(self, name: str) -> Credential | None: ...

    async def put_credential(self, credential: Credential) -> None: ...


class Store(MessageStore, DownlinkStore, CredentialStore, Protocol):
    """Everything above, plus its lifecycle."""

    async def close(self) -> None: ...
