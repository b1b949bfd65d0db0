"""The DynamoDB operations: a request's parameters (decoded JSON) in, the response body out.

No HTTP here (``lorafox.api.dynamodb`` does the protocol and the signature); storage goes
through ``lorafox.ports.tables.ItemStore``. Errors are ``DynamoDBError``s with
DynamoDB's types and messages. This module holds the item operations (single items, batches,
transactions) and the dispatch; ``control`` the table operations, ``queries`` Query and Scan.
What is supported, parameter by parameter: docs/dynamodb.md.

Time to live: as on DynamoDB, an expired item stays readable (GetItem, Query, Scan, conditions)
until it is deleted; ``TableMaintenance`` deletes expired items within its purge interval.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from lorafox.ports.tables import (
    Indexer,
    ItemRow,
    ItemStore,
)
from lorafox.tables import access, capacity, item_writes
from lorafox.tables.access import TableCaller
from lorafox.tables.control import TableControl
from lorafox.tables.errors import (
    CancellationReason,
    ConditionalCheckFailedException,
    SerializationException,
    TransactionCanceledException,
    UnknownOperationException,
    ValidationException,
)
from lorafox.tables.expressions import (
    ProjectionExpression,
    UpdateExpression,
    apply_update,
    attribute_updates_to_update,
    check_expression_parameters,
    parse_expressions,
    project,
)
from lorafox.tables.expressions.update import check_key_not_updated
from lorafox.tables.queries import TableQueries, projection_of
from lorafox.tables.shapes import check_shapes
from lorafox.tables.streams import (
    STREAM_OPERATIONS,
    TableStreams,
    enabled_view,
    record_changes,
)
from lorafox.tables.table import OpenTable, encode_key
from lorafox.tables.tagging import TableTagging
from lorafox.tables.values import item_size, validate_item

__all__ = ["OPERATIONS", "TableOperations"]

MAX_BATCH_WRITE = 25
MAX_BATCH_GET = 100
MAX_TRANSACTION = 100

OPERATIONS = (
    "CreateTable",
    "DescribeTable",
    "ListTables",
    "UpdateTable",
    "DeleteTable",
    "PutItem",
    "GetItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchWriteItem",
    "BatchGetItem",
    "UpdateTimeToLive",
    "DescribeTimeToLive",
    "TransactWriteItems",
    "TransactGetItems",
    "TagResource",
    "UntagResource",
    "ListTagsOfResource",
    "DescribeContinuousBackups",
    *STREAM_OPERATIONS,
)
"""The operations lorafox answers; any other ``X-Amz-Target`` is an UnknownOperationException."""

Handler = Callable[[Mapping[str, Any], str], Awaitable[dict[str, Any]]]


class TableOperations:
    """Runs DynamoDB operations against an ``ItemStore``; ``region`` fills the ARNs.

    ``on_change`` is called when an index (or the time-to-live attribute) needs building:
    the service wakes its ``TableMaintenance`` with it."""

    def __init__(
        self,
        store: ItemStore,
        *,
        clock: Callable[[], float] = time.time,
        account: str = "000000000000",
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self._store = store
        self._clock = clock
        self.control = TableControl(store, account=account, on_change=on_change, clock=clock)
        self.queries = TableQueries(store, self.control.open)
        self.tagging = TableTagging(store, self.control.open)
        self.streams = TableStreams(store, self.control.open, account=account, clock=clock)
        handlers: dict[str, Handler] = {
            "CreateTable": self.control.create_table,
            "DescribeTable": self.control.describe_table,
            "ListTables": self.control.list_tables,
            "UpdateTable": self.control.update_table,
            "DeleteTable": self.control.delete_table,
            "UpdateTimeToLive": self.control.update_time_to_live,
            "DescribeTimeToLive": self.control.describe_time_to_live,
            "Query": self.queries.query,
            "Scan": self.queries.scan,
            "TagResource": self.tagging.tag_resource,
            "UntagResource": self.tagging.untag_resource,
            "ListTagsOfResource": self.tagging.list_tags_of_resource,
            "DescribeContinuousBackups": self.tagging.describe_continuous_backups,
            "ListStreams": self.streams.list_streams,
            "DescribeStream": self.streams.describe_stream,
            "GetShardIterator": self.streams.get_shard_iterator,
            "GetRecords": self.streams.get_records,
        }
        for name in OPERATIONS:
            if name not in handlers:
                handlers[name] = getattr(self, "_" + re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower())
        self._handlers = handlers

    async def run(
        self,
        operation: str,
        params: Mapping[str, Any],
        region: str,
        caller: TableCaller | None = None,
    ) -> dict[str, Any]:
        """Answer one request of ``caller`` (None: lorafox itself, every right); every table it
        names is checked against what the caller may do (see ``lorafox.tables.access``)."""
        handler = self._handlers.get(operation)
        if handler is None:
            raise UnknownOperationException()
        if not isinstance(params, Mapping):
            raise SerializationException("Start of structure or map found where not expected.")
        check_shapes(operation, params)
        token = access.requiring(caller, operation, region)
        try:
            return await handler(params, region)
        finally:
            access.release(token)

    # -- single items ----------------------------------------------------------------------

    async def _plan(self, params: Mapping[str, Any], kind: str) -> item_writes.PlannedWrite:
        """A single-item write (or condition check) from its parameters, checked."""
        table = await self.control.open(params)
        operation = {"Put": "PutItem", "Delete": "DeleteItem", "Update": "UpdateItem"}.get(
            kind, "DeleteItem"
        )
        check_expression_parameters(params, operation)
        parsed = parse_expressions(
            names=params.get("ExpressionAttributeNames"),
            values=params.get("ExpressionAttributeValues"),
            update=params.get("UpdateExpression") if kind == "Update" else None,
            condition=params.get("ConditionExpression"),
        )
        if kind == "Check" and parsed.condition is None:
            raise ValidationException.constraints(
                [
                    "Value null at 'conditionExpression' failed to satisfy constraint: "
                    "Member must not be null"
                ]
            )
        condition = item_writes.condition(params, parsed.condition)
        on_failure = item_writes.return_old_on_failure(params)
        if kind == "Put":
            if params.get("Item") is None:
                raise ValidationException.constraints(
                    ["Value null at 'item' failed to satisfy constraint: Member must not be null"]
                )
            item = validate_item(params["Item"])
            table.check_item(item)
            size = item_writes.sized(item)
            pk, sk = encode_key(table.schema, item)
            put = item_writes.PlannedWrite(
                table, pk, sk, condition, parsed, on_failure, lambda _: (item, size)
            )
            put.new = item
            return put
        key, pk, sk = table.key(params.get("Key") or {})
        if kind == "Delete":
            return item_writes.PlannedWrite(
                table, pk, sk, condition, parsed, on_failure, lambda _: None
            )
        if kind == "Check":
            return item_writes.PlannedWrite(table, pk, sk, condition, parsed, on_failure, None)
        update: UpdateExpression | None = parsed.update
        if update is None and params.get("AttributeUpdates"):
            update = attribute_updates_to_update(params["AttributeUpdates"])
        if update is not None:
            check_key_not_updated(update, parsed.names, table.schema.names)
        plan = item_writes.PlannedWrite(table, pk, sk, condition, parsed, on_failure, None)

        def make(old: dict[str, Any] | None) -> tuple[dict[str, Any], int] | None:
            base = dict(old) if old is not None else dict(key)
            if update is None:
                new = base
            else:
                outcome = apply_update(update, base, parsed.names, parsed.values)
                new = {**outcome.item, **key}
                if old is None and len(new) == len(key):
                    # removing (or deleting from) what an absent item does not have: as on
                    # DynamoDB, no item is created (None: "delete" the absent item)
                    return None
                plan.updated = outcome
            table.check_index_keys(new)
            size = item_writes.sized(new, update=True)
            plan.new = new
            return new, size

        plan.make = make
        return plan

    async def _write(self, plan: item_writes.PlannedWrite) -> dict[str, Any] | None:
        """Write one planned item (and its stream record); the old item."""
        table = plan.table
        old = await self._store.write_item(table.id, plan.pk, plan.sk, plan.decide, table.indexer)
        await self._record(table, [(old, plan.new)])
        return old

    async def _record(
        self,
        table: OpenTable,
        changes: list[tuple[dict[str, Any] | None, dict[str, Any] | None]],
    ) -> None:
        await record_changes(self._store, table, changes, now=self._clock())

    @staticmethod
    def _write_capacity(
        answer: dict[str, Any],
        mode: str,
        table: OpenTable,
        old: dict[str, Any] | None,
        new: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """``answer`` with the capacity of replacing ``old`` by ``new`` when asked for."""
        if mode != "NONE":
            consumed = capacity.Consumed(table.stored.name)
            consumed.write(capacity.write_units(max(_size(old), _size(new))))
            consumed.index_writes(table.indexes, old, new)
            answer["ConsumedCapacity"] = consumed.describe(mode)
        return answer

    async def _put_item(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        returns = item_writes.return_values(params, ("NONE", "ALL_OLD"))
        mode = capacity.requested(params)
        plan = await self._plan(params, "Put")
        old = await self._write(plan)
        answer = {"Attributes": old} if returns == "ALL_OLD" and old else {}
        return self._write_capacity(answer, mode, plan.table, old, plan.new)

    async def _delete_item(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        returns = item_writes.return_values(params, ("NONE", "ALL_OLD"))
        mode = capacity.requested(params)
        plan = await self._plan(params, "Delete")
        old = await self._write(plan)
        answer = {"Attributes": old} if returns == "ALL_OLD" and old else {}
        return self._write_capacity(answer, mode, plan.table, old, None)

    async def _update_item(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        returns = item_writes.return_values(
            params, ("NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW")
        )
        mode = capacity.requested(params)
        plan = await self._plan(params, "Update")
        old = await self._write(plan)
        attributes: dict[str, Any] | None = None
        if returns == "ALL_NEW":
            attributes = plan.new
        elif returns == "ALL_OLD":
            attributes = old
        elif returns == "UPDATED_NEW" and plan.updated is not None:
            attributes = plan.updated.updated_new()
        elif returns == "UPDATED_OLD" and plan.updated is not None and old is not None:
            attributes = plan.updated.updated_old(old)
        answer = {"Attributes": attributes} if attributes else {}
        return self._write_capacity(answer, mode, plan.table, old, plan.new)

    async def _get_item(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        mode = capacity.requested(params)
        table = await self.control.open(params)
        check_expression_parameters(params, "GetItem")
        if params.get("Key") is None:
            raise ValidationException.constraints(
                ["Value null at 'key' failed to satisfy constraint: Member must not be null"]
            )
        parsed = parse_expressions(
            names=params.get("ExpressionAttributeNames"),
            projection=params.get("ProjectionExpression"),
        )
        _, pk, sk = table.key(params["Key"])
        item = await self._store.get_item(table.id, pk, sk)
        answer: dict[str, Any] = {}
        if item is not None:
            projection = projection_of(params, parsed.projection)
            answer["Item"] = item if projection is None else project(projection, item, parsed.names)
        if mode != "NONE":
            consumed = capacity.Consumed(table.stored.name)
            consistent = params.get("ConsistentRead") is True
            consumed.read(capacity.read_units(_size(item), consistent=consistent))
            answer["ConsumedCapacity"] = consumed.describe(mode)
        return answer

    # -- transactions ----------------------------------------------------------------------

    async def _transact_write_items(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        actions = params.get("TransactItems")
        if not isinstance(actions, list) or not actions or len(actions) > MAX_TRANSACTION:
            raise ValidationException.constraints(
                [
                    f"Value '{actions}' at 'transactItems' failed to satisfy constraint: Member "
                    f"must have length less than or equal to {MAX_TRANSACTION}"
                    if isinstance(actions, list) and actions
                    else "Value null at 'transactItems' failed to satisfy constraint: "
                    "Member must not be null"
                ]
            )
        mode = capacity.requested(params)
        plans: list[item_writes.PlannedWrite] = []
        seen: set[tuple[int, bytes, bytes]] = set()
        for action in actions:
            kinds = [
                k
                for k in ("ConditionCheck", "Put", "Delete", "Update")
                if isinstance(action, Mapping) and action.get(k) is not None
            ]
            if len(kinds) != 1:
                raise ValidationException(
                    "TransactItems can only contain one of Check, Put, Update or Delete"
                )
            kind = "Check" if kinds[0] == "ConditionCheck" else kinds[0]
            plan = await self._plan(action[kinds[0]], kind)
            target = (plan.table.stored.id, plan.pk, plan.sk)
            if target in seen:
                raise ValidationException(
                    "Transaction request cannot include multiple operations on one item"
                )
            seen.add(target)
            plans.append(plan)

        read: list[dict[str, Any] | None] = [None] * len(plans)
        ran: list[bool] = []  # empty when a client token's replay wrote nothing

        def decide_all(olds: list[dict[str, Any] | None]) -> list[Any]:
            read[:] = olds
            ran[:] = [True]
            reasons: list[CancellationReason] = []
            decisions: list[Any] = []
            for plan, old in zip(plans, olds, strict=True):
                try:
                    decisions.append(plan.decide(old))
                    reasons.append(CancellationReason())
                except ConditionalCheckFailedException as exc:
                    reasons.append(
                        CancellationReason(
                            "ConditionalCheckFailed", "The conditional request failed", exc.item
                        )
                    )
                except ValidationException as exc:
                    reasons.append(CancellationReason("ValidationError", exc.message))
            if any(reason.code != "None" for reason in reasons):
                raise TransactionCanceledException(reasons)
            return decisions

        indexers: dict[int, Indexer] = {
            p.table.id: p.table.indexer for p in plans if p.table.indexer is not None
        }
        await self._store.transact_write(
            [(p.table.id, p.pk, p.sk) for p in plans],
            decide_all,
            indexers,
            item_writes.client_token(params, self._clock()),
        )
        if ran:
            changed: dict[int, tuple[OpenTable, list[Any]]] = {}
            for plan, old in zip(plans, read, strict=True):
                if plan.make is not None:
                    changed.setdefault(plan.table.id, (plan.table, []))[1].append((old, plan.new))
            for table, changes in changed.values():
                await self._record(table, changes)
        if mode == "NONE":
            return {}
        consumed: dict[str, capacity.Consumed] = {}
        for plan, old in zip(plans, read, strict=True):
            table = plan.table
            used = consumed.setdefault(table.stored.name, capacity.Consumed(table.stored.name))
            if plan.make is None:
                used.read(capacity.read_units(_size(old), transactional=True))
                continue
            size = max(_size(old), _size(plan.new))
            used.write(capacity.write_units(size, transactional=True))
            used.index_writes(table.indexes, old, plan.new, transactional=True)
        return {"ConsumedCapacity": [c.describe(mode, split=True) for c in consumed.values()]}

    async def _transact_get_items(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        actions = params.get("TransactItems")
        if not isinstance(actions, list) or not actions or len(actions) > MAX_TRANSACTION:
            raise ValidationException.constraints(
                [
                    "Value null at 'transactItems' failed to satisfy constraint: "
                    "Member must not be null"
                    if not actions
                    else f"Value '{actions}' at 'transactItems' failed to satisfy constraint: "
                    f"Member must have length less than or equal to {MAX_TRANSACTION}"
                ]
            )
        mode = capacity.requested(params)
        reads: list[tuple[OpenTable, bytes, bytes, ProjectionExpression | None, Any]] = []
        for action in actions:
            get = action.get("Get") if isinstance(action, Mapping) else None
            if not isinstance(get, Mapping):
                raise ValidationException.constraints(
                    [
                        "Value null at 'transactItems.1.member.get' failed to satisfy constraint: "
                        "Member must not be null"
                    ]
                )
            table = await self.control.open(get)
            parsed = parse_expressions(
                names=get.get("ExpressionAttributeNames"),
                projection=get.get("ProjectionExpression"),
            )
            _, pk, sk = table.key(get.get("Key") or {})
            reads.append((table, pk, sk, parsed.projection, parsed.names))
        items = await self._store.get_items([(t.stored.id, pk, sk) for t, pk, sk, _, _ in reads])
        responses: list[dict[str, Any]] = []
        consumed: dict[str, capacity.Consumed] = {}
        for (table, _, _, projection, names), item in zip(reads, items, strict=True):
            used = consumed.setdefault(table.stored.name, capacity.Consumed(table.stored.name))
            used.read(capacity.read_units(_size(item), transactional=True))
            if item is None:
                responses.append({})
            else:
                responses.append(
                    {"Item": item if projection is None else project(projection, item, names)}
                )
        answer: dict[str, Any] = {"Responses": responses}
        if mode != "NONE":
            answer["ConsumedCapacity"] = [c.describe(mode, split=True) for c in consumed.values()]
        return answer

    # -- batches ---------------------------------------------------------------------------

    async def _write_recorded(
        self, table: OpenTable, puts: list[ItemRow], deletes: list[tuple[bytes, bytes]]
    ) -> None:
        """A table's batch of writes in one transaction that reads the old items, then their
        stream records."""
        keys = [(table.id, r.pk, r.sk) for r in puts] + [(table.id, pk, sk) for pk, sk in deletes]
        news: list[dict[str, Any] | None] = [r.item for r in puts] + [None] * len(deletes)
        decisions: list[Any] = [(r.item, r.size) for r in puts] + [None] * len(deletes)
        olds: list[dict[str, Any] | None] = []

        def decide_all(found: list[dict[str, Any] | None]) -> list[Any]:
            olds[:] = found
            return decisions

        indexers = {} if table.indexer is None else {table.id: table.indexer}
        await self._store.transact_write(keys, decide_all, indexers, None)
        await self._record(table, list(zip(olds, news, strict=True)))

    async def _batch_write_item(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        mode = capacity.requested(params)
        requests = _request_items(
            params,
            empty="Value '{}' at 'requestItems' failed to satisfy constraint: Member must "
            "have length greater than or equal to 1",
        )
        total = sum(len(r) if isinstance(r, list) else 0 for r in requests.values())
        if total > MAX_BATCH_WRITE:
            raise ValidationException.constraints(
                [
                    f"Value '{{{', '.join(requests)}}}' at 'requestItems' failed to satisfy "
                    "constraint: Map value must satisfy constraint: [Member must have length less "
                    "than or equal to 25, Member must have length greater than or equal to 1]"
                ]
            )
        plans: list[tuple[OpenTable, list[ItemRow], list[tuple[bytes, bytes]]]] = []
        for name, writes in requests.items():
            table = await self.control.open({"TableName": name})
            puts: dict[tuple[bytes, bytes], ItemRow] = {}
            deletes: dict[tuple[bytes, bytes], None] = {}
            if not writes:
                raise ValidationException.constraints(
                    [
                        f"Value '{{{name}=[]}}' at 'requestItems' failed to satisfy constraint: "
                        "Map value must satisfy constraint: [Member must have length less than "
                        "or equal to 25, Member must have length greater than or equal to 1]"
                    ]
                )
            for write in writes:
                if write.get("PutRequest") is not None:
                    item = validate_item(write["PutRequest"].get("Item"))
                    table.check_item(item)
                    pk, sk = encode_key(table.schema, item)
                    row: ItemRow | None = ItemRow(pk, sk, item, item_writes.sized(item))
                elif write.get("DeleteRequest") is not None:
                    _, pk, sk = table.key(write["DeleteRequest"].get("Key") or {})
                    row = None
                else:
                    raise ValidationException(
                        "Supplied AttributeValue has more than one datatypes set, must contain "
                        "exactly one of the supported datatypes"
                    )
                if (pk, sk) in puts or (pk, sk) in deletes:
                    raise ValidationException("Provided list of item keys contains duplicates")
                if row is None:
                    deletes[(pk, sk)] = None
                else:
                    puts[(pk, sk)] = row
            plans.append((table, list(puts.values()), list(deletes)))
        answer: dict[str, Any] = {"UnprocessedItems": {}}
        described: list[dict[str, Any]] = []
        for table, puts_list, deletes_list in plans:
            if enabled_view(table) is None:
                await self._store.write_items(table.id, puts_list, deletes_list, table.indexer)
            else:  # the old items are needed for the stream: written as one transaction
                await self._write_recorded(table, puts_list, deletes_list)
            if mode != "NONE":
                used = capacity.Consumed(table.stored.name)
                for row in puts_list:
                    used.write(capacity.write_units(row.size))
                    used.index_writes(table.indexes, None, row.item)
                for _ in deletes_list:
                    used.write(capacity.write_units(0))
                described.append(used.describe(mode))
        if mode != "NONE":
            answer["ConsumedCapacity"] = described
        return answer

    async def _batch_get_item(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        mode = capacity.requested(params)
        requests = _request_items(params)
        total = sum(len(r.get("Keys") or ()) for r in requests.values())
        if total > MAX_BATCH_GET:
            raise ValidationException("Too many items requested for the BatchGetItem call")
        responses: dict[str, list[dict[str, Any]]] = {}
        described: list[dict[str, Any]] = []
        for name, request in requests.items():
            if not request.get("Keys"):
                raise ValidationException.constraints(
                    [
                        f"Value null at 'requestItems.{name}.member.keys' failed to satisfy "
                        "constraint: Member must not be null"
                        if request.get("Keys") is None
                        else f"Value '[]' at 'requestItems.{name}.member.keys' failed to "
                        "satisfy constraint: Member must have length greater than or equal to 1"
                    ]
                )
            table = await self.control.open({"TableName": name})
            check_expression_parameters(request, "GetItem")
            parsed = parse_expressions(
                names=request.get("ExpressionAttributeNames"),
                projection=request.get("ProjectionExpression"),
            )
            projection = projection_of(request, parsed.projection)
            seen: set[tuple[bytes, bytes]] = set()
            found: list[dict[str, Any]] = []
            used = capacity.Consumed(table.stored.name)
            consistent = request.get("ConsistentRead") is True
            for raw in request.get("Keys") or ():
                _, pk, sk = table.key(raw)
                if (pk, sk) in seen:
                    raise ValidationException("Provided list of item keys contains duplicates")
                seen.add((pk, sk))
                item = await self._store.get_item(table.id, pk, sk)
                used.read(capacity.read_units(_size(item), consistent=consistent))
                if item is not None:
                    found.append(
                        item if projection is None else project(projection, item, parsed.names)
                    )
            responses[name] = found
            described.append(used.describe(mode))
        answer: dict[str, Any] = {"Responses": responses, "UnprocessedKeys": {}}
        if mode != "NONE":
            answer["ConsumedCapacity"] = described
        return answer


def _size(item: Mapping[str, Any] | None) -> int:
    return 0 if item is None else item_size(item)


_NULL_REQUEST_ITEMS = (
    "Value null at 'requestItems' failed to satisfy constraint: Member must not be null"
)


def _request_items(
    params: Mapping[str, Any], *, empty: str = _NULL_REQUEST_ITEMS
) -> Mapping[str, Any]:
    """A batch's ``RequestItems``, refused with DynamoDB's words when missing (or, in the words
    ``empty``, when not a non-empty map)."""
    requests = params.get("RequestItems")
    if not isinstance(requests, Mapping) or not requests:
        raise ValidationException.constraints([_NULL_REQUEST_ITEMS if requests is None else empty])
    return requests
