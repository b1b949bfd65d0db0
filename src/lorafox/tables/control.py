"""The table operations: CreateTable, DescribeTable, ListTables, UpdateTable, DeleteTable and
time to live, with DynamoDB's checks and answers.

Tables are ``ACTIVE`` at once. A global secondary index created by UpdateTable is ``CREATING``
(``Backfilling``) until ``TableMaintenance`` has indexed the existing items, then ``ACTIVE``;
the table's writes maintain it from the moment it exists. Enabling time to live indexes the
TTL attribute the same way, so that the purge finds expired items by range.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from lorafox.ports.tables import ItemStore, StoredTable, TableNameTaken
from lorafox.tables import access, definitions
from lorafox.tables.errors import (
    LimitExceededException,
    ResourceInUseException,
    ResourceNotFoundException,
    ValidationException,
)
from lorafox.tables.indexes import (
    GLOBAL,
    LOCAL,
    MAX_GLOBAL_INDEXES,
    MAX_LOCAL_INDEXES,
    TTL_INDEX_ID,
    check_key_schema,
    check_projected_total,
    parse_index,
)
from lorafox.tables.params import INVALID, limit, null, string, table_name
from lorafox.tables.streams import stream_arn, stream_change
from lorafox.tables.table import OpenTable
from lorafox.tables.tagging import check_tag_count, check_tags
from lorafox.tables.values import MAX_KEY_NAME

__all__ = ["TableControl"]

_ONE_INDEX = (
    "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously "
    "per table"
)


_DELETE_TABLE_FIELDS = frozenset(
    {
        "TableName",
        "TableStatus",
        "TableArn",
        "TableId",
        "ProvisionedThroughput",
        "TableSizeBytes",
        "ItemCount",
        "BillingModeSummary",
        "DeletionProtectionEnabled",
    }
)
"""What DeleteTable's TableDescription holds (no key schema, definitions, indexes or time)."""


