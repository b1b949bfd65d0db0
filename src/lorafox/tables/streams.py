"""DynamoDB Streams: a table's stream of item changes and the ``dynamodbstreams`` API
(ListStreams, DescribeStream, GetShardIterator, GetRecords).

A table has a stream once ``StreamSpecification`` enables it (CreateTable or UpdateTable); each
enabling starts a new stream, named by its label (the time it was enabled). Every write that
changes an item of a table with an enabled stream adds one record — INSERT, MODIFY or REMOVE,
with the keys and the images its ``StreamViewType`` asks for — after the write (a write that
changes nothing adds none, as on DynamoDB); the time-to-live purge adds REMOVE records whose
``userIdentity`` is DynamoDB's service. Records are kept 24 hours. A stream has one shard; a
record's sequence number is its row id, so numbers grow with time across all tables.

Shard iterators are opaque tokens valid 15 minutes that name the stream and the position; every
GetRecords checks again that the caller may read the table.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from lorafox.ports.tables import ItemStore
from lorafox.tables import access
from lorafox.tables.errors import (
    ExpiredIteratorException,
    ResourceNotFoundException,
    ValidationException,
)
from lorafox.tables.params import INVALID, null
from lorafox.tables.table import OpenTable
from lorafox.tables.values import item_size

__all__ = [
    "RETENTION_MS",
    "STREAM_OPERATIONS",
    "TableStreams",
    "enabled_view",
    "record_changes",
    "stream_arn",
    "stream_change",
]

STREAM_OPERATIONS = ("ListStreams", "DescribeStream", "GetShardIterator", "GetRecords")
"""The operations of the ``dynamodbstreams`` API (``X-Amz-Target: DynamoDBStreams_20120810.…``)."""
VIEW_TYPES = ("NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES", "KEYS_ONLY")
RETENTION_MS = 24 * 3600 * 1000
ITERATOR_MS = 15 * 60 * 1000
MAX_RECORDS = 1000
ITERATOR_TYPES = ("TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER")
_SERVICE = {"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"}

Change = tuple[dict[str, Any] | None, dict[str, Any] | None]
"""(old item, new item) of one write; None: no item."""


def _sequence(number: int) -> str:
    return f"{number:021d}"


def _label(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]


def stream_arn(region: str, account: str, table: str, label: str) -> str:
    return f"arn:aws:dynamodb:{region}:{account}:table/{table}/stream/{label}"


def _shard_id(label: str) -> str:
    digits = "".join(c for c in label if c.isdigit())
    return f"shardId-{digits:0>20}-00000001"


def _limit(params: Mapping[str, Any], most: int) -> int:
    """A ``Limit`` of 1 to ``most`` (``most`` when absent), or DynamoDB's constraint error."""
    value = params.get("Limit")
    if value is None:
        return most
    if not isinstance(value, int) or not 1 <= value <= most:
        bound = (
            f"less than or equal to {most}"
            if isinstance(value, int) and value > most
            else "greater than or equal to 1"
        )
        raise ValidationException.constraints(
            [
                f"Value '{value}' at 'limit' failed to satisfy constraint: Member must have "
                f"value {bound}"
            ]
        )
    return value


def stream_change(
    params: Mapping[str, Any], current: Mapping[str, Any] | None, table: str, now_ms: int
) -> dict[str, Any] | None:
    """The table's stream after ``StreamSpecification`` (``current``: its stream now, None:
    never had one), or None when the parameter is absent; DynamoDB's errors otherwise."""
    spec = params.get("StreamSpecification")
    if spec is None:
        return None
    if not isinstance(spec, Mapping) or not isinstance(spec.get("StreamEnabled"), bool):
        raise null("streamSpecification.streamEnabled")
    view = spec.get("StreamViewType")
    if spec["StreamEnabled"]:
        if view is None:
            raise ValidationException(
                INVALID + "StreamViewType is required when StreamEnabled is true"
            )
        if view not in VIEW_TYPES:
            raise ValidationException.constraints(
                [
                    f"Value '{view}' at 'streamSpecification.streamViewType' failed to satisfy "
                    "constraint: Member must satisfy enum value set: "
                    "[NEW_IMAGE, OLD_IMAGE, KEYS_ONLY, NEW_AND_OLD_IMAGES]"
                ]
            )
        if current is not None and current.get("Enabled"):
            raise ValidationException(f"Table already has an enabled stream: {table}")
        return {"Label": _label(now_ms), "ViewType": view, "Enabled": True}
    if view is not None:
        raise ValidationException(
            INVALID + "StreamViewType cannot be specified when StreamEnabled is false"
        )
    if current is None or not current.get("Enabled"):
        if current is None and params.get("KeySchema") is not None:
            return None  # CreateTable with a disabled stream: nothing to do
        raise ValidationException(f"Table does not have an enabled stream: {table}")
    return {**current, "Enabled": False}


