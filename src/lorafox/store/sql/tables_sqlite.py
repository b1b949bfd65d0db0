"""The SQLite fast path of the item writes: raw statements on the writer's connection.

Like the message batches (``sqlite_writer``), a table write's statements run on the event
loop thread — a few µs each, on the page cache — and only the group's ``COMMIT`` runs in the
writer's thread. Through SQLAlchemy and aiosqlite the same PutItem cost ~2 ms of statement
round trips. The functions here are the SQLite twins of ``TableItemQueries``' SQLAlchemy
paths (which PostgreSQL uses) and keep their contract: read the item, decide, write it and
its index entries; a decision that raises does so before anything is written.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

from lorafox.tables.errors import IdempotentParameterMismatchException

__all__ = ["dump", "load", "transact_write", "write_item", "write_items"]

_Indexer = Callable[[Mapping[str, Any]], Sequence[tuple[int, bytes, bytes]]]

_SELECT = "SELECT item FROM ddb_items WHERE table_id = ? AND pk = ? AND sk = ?"
_INSERT = "INSERT INTO ddb_items (table_id, pk, sk, item, size) VALUES (?, ?, ?, ?, ?)"
_UPSERT = _INSERT + (
    " ON CONFLICT (table_id, pk, sk) DO UPDATE SET item = excluded.item, size = excluded.size"
)
_UPDATE = "UPDATE ddb_items SET item = ?, size = ? WHERE table_id = ? AND pk = ? AND sk = ?"
_DELETE = "DELETE FROM ddb_items WHERE table_id = ? AND pk = ? AND sk = ?"
_INDEX_INSERT = (
    "INSERT INTO ddb_index_items (table_id, index_id, pk, sk, item_pk, item_sk)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
_INDEX_DELETE = (
    "DELETE FROM ddb_index_items WHERE table_id = ? AND index_id = ? AND pk = ? AND sk = ?"
    " AND item_pk = ? AND item_sk = ?"
)
_CLIENT_REQUEST = "SELECT digest, created_at FROM ddb_client_tokens WHERE token = ?"
_SAVE_CLIENT_REQUEST = (
    "INSERT INTO ddb_client_tokens (token, digest, created_at) VALUES (?, ?, ?)"
    " ON CONFLICT (token) DO UPDATE SET digest = excluded.digest,"
    " created_at = excluded.created_at"
)


def dump(item: Mapping[str, Any]) -> str:
    return orjson.dumps(item).decode()


def load(text: str | bytes) -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads(text)
    return loaded


def _old(cursor: sqlite3.Cursor, table_id: int, pk: bytes, sk: bytes) -> dict[str, Any] | None:
    row = cursor.execute(_SELECT, (table_id, pk, sk)).fetchone()
    return None if row is None else load(row[0])


def _reindex(
    cursor: sqlite3.Cursor,
    table_id: int,
    pk: bytes,
    sk: bytes,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    indexer: _Indexer | None,
) -> None:
    if indexer is None:
        return
    before = set(indexer(old)) if old is not None else set()
    after = set(indexer(new)) if new is not None else set()
    for index_id, ipk, isk in before - after:
        cursor.execute(_INDEX_DELETE, (table_id, index_id, ipk, isk, pk, sk))
    cursor.executemany(
        _INDEX_INSERT, [(table_id, i, ipk, isk, pk, sk) for i, ipk, isk in after - before]
    )


def _apply(
    cursor: sqlite3.Cursor,
    table_id: int,
    pk: bytes,
    sk: bytes,
    old: dict[str, Any] | None,
    decision: tuple[dict[str, Any], int] | None,
    indexer: _Indexer | None,
) -> None:
    """Write a decision (the new item and its size, or None: delete) over ``old``."""
    if decision is None:
        if old is not None:
            cursor.execute(_DELETE, (table_id, pk, sk))
            _reindex(cursor, table_id, pk, sk, old, None, indexer)
        return
    new, size = decision
    if old is None:
        cursor.execute(_INSERT, (table_id, pk, sk, dump(new), size))
    else:
        cursor.execute(_UPDATE, (dump(new), size, table_id, pk, sk))
    _reindex(cursor, table_id, pk, sk, old, new, indexer)


def write_item(
    cursor: sqlite3.Cursor,
    table_id: int,
    pk: bytes,
    sk: bytes,
    decide: Callable[[dict[str, Any] | None], tuple[dict[str, Any], int] | None],
    indexer: _Indexer | None,
) -> dict[str, Any] | None:
    old = _old(cursor, table_id, pk, sk)
    _apply(cursor, table_id, pk, sk, old, decide(old), indexer)
    return old


def write_items(
    cursor: sqlite3.Cursor,
    table_id: int,
    puts: Sequence[tuple[bytes, bytes, dict[str, Any], int]],
    deletes: Sequence[tuple[bytes, bytes]],
    indexer: _Indexer | None,
) -> None:
    for pk, sk in deletes:
        if indexer is None:
            cursor.execute(_DELETE, (table_id, pk, sk))
        else:
            _apply(cursor, table_id, pk, sk, _old(cursor, table_id, pk, sk), None, indexer)
    for pk, sk, item, size in puts:
        if indexer is None:
            cursor.execute(_UPSERT, (table_id, pk, sk, dump(item), size))
        else:
            old = _old(cursor, table_id, pk, sk)
            _apply(cursor, table_id, pk, sk, old, (item, size), indexer)


def transact_write(
    cursor: sqlite3.Cursor,
    keys: Sequence[tuple[int, bytes, bytes]],
    decide_all: Callable[[list[dict[str, Any] | None]], list[Any]],
    indexers: Mapping[int, _Indexer],
    token: tuple[str, str, int, int] | None,
    keep: object,
) -> bool:
    """All or nothing (the caller's transaction); True: the token's request already ran."""
    if token is not None:
        name, digest, now, window = token
        row = cursor.execute(_CLIENT_REQUEST, (name,)).fetchone()
        if row is not None and row[1] > now - window:
            if row[0] != digest:
                raise IdempotentParameterMismatchException()
            return True
    olds = [_old(cursor, t, pk, sk) for t, pk, sk in keys]
    decisions = decide_all(olds)
    for (table_id, pk, sk), old, decision in zip(keys, olds, decisions, strict=True):
        if decision is not keep and decision != keep:
            _apply(cursor, table_id, pk, sk, old, decision, indexers.get(table_id))
    if token is not None:
        cursor.execute(_SAVE_CLIENT_REQUEST, (token[0], token[1], token[2]))
    return False
