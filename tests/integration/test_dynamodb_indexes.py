"""Secondary indexes, UpdateTable, parallel Scan and idempotent transactions through boto3,
against a running lorafox over a real socket."""

from __future__ import annotations

import time
import uuid
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from tests.conftest import root_api_user
from tests.integration.helpers import (
    boto3_client,
    error_code,
    error_message,
    new_table_name,
    wait_for_the_purge,
)


def _readings_table(client: Any) -> str:
    """device/time table; GSI by_site (site, rssi) KEYS_ONLY+, GSI by_kind (kind) ALL, LSI
    by_seq (device, seq) INCLUDE."""
    name = new_table_name()
    client.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "device", "KeyType": "HASH"},
            {"AttributeName": "time", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "device", "AttributeType": "S"},
            {"AttributeName": "time", "AttributeType": "N"},
            {"AttributeName": "site", "AttributeType": "S"},
            {"AttributeName": "rssi", "AttributeType": "N"},
            {"AttributeName": "kind", "AttributeType": "S"},
            {"AttributeName": "seq", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_site",
                "KeySchema": [
                    {"AttributeName": "site", "KeyType": "HASH"},
                    {"AttributeName": "rssi", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["snr"]},
            },
            {
                "IndexName": "by_kind",
                "KeySchema": [{"AttributeName": "kind", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            },
        ],
        LocalSecondaryIndexes=[
            {
                "IndexName": "by_seq",
                "KeySchema": [
                    {"AttributeName": "device", "KeyType": "HASH"},
                    {"AttributeName": "seq", "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def _reading(device: str, t: int, **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"device": {"S": device}, "time": {"N": str(t)}}
    for key, value in extra.items():
        item[key] = {"N": str(value)} if isinstance(value, int) else {"S": value}
    return item


def test_create_and_describe_indexes(client: Any) -> None:
    name = _readings_table(client)
    table = client.describe_table(TableName=name)["Table"]
    gsis = {i["IndexName"]: i for i in table["GlobalSecondaryIndexes"]}
    assert set(gsis) == {"by_site", "by_kind"}
    assert gsis["by_site"]["IndexStatus"] == "ACTIVE"
    assert gsis["by_site"]["IndexArn"] == table["TableArn"] + "/index/by_site"
    assert gsis["by_site"]["Projection"] == {
        "ProjectionType": "INCLUDE",
        "NonKeyAttributes": ["snr"],
    }
    assert gsis["by_kind"]["KeySchema"] == [{"AttributeName": "kind", "KeyType": "HASH"}]
    [lsi] = table["LocalSecondaryIndexes"]
    assert lsi["IndexName"] == "by_seq"
    assert lsi["ItemCount"] == 0
    client.put_item(TableName=name, Item=_reading("A", 1, site="s1", rssi=-90, seq=7))
    client.put_item(TableName=name, Item=_reading("A", 2))  # in no index: sparse
    table = client.describe_table(TableName=name)["Table"]
    counts = {i["IndexName"]: i["ItemCount"] for i in table["GlobalSecondaryIndexes"]}
    assert counts == {"by_site": 1, "by_kind": 0}
    assert table["LocalSecondaryIndexes"][0]["ItemCount"] == 1
    assert table["ItemCount"] == 2


def test_create_table_index_errors(client: Any) -> None:
    k = {"AttributeName": "k", "AttributeType": "S"}
    k_and_x = [k, {"AttributeName": "x", "AttributeType": "S"}]
    gsi = {
        "IndexName": "gsi1",
        "KeySchema": [{"AttributeName": "x", "KeyType": "HASH"}],
        "Projection": {"ProjectionType": "ALL"},
    }

    def refused(**params: Any) -> tuple[str, str]:
        """The error code and message refusing a table keyed by ``k`` with ``params``."""
        with pytest.raises(ClientError) as info:
            client.create_table(
                TableName=new_table_name(),
                KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
                **params,
            )
        return error_code(info), error_message(info)

    code, message = refused(AttributeDefinitions=[k], GlobalSecondaryIndexes=[gsi])
    assert code == "ValidationException"
    assert "Some index key attributes are not defined in AttributeDefinitions" in message
    lsi = {
        "IndexName": "lsi1",
        "KeySchema": [
            {"AttributeName": "k", "KeyType": "HASH"},
            {"AttributeName": "x", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }
    _, message = refused(AttributeDefinitions=k_and_x, LocalSecondaryIndexes=[lsi])
    assert message == (
        "One or more parameter values were invalid: Table KeySchema does not have a range key, "
        "which is required when specifying a LocalSecondaryIndex"
    )
    _, message = refused(AttributeDefinitions=k_and_x, GlobalSecondaryIndexes=[gsi, gsi])
    assert message == "One or more parameter values were invalid: Duplicate index name: gsi1"
    include = {**gsi, "Projection": {"ProjectionType": "INCLUDE"}}
    _, message = refused(AttributeDefinitions=k_and_x, GlobalSecondaryIndexes=[include])
    assert "ProjectionType is INCLUDE, but NonKeyAttributes is not specified" in message
    stream = {"StreamEnabled": True, "StreamViewType": "EVERYTHING"}
    code, message = refused(
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        StreamSpecification=stream,
    )
    assert code == "ValidationException"
    assert "at 'streamSpecification.streamViewType' failed to satisfy constraint" in message


def test_query_global_index(client: Any) -> None:
    name = _readings_table(client)
    for t in range(30):
        client.put_item(
            TableName=name,
            Item={
                **_reading(f"D{t % 3}", t, site="s1" if t % 2 else "s2", rssi=-100 + t % 10),
                "snr": {"N": str(t)},
                "other": {"S": "x"},
            },
        )
    query = {
        "TableName": name,
        "IndexName": "by_site",
        "KeyConditionExpression": "site = :s AND rssi BETWEEN :lo AND :hi",
        "ExpressionAttributeValues": {":s": {"S": "s1"}, ":lo": {"N": "-99"}, ":hi": {"N": "-95"}},
    }
    result = client.query(**query)
    items = result["Items"]
    expected = sorted(
        (-100 + t % 10, f"D{t % 3}", t) for t in range(30) if t % 2 and -99 <= -100 + t % 10 <= -95
    )
    assert [(int(i["rssi"]["N"]), i["device"]["S"], int(i["time"]["N"])) for i in items] == (
        expected
    )
    # The projection: table keys, index keys and snr; never "other".
    assert set(items[0]) == {"device", "time", "site", "rssi", "snr"}
    pages = list(client.get_paginator("query").paginate(**query, PaginationConfig={"PageSize": 2}))
    assert [int(i["time"]["N"]) for p in pages for i in p["Items"]] == [t for _, _, t in expected]
    first = client.query(**query, Limit=2)
    assert set(first["LastEvaluatedKey"]) == {"device", "time", "site", "rssi"}
    backwards = client.query(**query, ScanIndexForward=False)
    assert [int(i["time"]["N"]) for i in backwards["Items"]] == [t for _, _, t in expected][::-1]
    with pytest.raises(ClientError) as info:
        client.query(**query, ConsistentRead=True)
    assert error_message(info) == "Consistent reads are not supported on global secondary indexes"
    with pytest.raises(ClientError) as info:
        client.query(**query, Select="ALL_ATTRIBUTES")
    assert "Select type ALL_ATTRIBUTES is not supported for global secondary index by_site" in (
        error_message(info)
    )
    with pytest.raises(ClientError) as info:
        client.query(**{**query, "IndexName": "nope"})
    assert error_message(info) == "The table does not have the specified index: nope"
    with pytest.raises(ClientError) as info:
        client.query(
            TableName=name,
            IndexName="by_site",
            KeyConditionExpression="device = :d",
            ExpressionAttributeValues={":d": {"S": "D1"}},
        )
    assert error_message(info) == "Query condition missed key schema element: site"
    counted = client.query(**query, Select="COUNT")
    assert counted["Count"] == len(expected)
    assert "Items" not in counted


def test_local_index_and_scans(client: Any) -> None:
    name = _readings_table(client)
    for t in range(10):
        client.put_item(TableName=name, Item={**_reading("L", t, seq=100 - t), "v": {"S": "x"}})
    found = client.query(
        TableName=name,
        IndexName="by_seq",
        KeyConditionExpression="device = :d AND seq < :s",
        ExpressionAttributeValues={":d": {"S": "L"}, ":s": {"N": "95"}},
    )
    # Ordered by the index's sort key; KEYS_ONLY projection.
    assert [int(i["seq"]["N"]) for i in found["Items"]] == [91, 92, 93, 94]
    assert set(found["Items"][0]) == {"device", "time", "seq"}
    # A local index reads what it does not hold from the table.
    full = client.query(
        TableName=name,
        IndexName="by_seq",
        KeyConditionExpression="device = :d AND seq = :s",
        ExpressionAttributeValues={":d": {"S": "L"}, ":s": {"N": "91"}},
        Select="ALL_ATTRIBUTES",
        ConsistentRead=True,
    )
    assert full["Items"][0]["v"] == {"S": "x"}
    scanned = client.scan(TableName=name, IndexName="by_seq", Limit=4)
    assert [int(i["seq"]["N"]) for i in scanned["Items"]] == [91, 92, 93, 94]
    assert set(scanned["LastEvaluatedKey"]) == {"device", "time", "seq"}
    rest = client.scan(
        TableName=name, IndexName="by_seq", ExclusiveStartKey=scanned["LastEvaluatedKey"]
    )
    assert [int(i["seq"]["N"]) for i in rest["Items"]] == list(range(95, 101))
    # Rewriting the index key moves the item; removing it takes it out.
    client.update_item(
        TableName=name,
        Key={"device": {"S": "L"}, "time": {"N": "0"}},
        UpdateExpression="SET seq = :s",
        ExpressionAttributeValues={":s": {"N": "1"}},
    )
    client.update_item(
        TableName=name,
        Key={"device": {"S": "L"}, "time": {"N": "1"}},
        UpdateExpression="REMOVE seq",
    )
    keys = client.scan(TableName=name, IndexName="by_seq")["Items"]
    assert [int(i["seq"]["N"]) for i in keys] == [1, *range(91, 99)]
    with pytest.raises(ClientError) as info:
        client.put_item(TableName=name, Item={**_reading("L", 50), "seq": {"S": "not a number"}})
    assert error_message(info) == (
        "One or more parameter values were invalid: Type mismatch for Index Key seq Expected: N "
        "Actual: S IndexName: by_seq"
    )


def test_parallel_scan(client: Any, resource: Any) -> None:
    name = _readings_table(client)
    table = resource.Table(name)
    with table.batch_writer() as batch:
        for t in range(200):
            batch.put_item(Item={"device": f"P{t % 17}", "time": t, "temp": Decimal(t)})
    seen: list[int] = []
    for segment in range(4):
        kwargs: dict[str, Any] = {"Segment": segment, "TotalSegments": 4, "Limit": 15}
        while True:
            page = table.scan(**kwargs)
            seen.extend(int(i["time"]) for i in page["Items"])
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert sorted(seen) == list(range(200))
    with pytest.raises(ClientError) as info:
        client.scan(TableName=name, Segment=4, TotalSegments=4)
    assert error_message(info) == (
        "The Segment parameter is zero-based and must be less than parameter TotalSegments: "
        "Segment: 4 is not less than TotalSegments: 4"
    )
    with pytest.raises(ClientError) as info:
        client.scan(TableName=name, Segment=1)
    assert error_code(info) == "ValidationException"


def _wait_active(client: Any, name: str, index: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        table = client.describe_table(TableName=name)["Table"]
        found = [i for i in table.get("GlobalSecondaryIndexes", []) if i["IndexName"] == index]
        if found and found[0]["IndexStatus"] == "ACTIVE":
            return dict(found[0])
        assert time.monotonic() < deadline, f"index {index} did not become active"
        time.sleep(0.1)


def test_update_table_indexes(client: Any, resource: Any) -> None:
    name = new_table_name()
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 5},
    )
    table = resource.Table(name)
    with table.batch_writer() as batch:
        for n in range(120):
            batch.put_item(Item={"id": f"i{n}", "owner": f"o{n % 4}", "n": n})
    described = client.update_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "owner", "AttributeType": "S"},
            {"AttributeName": "n", "AttributeType": "N"},
        ],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": "by_owner",
                    "KeySchema": [
                        {"AttributeName": "owner", "KeyType": "HASH"},
                        {"AttributeName": "n", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                    "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
                }
            }
        ],
    )["TableDescription"]
    [creating] = described["GlobalSecondaryIndexes"]
    assert creating["IndexStatus"] in ("CREATING", "ACTIVE")
    # Written while the index is built: indexed too.
    table.put_item(Item={"id": "late", "owner": "o1", "n": 1000})
    active = _wait_active(client, name, "by_owner")
    assert active["ItemCount"] == 121
    found = table.query(
        IndexName="by_owner", KeyConditionExpression=Key("owner").eq("o1") & Key("n").gte(100)
    )["Items"]
    assert [int(i["n"]) for i in found] == [101, 105, 109, 113, 117, 1000]
    with pytest.raises(ClientError) as info:
        client.update_table(
            TableName=name,
            GlobalSecondaryIndexUpdates=[
                {
                    "Create": {
                        "IndexName": "by_owner",
                        "KeySchema": [{"AttributeName": "owner", "KeyType": "HASH"}],
                        "Projection": {"ProjectionType": "ALL"},
                        "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
                    }
                }
            ],
        )
    assert error_code(info) == "ValidationException"
    # Billing mode and throughput are accepted and echoed.
    updated = client.update_table(TableName=name, BillingMode="PAY_PER_REQUEST")
    assert updated["TableDescription"]["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    streaming = client.update_table(
        TableName=name,
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"},
    )["TableDescription"]
    assert streaming["LatestStreamArn"].startswith(
        f"arn:aws:dynamodb:eu-west-1:000000000000:table/{name}/stream/"
    )
    with pytest.raises(ClientError) as info:
        client.update_table(TableName=name)
    assert error_code(info) == "ValidationException"
    client.update_table(
        TableName=name, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by_owner"}}]
    )
    assert "GlobalSecondaryIndexes" not in client.describe_table(TableName=name)["Table"]
    with pytest.raises(ClientError) as info:
        table.query(IndexName="by_owner", KeyConditionExpression=Key("owner").eq("o1"))
    assert error_message(info) == "The table does not have the specified index: by_owner"
    with pytest.raises(ClientError) as info:
        client.update_table(
            TableName=name, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "by_owner"}}]
        )
    assert error_code(info) == "ResourceNotFoundException"


