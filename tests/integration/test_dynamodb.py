"""The DynamoDB-compatible table API through boto3 (client and resource), over a real socket."""

from __future__ import annotations

import functools
import subprocess
import sys
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from boto3.dynamodb.conditions import Attr, Key  # type: ignore[import-untyped]
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from tests.conftest import Running
from tests.integration.helpers import (
    DEVICE_TIME_KEYS,
    boto3_client,
    boto3_resource,
    error_code,
    new_table_name,
    wait_for_the_purge,
)


@pytest.fixture(scope="module")
def resource(server: Running, credentials: tuple[str, str]) -> Any:
    return boto3_resource(server, *credentials, region="us-east-1")


def _messages_table(client: Any) -> str:
    name = new_table_name()
    client.create_table(TableName=name, **DEVICE_TIME_KEYS, BillingMode="PAY_PER_REQUEST")
    return name


# -- tables ----------------------------------------------------------------------------------


def test_create_describe_list_delete(client: Any) -> None:
    name = _messages_table(client)
    table = client.describe_table(TableName=name)["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["TableArn"] == f"arn:aws:dynamodb:eu-west-1:000000000000:table/{name}"
    assert table["KeySchema"][1] == {"AttributeName": "time", "KeyType": "RANGE"}
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    client.get_waiter("table_exists").wait(TableName=name)
    with pytest.raises(ClientError) as info:
        _ = client.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    assert error_code(info) == "ResourceInUseException"
    assert client.delete_table(TableName=name)["TableDescription"]["TableStatus"] == "DELETING"
    with pytest.raises(ClientError) as info:
        client.describe_table(TableName=name)
    assert error_code(info) == "ResourceNotFoundException"
    assert info.value.response["Error"]["Message"] == (
        f"Requested resource not found: Table: {name} not found"
    )


def test_list_tables_paged(client: Any) -> None:
    prefix = "list-" + uuid.uuid4().hex[:6]
    names = [f"{prefix}-{i}" for i in range(5)]
    for name in names:
        client.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
            ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1},
        )
    page = client.list_tables(ExclusiveStartTableName=f"{prefix}-0", Limit=2)
    assert page["TableNames"] == names[1:3]
    assert page["LastEvaluatedTableName"] == names[2]
    listed = [
        n
        for p in client.get_paginator("list_tables").paginate(PaginationConfig={"PageSize": 2})
        for n in p["TableNames"]
    ]
    assert [n for n in listed if n.startswith(prefix)] == names


