"""Query and Scan, on a table or one of its secondary indexes, paged as DynamoDB pages.

A Query reads one key range of the store's primary key (table) or of the index entries'
(``ddb_index_items``), forwards or backwards, ``Limit`` items or 1 MB at a time; a Scan reads
in key order. ``ExclusiveStartKey`` becomes one more bound of that range, so a page costs the
same at any depth. A parallel Scan (``Segment``/``TotalSegments``) gives each item to one
segment by a hash of its partition key; every segment reads the whole key space.
"""

from __future__ import annotations

import zlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from lorafox.ports.tables import Bound, ItemStore
from lorafox.tables import capacity
from lorafox.tables.errors import ValidationException
from lorafox.tables.expressions import (
    KeyCondition,
    ParsedExpressions,
    ProjectionExpression,
    attributes_to_get_to_projection,
    build_key_condition,
    check_expression_parameters,
    condition_paths,
    evaluate_condition,
    filter_to_condition,
    key_conditions_from_expression,
    parse_expressions,
    project,
    resolve_path,
    validate_conditions,
)
from lorafox.tables.indexes import GLOBAL, Index
from lorafox.tables.keys import KeySchema
from lorafox.tables.params import INVALID, limit
from lorafox.tables.table import OpenTable, encode_key
from lorafox.tables.values import item_size, validate_item

__all__ = ["MAX_PAGE_BYTES", "TableQueries", "projection_of"]

MAX_PAGE_BYTES = 1024 * 1024
MAX_SEGMENTS = 1_000_000
_CHUNK = 1000
_BAD_START = "The provided starting key is invalid"


@dataclass(frozen=True, slots=True)
class _Row:
    """One row read: its position (cursor), its item and its size."""

    cursor: tuple[bytes, ...]
    item_pk: bytes
    item: dict[str, Any]
    size: int


Fetch = Callable[[tuple[bytes, ...] | None, int], Awaitable[Sequence[_Row]]]


def projection_of(
    params: Mapping[str, Any], projection: ProjectionExpression | None
) -> ProjectionExpression | None:
    """ProjectionExpression, or the legacy AttributesToGet."""
    if projection is not None:
        return projection
    names = params.get("AttributesToGet")
    return None if names is None else attributes_to_get_to_projection(names)


def _select(
    params: Mapping[str, Any], projection: ProjectionExpression | None, index: Index | None
) -> str:
    select = params.get("Select")
    if select is None:
        if projection is not None:
            return "SPECIFIC_ATTRIBUTES"
        return "ALL_ATTRIBUTES" if index is None else "ALL_PROJECTED_ATTRIBUTES"
    if select not in ("ALL_ATTRIBUTES", "COUNT", "SPECIFIC_ATTRIBUTES", "ALL_PROJECTED_ATTRIBUTES"):
        raise ValidationException.constraints(
            [
                f"Value '{select}' at 'select' failed to satisfy constraint: Member must "
                "satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, "
                "ALL_PROJECTED_ATTRIBUTES]"
            ]
        )
    if select == "ALL_PROJECTED_ATTRIBUTES" and index is None:
        raise ValidationException(
            INVALID + "Select type ALL_PROJECTED_ATTRIBUTES is not allowed when no index is used"
        )
    if (
        select == "ALL_ATTRIBUTES"
        and index is not None
        and index.kind == GLOBAL
        and index.projection != "ALL"
    ):
        raise ValidationException(
            INVALID + f"Select type ALL_ATTRIBUTES is not supported for global secondary index "
            f"{index.name} because its projection type is not ALL"
        )
    if select == "SPECIFIC_ATTRIBUTES" and projection is None:
        raise ValidationException(
            INVALID + "Select type SPECIFIC_ATTRIBUTES requires that AttributesToGet or "
            "ProjectionExpression be specified"
        )
    if select != "SPECIFIC_ATTRIBUTES" and projection is not None:
        raise ValidationException(
            INVALID + f"Cannot specify the AttributesToGet when choosing to get only the {select}"
        )
    return str(select)


def _key_condition(
    params: Mapping[str, Any], parsed: ParsedExpressions, schema: KeySchema
) -> KeyCondition:
    if parsed.key_condition is not None:
        conditions = key_conditions_from_expression(
            parsed.key_condition, parsed.names, parsed.values
        )
    elif params.get("KeyConditions") is not None:
        conditions = validate_conditions(params["KeyConditions"], "keyConditions")
    else:
        raise ValidationException(
            "Either the KeyConditions or KeyConditionExpression parameter must be specified "
            "in the request."
        )
    return build_key_condition(conditions, schema)