def test_transaction_client_token(client: Any) -> None:
    name = _readings_table(client)
    token = uuid.uuid4().hex
    request: dict[str, Any] = {
        "TransactItems": [
            {
                "Update": {
                    "TableName": name,
                    "Key": {"device": {"S": "T"}, "time": {"N": "1"}},
                    "UpdateExpression": "ADD hits :one",
                    "ExpressionAttributeValues": {":one": {"N": "1"}},
                }
            }
        ],
        "ClientRequestToken": token,
    }
    client.transact_write_items(**request)
    client.transact_write_items(**request)  # the same request: answered, not run again
    item = client.get_item(TableName=name, Key={"device": {"S": "T"}, "time": {"N": "1"}})
    assert item["Item"]["hits"] == {"N": "1"}
    request["TransactItems"][0]["Update"]["ExpressionAttributeValues"] = {":one": {"N": "2"}}
    with pytest.raises(ClientError) as info:
        client.transact_write_items(**request)
    assert error_code(info) == "IdempotentParameterMismatchException"
    request["ClientRequestToken"] = uuid.uuid4().hex
    client.transact_write_items(**request)
    item = client.get_item(TableName=name, Key={"device": {"S": "T"}, "time": {"N": "1"}})
    assert item["Item"]["hits"] == {"N": "3"}


