"""ReturnConsumedCapacity through boto3 over a real socket, table-driven: each operation's
figures against DynamoDB's arithmetic (4 KB read units, half for an eventually consistent read;
1 KB write units; transactions count double; per table and per index with INDEXES)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from tests.integration.helpers import error_code, error_message, new_table_name

T = "capacity-" + new_table_name()
BIG = "x" * 5000  # an item of about 5 KB: two read units, five write units
MEDIUM = "y" * 2000  # three of them in one partition: about 6 KB read, two read units


def key(h: str, r: int = 1) -> dict[str, Any]:
    return {"h": {"S": h}, "r": {"N": str(r)}}


@pytest.fixture(scope="module")
def table(client: Any) -> str:
    """T keyed by h (S) and r (N); a global index on g projecting ALL, a local one on l
    projecting KEYS_ONLY."""
    client.create_table(
        TableName=T,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[
            {"AttributeName": "h", "KeyType": "HASH"},
            {"AttributeName": "r", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": n, "AttributeType": t}
            for n, t in (("h", "S"), ("r", "N"), ("g", "S"), ("l", "S"))
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "by_l",
                "KeySchema": [
                    {"AttributeName": "h", "KeyType": "HASH"},
                    {"AttributeName": "l", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
    )
    seeds = [
        {**key("big"), "p": {"S": BIG}},
        {**key("over"), "p": {"S": BIG}},
        {**key("idx"), "g": {"S": "g1"}, "l": {"S": "l1"}},
        {**key("gq", 1), "g": {"S": "gq"}},
        {**key("gq", 2), "g": {"S": "gq"}},
        *({**key("q", n), "p": {"S": MEDIUM}} for n in (1, 2, 3)),
    ]
    for item in seeds:
        client.put_item(TableName=T, Item=item)
    return T


def total(units: float) -> dict[str, Any]:
    return {"TableName": T, "CapacityUnits": units}


def indexes(table: float, gsi: float = 0, lsi: float = 0) -> dict[str, Any]:
    described: dict[str, Any] = {
        "TableName": T,
        "CapacityUnits": table + gsi + lsi,
        "Table": {"CapacityUnits": table},
    }
    if gsi:
        described["GlobalSecondaryIndexes"] = {"by_g": {"CapacityUnits": gsi}}
    if lsi:
        described["LocalSecondaryIndexes"] = {"by_l": {"CapacityUnits": lsi}}
    return described


def split(read: float = 0, write: float = 0) -> dict[str, Any]:
    described: dict[str, Any] = total(read + write)
    if read:
        described["ReadCapacityUnits"] = read
    if write:
        described["WriteCapacityUnits"] = write
    return described


QUERY_Q = {
    "KeyConditionExpression": "h = :h",
    "ExpressionAttributeValues": {":h": {"S": "q"}},
}

CASES: list[tuple[str, str, dict[str, Any], Any]] = [
    # reads: 4 KB units, rounded up per item, half when eventually consistent
    ("get missing", "get_item", {"Key": key("none")}, total(0.5)),
    ("get missing consistent", "get_item", {"Key": key("none"), "ConsistentRead": True}, total(1)),
    ("get 5 KB", "get_item", {"Key": key("big")}, total(1)),
    ("get 5 KB consistent", "get_item", {"Key": key("big"), "ConsistentRead": True}, total(2)),
    (
        "get INDEXES",
        "get_item",
        {"Key": key("big"), "ConsistentRead": True, "ReturnConsumedCapacity": "INDEXES"},
        indexes(2),
    ),
    ("get NONE", "get_item", {"Key": key("big"), "ReturnConsumedCapacity": "NONE"}, None),
    # a Query or Scan rounds up what it read in all
    ("query 3 x 2 KB", "query", QUERY_Q, total(1)),
    ("query consistent", "query", {**QUERY_Q, "ConsistentRead": True}, total(2)),
    (
        "query filtered out still reads",
        "query",
        {
            **QUERY_Q,
            "FilterExpression": "p = :none",
            "ExpressionAttributeValues": {":h": {"S": "q"}, ":none": {"S": "none"}},
            "ConsistentRead": True,
        },
        total(2),
    ),
    ("query one item", "query", {**QUERY_Q, "Limit": 1}, total(0.5)),
    (
        "query global index",
        "query",
        {
            "IndexName": "by_g",
            "KeyConditionExpression": "g = :g",
            "ExpressionAttributeValues": {":g": {"S": "gq"}},
            "ReturnConsumedCapacity": "INDEXES",
        },
        indexes(0, gsi=0.5),
    ),
    (
        "query local index",
        "query",
        {
            "IndexName": "by_l",
            "KeyConditionExpression": "h = :h",
            "ExpressionAttributeValues": {":h": {"S": "idx"}},
            "ConsistentRead": True,
            "ReturnConsumedCapacity": "INDEXES",
        },
        indexes(0, lsi=1),
    ),
    (
        "scan one small index entry, filtered out",
        "scan",
        {
            "IndexName": "by_g",
            "FilterExpression": "h = :h",
            "ExpressionAttributeValues": {":h": {"S": "none"}},
            "Limit": 1,
            "ReturnConsumedCapacity": "INDEXES",
        },
        indexes(0, gsi=0.5),
    ),
    # writes: 1 KB units per item, the larger of the old and new item
    ("put new 5 KB", "put_item", {"Item": {**key("new-big"), "p": {"S": BIG}}}, total(5)),
    ("put over 5 KB with small", "put_item", {"Item": key("over")}, total(5)),
    (
        "put into both indexes",
        "put_item",
        {
            "Item": {**key("new-idx"), "g": {"S": "g"}, "l": {"S": "l"}},
            "ReturnConsumedCapacity": "INDEXES",
        },
        indexes(1, gsi=1, lsi=1),
    ),
    (
        "update moving the global index key",
        "update_item",
        {
            "Key": key("idx"),
            "UpdateExpression": "SET g = :g",
            "ExpressionAttributeValues": {":g": {"S": "g2"}},
            "ReturnConsumedCapacity": "INDEXES",
        },
        indexes(1, gsi=2),
    ),
    ("delete absent", "delete_item", {"Key": key("none")}, total(1)),
    ("delete 5 KB", "delete_item", {"Key": key("big")}, total(5)),
    # batches: one entry per table, each item rounded up on its own
    (
        "batch get",
        "batch_get_item",
        {"RequestItems": {T: {"Keys": [key("q", 1), key("q", 2), key("none")]}}},
        [total(1.5)],
    ),
    (
        "batch get consistent",
        "batch_get_item",
        {"RequestItems": {T: {"Keys": [key("q", 1), key("none")], "ConsistentRead": True}}},
        [total(2)],
    ),
    (
        "batch write",
        "batch_write_item",
        {
            "RequestItems": {
                T: [
                    {"PutRequest": {"Item": {**key("b1"), "p": {"S": MEDIUM}}}},
                    {"PutRequest": {"Item": key("b2")}},
                    {"DeleteRequest": {"Key": key("b3")}},
                ]
            }
        },
        [total(4)],
    ),
    # transactions count double; a ConditionCheck reads
    (
        "transact write",
        "transact_write_items",
        {
            "TransactItems": [
                {"Put": {"TableName": T, "Item": {**key("t1"), "p": {"S": MEDIUM}}}},
                {
                    "ConditionCheck": {
                        "TableName": T,
                        "Key": key("q", 3),
                        "ConditionExpression": "attribute_exists(p)",
                    }
                },
            ]
        },
        [split(read=2, write=4)],
    ),
    (
        "transact get",
        "transact_get_items",
        {
            "TransactItems": [
                {"Get": {"TableName": T, "Key": key("q", 1)}},
                {"Get": {"TableName": T, "Key": key("none")}},
            ]
        },
        [split(read=4)],
    ),
]


@pytest.mark.parametrize(
    ("operation", "params", "expected"),
    [pytest.param(op, params, expected, id=name) for name, op, params, expected in CASES],
)
def test_consumed_capacity(
    client: Any, table: str, operation: str, params: dict[str, Any], expected: Any
) -> None:
    if "TransactItems" not in params and "RequestItems" not in params:
        params = {"TableName": table, **params}
    params = {"ReturnConsumedCapacity": "TOTAL", **params}
    answer = getattr(client, operation)(**params)
    assert answer.get("ConsumedCapacity") == expected


def test_unknown_return_consumed_capacity(client: Any, table: str) -> None:
    with pytest.raises(ClientError) as info:
        client.get_item(TableName=table, Key=key("big"), ReturnConsumedCapacity="ALL")
    assert error_code(info) == "ValidationException"
    assert error_message(info) == (
        "1 validation error detected: Value 'ALL' at 'returnConsumedCapacity' failed to "
        "satisfy constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]"
    )