def _segments(params: Mapping[str, Any]) -> tuple[int, int] | None:
    segment, total = params.get("Segment"), params.get("TotalSegments")
    if segment is None and total is None:
        return None
    if total is None:
        raise ValidationException(
            "The TotalSegments parameter is required but was not present in the request when "
            "Segment parameter is present"
        )
    if segment is None:
        raise ValidationException(
            "The Segment parameter is required but was not present in the request when "
            "parameter TotalSegments is present"
        )
    for name, value, low in (("segment", segment, 0), ("totalSegments", total, 1)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise ValidationException.constraints(
                [f"Value null at '{name}' failed to satisfy constraint: Member must not be null"]
            )
        if value < low:
            raise ValidationException.constraints(
                [
                    f"Value '{value}' at '{name}' failed to satisfy constraint: Member must "
                    f"have value greater than or equal to {low}"
                ]
            )
    if total > MAX_SEGMENTS or segment >= MAX_SEGMENTS:
        name, value = ("totalSegments", total) if total > MAX_SEGMENTS else ("segment", segment)
        raise ValidationException.constraints(
            [
                f"Value '{value}' at '{name}' failed to satisfy constraint: Member must have "
                f"value less than or equal to {MAX_SEGMENTS if name == 'totalSegments' else 999999}"
            ]
        )
    if segment >= total:
        raise ValidationException(
            "The Segment parameter is zero-based and must be less than parameter "
            f"TotalSegments: Segment: {segment} is not less than TotalSegments: {total}"
        )
    return segment, total


def _in_segment(pk: bytes, segments: tuple[int, int] | None) -> bool:
    return segments is None or zlib.crc32(pk) % segments[1] == segments[0]


async def _pages(
    fetch: Fetch,
    start: tuple[bytes, ...] | None,
    most: int | None,
    keep: Callable[[dict[str, Any]], bool],
    segments: tuple[int, int] | None = None,
) -> tuple[list[dict[str, Any]], int, dict[str, Any] | None, int]:
    """(kept items, scanned count, last item read when the page is cut, bytes read):
    ``Limit`` items or 1 MB, as DynamoDB."""
    kept: list[dict[str, Any]] = []
    scanned = 0
    size = 0
    cursor = start
    last: dict[str, Any] | None = None
    while True:
        want = _CHUNK if most is None else min(_CHUNK, most - scanned)
        rows = await fetch(cursor, want + 1)
        more = len(rows) > want
        for row in rows[:want]:
            cursor = row.cursor
            if not _in_segment(row.item_pk, segments):
                continue
            scanned += 1
            size += row.size
            if keep(row.item):
                kept.append(row.item)
            last = row.item
            if size >= MAX_PAGE_BYTES:
                break
        if not more and size < MAX_PAGE_BYTES:
            return kept, scanned, None, size
        if last is not None and (size >= MAX_PAGE_BYTES or (most is not None and scanned >= most)):
            return kept, scanned, last, size


class TableQueries:
    """Query and Scan against an ``ItemStore``; ``open`` finds the request's table."""

    def __init__(
        self, store: ItemStore, open_table: Callable[[Mapping[str, Any]], Awaitable[OpenTable]]
    ) -> None:
        self._store = store
        self._open = open_table

    def _start(
        self, table: OpenTable, index: Index | None, params: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """ExclusiveStartKey checked: the table's key, and the index's with an index."""
        raw = params.get("ExclusiveStartKey")
        if raw is None:
            return None
        try:
            key = validate_item(raw)
        except ValidationException as exc:
            raise ValidationException(f"{_BAD_START}: {exc.message}") from None
        try:
            table.schema.check_key({n: key[n] for n in table.schema.names if n in key})
            if index is not None:
                index.schema.check_key({n: key[n] for n in index.schema.names if n in key})
        except ValidationException:
            raise ValidationException(_BAD_START) from None
        wanted = set(table.schema.names if index is None else index.key_names)
        if set(key) != wanted:
            raise ValidationException(_BAD_START)
        return key

    def _query_start(
        self,
        table: OpenTable,
        index: Index | None,
        params: Mapping[str, Any],
        pk: bytes,
        bounds: tuple[Bound, Bound],
    ) -> tuple[bytes, ...] | None:
        """A Query's ExclusiveStartKey as a cursor: in the queried partition and within the
        sort key condition, else DynamoDB's errors."""
        start_key = self._start(table, index, params)
        if start_key is None:
            return None
        schema = table.schema if index is None else index.schema
        if schema.encode_pk(start_key) != pk:
            raise ValidationException(
                "The provided starting key is outside query boundaries based on provided conditions"
            )
        index_sk = schema.encode_sk(start_key)
        if schema.range is not None and not _within(index_sk, *bounds):
            raise ValidationException(
                "The provided starting key does not match the range key predicate"
            )
        item_pk, item_sk = encode_key(table.schema, start_key)
        return (item_sk,) if index is None else (index_sk, item_pk, item_sk)

    def _index(self, table: OpenTable, params: Mapping[str, Any]) -> Index | None:
        name = params.get("IndexName")
        if name is None:
            return None
        index = table.index(name)
        if index.kind == GLOBAL and params.get("ConsistentRead") is True:
            raise ValidationException(
                "Consistent reads are not supported on global secondary indexes"
            )
        return index

    @staticmethod
    def _visible(index: Index | None, select: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
        """What of an item the request sees (and its filter): a global index holds only its
        projection; a local one reads the rest from the table when asked for more (and
        always for a filter)."""
        if index is None or index.projection == "ALL":
            return lambda item: item
        if index.kind == GLOBAL or select == "ALL_PROJECTED_ATTRIBUTES":
            return index.project
        return lambda item: item

    @staticmethod
    def _capacity(
        response: dict[str, Any],
        params: Mapping[str, Any],
        table: OpenTable,
        index: Index | None,
        size: int,
    ) -> dict[str, Any]:
        mode = capacity.requested(params)
        if mode != "NONE":
            consumed = capacity.Consumed(table.stored.name)
            consistent = params.get("ConsistentRead") is True
            consumed.read(capacity.read_units(size, consistent=consistent), index)
            response["ConsumedCapacity"] = consumed.describe(mode)
        return response

    @staticmethod
    def _respond(
        kept: list[dict[str, Any]],
        scanned: int,
        last: dict[str, Any] | None,
        select: str,
        projection: ProjectionExpression | None,
        names: Any,
        last_key: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> dict[str, Any]:
        response: dict[str, Any] = {"Count": len(kept), "ScannedCount": scanned}
        if select != "COUNT":
            response["Items"] = (
                kept if projection is None else [project(projection, i, names) for i in kept]
            )
        if last is not None:
            response["LastEvaluatedKey"] = last_key(last)
        return response

    async def query(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        capacity.requested(params)
        table = await self._open(params)
        index = self._index(table, params)
        parsed = _read_expressions(
            params, "Query", key_condition=params.get("KeyConditionExpression")
        )
        schema: KeySchema = table.schema if index is None else index.schema
        key_condition = _key_condition(params, parsed, schema)
        filter_condition = parsed.filter or filter_to_condition(
            params.get("QueryFilter"), params.get("ConditionalOperator"), "queryFilter"
        )
        _check_filter_keys(params, parsed, schema)
        projection = projection_of(params, parsed.projection)
        select = _select(params, projection, index)
        most = limit(params)
        forward = params.get("ScanIndexForward", True) is not False
        pk = key_condition.encoded_pk()
        lower, upper = key_condition.encoded_range()
        start = self._query_start(table, index, params, pk, (lower, upper))
        visible = self._visible(index, select)
        filtered = self._visible(index, "ALL_ATTRIBUTES")
        store = self._store

        async def fetch_table(cursor: tuple[bytes, ...] | None, count: int) -> list[_Row]:
            low, high = lower, upper
            if cursor is not None:
                if table.schema.range is None:
                    return []
                if forward:
                    low = (cursor[0], False) if low is None or cursor[0] >= low[0] else low
                else:
                    high = (cursor[0], False) if high is None or cursor[0] <= high[0] else high
            rows = await store.query_items(table.id, pk, low, high, forward=forward, limit=count)
            return [_Row((r.sk,), r.pk, r.item, r.size) for r in rows]

        async def fetch_index(cursor: tuple[bytes, ...] | None, count: int) -> list[_Row]:
            assert index is not None  # noqa: S101
            after = None if cursor is None else (cursor[0], cursor[1], cursor[2])
            rows = await store.query_index(
                table.id, index.id, pk, lower, upper, after=after, forward=forward, limit=count
            )
            return [
                _Row((r.sk, r.item_pk, r.item_sk), r.item_pk, r.item, _entry_size(index, r))
                for r in rows
            ]

        def keep(item: dict[str, Any]) -> bool:
            return filter_condition is None or evaluate_condition(
                filter_condition, filtered(item), parsed.names, parsed.values
            )

        kept, scanned, last, size = await _pages(
            fetch_table if index is None else fetch_index, start, most, keep
        )
        last_key = table.schema.key_of if index is None else index.last_key
        kept = [visible(item) for item in kept]
        response = self._respond(kept, scanned, last, select, projection, parsed.names, last_key)
        return self._capacity(response, params, table, index, size)

    async def scan(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        capacity.requested(params)
        table = await self._open(params)
        index = self._index(table, params)
        segments = _segments(params)
        parsed = _read_expressions(params, "Scan")
        filter_condition = parsed.filter or filter_to_condition(
            params.get("ScanFilter"), params.get("ConditionalOperator"), "scanFilter"
        )
        projection = projection_of(params, parsed.projection)
        select = _select(params, projection, index)
        most = limit(params)
        start_key = self._start(table, index, params)
        start: tuple[bytes, ...] | None = None
        if start_key is not None:
            item_pk, item_sk = encode_key(table.schema, start_key)
            if not _in_segment(item_pk, segments):
                raise ValidationException(
                    "The provided Exclusive start key does not map to the provided Segment and "
                    "TotalSegments values."
                )
            if index is None:
                start = (item_pk, item_sk)
            else:
                start = (*encode_key(index.schema, start_key), item_pk, item_sk)
        visible = self._visible(index, select)
        filtered = self._visible(index, "ALL_ATTRIBUTES")
        store = self._store

        async def fetch_table(cursor: tuple[bytes, ...] | None, count: int) -> list[_Row]:
            after = None if cursor is None else (cursor[0], cursor[1])
            rows = await store.scan_items(table.id, after, count)
            return [_Row((r.pk, r.sk), r.pk, r.item, r.size) for r in rows]

        async def fetch_index(cursor: tuple[bytes, ...] | None, count: int) -> list[_Row]:
            assert index is not None  # noqa: S101
            after = None if cursor is None else (cursor[0], cursor[1], cursor[2], cursor[3])
            rows = await store.scan_index(table.id, index.id, after, count)
            return [
                _Row((r.pk, r.sk, r.item_pk, r.item_sk), r.item_pk, r.item, _entry_size(index, r))
                for r in rows
            ]

        def keep(item: dict[str, Any]) -> bool:
            return filter_condition is None or evaluate_condition(
                filter_condition, filtered(item), parsed.names, parsed.values
            )

        kept, scanned, last, size = await _pages(
            fetch_table if index is None else fetch_index, start, most, keep, segments
        )
        last_key = table.schema.key_of if index is None else index.last_key
        kept = [visible(item) for item in kept]
        response = self._respond(kept, scanned, last, select, projection, parsed.names, last_key)
        return self._capacity(response, params, table, index, size)


def _within(value: bytes, lower: Bound, upper: Bound) -> bool:
    """Whether an encoded sort key lies between a key condition's bounds."""
    if lower is not None and (value < lower[0] or (value == lower[0] and not lower[1])):
        return False
    return upper is None or value < upper[0] or (value == upper[0] and upper[1])


def _entry_size(index: Index, row: Any) -> int:
    """The bytes an index entry holds: its projection of the item."""
    size: int = row.size if index.projection == "ALL" else item_size(index.project(row.item))
    return size


def _check_filter_keys(
    params: Mapping[str, Any], parsed: ParsedExpressions, schema: KeySchema
) -> None:
    """A Query's filter may not read the key attributes of what it queries."""
    if parsed.filter is not None:
        what = "Filter Expression"
        names = [resolve_path(path, parsed.names)[0] for path in condition_paths(parsed.filter)]
    else:
        what = "QueryFilter"
        names = list(params.get("QueryFilter") or ())
    for name in names:
        if name in schema.names:
            raise ValidationException(
                f"{what} can only contain non-primary key attributes: Primary key attribute: {name}"
            )


def _read_expressions(
    params: Mapping[str, Any], operation: str, key_condition: str | None = None
) -> ParsedExpressions:
    """The filter and projection expressions of a Query or Scan (and a Query's key condition),
    checked for the parameters ``operation`` allows."""
    check_expression_parameters(params, operation)
    return parse_expressions(
        names=params.get("ExpressionAttributeNames"),
        values=params.get("ExpressionAttributeValues"),
        key_condition=key_condition,
        filter=params.get("FilterExpression"),
        projection=params.get("ProjectionExpression"),
    )