def enabled_view(table: OpenTable) -> str | None:
    """The view type of the table's enabled stream, None when it has none."""
    stream = table.stored.definition.get("Stream")
    return str(stream["ViewType"]) if stream and stream.get("Enabled") else None


def _record(
    table: OpenTable, view: str, old: dict[str, Any] | None, new: dict[str, Any] | None, now: float
) -> dict[str, Any]:
    event = "INSERT" if old is None else "REMOVE" if new is None else "MODIFY"
    present = new if new is not None else old
    assert present is not None  # noqa: S101 - one of them is an item
    body: dict[str, Any] = {
        "ApproximateCreationDateTime": int(now),
        "Keys": table.schema.key_of(present),
    }
    if new is not None and view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES"):
        body["NewImage"] = new
    if old is not None and view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
        body["OldImage"] = old
    body["SizeBytes"] = sum(
        item_size(body[part]) for part in ("Keys", "NewImage", "OldImage") if part in body
    )
    body["StreamViewType"] = view
    return {
        "eventID": uuid.uuid4().hex,
        "eventName": event,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "dynamodb": body,
    }


async def record_changes(
    store: ItemStore,
    table: OpenTable,
    changes: Sequence[Change],
    *,
    now: float,
    service: bool = False,
) -> None:
    """Add the records of ``changes`` to the table's enabled stream (none: nothing to do);
    ``service``: deletions by the time-to-live purge."""
    view = enabled_view(table)
    if view is None:
        return
    stream = table.stored.definition["Stream"]
    records: list[tuple[int, dict[str, Any]]] = []
    for old, new in changes:
        if old == new:  # nothing changed (or no item before and after)
            continue
        record = _record(table, view, old, new, now)
        record["awsRegion"] = stream.get("Region", "us-east-1")
        if service:
            record["userIdentity"] = _SERVICE
        records.append((int(now * 1000), record))
    await store.append_stream_records(table.id, str(stream["Label"]), records)