def test_create_table_validation(client: Any) -> None:
    with pytest.raises(ClientError) as info:
        client.create_table(
            TableName=new_table_name(),
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "other", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    assert error_code(info) == "ValidationException"
    assert "Some index key attributes are not defined in AttributeDefinitions" in str(info.value)
    with pytest.raises(ClientError) as info:
        client.create_table(
            TableName=new_table_name(),
            KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        )
    assert "ReadCapacityUnits and WriteCapacityUnits must both be specified" in str(info.value)


# -- items -----------------------------------------------------------------------------------


def test_put_get_delete_item(client: Any) -> None:
    name = _messages_table(client)
    item = {
        "device": {"S": "1A2B3C"},
        "time": {"N": "1700000000"},
        "data": {"B": b"\x01\x02"},
        "snr": {"N": "12.50"},
        "tags": {"SS": ["a", "b"]},
        "meta": {"M": {"station": {"S": "0A1B"}, "ok": {"BOOL": True}}},
    }
    assert "Attributes" not in client.put_item(TableName=name, Item=item)
    got = client.get_item(
        TableName=name, Key={"device": {"S": "1A2B3C"}, "time": {"N": "1700000000"}}
    )
    assert got["Item"]["snr"] == {"N": "12.5"}
    assert got["Item"]["data"] == {"B": b"\x01\x02"}
    projected = client.get_item(
        TableName=name,
        Key={"device": {"S": "1A2B3C"}, "time": {"N": "1700000000"}},
        ProjectionExpression="#m.station, snr",
        ExpressionAttributeNames={"#m": "meta"},
    )["Item"]
    assert projected == {"meta": {"M": {"station": {"S": "0A1B"}}}, "snr": {"N": "12.5"}}
    old = client.put_item(TableName=name, Item={**item, "snr": {"N": "1"}}, ReturnValues="ALL_OLD")[
        "Attributes"
    ]
    assert old["snr"] == {"N": "12.5"}
    with pytest.raises(ClientError) as info:
        client.put_item(
            TableName=name, Item=item, ConditionExpression="attribute_not_exists(device)"
        )
    assert error_code(info) == "ConditionalCheckFailedException"
    deleted = client.delete_item(
        TableName=name,
        Key={"device": {"S": "1A2B3C"}, "time": {"N": "1700000000"}},
        ReturnValues="ALL_OLD",
    )
    assert deleted["Attributes"]["snr"] == {"N": "1"}
    assert "Item" not in client.get_item(
        TableName=name, Key={"device": {"S": "1A2B3C"}, "time": {"N": "1700000000"}}
    )


def test_item_errors(client: Any) -> None:
    name = _messages_table(client)
    with pytest.raises(ClientError) as info:
        client.put_item(TableName="missing-table", Item={"device": {"S": "x"}})
    assert error_code(info) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as info:
        client.put_item(TableName=name, Item={"device": {"S": "x"}})
    assert info.value.response["Error"]["Message"] == (
        "One or more parameter values were invalid: Missing the key time in the item"
    )
    with pytest.raises(ClientError) as info:
        client.get_item(TableName=name, Key={"device": {"S": "x"}})
    assert info.value.response["Error"]["Message"] == (
        "The provided key element does not match the schema"
    )
    with pytest.raises(ClientError) as info:
        client.put_item(
            TableName=name,
            Item={"device": {"S": "x"}, "time": {"N": "1"}},
            ConditionExpression="attribute_exists(#unused)",
            ExpressionAttributeNames={"#unused": "a", "#other": "b"},
        )
    assert error_code(info) == "ValidationException"
    assert "unused in expressions: keys: {#other}" in str(info.value)


def test_update_item(client: Any) -> None:
    name = _messages_table(client)
    key = {"device": {"S": "D1"}, "time": {"N": "5"}}
    update = functools.partial(client.update_item, TableName=name, Key=key)
    new = update(
        UpdateExpression=(
            "SET #c = if_not_exists(#c, :zero) + :one, "
            "seen = list_append(if_not_exists(seen, :empty), :s)"
        ),
        ExpressionAttributeNames={"#c": "count"},
        ExpressionAttributeValues={
            ":zero": {"N": "0"},
            ":one": {"N": "1"},
            ":empty": {"L": []},
            ":s": {"L": [{"S": "a"}]},
        },
        ReturnValues="ALL_NEW",
    )["Attributes"]
    assert new == {**key, "count": {"N": "1"}, "seen": {"L": [{"S": "a"}]}}
    updated = update(
        UpdateExpression="ADD #c :one REMOVE seen",
        ConditionExpression="#c = :one",
        ExpressionAttributeNames={"#c": "count"},
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="UPDATED_NEW",
    )["Attributes"]
    assert updated == {"count": {"N": "2"}}
    with pytest.raises(ClientError) as info:
        update(
            UpdateExpression="SET #c = :one",
            ConditionExpression="#c = :one",
            ExpressionAttributeNames={"#c": "count"},
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    assert error_code(info) == "ConditionalCheckFailedException"
    assert info.value.response["Item"]["count"] == {"N": "2"}
    with pytest.raises(ClientError) as info:
        update(
            UpdateExpression="SET device = :one",
            ExpressionAttributeValues={":one": {"S": "x"}},
        )
    assert "Cannot update attribute device. This attribute is part of the key" in str(info.value)


# -- Query and Scan --------------------------------------------------------------------------


def _fill(client: Any, name: str, devices: tuple[str, ...], count: int) -> None:
    for device in devices:
        for start in range(0, count, 25):
            client.batch_write_item(
                RequestItems={
                    name: [
                        {
                            "PutRequest": {
                                "Item": {
                                    "device": {"S": device},
                                    "time": {"N": str(t)},
                                    "rssi": {"N": str(-100 - t % 7)},
                                }
                            }
                        }
                        for t in range(start, min(start + 25, count))
                    ]
                }
            )


def test_query(client: Any) -> None:
    name = _messages_table(client)
    _fill(client, name, ("A", "B"), 60)
    base = {
        "TableName": name,
        "KeyConditionExpression": "device = :d AND #t BETWEEN :lo AND :hi",
        "ExpressionAttributeNames": {"#t": "time"},
        "ExpressionAttributeValues": {":d": {"S": "A"}, ":lo": {"N": "5"}, ":hi": {"N": "44"}},
    }
    result = client.query(**base)
    assert [int(i["time"]["N"]) for i in result["Items"]] == list(range(5, 45))
    assert "LastEvaluatedKey" not in result
    backwards = client.query(**base, ScanIndexForward=False, Limit=3)
    assert [int(i["time"]["N"]) for i in backwards["Items"]] == [44, 43, 42]
    assert backwards["LastEvaluatedKey"] == {"device": {"S": "A"}, "time": {"N": "42"}}
    pages = list(client.get_paginator("query").paginate(**base, PaginationConfig={"PageSize": 7}))
    assert [int(i["time"]["N"]) for p in pages for i in p["Items"]] == list(range(5, 45))
    assert len(pages) == 6
    filtered = client.query(
        TableName=name,
        KeyConditionExpression="device = :d",
        FilterExpression="rssi = :r",
        ProjectionExpression="#t",
        ExpressionAttributeNames={"#t": "time"},
        ExpressionAttributeValues={":d": {"S": "B"}, ":r": {"N": "-100"}},
        Limit=20,
    )
    assert filtered["Items"] == [{"time": {"N": str(t)}} for t in (0, 7, 14)]
    assert (filtered["Count"], filtered["ScannedCount"]) == (3, 20)
    counted = client.query(
        TableName=name,
        KeyConditionExpression="device = :d AND #t < :hi",
        ExpressionAttributeNames={"#t": "time"},
        ExpressionAttributeValues={":d": {"S": "B"}, ":hi": {"N": "10"}},
        Select="COUNT",
    )
    assert counted["Count"] == 10
    assert "Items" not in counted
    with pytest.raises(ClientError) as info:
        client.query(
            TableName=name,
            KeyConditionExpression="rssi = :d",
            ExpressionAttributeValues={":d": {"N": "1"}},
        )
    assert "Query condition missed key schema element: device" in str(info.value)


def test_scan_paged(client: Any) -> None:
    name = _messages_table(client)
    _fill(client, name, ("A", "B", "C"), 10)
    pages = list(
        client.get_paginator("scan").paginate(TableName=name, PaginationConfig={"PageSize": 4})
    )
    items = [(i["device"]["S"], int(i["time"]["N"])) for p in pages for i in p["Items"]]
    assert sorted(items) == [(d, t) for d in "ABC" for t in range(10)]
    assert len(items) == 30
    filtered = client.scan(
        TableName=name,
        FilterExpression="#t >= :t",
        ExpressionAttributeNames={"#t": "time"},
        ExpressionAttributeValues={":t": {"N": "8"}},
    )
    assert filtered["Count"] == 6
    assert filtered["ScannedCount"] == 30


# -- batches ---------------------------------------------------------------------------------


def test_batches(client: Any) -> None:
    name = _messages_table(client)
    _fill(client, name, ("A",), 30)
    got = client.batch_get_item(
        RequestItems={
            name: {
                "Keys": [{"device": {"S": "A"}, "time": {"N": str(t)}} for t in (1, 2, 99)],
                "ProjectionExpression": "#t",
                "ExpressionAttributeNames": {"#t": "time"},
            }
        }
    )
    assert sorted(i["time"]["N"] for i in got["Responses"][name]) == ["1", "2"]
    assert got["UnprocessedKeys"] == {}
    client.batch_write_item(
        RequestItems={
            name: [{"DeleteRequest": {"Key": {"device": {"S": "A"}, "time": {"N": "1"}}}}]
        }
    )
    assert (
        client.query(
            TableName=name,
            KeyConditionExpression="device = :d",
            ExpressionAttributeValues={":d": {"S": "A"}},
            Select="COUNT",
        )["Count"]
        == 29
    )
    with pytest.raises(ClientError) as info:
        client.batch_write_item(
            RequestItems={
                name: [
                    {"PutRequest": {"Item": {"device": {"S": "A"}, "time": {"N": str(t)}}}}
                    for t in range(26)
                ]
            }
        )
    assert "Member must have length less than or equal to 25" in str(info.value)
    with pytest.raises(ClientError) as info:
        client.batch_get_item(
            RequestItems={
                name: {"Keys": [{"device": {"S": "A"}, "time": {"N": str(t)}} for t in range(101)]}
            }
        )
    assert "Too many items requested for the BatchGetItem call" in str(info.value)


# -- time to live ----------------------------------------------------------------------------


def test_time_to_live(client: Any) -> None:
    name = _messages_table(client)
    assert client.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "DISABLED"
    }
    client.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"}
    )
    assert client.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "ENABLED",
        "AttributeName": "expires",
    }
    now = int(time.time())
    for t, expires in ((1, now - 10), (2, now + 3600), (3, now - 20)):
        client.put_item(
            TableName=name,
            Item={"device": {"S": "A"}, "time": {"N": str(t)}, "expires": {"N": str(expires)}},
        )
    # Until the purge deletes them, expired items are read as DynamoDB reads them; a filter
    # on the attribute leaves them out.
    live = client.query(
        TableName=name,
        KeyConditionExpression="device = :d",
        FilterExpression="expires > :now",
        ExpressionAttributeValues={":d": {"S": "A"}, ":now": {"N": str(now)}},
    )
    assert [i["time"]["N"] for i in live["Items"]] == ["2"]
    wait_for_the_purge(client, name, 1)
    found = client.query(
        TableName=name,
        KeyConditionExpression="device = :d",
        ExpressionAttributeValues={":d": {"S": "A"}},
    )
    assert [i["time"]["N"] for i in found["Items"]] == ["2"]
    assert "Item" not in client.get_item(
        TableName=name, Key={"device": {"S": "A"}, "time": {"N": "1"}}
    )
    assert client.describe_table(TableName=name)["Table"]["ItemCount"] == 1
    # An item written already expired is deleted as well; a renewed one stays.
    client.put_item(
        TableName=name,
        Item={"device": {"S": "B"}, "time": {"N": "1"}, "expires": {"N": str(now - 5)}},
    )
    client.update_item(
        TableName=name,
        Key={"device": {"S": "A"}, "time": {"N": "2"}},
        UpdateExpression="SET expires = :later",
        ExpressionAttributeValues={":later": {"N": str(now + 7200)}},
    )
    deadline = time.monotonic() + 30
    while "Item" in client.get_item(TableName=name, Key={"device": {"S": "B"}, "time": {"N": "1"}}):
        assert time.monotonic() < deadline, "expired item was not deleted"
        time.sleep(0.1)
    assert client.scan(TableName=name, Select="COUNT")["Count"] == 1
    client.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": False, "AttributeName": "expires"}
    )
    assert client.describe_time_to_live(TableName=name)["TimeToLiveDescription"] == {
        "TimeToLiveStatus": "DISABLED"
    }
    with pytest.raises(ClientError) as info:
        client.update_time_to_live(
            TableName=name, TimeToLiveSpecification={"Enabled": False, "AttributeName": "expires"}
        )
    assert info.value.response["Error"]["Message"] == "TimeToLive is already disabled"


