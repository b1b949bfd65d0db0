"""DynamoDB Streams through boto3's ``dynamodbstreams`` client over a real socket: a table's
stream follows inserts, updates, deletes (batches and transactions included) and the deletions
of the time-to-live purge."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from tests.conftest import Running
from tests.integration.helpers import (
    boto3_streams_client,
    error_code,
    error_message,
    new_table_name,
    table_keys,
    wait_for_the_purge,
)


@pytest.fixture(scope="module")
def streams(server: Running, credentials: tuple[str, str]) -> Any:
    return boto3_streams_client(server, *credentials)


def _stream_table(client: Any, view: str = "NEW_AND_OLD_IMAGES") -> tuple[str, str]:
    name = new_table_name()
    made = client.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": view},
        **table_keys(k="S"),
    )["TableDescription"]
    assert made["StreamSpecification"] == {"StreamEnabled": True, "StreamViewType": view}
    return name, made["LatestStreamArn"]


def _iterator(streams: Any, arn: str, kind: str = "TRIM_HORIZON", **more: Any) -> str:
    [shard] = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
    return str(
        streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard["ShardId"], ShardIteratorType=kind, **more
        )["ShardIterator"]
    )


def _records(streams: Any, iterator: str) -> tuple[list[dict[str, Any]], str | None]:
    answer = streams.get_records(ShardIterator=iterator)
    return answer["Records"], answer.get("NextShardIterator")


def _summary(records: list[dict[str, Any]]) -> list[tuple[str, str, Any, Any]]:
    return [
        (
            r["eventName"],
            r["dynamodb"]["Keys"]["k"]["S"],
            r["dynamodb"].get("OldImage"),
            r["dynamodb"].get("NewImage"),
        )
        for r in records
    ]


def test_stream_follows_inserts_updates_and_deletes(client: Any, streams: Any) -> None:
    name, arn = _stream_table(client)
    described = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert described["StreamStatus"] == "ENABLED"
    assert described["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert described["TableName"] == name
    assert described["KeySchema"] == [{"AttributeName": "k", "KeyType": "HASH"}]
    listed = streams.list_streams(TableName=name)["Streams"]
    assert listed == [{"StreamArn": arn, "TableName": name, "StreamLabel": arn.split("/")[-1]}]

    iterator = _iterator(streams, arn)
    a1 = {"k": {"S": "a"}, "v": {"N": "1"}}
    a2 = {"k": {"S": "a"}, "v": {"N": "2"}}
    client.put_item(TableName=name, Item=a1)
    client.update_item(
        TableName=name,
        Key={"k": {"S": "a"}},
        UpdateExpression="SET v = :v",
        ExpressionAttributeValues={":v": {"N": "2"}},
    )
    client.put_item(TableName=name, Item=a2)  # changes nothing: no record
    client.delete_item(TableName=name, Key={"k": {"S": "a"}})
    client.delete_item(TableName=name, Key={"k": {"S": "absent"}})  # nothing deleted
    client.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": {"k": {"S": "b"}}}}]})
    client.transact_write_items(
        TransactItems=[
            {"Delete": {"TableName": name, "Key": {"k": {"S": "b"}}}},
            {"Put": {"TableName": name, "Item": {"k": {"S": "c"}}}},
        ]
    )
    records, following = _records(streams, iterator)
    assert _summary(records) == [
        ("INSERT", "a", None, a1),
        ("MODIFY", "a", a1, a2),
        ("REMOVE", "a", a2, None),
        ("INSERT", "b", None, {"k": {"S": "b"}}),
        ("REMOVE", "b", {"k": {"S": "b"}}, None),
        ("INSERT", "c", None, {"k": {"S": "c"}}),
    ]
    numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)
    first = records[0]
    assert first["eventSource"] == "aws:dynamodb"
    assert first["eventVersion"] == "1.1"
    assert first["awsRegion"] == "eu-west-1"
    assert first["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert first["dynamodb"]["SizeBytes"] > 0
    assert "userIdentity" not in first

    # the next iterator sees only what comes later
    assert following is not None
    assert _records(streams, following)[0] == []
    client.put_item(TableName=name, Item={"k": {"S": "d"}})
    later, _ = _records(streams, following)
    assert _summary(later) == [("INSERT", "d", None, {"k": {"S": "d"}})]

    # iterators at and after a sequence number, and LATEST
    second = records[1]["dynamodb"]["SequenceNumber"]
    at = _iterator(streams, arn, "AT_SEQUENCE_NUMBER", SequenceNumber=second)
    assert [r["eventName"] for r in _records(streams, at)[0]][:2] == ["MODIFY", "REMOVE"]
    after = _iterator(streams, arn, "AFTER_SEQUENCE_NUMBER", SequenceNumber=second)
    assert _records(streams, after)[0][0]["eventName"] == "REMOVE"
    latest = _iterator(streams, arn, "LATEST")
    assert _records(streams, latest)[0] == []


@pytest.mark.parametrize(
    ("view", "old", "new"),
    [("KEYS_ONLY", False, False), ("NEW_IMAGE", False, True), ("OLD_IMAGE", True, False)],
)
def test_view_types(client: Any, streams: Any, view: str, old: bool, new: bool) -> None:
    name, arn = _stream_table(client, view)
    client.put_item(TableName=name, Item={"k": {"S": "a"}, "v": {"N": "1"}})
    client.put_item(TableName=name, Item={"k": {"S": "a"}, "v": {"N": "2"}})
    records, _ = _records(streams, _iterator(streams, arn))
    modify = records[1]["dynamodb"]
    assert modify["Keys"] == {"k": {"S": "a"}}
    assert ("OldImage" in modify) is old
    assert ("NewImage" in modify) is new


def test_time_to_live_deletions_are_the_service_s(client: Any, streams: Any) -> None:
    name, arn = _stream_table(client, "OLD_IMAGE")
    client.update_time_to_live(
        TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires"}
    )
    gone = {"k": {"S": "old"}, "expires": {"N": str(int(time.time()) - 60)}}
    client.put_item(TableName=name, Item=gone)
    client.put_item(TableName=name, Item={"k": {"S": "kept"}})
    wait_for_the_purge(client, name, 1)
    records, _ = _records(streams, _iterator(streams, arn))
    removed = records[-1]
    assert removed["eventName"] == "REMOVE"
    assert removed["dynamodb"]["OldImage"] == gone
    assert removed["userIdentity"] == {"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"}


def test_disabling_closes_the_stream_and_enabling_starts_another(client: Any, streams: Any) -> None:
    name, arn = _stream_table(client, "KEYS_ONLY")
    client.put_item(TableName=name, Item={"k": {"S": "a"}})
    client.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    described = client.describe_table(TableName=name)["Table"]
    assert "StreamSpecification" not in described
    assert described["LatestStreamArn"] == arn
    client.put_item(TableName=name, Item={"k": {"S": "b"}})  # no stream: not recorded
    stream = streams.describe_stream(StreamArn=arn)["StreamDescription"]
    assert stream["StreamStatus"] == "DISABLED"
    assert "EndingSequenceNumber" in stream["Shards"][0]["SequenceNumberRange"]
    records, following = _records(streams, _iterator(streams, arn))
    assert [r["dynamodb"]["Keys"]["k"]["S"] for r in records] == ["a"]
    assert following is None  # a closed shard read to its end

    with pytest.raises(ClientError) as info:
        client.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
    assert error_code(info) == "ValidationException"
    time.sleep(0.002)
    updated = client.update_table(
        TableName=name, StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"}
    )["TableDescription"]
    assert updated["LatestStreamArn"] != arn
    with pytest.raises(ClientError) as info:
        client.update_table(
            TableName=name,
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
        )
    assert error_message(info) == f"Table already has an enabled stream: {name}"


def test_stream_errors(client: Any, streams: Any) -> None:
    _, arn = _stream_table(client)
    missing = arn.rsplit("/", 1)[0] + "/2000-01-01T00:00:00.000"
    with pytest.raises(ClientError) as info:
        streams.describe_stream(StreamArn=missing)
    assert error_code(info) == "ResourceNotFoundException"
    assert error_message(info) == f"Requested resource not found: Stream: {missing} not found"
    with pytest.raises(ClientError) as info:
        streams.get_records(ShardIterator="x" * 20)
    assert error_code(info) == "ValidationException"
    with pytest.raises(ClientError) as info:
        streams.get_shard_iterator(
            StreamArn=arn,
            ShardId="shardId-00000000000000000000-00000009",
            ShardIteratorType="LATEST",
        )
    assert error_code(info) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as info:
        client.create_table(
            TableName=new_table_name(),
            BillingMode="PAY_PER_REQUEST",
            StreamSpecification={"StreamEnabled": True},
            **table_keys(k="S"),
        )
    assert error_message(info) == (
        "One or more parameter values were invalid: StreamViewType is required when "
        "StreamEnabled is true"
    )