class TableStreams:
    """The ``dynamodbstreams`` operations; ``open`` finds (and checks access to) a table."""

    def __init__(
        self,
        store: ItemStore,
        open_table: Callable[[Mapping[str, Any]], Awaitable[OpenTable]],
        *,
        account: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._open = open_table
        self._account = account
        self._clock = clock

    # -- streams ---------------------------------------------------------------------------

    def _arn(self, table: OpenTable, region: str) -> str:
        stream = table.stored.definition["Stream"]
        return stream_arn(region, self._account, table.stored.name, str(stream["Label"]))

    async def _stream(self, arn: object) -> tuple[OpenTable, dict[str, Any], str]:
        """The table and stream an ARN names, or ResourceNotFoundException."""
        if not isinstance(arn, str) or not arn:
            raise null("streamArn")
        not_found = ResourceNotFoundException(
            f"Requested resource not found: Stream: {arn} not found"
        )
        head, _, label = arn.partition("/stream/")
        name = head.rpartition(":table/")[2]
        if not label or not name or not head.startswith("arn:aws:dynamodb:"):
            raise ValidationException(f"Invalid StreamArn: {arn}")
        try:
            table = await self._open({"TableName": name})
        except ResourceNotFoundException:
            raise not_found from None
        stream = table.stored.definition.get("Stream")
        if not stream or stream["Label"] != label:
            raise not_found
        return table, stream, str(arn.split(":")[3])

    async def list_streams(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        most = _limit(params, 100)
        if params.get("TableName") is not None:
            tables = [await self._open({"TableName": params["TableName"]})]
        else:
            caller = access.current()
            tables = [
                OpenTable(stored)
                for stored in await self._store.list_tables()
                if caller is None or caller.access_at(stored.group_path) is not None
            ]
        streams = sorted(
            (
                {
                    "StreamArn": self._arn(table, region),
                    "TableName": table.stored.name,
                    "StreamLabel": str(table.stored.definition["Stream"]["Label"]),
                }
                for table in tables
                if table.stored.definition.get("Stream")
            ),
            key=lambda stream: stream["StreamArn"],
        )
        start = params.get("ExclusiveStartStreamArn")
        if start is not None:
            streams = [s for s in streams if s["StreamArn"] > start]
        answer: dict[str, Any] = {"Streams": streams[:most]}
        if len(streams) > most:
            answer["LastEvaluatedStreamArn"] = streams[most - 1]["StreamArn"]
        return answer

    async def describe_stream(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        arn = params.get("StreamArn")
        table, stream, _ = await self._stream(arn)
        label = str(stream["Label"])
        bounds = await self._store.stream_bounds(table.id, label)
        numbers: dict[str, str] = {
            "StartingSequenceNumber": _sequence(bounds[0] if bounds else int(stream["Start"]))
        }
        if not stream.get("Enabled"):
            last = bounds[1] if bounds else int(stream["Start"]) - 1
            numbers["EndingSequenceNumber"] = _sequence(max(last, 0))
        created = datetime.strptime(label, "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)
        return {
            "StreamDescription": {
                "StreamArn": arn,
                "StreamLabel": label,
                "StreamStatus": "ENABLED" if stream.get("Enabled") else "DISABLED",
                "StreamViewType": stream["ViewType"],
                "CreationRequestDateTime": created.timestamp(),
                "TableName": table.stored.name,
                "KeySchema": table.stored.definition["KeySchema"],
                "Shards": [{"ShardId": _shard_id(label), "SequenceNumberRange": numbers}],
            }
        }

    # -- iterators -------------------------------------------------------------------------

    def _iterator(self, arn: str, after: int) -> str:
        token = {"a": arn, "p": after, "t": int(self._clock() * 1000)}
        return base64.urlsafe_b64encode(json.dumps(token).encode()).decode()

    def _read_iterator(self, raw: object) -> tuple[str, int]:
        if not isinstance(raw, str) or not raw:
            raise null("shardIterator")
        try:
            token = json.loads(base64.urlsafe_b64decode(raw.encode()))
            arn, after, issued = str(token["a"]), int(token["p"]), int(token["t"])
        except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
            raise ValidationException("Invalid ShardIterator") from None
        now = int(self._clock() * 1000)
        if now - issued > ITERATOR_MS:
            raise ExpiredIteratorException(
                f"Iterator expired. The iterator was created at time {_label(issued)} while "
                f"right now it is {_label(now)} which is further in the future than the "
                f"tolerated delay of {ITERATOR_MS} milliseconds."
            )
        return arn, after

    async def get_shard_iterator(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        arn = params.get("StreamArn")
        _, stream, _ = await self._stream(arn)
        assert isinstance(arn, str)  # noqa: S101 - checked by _stream
        if params.get("ShardId") != _shard_id(str(stream["Label"])):
            raise ResourceNotFoundException(
                f"Requested resource not found: Shard does not exist: {params.get('ShardId')}"
            )
        kind = params.get("ShardIteratorType")
        if kind not in ITERATOR_TYPES:
            raise ValidationException.constraints(
                [
                    f"Value '{kind}' at 'shardIteratorType' failed to satisfy constraint: "
                    "Member must satisfy enum value set: "
                    "[TRIM_HORIZON, LATEST, AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER]"
                ]
            )
        number = params.get("SequenceNumber")
        if kind in ("AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER"):
            if not isinstance(number, str) or not number.isdigit() or len(number) > 40:
                raise ValidationException(
                    INVALID + f"Invalid SequenceNumber for ShardIteratorType {kind}: {number}"
                )
            after = int(number) - (1 if kind == "AT_SEQUENCE_NUMBER" else 0)
        elif number is not None:
            raise ValidationException(
                INVALID + f"SequenceNumber cannot be given with ShardIteratorType {kind}"
            )
        elif kind == "LATEST":
            after = await self._store.last_stream_sequence()
        else:
            after = 0
        return {"ShardIterator": self._iterator(arn, max(after, 0))}

    async def get_records(self, params: Mapping[str, Any], region: str) -> dict[str, Any]:
        arn, after = self._read_iterator(params.get("ShardIterator"))
        most = _limit(params, MAX_RECORDS)
        table, stream, _ = await self._stream(arn)
        rows = await self._store.stream_records(table.id, str(stream["Label"]), after, most)
        records = []
        for number, _, record in rows:
            record["dynamodb"]["SequenceNumber"] = _sequence(number)
            records.append(record)
            after = number
        answer: dict[str, Any] = {"Records": records}
        if stream.get("Enabled") or len(rows) == most:
            answer["NextShardIterator"] = self._iterator(arn, after)
        return answer