@pytest.mark.postgres
def test_indexes_ttl_and_tokens_on_postgresql(
    lorafox_factory: Any, pg_database: str, tmp_path: Any
) -> None:
    """The same through boto3 with PostgreSQL as the store (SQLAlchemy, row locks)."""
    running = lorafox_factory(database_url=pg_database, tables={"ttl_purge_seconds": 0.2})
    client = boto3_client(running, *root_api_user(running.base_url, "pg"))
    name = _readings_table(client)
    client.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"}
    )
    now = int(time.time())
    for t in range(6):
        client.put_item(
            TableName=name,
            Item={
                **_reading("P", t, site="s1", rssi=-90 - t),
                "expires": {"N": str(now - 10 if t % 2 else now + 3600)},
            },
        )
    found = client.query(
        TableName=name,
        IndexName="by_site",
        KeyConditionExpression="site = :s",
        ExpressionAttributeValues={":s": {"S": "s1"}},
        ScanIndexForward=False,
        Limit=2,
    )
    assert [int(i["rssi"]["N"]) for i in found["Items"]] == [-90, -91]
    wait_for_the_purge(client, name, 3)
    remaining = client.query(
        TableName=name,
        IndexName="by_site",
        KeyConditionExpression="site = :s",
        ExpressionAttributeValues={":s": {"S": "s1"}},
    )["Items"]
    assert [int(i["time"]["N"]) for i in remaining] == [4, 2, 0]  # by rssi, ascending
    request: dict[str, Any] = {
        "TransactItems": [
            {"Put": {"TableName": name, "Item": _reading("P", 100, site="s2", rssi=-1)}}
        ],
        "ClientRequestToken": uuid.uuid4().hex,
    }
    client.transact_write_items(**request)
    client.transact_write_items(**request)
    request["TransactItems"][0]["Put"]["Item"]["rssi"] = {"N": "-2"}
    with pytest.raises(ClientError) as info:
        client.transact_write_items(**request)
    assert error_code(info) == "IdempotentParameterMismatchException"
