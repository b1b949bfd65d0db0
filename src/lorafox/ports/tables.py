"""What the DynamoDB-compatible tables need from a database (implemented by
``lorafox.store.sql.tables_items``): table metadata, items keyed by encoded key bytes, secondary
index entries, and transactional writes decided by the caller."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

__all__ = [
    "KEEP",
    "Bound",
    "ClientToken",
    "IndexEntry",
    "IndexRow",
    "Indexer",
    "ItemRow",
    "ItemStore",
    "StoredTable",
    "TableNameTaken",
    "WriteDecision",
]

Bound = tuple[bytes, bool] | None
"""An encoded sort key bound and whether it is included; ``None``: unbounded."""


KEEP: Final = "keep"
"""A transaction's decision for an item it only checks."""


class TableNameTaken(Exception):
    """CreateTable for a name that exists."""


@dataclass(frozen=True, slots=True)
class StoredTable:
    id: int
    name: str
    definition: dict[str, Any]
    ttl_attribute: str | None
    status: str
    created_at: int  # ms
    group_path: str | None = None
    """The group the table belongs to (its subtree sees it); None: only lorafox itself."""


@dataclass(frozen=True, slots=True)
class ItemRow:
    pk: bytes
    sk: bytes
    item: dict[str, Any]
    size: int


@dataclass(frozen=True, slots=True)
class IndexRow:
    """An entry of a secondary index and the item it points at."""

    pk: bytes
    sk: bytes
    item_pk: bytes
    item_sk: bytes
    item: dict[str, Any]
    size: int


IndexEntry = tuple[int, bytes, bytes]
"""(index id, index partition key bytes, index sort key bytes) of one item in one index."""

Indexer = Callable[[Mapping[str, Any]], Sequence[IndexEntry]]
"""The index entries of an item (for every index of its table, or for one being built)."""


@dataclass(frozen=True, slots=True)
class ClientToken:
    """A TransactWriteItems client token: the request's digest, now and the window (ms)."""

    token: str
    digest: str
    now: int
    window: int


WriteDecision = Callable[[dict[str, Any] | None], tuple[dict[str, Any], int] | None]
"""Given the old item (or None), the new item and its size, or None to delete it; raising
aborts the write (a failed condition)."""


class ItemStore(Protocol):
    """What the table operations need from a store."""

    async def create_table(
        self, name: str, definition: dict[str, Any], group_path: str | None = None
    ) -> StoredTable: ...
    async def get_table(self, name: str) -> StoredTable | None: ...
    async def list_tables(self) -> list[StoredTable]: ...
    async def list_table_names(
        self, after: str | None, limit: int, within: tuple[str, ...] | None = None
    ) -> list[str]:
        """Names in order, after ``after``; only the tables of the groups under one of the
        ``within`` paths when given."""
        ...

    async def delete_table(self, table_id: int) -> None: ...
    async def update_table(
        self,
        table_id: int,
        change: Callable[[StoredTable], tuple[dict[str, Any], str | None]],
    ) -> StoredTable: ...
    async def table_stats(self, table_id: int) -> tuple[int, int]: ...
    async def index_stats(self, table_id: int, index_id: int) -> tuple[int, int]: ...
    async def get_item(self, table_id: int, pk: bytes, sk: bytes) -> dict[str, Any] | None: ...
    async def write_item(
        self,
        table_id: int,
        pk: bytes,
        sk: bytes,
        decide: WriteDecision,
        indexer: Indexer | None = None,
    ) -> dict[str, Any] | None: ...
    async def write_items(
        self,
        table_id: int,
        puts: Sequence[ItemRow],
        deletes: Sequence[tuple[bytes, bytes]],
        indexer: Indexer | None = None,
    ) -> None: ...
    async def transact_write(
        self,
        keys: Sequence[tuple[int, bytes, bytes]],
        decide_all: Callable[[list[dict[str, Any] | None]], list[Any]],
        indexers: Mapping[int, Indexer] | None = None,
        token: ClientToken | None = None,
    ) -> bool: ...
    async def get_items(
        self, keys: Sequence[tuple[int, bytes, bytes]]
    ) -> list[dict[str, Any] | None]: ...
    async def append_stream_records(
        self, table_id: int, label: str, records: Sequence[tuple[int, dict[str, Any]]]
    ) -> None:
        """Add records ((created at in ms, record)) to a table's stream, in order."""
        ...

    async def stream_records(
        self, table_id: int, label: str, after: int, limit: int
    ) -> list[tuple[int, int, dict[str, Any]]]:
        """(sequence number, created at in ms, record) of a stream after ``after``."""
        ...

    async def stream_bounds(self, table_id: int, label: str) -> tuple[int, int] | None: ...
    async def last_stream_sequence(self) -> int: ...
    async def trim_stream_records(self, before: int) -> int: ...
    async def query_items(
        self,
        table_id: int,
        pk: bytes,
        lower: Bound,
        upper: Bound,
        *,
        forward: bool,
        limit: int,
    ) -> list[ItemRow]: ...
    async def scan_items(
        self, table_id: int, after: tuple[bytes, bytes] | None, limit: int
    ) -> list[ItemRow]: ...
    async def query_index(
        self,
        table_id: int,
        index_id: int,
        pk: bytes,
        lower: Bound,
        upper: Bound,
        *,
        after: tuple[bytes, bytes, bytes] | None,
        forward: bool,
        limit: int,
    ) -> list[IndexRow]: ...
    async def scan_index(
        self,
        table_id: int,
        index_id: int,
        after: tuple[bytes, bytes, bytes, bytes] | None,
        limit: int,
    ) -> list[IndexRow]: ...
    async def build_index(
        self, table_id: int, indexer: Indexer, after: tuple[bytes, bytes] | None, limit: int
    ) -> tuple[bytes, bytes] | None: ...
    async def drop_index(self, table_id: int, index_id: int) -> None: ...
    async def index_keys(
        self, table_id: int, index_id: int, lower: Bound, upper: Bound, limit: int
    ) -> list[tuple[bytes, bytes]]: ...
    async def purge_items(
        self,
        table_id: int,
        keys: Sequence[tuple[bytes, bytes]],
        indexer: Indexer,
        still: Callable[[dict[str, Any]], bool],
    ) -> int: ...
    async def purge_client_tokens(self, before: int) -> None: ...