# -- the resource API ------------------------------------------------------------------------


def test_resource_api(resource: Any) -> None:
    name = new_table_name()
    table = resource.create_table(TableName=name, **DEVICE_TIME_KEYS, BillingMode="PAY_PER_REQUEST")
    table.wait_until_exists()
    with table.batch_writer() as batch:
        for t in range(40):
            batch.put_item(Item={"device": "X", "time": t, "temp": Decimal("20.5") + t})
    assert table.get_item(Key={"device": "X", "time": 3})["Item"]["temp"] == Decimal("23.5")
    table.update_item(
        Key={"device": "X", "time": 3},
        UpdateExpression="SET #temp = #temp - :d",
        ExpressionAttributeNames={"#temp": "temp"},
        ExpressionAttributeValues={":d": Decimal("0.5")},
    )
    assert table.get_item(Key={"device": "X", "time": 3})["Item"]["temp"] == Decimal("23")
    result = table.query(
        KeyConditionExpression=Key("device").eq("X") & Key("time").gte(30),
        FilterExpression=Attr("temp").lt(Decimal("55")),
    )
    assert [int(i["time"]) for i in result["Items"]] == list(range(30, 35))
    with pytest.raises(ClientError) as info:
        table.put_item(
            Item={"device": "X", "time": 3}, ConditionExpression=Attr("device").not_exists()
        )
    assert error_code(info) == "ConditionalCheckFailedException"
    table.delete_item(Key={"device": "X", "time": 3})
    assert table.scan(Select="COUNT")["Count"] == 39
    assert name in [t.name for t in resource.tables.all()]
    table.delete()


