"""Tags (TagResource, UntagResource, ListTagsOfResource, ``Tags`` on CreateTable) and the
read-only answers about backups and endpoints (DescribeContinuousBackups, DescribeEndpoints).

A table's tags live in its stored definition, in the order they were first given; DynamoDB's
limits apply: at most 50 per table, keys of 1 to 128 characters, values of at most 256.
Point-in-time recovery does not exist in lorafox: continuous backups are always described as
disabled. DescribeEndpoints names the endpoint the client called.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from lorafox.ports.tables import ItemStore, StoredTable
from lorafox.tables.errors import (
    ResourceNotFoundException,
    TableNotFoundException,
    ValidationException,
)
from lorafox.tables.params import INVALID, null
from lorafox.tables.table import OpenTable

__all__ = [
    "MAX_TAGS",
    "TableTagging",
    "check_tag_count",
    "check_tags",
    "describe_endpoints",
]

MAX_TAGS = 50
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256
ENDPOINT_CACHE_MINUTES = 1440
_ARN = re.compile(r"arn:aws:dynamodb:[a-z0-9-]+:\d{12}:table/([A-Za-z0-9_.-]{3,255})")


def check_tags(raw: object, where: str = "tags") -> dict[str, str]:
    """A ``Tags`` parameter as key → value, or DynamoDB's error."""
    if not isinstance(raw, list):
        raise null(where)
    tags: dict[str, str] = {}
    for position, tag in enumerate(raw, 1):
        member = f"{where}.{position}.member"
        if not isinstance(tag, Mapping) or not isinstance(tag.get("Key"), str):
            raise null(f"{member}.key")
        if not isinstance(tag.get("Value"), str):
            raise null(f"{member}.value")
        key, value = tag["Key"], tag["Value"]
        limits = (("key", key, 1, MAX_TAG_KEY), ("value", value, 0, MAX_TAG_VALUE))
        for field, text, low, high in limits:
            if len(text) < low or len(text) > high:
                bound = (
                    f"less than or equal to {high}"
                    if len(text) > high
                    else f"greater than or equal to {low}"
                )
                raise ValidationException.constraints(
                    [
                        f"Value '{text}' at '{member}.{field}' failed to satisfy constraint: "
                        f"Member must have length {bound}"
                    ]
                )
        tags[key] = value
    return tags


def check_tag_count(tags: Mapping[str, str]) -> None:
    if len(tags) > MAX_TAGS:
        raise ValidationException(
            INVALID + f"The number of tags exceeds the limit of {MAX_TAGS} for this resource"
        )


class TableTagging:
    """The tag operations of a store; ``open`` finds (and checks access to) a table."""

    def __init__(
        self, store: ItemStore, open_table: Callable[[Mapping[str, Any]], Awaitable[OpenTable]]
    ) -> None:
        self._store = store
        self._open = open_table

    async def _table(self, params: Mapping[str, Any]) -> OpenTable:
        arn = params.get("ResourceArn")
        if not isinstance(arn, str) or not arn:
            raise null("resourceArn")
        if len(arn) > 1283:
            raise ValidationException.constraints(
                [
                    f"Value '{arn}' at 'resourceArn' failed to satisfy constraint: Member must "
                    "have length less than or equal to 1283"
                ]
            )
        found = _ARN.fullmatch(arn)
        if found is None:
            raise ValidationException(
                f"Invalid TableArn: Invalid ResourceArn provided as input {arn}"
            )
        try:
            return await self._open({"TableName": found.group(1)})
        except ResourceNotFoundException:
            raise ResourceNotFoundException(
                f"Requested resource not found: ResourcArn: {arn} not found"
            ) from None

    async def _change(
        self, table: OpenTable, change: Callable[[dict[str, str]], dict[str, str]]
    ) -> None:
        def update(current: StoredTable) -> tuple[dict[str, Any], str | None]:
            definition = dict(current.definition)
            tags = change(dict(definition.get("Tags") or {}))
            check_tag_count(tags)
            if tags:
                definition["Tags"] = tags
            else:
                definition.pop("Tags", None)
            return definition, current.ttl_attribute

        await self._store.update_table(table.id, update)

    async def tag_resource(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        table = await self._table(params)
        given = check_tags(params.get("Tags"))
        await self._change(table, lambda tags: {**tags, **given})
        return {}

    async def untag_resource(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        table = await self._table(params)
        keys = params.get("TagKeys")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise null("tagKeys")
        for position, key in enumerate(keys, 1):
            if not 1 <= len(key) <= MAX_TAG_KEY:
                bound = (
                    f"less than or equal to {MAX_TAG_KEY}" if key else "greater than or equal to 1"
                )
                raise ValidationException.constraints(
                    [
                        f"Value '{key}' at 'tagKeys.{position}.member' failed to satisfy "
                        f"constraint: Member must have length {bound}"
                    ]
                )
        await self._change(table, lambda tags: {k: v for k, v in tags.items() if k not in keys})
        return {}

    async def list_tags_of_resource(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        table = await self._table(params)
        tags = table.stored.definition.get("Tags") or {}
        return {"Tags": [{"Key": key, "Value": value} for key, value in tags.items()]}

    async def describe_continuous_backups(
        self, params: Mapping[str, Any], region: str
    ) -> dict[str, Any]:
        try:
            await self._open(params)
        except ResourceNotFoundException:
            raise TableNotFoundException.table(str(params.get("TableName"))) from None
        return {
            "ContinuousBackupsDescription": {
                "ContinuousBackupsStatus": "DISABLED",
                "PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": "DISABLED"},
            }
        }


def describe_endpoints(address: str) -> dict[str, Any]:
    """DescribeEndpoints' answer: the one endpoint, ``address`` (host and port)."""
    return {"Endpoints": [{"Address": address, "CachePeriodInMinutes": ENDPOINT_CACHE_MINUTES}]}