class TableControl:
    """The control-plane operations; ``on_change`` is told when indexes need building."""

    def __init__(
        self,
        store: ItemStore,
        *,
        account: str,
        on_change: Callable[[], None],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._account = account
        self._on_change = on_change
        self._clock = clock

    async def open(self, params: Mapping[str, Any]) -> OpenTable:
        """The table a request names, once the caller may do the operation on it; else
        ResourceNotFoundException (or AccessDeniedException, see ``access``)."""
        name = table_name(params)
        return OpenTable(access.checked(await self._store.get_table(name), name))

    async def describe(
        self, stored: StoredTable, region: str, status: str | None = None
    ) -> dict[str, Any]:
        table = OpenTable(stored)
        count, size = await self._store.table_stats(stored.id)
        definition = stored.definition
        arn = f"arn:aws:dynamodb:{region}:{self._account}:table/{stored.name}"
        description: dict[str, Any] = {
            "TableName": stored.name,
            "TableStatus": status or stored.status,
            "CreationDateTime": stored.created_at / 1000,
            "KeySchema": definition["KeySchema"],
            "AttributeDefinitions": definition["AttributeDefinitions"],
            "ProvisionedThroughput": {
                "NumberOfDecreasesToday": 0,
                "ReadCapacityUnits": definition.get("ReadCapacityUnits", 0),
                "WriteCapacityUnits": definition.get("WriteCapacityUnits", 0),
            },
            "TableSizeBytes": size,
            "ItemCount": count,
            "TableArn": arn,
            "TableId": f"00000000-0000-0000-0000-{stored.id:012d}",
            "DeletionProtectionEnabled": False,
        }
        stream = definition.get("Stream")
        if stream:
            if stream.get("Enabled"):
                description["StreamSpecification"] = {
                    "StreamEnabled": True,
                    "StreamViewType": stream["ViewType"],
                }
            description["LatestStreamLabel"] = stream["Label"]
            description["LatestStreamArn"] = stream_arn(
                region, self._account, stored.name, stream["Label"]
            )
        if definition.get("BillingMode") == "PAY_PER_REQUEST":
            description["BillingModeSummary"] = {
                "BillingMode": "PAY_PER_REQUEST",
                "LastUpdateToPayPerRequestDateTime": definition.get(
                    "BillingModeChangedAt", stored.created_at
                )
                / 1000,
            }
        for kind, key in ((GLOBAL, "GlobalSecondaryIndexes"), (LOCAL, "LocalSecondaryIndexes")):
            described = []
            for index in table.indexes.values():
                if index.kind == kind:
                    index_count, index_size = await self._store.index_stats(stored.id, index.id)
                    described.append(index.describe(index_count, index_size, arn))
            if described:
                description[key] = described
        return description

    # -- CreateTable -----------------------------------------------------------------------

    def _indexes(
        self,
        params: Mapping[str, Any],
        table_keys: list[tuple[str, str]],
        billing: str,
    ) -> list[dict[str, Any]]:
        indexes: list[dict[str, Any]] = []
        for kind, parameter, most in (
            (LOCAL, "LocalSecondaryIndexes", MAX_LOCAL_INDEXES),
            (GLOBAL, "GlobalSecondaryIndexes", MAX_GLOBAL_INDEXES),
        ):
            raw = params.get(parameter)
            if raw is None:
                continue
            if not isinstance(raw, list) or not raw:
                raise ValidationException(INVALID + f"List of {parameter} is empty")
            if len(raw) > most:
                raise ValidationException(
                    INVALID + f"{parameter[:-2]} count exceeds the per-table limit of {most}"
                )
            for position, member in enumerate(raw, 1):
                indexes.append(
                    parse_index(
                        member,
                        kind,
                        position,
                        table_keys=table_keys,
                        billing=billing,
                        index_id=len(indexes) + 1,
                    )
                )
        names = [index["IndexName"] for index in indexes]
        for name in names:
            if names.count(name) > 1:
                raise ValidationException(INVALID + f"Duplicate index name: {name}")
        check_projected_total(indexes)
        return indexes

    async def create_table(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        name = table_name(params)
        now = int(self._clock() * 1000)
        stream = stream_change(params, None, name, now)
        table_keys = check_key_schema(params.get("KeySchema"), "keySchema")
        types = definitions.types_of(params.get("AttributeDefinitions"))
        billing = definitions.billing_mode(params, "PROVISIONED")
        throughput = params.get("ProvisionedThroughput")
        if billing == "PROVISIONED" and not throughput:
            raise ValidationException(
                INVALID + "ReadCapacityUnits and WriteCapacityUnits must both be specified "
                "when BillingMode is PROVISIONED"
            )
        if billing == "PAY_PER_REQUEST" and throughput:
            raise ValidationException(
                INVALID + "Neither ReadCapacityUnits nor WriteCapacityUnits can be specified "
                "when BillingMode is PAY_PER_REQUEST"
            )
        indexes = self._indexes(params, table_keys, billing)
        definitions.check_definitions(types, table_keys, indexes)
        tags = None if params.get("Tags") is None else check_tags(params["Tags"])
        definition: dict[str, Any] = {
            "KeySchema": [{"AttributeName": n, "KeyType": k} for n, k in table_keys],
            "AttributeDefinitions": [
                {"AttributeName": n, "AttributeType": t} for n, t in types.items()
            ],
            "BillingMode": billing,
            "Indexes": indexes,
            "NextIndexId": len(indexes) + 1,
        }
        if throughput:
            definition.update(definitions.throughput(throughput))
        if tags:
            check_tag_count(tags)
            definition["Tags"] = tags
        if stream is not None:
            start = await self._store.last_stream_sequence() + 1
            definition["Stream"] = {**stream, "Region": region, "Start": start}
        home = access.home_for_new(name)
        try:
            table = await self._store.create_table(name, definition, home)
        except TableNameTaken:
            raise ResourceInUseException.table_exists(name) from None
        return {"TableDescription": await self.describe(table, region)}

    async def describe_table(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        name = table_name(params)
        stored = access.checked(await self._store.get_table(name), name, described=True)
        return {"Table": await self.describe(stored, region)}

    async def list_tables(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        most = limit(params) or 100
        if most > 100:
            raise ValidationException.constraints(
                [
                    f"Value '{most}' at 'limit' failed to satisfy constraint: "
                    "Member must have value less than or equal to 100"
                ]
            )
        start = string(params, "ExclusiveStartTableName", required=False)
        caller = access.current()
        within = None if caller is None else caller.visible_roots()
        names = await self._store.list_table_names(start, most + 1, within)
        response: dict[str, Any] = {"TableNames": names[:most]}
        if len(names) > most:
            response["LastEvaluatedTableName"] = names[most - 1]
        return response

    async def delete_table(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        name = table_name(params)
        stored = access.checked(await self._store.get_table(name), name, described=True)
        described = await self.describe(stored, region, "DELETING")
        description = {k: v for k, v in described.items() if k in _DELETE_TABLE_FIELDS}
        await self._store.delete_table(stored.id)
        return {"TableDescription": description}

    # -- UpdateTable -----------------------------------------------------------------------

    async def update_table(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        table = await self.open(params)
        updates = params.get("GlobalSecondaryIndexUpdates")
        if updates is not None and not isinstance(updates, list):
            raise null("globalSecondaryIndexUpdates")
        updates = updates or []
        known = (
            "BillingMode",
            "ProvisionedThroughput",
            "StreamSpecification",
            "SSESpecification",
            "TableClass",
            "DeletionProtectionEnabled",
        )
        if not updates and not any(params.get(p) is not None for p in known):
            raise ValidationException(
                "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, "
                "GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required"
            )
        online = [u for u in updates if isinstance(u, Mapping) and ("Create" in u or "Delete" in u)]
        if len(online) > 1:
            raise LimitExceededException(_ONE_INDEX)
        dropped: list[int] = []
        created = False
        now = int(self._clock() * 1000)
        start = await self._store.last_stream_sequence() + 1

        def change(current: StoredTable) -> tuple[dict[str, Any], str | None]:
            nonlocal created
            definition = dict(current.definition)
            indexes = [dict(i) for i in definition.get("Indexes", ())]
            billing = definitions.billing_mode(params, definition.get("BillingMode", "PROVISIONED"))
            if params.get("BillingMode") is not None and billing != definition.get("BillingMode"):
                definition["BillingModeChangedAt"] = now
            definition["BillingMode"] = billing
            if params.get("ProvisionedThroughput") is not None:
                if billing == "PAY_PER_REQUEST":
                    raise ValidationException(
                        INVALID + "Neither ReadCapacityUnits nor WriteCapacityUnits can be "
                        "specified when BillingMode is PAY_PER_REQUEST"
                    )
                definition.update(definitions.throughput(params["ProvisionedThroughput"]))
            elif billing == "PROVISIONED" and "ReadCapacityUnits" not in definition:
                raise ValidationException(
                    INVALID + "ProvisionedThroughput must be specified when BillingMode is "
                    "PROVISIONED"
                )
            if billing == "PAY_PER_REQUEST":
                definition.pop("ReadCapacityUnits", None)
                definition.pop("WriteCapacityUnits", None)
                for index in indexes:
                    index.pop("ProvisionedThroughput", None)
            for position, update in enumerate(updates, 1):
                indexes = self._apply_index_update(
                    update, position, indexes, definition, params, billing, now, dropped
                )
                created = created or "Create" in update
            definition["Indexes"] = indexes
            stream = stream_change(params, definition.get("Stream"), current.name, now)
            if stream is not None:
                if stream.get("Enabled"):
                    stream = {**stream, "Region": region, "Start": start}
                definition["Stream"] = stream
            return definition, current.ttl_attribute

        try:
            stored = await self._store.update_table(table.id, change)
        except LookupError:
            raise ResourceNotFoundException() from None
        for index_id in dropped:
            await self._store.drop_index(table.id, index_id)
        if created:
            self._on_change()
        return {"TableDescription": await self.describe(stored, region, "UPDATING")}

    def _apply_index_update(
        self,
        update: object,
        position: int,
        indexes: list[dict[str, Any]],
        definition: dict[str, Any],
        params: Mapping[str, Any],
        billing: str,
        now: int,
        dropped: list[int],
    ) -> list[dict[str, Any]]:
        if not isinstance(update, Mapping) or len(update) != 1:
            raise ValidationException(
                INVALID + "One of GlobalSecondaryIndexUpdate.Create, Update or Delete must be "
                "specified"
            )
        ((action, body),) = update.items()
        if not isinstance(body, Mapping):
            raise null(f"globalSecondaryIndexUpdates.{position}.member.{action.lower()}")
        name = body.get("IndexName")
        existing = next((i for i in indexes if i["IndexName"] == name), None)
        if action == "Create":
            if existing is not None:
                raise ValidationException(
                    INVALID + "Attempting to create an index which already exists"
                )
            if any(i.get("IndexStatus") == "CREATING" for i in indexes):
                raise LimitExceededException(_ONE_INDEX)
            if sum(1 for i in indexes if i["Kind"] == GLOBAL) >= MAX_GLOBAL_INDEXES:
                raise LimitExceededException(
                    f"Subscriber limit exceeded: The number of global secondary indexes per "
                    f"table cannot exceed {MAX_GLOBAL_INDEXES}"
                )
            table_keys = [(e["AttributeName"], e["KeyType"]) for e in definition["KeySchema"]]
            index = parse_index(
                body,
                GLOBAL,
                position,
                table_keys=table_keys,
                billing=billing,
                index_id=int(definition.get("NextIndexId", len(indexes) + 1)),
            )
            index["IndexStatus"] = "CREATING"
            index["CreatedAt"] = now
            types = {
                a["AttributeName"]: a["AttributeType"] for a in definition["AttributeDefinitions"]
            }
            if params.get("AttributeDefinitions") is not None:
                for name_, kind in definitions.types_of(params["AttributeDefinitions"]).items():
                    if types.get(name_, kind) != kind:
                        raise ValidationException(
                            INVALID + f"Cannot change the type of attribute {name_} from "
                            f"{types[name_]} to {kind}"
                        )
                    types.setdefault(name_, kind)
            indexes = [*indexes, index]
            check_projected_total(indexes)
            used = definitions.key_names(indexes, table_keys)
            missing = [n for n in used if n not in types]
            if missing:
                raise ValidationException(
                    INVALID + "Some index key attributes are not defined in "
                    f"AttributeDefinitions. Keys: [{', '.join(used)}], AttributeDefinitions: "
                    f"[{', '.join(types)}]"
                )
            definition["AttributeDefinitions"] = [
                {"AttributeName": n, "AttributeType": t} for n, t in types.items() if n in used
            ]
            definition["NextIndexId"] = index["IndexId"] + 1
            return indexes
        if existing is None or existing["Kind"] != GLOBAL:
            raise ResourceNotFoundException(
                f"Requested resource not found: Index: {name} not found"
            )
        if action == "Delete":
            dropped.append(int(existing["IndexId"]))
            remaining = [i for i in indexes if i is not existing]
            table_keys = [(e["AttributeName"], e["KeyType"]) for e in definition["KeySchema"]]
            used = definitions.key_names(remaining, table_keys)
            definition["AttributeDefinitions"] = [
                a for a in definition["AttributeDefinitions"] if a["AttributeName"] in used
            ]
            return remaining
        if action == "Update":
            if billing == "PAY_PER_REQUEST":
                raise ValidationException(
                    INVALID + "ProvisionedThroughput should not be specified for index: "
                    f"{name} when BillingMode is PAY_PER_REQUEST"
                )
            existing["ProvisionedThroughput"] = definitions.throughput(
                body.get("ProvisionedThroughput")
            )
            return indexes
        raise ValidationException(
            INVALID + "One of GlobalSecondaryIndexUpdate.Create, Update or Delete must be specified"
        )

    # -- time to live ----------------------------------------------------------------------

    async def update_time_to_live(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        table = await self.open(params)
        spec = params.get("TimeToLiveSpecification")
        if not isinstance(spec, Mapping) or "Enabled" not in spec or not spec.get("AttributeName"):
            raise null("timeToLiveSpecification")
        enabled = bool(spec["Enabled"])
        attribute = str(spec["AttributeName"])
        if len(attribute) > MAX_KEY_NAME:
            raise ValidationException.constraints(
                [
                    f"Value '{attribute}' at 'timeToLiveSpecification.attributeName' failed to "
                    f"satisfy constraint: Member must have length less than or equal to "
                    f"{MAX_KEY_NAME}"
                ]
            )
        now = int(self._clock() * 1000)

        def change(current: StoredTable) -> tuple[dict[str, Any], str | None]:
            existing = current.ttl_attribute
            if not enabled and existing is None:
                raise ValidationException("TimeToLive is already disabled")
            if existing is not None and existing != attribute:
                raise ValidationException(
                    "TimeToLive is active on a different AttributeName: current AttributeName "
                    f"is {existing}"
                )
            if enabled and existing is not None:
                raise ValidationException("TimeToLive is already enabled")
            definition = dict(current.definition)
            if enabled:
                definition["TimeToLiveIndex"] = {"IndexStatus": "CREATING", "CreatedAt": now}
                return definition, attribute
            definition.pop("TimeToLiveIndex", None)
            return definition, None

        await self._store.update_table(table.id, change)
        if enabled:
            self._on_change()
        else:
            await self._store.drop_index(table.id, TTL_INDEX_ID)
        return {"TimeToLiveSpecification": {"Enabled": enabled, "AttributeName": attribute}}

    async def describe_time_to_live(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        table = await self.open(params)
        attribute = table.stored.ttl_attribute
        if attribute is None:
            return {"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}}
        return {
            "TimeToLiveDescription": {"TimeToLiveStatus": "ENABLED", "AttributeName": attribute}
        }