# -- protocol and authentication -------------------------------------------------------------


def test_wrong_secret_and_unknown_key(server: Running, credentials: tuple[str, str]) -> None:
    with pytest.raises(ClientError) as info:
        boto3_client(server, credentials[0], "wrong-secret").list_tables()
    assert error_code(info) == "InvalidSignatureException"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as info:
        boto3_client(server, "AKIDUNKNOWN", "whatever").list_tables()
    assert error_code(info) == "UnrecognizedClientException"
    assert info.value.response["Error"]["Message"] == (
        "The security token included in the request is invalid."
    )


def test_unsigned_and_unknown_operation(server: Running, client: Any) -> None:
    response = httpx.post(
        server.base_url + "/",
        headers={
            "X-Amz-Target": "DynamoDB_20120810.ListTables",
            "Content-Type": "application/x-amz-json-1.0",
        },
        content=b"{}",
    )
    assert response.status_code == 400
    assert response.json() == {
        "__type": "com.amazon.coral.service#MissingAuthenticationTokenException",
        "message": "Request is missing Authentication Token",
    }
    assert response.headers["x-amzn-requestid"]
    assert response.headers["x-amz-crc32"]
    with pytest.raises(ClientError) as info:
        client.describe_backup(BackupArn="arn:aws:dynamodb:us-east-1:0:table/t/backup/b")
    assert error_code(info) == "UnknownOperationException"


