"""Answers that must be DynamoDB's, through boto3 over a real socket: items an update does not
create, what an index added later holds, what DeleteTable describes."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.integration.helpers import new_table_name, table_keys

KEY = {"h": {"S": "absent"}}


@pytest.fixture(scope="module")
def table(client: Any) -> str:
    name = new_table_name()
    client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **table_keys(h="S"))
    return name


@pytest.mark.parametrize(
    "params",
    [
        {"UpdateExpression": "REMOVE a, b"},
        {"UpdateExpression": "REMOVE a", "ReturnValues": "ALL_NEW"},
        {"UpdateExpression": "REMOVE a", "ReturnValues": "UPDATED_NEW"},
        {
            "UpdateExpression": "DELETE s :v",
            "ExpressionAttributeValues": {":v": {"SS": ["x"]}},
            "ReturnValues": "ALL_NEW",
        },
        {"AttributeUpdates": {"a": {"Action": "DELETE"}}, "ReturnValues": "ALL_NEW"},
    ],
)
def test_update_removing_from_an_absent_item_creates_nothing(
    client: Any, table: str, params: dict[str, Any]
) -> None:
    answer = client.update_item(TableName=table, Key=KEY, **params)
    assert "Attributes" not in answer
    assert "Item" not in client.get_item(TableName=table, Key=KEY)


def test_transaction_update_removing_from_an_absent_item_creates_nothing(
    client: Any, table: str
) -> None:
    key = {"h": {"S": "absent-in-a-transaction"}}
    client.transact_write_items(
        TransactItems=[{"Update": {"TableName": table, "Key": key, "UpdateExpression": "REMOVE a"}}]
    )
    assert "Item" not in client.get_item(TableName=table, Key=key)


def test_update_with_no_action_still_creates_the_key(client: Any, table: str) -> None:
    key = {"h": {"S": "bare"}}
    answer = client.update_item(TableName=table, Key=key, ReturnValues="ALL_NEW")
    assert answer["Attributes"] == key
    assert client.get_item(TableName=table, Key=key)["Item"] == key


def test_update_removing_from_an_existing_item_keeps_it(client: Any, table: str) -> None:
    key = {"h": {"S": "present"}}
    client.put_item(TableName=table, Item={**key, "a": {"N": "1"}})
    answer = client.update_item(
        TableName=table, Key=key, UpdateExpression="REMOVE a", ReturnValues="ALL_NEW"
    )
    assert answer["Attributes"] == key
    assert client.get_item(TableName=table, Key=key)["Item"] == key


def _wait_active(client: Any, name: str, index: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        table = client.describe_table(TableName=name)["Table"]
        found = [i for i in table.get("GlobalSecondaryIndexes", []) if i["IndexName"] == index]
        if found and found[0]["IndexStatus"] == "ACTIVE":
            return dict(found[0])
        assert time.monotonic() < deadline, f"index {index} did not become active"
        time.sleep(0.1)


def test_index_added_later_leaves_out_items_its_key_does_not_fit(client: Any) -> None:
    name = new_table_name()
    client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **table_keys(h="S"))
    values: dict[str, dict[str, Any]] = {
        "fits": {"S": "x"},
        "number": {"N": "1"},
        "empty": {"S": ""},
        "too-long": {"S": "x" * 2049},
        "longest": {"S": "y" * 2048},
        "list": {"L": [{"S": "x"}]},
    }
    for h, value in values.items():
        client.put_item(TableName=name, Item={"h": {"S": h}, "g": value})
    client.put_item(TableName=name, Item={"h": {"S": "without"}})
    client.update_table(
        TableName=name,
        AttributeDefinitions=[{"AttributeName": "g", "AttributeType": "S"}],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": "by_g",
                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            }
        ],
    )
    described = _wait_active(client, name, "by_g")
    assert described["ItemCount"] == 2
    scanned = client.scan(TableName=name, IndexName="by_g")["Items"]
    assert sorted(item["h"]["S"] for item in scanned) == ["fits", "longest"]


def test_delete_table_describes_only_what_dynamodb_returns(client: Any) -> None:
    name = new_table_name()
    client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "h", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "h", "AttributeType": "S"},
            {"AttributeName": "g", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_g",
                "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    client.put_item(TableName=name, Item={"h": {"S": "a"}})
    described = client.delete_table(TableName=name)["TableDescription"]
    assert described["TableName"] == name
    assert described["TableStatus"] == "DELETING"
    assert described["TableArn"].endswith(f":table/{name}")
    for absent in (
        "KeySchema",
        "AttributeDefinitions",
        "CreationDateTime",
        "GlobalSecondaryIndexes",
        "LocalSecondaryIndexes",
    ):
        assert absent not in described
    assert set(described) <= {
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
