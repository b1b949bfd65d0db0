"""The DynamoDB operations: a request's parameters (decoded JSON) in, the response body out.

No HTTP here (``lorafox.api.dynamodb`` does the protocol and the signature); storage goes
through ``lorafox.store.sql.tables_items.ItemStore``. Errors are ``DynamoDBError``s with
DynamoDB's types and messages. What is supported, parameter by parameter: docs/dynamodb.md.

Time to live: once UpdateTimeToLive names an attribute, items whose attribute is a number of
epoch seconds in the past are hidden from every read (GetItem, Query, Scan, BatchGetItem,
conditions) and replaced by the next write of their key. (DynamoDB itself deletes them within
days and shows them until then.)
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from lorafox.store.sql.tables_items import (
    KEEP,
    Bound,
    ItemRow,
    ItemStore,
    StoredTable,
    TableNameTaken,
)
from lorafox.tables.errors import (
    CancellationReason,
    ConditionalCheckFailedException,
    ResourceInUseException,
    ResourceNotFoundException,
    SerializationException,
    TransactionCanceledException,
    UnknownOperationException,
    ValidationException,
)
from lorafox.tables.expressions import (
    ConditionExpression,
    ParsedExpressions,
    ProjectionExpression,
    UpdateExpression,
    UpdateResult,
    apply_update,
    attribute_updates_to_update,
    attributes_to_get_to_projection,
    build_key_condition,
    check_expression_parameters,
    evaluate_condition,
    expected_to_condition,
    filter_to_condition,
    key_conditions_from_expression,
    parse_expressions,
    project,
    validate_conditions,
)
from lorafox.tables.expressions.update import check_key_not_updated
from lorafox.tables.keys import KeyAttribute, KeySchema, encode_key_value
from lorafox.tables.values import Item, check_item_size, item_size, validate_item

__all__ = ["OPERATIONS", "TableOperations"]

MAX_BATCH_WRITE = 25
MAX_BATCH_GET = 100
MAX_TRANSACTION = 100
MAX_PAGE_BYTES = 1024 * 1024
_CHUNK = 1000
_TABLE_NAME = re.compile(r"[a-zA-Z0-9_.-]{3,255}")
_INVALID = "One or more parameter values were invalid: "

OPERATIONS = (
    "CreateTable",
    "DescribeTable",
    "ListTables",
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
)
"""The operations lorafox answers; any other ``X-Amz-Target`` is an UnknownOperationException."""


def _now() -> float:
    return time.time()


def _string(params: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    value = params.get(name)
    if value is None:
        if required:
            raise ValidationException.constraints(
                [
                    f"Value null at '{name[0].lower() + name[1:]}' failed to satisfy constraint: "
                    "Member must not be null"
                ]
            )
        return None
    if not isinstance(value, str):
        raise SerializationException("NUMBER_VALUE cannot be converted to String")
    return value


def _table_name(params: Mapping[str, Any]) -> str:
    name = _string(params, "TableName")
    assert name is not None  # noqa: S101
    if _TABLE_NAME.fullmatch(name) is None:
        raise ValidationException.constraints(
            [
                f"Value '{name}' at 'tableName' failed to satisfy constraint: Member must "
                "satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
                if len(name) >= 3
                else f"Value '{name}' at 'tableName' failed to satisfy constraint: Member must "
                "have length greater than or equal to 3"
            ]
        )
    return name


def _limit(params: Mapping[str, Any]) -> int | None:
    limit = params.get("Limit")
    if limit is None:
        return None
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise SerializationException("STRING_VALUE can not be converted to an Integer")
    if limit < 1:
        raise ValidationException.constraints(
            [
                f"Value '{limit}' at 'limit' failed to satisfy constraint: "
                "Member must have value greater than or equal to 1"
            ]
        )
    return limit


def schema_of(table: StoredTable) -> KeySchema:
    types = {
        a["AttributeName"]: a["AttributeType"] for a in table.definition["AttributeDefinitions"]
    }
    hash_name = range_name = None
    for element in table.definition["KeySchema"]:
        if element["KeyType"] == "HASH":
            hash_name = element["AttributeName"]
        else:
            range_name = element["AttributeName"]
    assert hash_name is not None  # noqa: S101
    return KeySchema(
        KeyAttribute(hash_name, types[hash_name]),
        None if range_name is None else KeyAttribute(range_name, types[range_name]),
    )


def _encode(schema: KeySchema, item: Mapping[str, Any]) -> tuple[bytes, bytes]:
    pk = encode_key_value(item[schema.hash.name])
    sk = b"" if schema.range is None else encode_key_value(item[schema.range.name])
    return pk, sk


class _Table:
    """A table as the operations see it: its row, key schema and TTL clock."""

    def __init__(self, stored: StoredTable, now: float) -> None:
        self.stored = stored
        self.schema = schema_of(stored)
        self.now = now

    def expired(self, item: Mapping[str, Any] | None) -> bool:
        attribute = self.stored.ttl_attribute
        if item is None or attribute is None:
            return False
        value = item.get(attribute)
        if not isinstance(value, Mapping) or "N" not in value:
            return False
        try:
            return Decimal(value["N"]) <= Decimal(repr(self.now))
        except InvalidOperation:  # pragma: no cover - stored numbers are valid
            return False

    def live(self, item: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if self.expired(item) else item

    def key(self, raw: object) -> tuple[Item, bytes, bytes]:
        key = validate_item(raw)
        self.schema.check_key(key)
        pk, sk = _encode(self.schema, key)
        return key, pk, sk


class _Write:
    """One planned write of one item: its condition and how to make the new item."""

    def __init__(
        self,
        table: _Table,
        pk: bytes,
        sk: bytes,
        condition: Any,
        parsed: ParsedExpressions,
        return_old_on_failure: bool,
        make: Callable[[dict[str, Any] | None], tuple[dict[str, Any], int] | None] | None,
    ) -> None:
        self.table = table
        self.pk = pk
        self.sk = sk
        self.condition = condition
        self.parsed = parsed
        self.return_old_on_failure = return_old_on_failure
        self.make = make  # None: a condition check, which changes nothing
        self.new: dict[str, Any] | None = None
        self.updated: UpdateResult | None = None

    def decide(self, old: dict[str, Any] | None) -> Any:
        """The new item and size, None (delete) or KEEP; raises when the condition fails."""
        old = self.table.live(old)
        if self.condition is not None and not evaluate_condition(
            self.condition, old, self.parsed.names, self.parsed.values
        ):
            raise ConditionalCheckFailedException(
                item=old if self.return_old_on_failure and old is not None else None
            )
        return KEEP if self.make is None else self.make(old)


def _projection(
    params: Mapping[str, Any], projection: ProjectionExpression | None
) -> ProjectionExpression | None:
    if projection is not None:
        return projection
    names = params.get("AttributesToGet")
    return None if names is None else attributes_to_get_to_projection(names)


def _condition(params: Mapping[str, Any], parsed: ConditionExpression | None) -> Any:
    if parsed is not None:
        return parsed
    return expected_to_condition(params.get("Expected"), params.get("ConditionalOperator"))


def _return_values(params: Mapping[str, Any], allowed: tuple[str, ...]) -> str:
    value = params.get("ReturnValues") or "NONE"
    if value not in allowed:
        raise ValidationException(_INVALID + "Return values set to invalid value")
    return str(value)


class TableOperations:
    """Runs DynamoDB operations against an ``ItemStore``; ``region`` fills the ARNs."""

    def __init__(
        self, store: ItemStore, *, clock: Callable[[], float] = _now, account: str = "000000000000"
    ) -> None:
        self._store = store
        self._clock = clock
        self._account = account
        self._handlers: dict[str, Callable[[Mapping[str, Any], str], Awaitable[dict[str, Any]]]] = {
            name: getattr(self, "_" + re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower())
            for name in OPERATIONS
        }

    async def run(self, operation: str, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        handler = self._handlers.get(operation)
        if handler is None:
            raise UnknownOperationException()
        if not isinstance(params, Mapping):
            raise SerializationException("Start of structure or map found where not expected.")
        return await handler(params, region)

    async def _table(self, params: Mapping[str, Any]) -> _Table:
        name = _table_name(params)
        stored = await self._store.get_table(name)
        if stored is None:
            raise ResourceNotFoundException()
        return _Table(stored, self._clock())

    async def _description(
        self, table: StoredTable, region: str, status: str | None = None
    ) -> dict[str, Any]:
        count, size = await self._store.table_stats(table.id)
        definition = table.definition
        description: dict[str, Any] = {
            "TableName": table.name,
            "TableStatus": status or table.status,
            "CreationDateTime": table.created_at / 1000,
            "KeySchema": definition["KeySchema"],
            "AttributeDefinitions": definition["AttributeDefinitions"],
            "ProvisionedThroughput": {
                "NumberOfDecreasesToday": 0,
                "ReadCapacityUnits": definition.get("ReadCapacityUnits", 0),
                "WriteCapacityUnits": definition.get("WriteCapacityUnits", 0),
            },
            "TableSizeBytes": size,
            "ItemCount": count,
            "TableArn": f"arn:aws:dynamodb:{region}:{self._account}:table/{table.name}",
            "TableId": f"00000000-0000-0000-0000-{table.id:012d}",
            "DeletionProtectionEnabled": False,
        }
        if definition.get("BillingMode") == "PAY_PER_REQUEST":
            description["BillingModeSummary"] = {
                "BillingMode": "PAY_PER_REQUEST",
                "LastUpdateToPayPerRequestDateTime": table.created_at / 1000,
            }
        return description

    # -- tables ----------------------------------------------------------------------------

    async def _create_table(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        name = _table_name(params)
        for unsupported in (
            "GlobalSecondaryIndexes",
            "LocalSecondaryIndexes",
            "StreamSpecification",
        ):
            if params.get(unsupported):
                raise ValidationException(f"{unsupported} is not supported by lorafox yet")
        key_schema = params.get("KeySchema")
        definitions = params.get("AttributeDefinitions")
        if not isinstance(key_schema, list) or not key_schema:
            raise ValidationException.constraints(
                ["Value null at 'keySchema' failed to satisfy constraint: Member must not be null"]
            )
        if not isinstance(definitions, list) or not definitions:
            raise ValidationException.constraints(
                [
                    "Value null at 'attributeDefinitions' failed to satisfy constraint: "
                    "Member must not be null"
                ]
            )
        if len(key_schema) > 2:
            raise ValidationException.constraints(
                [
                    f"Value '{key_schema}' at 'keySchema' failed to satisfy constraint: Member "
                    "must have length less than or equal to 2"
                ]
            )
        kinds = [element.get("KeyType") for element in key_schema]
        if kinds not in (["HASH"], ["HASH", "RANGE"]):
            raise ValidationException(
                "Invalid KeySchema: The first KeySchemaElement is not a HASH key type"
                if kinds[0] != "HASH"
                else "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type"
            )
        types = {}
        for definition in definitions:
            kind = definition.get("AttributeType")
            if kind not in ("S", "N", "B"):
                raise ValidationException.constraints(
                    [
                        f"Value '{kind}' at 'attributeDefinitions.1.member.attributeType' "
                        "failed to satisfy constraint: "
                        "Member must satisfy enum value set: [B, N, S]"
                    ]
                )
            types[definition.get("AttributeName")] = kind
        key_names = [element.get("AttributeName") for element in key_schema]
        if len(key_names) != len(set(key_names)):
            raise ValidationException(
                "Invalid KeySchema: Some index key attribute have no definition"
            )
        missing = [n for n in key_names if n not in types]
        if missing:
            raise ValidationException(
                _INVALID + "Some index key attributes are not defined in AttributeDefinitions. "
                f"Keys: [{', '.join(key_names)}], AttributeDefinitions: [{', '.join(types)}]"
            )
        if len(types) != len(key_names):
            raise ValidationException(
                _INVALID + "Number of attributes in KeySchema does not exactly match number of "
                "attributes defined in AttributeDefinitions"
            )
        billing = params.get("BillingMode") or "PROVISIONED"
        throughput = params.get("ProvisionedThroughput")
        if billing == "PROVISIONED" and not throughput:
            raise ValidationException(
                _INVALID + "ReadCapacityUnits and WriteCapacityUnits must both be specified "
                "when BillingMode is PROVISIONED"
            )
        if billing == "PAY_PER_REQUEST" and throughput:
            raise ValidationException(
                _INVALID + "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified "
                "when BillingMode is PAY_PER_REQUEST"
            )
        stored_definition: dict[str, Any] = {
            "KeySchema": [
                {"AttributeName": e["AttributeName"], "KeyType": e["KeyType"]} for e in key_schema
            ],
            "AttributeDefinitions": [
                {"AttributeName": n, "AttributeType": t} for n, t in types.items()
            ],
            "BillingMode": billing,
        }
        if throughput:
            stored_definition["ReadCapacityUnits"] = int(throughput.get("ReadCapacityUnits", 0))
            stored_definition["WriteCapacityUnits"] = int(throughput.get("WriteCapacityUnits", 0))
        try:
            table = await self._store.create_table(name, stored_definition)
        except TableNameTaken:
            raise ResourceInUseException.table_exists(name) from None
        return {"TableDescription": await self._description(table, region)}

    async def _describe_table(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        name = _table_name(params)
        stored = await self._store.get_table(name)
        if stored is None:
            raise ResourceNotFoundException.table(name)
        return {"Table": await self._description(stored, region)}

    async def _list_tables(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        limit = _limit(params) or 100
        if limit > 100:
            raise ValidationException.constraints(
                [
                    f"Value '{limit}' at 'limit' failed to satisfy constraint: "
                    "Member must have value less than or equal to 100"
                ]
            )
        start = _string(params, "ExclusiveStartTableName", required=False)
        names = await self._store.list_table_names(start, limit + 1)
        response: dict[str, Any] = {"TableNames": names[:limit]}
        if len(names) > limit:
            response["LastEvaluatedTableName"] = names[limit - 1]
        return response

    async def _delete_table(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        name = _table_name(params)
        stored = await self._store.get_table(name)
        if stored is None:
            raise ResourceNotFoundException.table(name)
        description = await self._description(stored, region, "DELETING")
        await self._store.delete_table(stored.id)
        return {"TableDescription": description}

    async def _update_time_to_live(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        table = await self._table(params)
        spec = params.get("TimeToLiveSpecification")
        if not isinstance(spec, Mapping) or "Enabled" not in spec or not spec.get("AttributeName"):
            raise ValidationException.constraints(
                [
                    "Value null at 'timeToLiveSpecification' failed to satisfy constraint: "
                    "Member must not be null"
                ]
            )
        enabled = bool(spec["Enabled"])
        current = table.stored.ttl_attribute
        if enabled and current is not None:
            raise ValidationException("TimeToLive is already enabled")
        if not enabled and current is None:
            raise ValidationException("TimeToLive is already disabled")
        await self._store.set_table_ttl(table.stored.id, spec["AttributeName"] if enabled else None)
        return {
            "TimeToLiveSpecification": {"Enabled": enabled, "AttributeName": spec["AttributeName"]}
        }

    async def _describe_time_to_live(
        self, params: Mapping[str, Any], region: str
    ) -> dict[str, Any]:
        table = await self._table(params)
        attribute = table.stored.ttl_attribute
        if attribute is None:
            return {"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}}
        return {
            "TimeToLiveDescription": {"TimeToLiveStatus": "ENABLED", "AttributeName": attribute}
        }

    # -- single items ----------------------------------------------------------------------

    async def _plan(self, params: Mapping[str, Any], kind: str) -> _Write:
        """A single-item write (or condition check) from its parameters, checked."""
        table = await self._table(params)
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
        condition = _condition(params, parsed.condition)
        on_failure = params.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
        if kind == "Put":
            if params.get("Item") is None:
                raise ValidationException.constraints(
                    ["Value null at 'item' failed to satisfy constraint: Member must not be null"]
                )
            item = validate_item(params["Item"])
            table.schema.check_item(item)
            check_item_size(item)
            pk, sk = _encode(table.schema, item)
            size = item_size(item)
            return _Write(table, pk, sk, condition, parsed, on_failure, lambda _: (item, size))
        key, pk, sk = table.key(params.get("Key") or {})
        if kind == "Delete":
            return _Write(table, pk, sk, condition, parsed, on_failure, lambda _: None)
        if kind == "Check":
            return _Write(table, pk, sk, condition, parsed, on_failure, None)
        update: UpdateExpression | None = parsed.update
        if update is None and params.get("AttributeUpdates"):
            update = attribute_updates_to_update(params["AttributeUpdates"])
        if update is not None:
            check_key_not_updated(update, parsed.names, table.schema.names)
        plan = _Write(table, pk, sk, condition, parsed, on_failure, None)

        def make(old: dict[str, Any] | None) -> tuple[dict[str, Any], int]:
            base = dict(old) if old is not None else dict(key)
            if update is None:
                new = base
            else:
                outcome = apply_update(update, base, parsed.names, parsed.values)
                new = {**outcome.item, **key}
                plan.updated = outcome
            check_item_size(new, update=True)
            plan.new = new
            return new, item_size(new)

        plan.make = make
        return plan

    async def _write(self, plan: _Write) -> dict[str, Any] | None:
        old = await self._store.write_item(plan.table.stored.id, plan.pk, plan.sk, plan.decide)
        return plan.table.live(old)

    async def _put_item(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        returns = _return_values(params, ("NONE", "ALL_OLD"))
        old = await self._write(await self._plan(params, "Put"))
        return {"Attributes": old} if returns == "ALL_OLD" and old else {}

    async def _delete_item(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        returns = _return_values(params, ("NONE", "ALL_OLD"))
        old = await self._write(await self._plan(params, "Delete"))
        return {"Attributes": old} if returns == "ALL_OLD" and old else {}

    async def _update_item(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        returns = _return_values(
            params, ("NONE", "ALL_OLD", "UPDATED_OLD", "ALL_NEW", "UPDATED_NEW")
        )
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
        return {"Attributes": attributes} if attributes else {}

    async def _get_item(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        table = await self._table(params)
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
        item = table.live(await self._store.get_item(table.stored.id, pk, sk))
        if item is None:
            return {}
        projection = _projection(params, parsed.projection)
        return {"Item": item if projection is None else project(projection, item, parsed.names)}

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
        plans: list[_Write] = []
        seen: set[tuple[int, bytes, bytes]] = set()
        for action in actions:
            kinds = [k for k in ("ConditionCheck", "Put", "Delete", "Update") if k in action]
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

        def decide_all(olds: list[dict[str, Any] | None]) -> list[Any]:
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

        await self._store.transact_write(
            [(p.table.stored.id, p.pk, p.sk) for p in plans], decide_all
        )
        return {}

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
        reads: list[tuple[_Table, bytes, bytes, ProjectionExpression | None, Any]] = []
        for action in actions:
            get = action.get("Get") if isinstance(action, Mapping) else None
            if not isinstance(get, Mapping):
                raise ValidationException.constraints(
                    [
                        "Value null at 'transactItems.1.member.get' failed to satisfy constraint: "
                        "Member must not be null"
                    ]
                )
            table = await self._table(get)
            parsed = parse_expressions(
                names=get.get("ExpressionAttributeNames"),
                projection=get.get("ProjectionExpression"),
            )
            _, pk, sk = table.key(get.get("Key") or {})
            reads.append((table, pk, sk, parsed.projection, parsed.names))
        items = await self._store.get_items([(t.stored.id, pk, sk) for t, pk, sk, _, _ in reads])
        responses: list[dict[str, Any]] = []
        for (table, _, _, projection, names), item in zip(reads, items, strict=True):
            live = table.live(item)
            if live is None:
                responses.append({})
            else:
                responses.append(
                    {"Item": live if projection is None else project(projection, live, names)}
                )
        return {"Responses": responses}

    # -- Query and Scan --------------------------------------------------------------------

    def _select(self, params: Mapping[str, Any], projection: ProjectionExpression | None) -> str:
        select = params.get("Select")
        if select is None:
            return "SPECIFIC_ATTRIBUTES" if projection is not None else "ALL_ATTRIBUTES"
        if select not in (
            "ALL_ATTRIBUTES",
            "COUNT",
            "SPECIFIC_ATTRIBUTES",
            "ALL_PROJECTED_ATTRIBUTES",
        ):
            raise ValidationException.constraints(
                [
                    f"Value '{select}' at 'select' failed to satisfy constraint: Member must "
                    "satisfy enum value set: [SPECIFIC_ATTRIBUTES, COUNT, ALL_ATTRIBUTES, "
                    "ALL_PROJECTED_ATTRIBUTES]"
                ]
            )
        if select == "ALL_PROJECTED_ATTRIBUTES":
            raise ValidationException(
                _INVALID + "Select type ALL_PROJECTED_ATTRIBUTES is not allowed when no index is "
                "used"  # lorafox has no secondary indexes yet
            )
        if select == "SPECIFIC_ATTRIBUTES" and projection is None:
            raise ValidationException(
                _INVALID + "Select type SPECIFIC_ATTRIBUTES requires that AttributesToGet or "
                "ProjectionExpression be specified"
            )
        if select != "SPECIFIC_ATTRIBUTES" and projection is not None:
            raise ValidationException(
                _INVALID + f"Cannot specify the AttributesToGet when choosing to get only the "
                f"{select}"
            )
        return str(select)

    async def _read_pages(
        self,
        table: _Table,
        fetch: Callable[[tuple[bytes, bytes] | None, int], Awaitable[list[ItemRow]]],
        start: tuple[bytes, bytes] | None,
        limit: int | None,
        keep: Callable[[dict[str, Any]], bool],
    ) -> tuple[list[dict[str, Any]], int, dict[str, Any] | None]:
        """(kept items, scanned count, LastEvaluatedKey): Limit items or 1 MB, as DynamoDB."""
        kept: list[dict[str, Any]] = []
        scanned = 0
        size = 0
        cursor = start
        last: dict[str, Any] | None = None
        while True:
            want = _CHUNK if limit is None else min(_CHUNK, limit - scanned)
            rows = await fetch(cursor, want + 1)
            more = len(rows) > want
            for row in rows[:want]:
                cursor = (row.pk, row.sk)
                if table.expired(row.item):
                    continue
                scanned += 1
                size += row.size
                if keep(row.item):
                    kept.append(row.item)
                last = row.item
                if size >= MAX_PAGE_BYTES:
                    break
            if not more and size < MAX_PAGE_BYTES:
                return kept, scanned, None
            if size >= MAX_PAGE_BYTES or (limit is not None and scanned >= limit):
                assert last is not None  # noqa: S101
                return kept, scanned, table.schema.key_of(last)

    def _start_key(self, table: _Table, params: Mapping[str, Any]) -> tuple[bytes, bytes] | None:
        raw = params.get("ExclusiveStartKey")
        if raw is None:
            return None
        key = validate_item(raw)
        try:
            table.schema.check_key(key)
        except ValidationException:
            raise ValidationException("The provided starting key is invalid") from None
        return _encode(table.schema, key)

    def _respond(
        self,
        kept: list[dict[str, Any]],
        scanned: int,
        last: dict[str, Any] | None,
        select: str,
        projection: ProjectionExpression | None,
        names: Any,
    ) -> dict[str, Any]:
        response: dict[str, Any] = {"Count": len(kept), "ScannedCount": scanned}
        if select != "COUNT":
            response["Items"] = (
                kept if projection is None else [project(projection, i, names) for i in kept]
            )
        if last is not None:
            response["LastEvaluatedKey"] = last
        return response

    async def _query(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        table = await self._table(params)
        if params.get("IndexName") is not None:
            raise ValidationException(
                f"The table does not have the specified index: {params['IndexName']}"
            )
        check_expression_parameters(params, "Query")
        parsed = parse_expressions(
            names=params.get("ExpressionAttributeNames"),
            values=params.get("ExpressionAttributeValues"),
            key_condition=params.get("KeyConditionExpression"),
            filter=params.get("FilterExpression"),
            projection=params.get("ProjectionExpression"),
        )
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
        key_condition = build_key_condition(conditions, table.schema)
        filter_condition = parsed.filter or filter_to_condition(
            params.get("QueryFilter"), params.get("ConditionalOperator"), "queryFilter"
        )
        projection = _projection(params, parsed.projection)
        select = self._select(params, projection)
        limit = _limit(params)
        forward = params.get("ScanIndexForward", True) is not False
        pk = encode_key_value(key_condition.hash_value)
        lower: Bound = None
        upper: Bound = None
        if key_condition.sort is not None:
            lower, upper = key_condition.sort.encoded_range()
        start = self._start_key(table, params)
        if start is not None and start[0] != pk:
            raise ValidationException("The provided starting key is invalid")

        async def fetch(cursor: tuple[bytes, bytes] | None, count: int) -> list[ItemRow]:
            low, high = lower, upper
            if cursor is not None:
                if table.schema.range is None:
                    return []
                if forward:
                    low = (cursor[1], False) if low is None or cursor[1] >= low[0] else low
                else:
                    high = (cursor[1], False) if high is None or cursor[1] <= high[0] else high
            return await self._store.query_items(
                table.stored.id, pk, low, high, forward=forward, limit=count
            )

        def keep(item: dict[str, Any]) -> bool:
            return filter_condition is None or evaluate_condition(
                filter_condition, item, parsed.names, parsed.values
            )

        kept, scanned, last = await self._read_pages(table, fetch, start, limit, keep)
        return self._respond(kept, scanned, last, select, projection, parsed.names)

    async def _scan(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        table = await self._table(params)
        if params.get("IndexName") is not None:
            raise ValidationException(
                f"The table does not have the specified index: {params['IndexName']}"
            )
        total = params.get("TotalSegments")
        if total is not None and total != 1:
            raise ValidationException(
                "Parallel Scan (TotalSegments > 1) is not supported by lorafox yet"
            )
        check_expression_parameters(params, "Scan")
        parsed = parse_expressions(
            names=params.get("ExpressionAttributeNames"),
            values=params.get("ExpressionAttributeValues"),
            filter=params.get("FilterExpression"),
            projection=params.get("ProjectionExpression"),
        )
        filter_condition = parsed.filter or filter_to_condition(
            params.get("ScanFilter"), params.get("ConditionalOperator"), "scanFilter"
        )
        projection = _projection(params, parsed.projection)
        select = self._select(params, projection)
        limit = _limit(params)
        start = self._start_key(table, params)

        async def fetch(cursor: tuple[bytes, bytes] | None, count: int) -> list[ItemRow]:
            return await self._store.scan_items(table.stored.id, cursor, count)

        def keep(item: dict[str, Any]) -> bool:
            return filter_condition is None or evaluate_condition(
                filter_condition, item, parsed.names, parsed.values
            )

        kept, scanned, last = await self._read_pages(table, fetch, start, limit, keep)
        return self._respond(kept, scanned, last, select, projection, parsed.names)

    # -- batches ---------------------------------------------------------------------------

    async def _batch_write_item(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        requests = params.get("RequestItems")
        if not isinstance(requests, Mapping) or not requests:
            raise ValidationException.constraints(
                [
                    "Value null at 'requestItems' failed to satisfy constraint: "
                    "Member must not be null"
                ]
                if requests is None
                else [
                    "Value '{}' at 'requestItems' failed to satisfy constraint: Member must "
                    "have length greater than or equal to 1"
                ]
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
        plans: list[tuple[_Table, list[ItemRow], list[tuple[bytes, bytes]]]] = []
        for name, writes in requests.items():
            table = await self._table({"TableName": name})
            puts: dict[tuple[bytes, bytes], ItemRow] = {}
            deletes: dict[tuple[bytes, bytes], None] = {}
            for write in writes:
                if "PutRequest" in write:
                    item = validate_item(write["PutRequest"].get("Item"))
                    table.schema.check_item(item)
                    check_item_size(item)
                    pk, sk = _encode(table.schema, item)
                    row: ItemRow | None = ItemRow(pk, sk, item, item_size(item))
                elif "DeleteRequest" in write:
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
        for table, puts_list, deletes_list in plans:
            await self._store.write_items(table.stored.id, puts_list, deletes_list)
        return {"UnprocessedItems": {}}

    async def _batch_get_item(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        requests = params.get("RequestItems")
        if not isinstance(requests, Mapping) or not requests:
            raise ValidationException.constraints(
                [
                    "Value null at 'requestItems' failed to satisfy constraint: "
                    "Member must not be null"
                ]
            )
        total = sum(len(r.get("Keys") or ()) for r in requests.values())
        if total > MAX_BATCH_GET:
            raise ValidationException("Too many items requested for the BatchGetItem call")
        responses: dict[str, list[dict[str, Any]]] = {}
        for name, request in requests.items():
            table = await self._table({"TableName": name})
            check_expression_parameters(request, "GetItem")
            parsed = parse_expressions(
                names=request.get("ExpressionAttributeNames"),
                projection=request.get("ProjectionExpression"),
            )
            projection = _projection(request, parsed.projection)
            seen: set[tuple[bytes, bytes]] = set()
            found: list[dict[str, Any]] = []
            for raw in request.get("Keys") or ():
                _, pk, sk = table.key(raw)
                if (pk, sk) in seen:
                    raise ValidationException("Provided list of item keys contains duplicates")
                seen.add((pk, sk))
                item = table.live(await self._store.get_item(table.stored.id, pk, sk))
                if item is not None:
                    found.append(
                        item if projection is None else project(projection, item, parsed.names)
                    )
            responses[name] = found
        return {"Responses": responses, "UnprocessedKeys": {}}