def test_microcontroller_sample(server: Running, client: Any, credentials: tuple[str, str]) -> None:
    """examples/dynamodb_putitem_raw.py (http.client + hmac, no SDK) stores its item."""
    name = _messages_table(client)
    sample = Path(__file__).resolve().parents[2] / "examples" / "dynamodb_putitem_raw.py"
    done = subprocess.run(
        [sys.executable, str(sample), server.base_url, *credentials, name, "FT900"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Authorization: AWS4-HMAC-SHA256 Credential=" in done.stdout
    assert done.stdout.rstrip().endswith("200 {}")
    items = client.query(
        TableName=name,
        KeyConditionExpression="device = :d",
        ExpressionAttributeValues={":d": {"S": "FT900"}},
    )["Items"]
    assert items[0]["temperature"] == {"N": "21.5"}


def test_transactions(client: Any) -> None:
    name = _messages_table(client)
    key = {"device": {"S": "T"}, "time": {"N": "1"}}
    client.put_item(TableName=name, Item={**key, "balance": {"N": "10"}})
    client.put_item(TableName=name, Item={"device": {"S": "T"}, "time": {"N": "5"}})
    client.transact_write_items(
        TransactItems=[
            {
                "Update": {
                    "TableName": name,
                    "Key": key,
                    "UpdateExpression": "SET balance = balance - :n",
                    "ConditionExpression": "balance >= :n",
                    "ExpressionAttributeValues": {":n": {"N": "4"}},
                }
            },
            {"Put": {"TableName": name, "Item": {"device": {"S": "T"}, "time": {"N": "2"}}}},
            {
                "ConditionCheck": {
                    "TableName": name,
                    "Key": {"device": {"S": "T"}, "time": {"N": "5"}},
                    "ConditionExpression": "attribute_exists(device)",
                }
            },
        ]
    )
    with pytest.raises(ClientError) as info:
        client.transact_write_items(
            TransactItems=[
                {"Delete": {"TableName": name, "Key": {"device": {"S": "T"}, "time": {"N": "2"}}}},
                {
                    "Update": {
                        "TableName": name,
                        "Key": key,
                        "UpdateExpression": "SET balance = balance - :n",
                        "ConditionExpression": "balance >= :n",
                        "ExpressionAttributeValues": {":n": {"N": "100"}},
                    }
                },
            ]
        )
    assert error_code(info) == "TransactionCanceledException"
    reasons = info.value.response["CancellationReasons"]
    assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed"]
    got = client.transact_get_items(
        TransactItems=[
            {"Get": {"TableName": name, "Key": key}},
            {"Get": {"TableName": name, "Key": {"device": {"S": "T"}, "time": {"N": "2"}}}},
            {"Get": {"TableName": name, "Key": {"device": {"S": "T"}, "time": {"N": "3"}}}},
        ]
    )["Responses"]
    assert got[0]["Item"]["balance"] == {"N": "6"}
    assert got[1]["Item"] == {"device": {"S": "T"}, "time": {"N": "2"}}  # not deleted
    assert got[2] == {}
