"""Malformed DynamoDB requests (nulls, wrong JSON types, empty containers) are refused with a
400 and DynamoDB's error, never a 500: sent as signed raw HTTP, as boto3 refuses most of them
before sending."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest
from botocore.auth import SigV4Auth  # type: ignore[import-untyped]
from botocore.awsrequest import AWSRequest  # type: ignore[import-untyped]
from botocore.credentials import Credentials  # type: ignore[import-untyped]

from tests.conftest import Running
from tests.integration.helpers import boto3_client, new_table_name, table_keys

T = "malformed-" + new_table_name()
KEY = {"k": {"S": "a"}}
ARN = f"arn:aws:dynamodb:eu-west-1:000000000000:table/{T}"

MALFORMED: list[tuple[str, dict[str, Any]]] = [
    ("BatchWriteItem", {"RequestItems": {T: None}}),
    ("BatchWriteItem", {"RequestItems": {T: []}}),
    ("BatchWriteItem", {"RequestItems": {T: "x"}}),
    ("BatchWriteItem", {"RequestItems": {T: [None]}}),
    ("BatchWriteItem", {"RequestItems": {T: ["x"]}}),
    ("BatchWriteItem", {"RequestItems": {T: [{}]}}),
    ("BatchWriteItem", {"RequestItems": {T: [{"PutRequest": None}]}}),
    ("BatchWriteItem", {"RequestItems": {T: [{"PutRequest": {}}]}}),
    ("BatchWriteItem", {"RequestItems": {T: [{"PutRequest": {"Item": None}}]}}),
    ("BatchWriteItem", {"RequestItems": {T: [{"PutRequest": {"Item": "x"}}]}}),
    ("BatchWriteItem", {"RequestItems": {T: [{"DeleteRequest": None}]}}),
    ("BatchWriteItem", {"RequestItems": {T: [{"DeleteRequest": {}}]}}),
    ("BatchWriteItem", {"RequestItems": {T: [{"DeleteRequest": {"Key": None}}]}}),
    ("BatchWriteItem", {"RequestItems": {T: [{"DeleteRequest": {"Key": []}}]}}),
    ("BatchWriteItem", {"RequestItems": []}),
    ("BatchWriteItem", {"RequestItems": "x"}),
    ("BatchGetItem", {"RequestItems": {T: None}}),
    ("BatchGetItem", {"RequestItems": {T: "x"}}),
    ("BatchGetItem", {"RequestItems": {T: {}}}),
    ("BatchGetItem", {"RequestItems": {T: {"Keys": None}}}),
    ("BatchGetItem", {"RequestItems": {T: {"Keys": []}}}),
    ("BatchGetItem", {"RequestItems": {T: {"Keys": "x"}}}),
    ("BatchGetItem", {"RequestItems": {T: {"Keys": [None]}}}),
    ("BatchGetItem", {"RequestItems": {T: {"Keys": ["x"]}}}),
    ("BatchGetItem", {"RequestItems": {T: {"Keys": [{}]}}}),
    ("BatchGetItem", {"RequestItems": []}),
    ("PutItem", {"TableName": T, "Item": "x"}),
    ("PutItem", {"TableName": T, "Item": []}),
    ("PutItem", {"TableName": T, "Item": {}}),
    ("PutItem", {"TableName": T, "Item": {"k": None}}),
    ("PutItem", {"TableName": T, "Item": {"k": "a"}}),
    ("PutItem", {"TableName": T, "Item": {"k": {}}}),
    ("PutItem", {"TableName": T, "Item": {"k": {"S": None}}}),
    ("PutItem", {"TableName": T, "Item": {"k": {"S": "a"}, "l": {"L": None}}}),
    ("PutItem", {"TableName": T, "Item": {"k": {"S": "a"}, "l": {"M": "x"}}}),
    ("PutItem", {"TableName": T, "Item": {"k": {"S": "a"}, "l": {"SS": None}}}),
    ("PutItem", {"TableName": T, "Item": {"k": {"S": "a"}, "l": {"L": [None]}}}),
    ("PutItem", {"TableName": T, "Item": KEY, "ExpressionAttributeValues": "x"}),
    ("PutItem", {"TableName": T, "Item": KEY, "ExpressionAttributeValues": []}),
    (
        "PutItem",
        {
            "TableName": T,
            "Item": KEY,
            "ConditionExpression": "a = :v",
            "ExpressionAttributeValues": {":v": None},
        },
    ),
    (
        "PutItem",
        {
            "TableName": T,
            "Item": KEY,
            "ConditionExpression": "#a = :v",
            "ExpressionAttributeNames": {"#a": None},
            "ExpressionAttributeValues": {":v": {"S": "x"}},
        },
    ),
    (
        "PutItem",
        {
            "TableName": T,
            "Item": KEY,
            "ConditionExpression": "a = b",
            "ExpressionAttributeNames": "x",
        },
    ),
    ("PutItem", {"TableName": T, "Item": KEY, "ConditionExpression": 3}),
    ("PutItem", {"TableName": T, "Item": KEY, "Expected": "x"}),
    ("PutItem", {"TableName": T, "Item": KEY, "Expected": {"a": None}}),
    ("PutItem", {"TableName": T, "Item": KEY, "Expected": {"a": "x"}}),
    ("PutItem", {"TableName": T, "Item": KEY, "Expected": {"a": {"Value": None}}}),
    ("PutItem", {"TableName": T, "Item": KEY, "ReturnValues": 3}),
    ("GetItem", {"TableName": T, "Key": "x"}),
    ("GetItem", {"TableName": T, "Key": []}),
    ("GetItem", {"TableName": T, "Key": {}}),
    ("GetItem", {"TableName": T, "Key": {"k": None}}),
    ("GetItem", {"TableName": T, "Key": {"k": "a"}}),
    ("GetItem", {"TableName": T, "Key": KEY, "AttributesToGet": "x"}),
    ("GetItem", {"TableName": T, "Key": KEY, "AttributesToGet": [None]}),
    ("GetItem", {"TableName": T, "Key": KEY, "ProjectionExpression": 3}),
    ("DeleteItem", {"TableName": T, "Key": None}),
    ("DeleteItem", {"TableName": T, "Key": "x"}),
    ("UpdateItem", {"TableName": T, "Key": None}),
    ("UpdateItem", {"TableName": T, "Key": "x"}),
    ("UpdateItem", {"TableName": T, "Key": KEY, "AttributeUpdates": "x"}),
    ("UpdateItem", {"TableName": T, "Key": KEY, "AttributeUpdates": {"a": None}}),
    ("UpdateItem", {"TableName": T, "Key": KEY, "AttributeUpdates": {"a": "x"}}),
    ("UpdateItem", {"TableName": T, "Key": KEY, "UpdateExpression": 3}),
    ("Query", {"TableName": T}),
    ("Query", {"TableName": T, "KeyConditions": None}),
    ("Query", {"TableName": T, "KeyConditions": "x"}),
    ("Query", {"TableName": T, "KeyConditions": {}}),
    ("Query", {"TableName": T, "KeyConditions": {"k": None}}),
    ("Query", {"TableName": T, "KeyConditions": {"k": "x"}}),
    ("Query", {"TableName": T, "KeyConditions": {"k": {"ComparisonOperator": "EQ"}}}),
    (
        "Query",
        {
            "TableName": T,
            "KeyConditions": {"k": {"ComparisonOperator": "EQ", "AttributeValueList": None}},
        },
    ),
    (
        "Query",
        {
            "TableName": T,
            "KeyConditions": {"k": {"ComparisonOperator": "EQ", "AttributeValueList": [None]}},
        },
    ),
    ("Query", {"TableName": T, "KeyConditionExpression": "k = :v"}),
    (
        "Query",
        {
            "TableName": T,
            "KeyConditionExpression": "k = :v",
            "ExpressionAttributeValues": {":v": {"S": "a"}},
            "ExclusiveStartKey": "x",
        },
    ),
    (
        "Query",
        {
            "TableName": T,
            "KeyConditionExpression": "k = :v",
            "ExpressionAttributeValues": {":v": {"S": "a"}},
            "ExclusiveStartKey": {"k": None},
        },
    ),
    (
        "Query",
        {
            "TableName": T,
            "KeyConditionExpression": "k = :v",
            "ExpressionAttributeValues": {":v": {"S": "a"}},
            "QueryFilter": "x",
        },
    ),
    ("Scan", {"TableName": T, "ExclusiveStartKey": "x"}),
    ("Scan", {"TableName": T, "ExclusiveStartKey": {"k": None}}),
    ("Scan", {"TableName": T, "ExclusiveStartKey": {"k": "a"}}),
    ("Scan", {"TableName": T, "ScanFilter": "x"}),
    ("Scan", {"TableName": T, "ScanFilter": {"a": None}}),
    ("Scan", {"TableName": T, "ScanFilter": {"a": {"ComparisonOperator": None}}}),
    ("Scan", {"TableName": T, "Segment": "x", "TotalSegments": 2}),
    ("Scan", {"TableName": T, "Limit": "x"}),
    ("Scan", {"TableName": T, "Select": 3}),
    ("TransactWriteItems", {"TransactItems": None}),
    ("TransactWriteItems", {"TransactItems": "x"}),
    ("TransactWriteItems", {"TransactItems": [None]}),
    ("TransactWriteItems", {"TransactItems": ["x"]}),
    ("TransactWriteItems", {"TransactItems": [{}]}),
    ("TransactWriteItems", {"TransactItems": [{"Put": None}]}),
    ("TransactWriteItems", {"TransactItems": [{"Put": "x"}]}),
    ("TransactWriteItems", {"TransactItems": [{"Put": {"TableName": T, "Item": None}}]}),
    ("TransactWriteItems", {"TransactItems": [{"Delete": {"TableName": T, "Key": None}}]}),
    ("TransactWriteItems", {"TransactItems": [{"Update": {"TableName": T, "Key": "x"}}]}),
    ("TransactGetItems", {"TransactItems": "x"}),
    ("TransactGetItems", {"TransactItems": [None]}),
    ("TransactGetItems", {"TransactItems": [{"Get": {"TableName": T, "Key": None}}]}),
    ("TransactGetItems", {"TransactItems": [{"Get": {"TableName": T, "Key": "x"}}]}),
    ("CreateTable", {"TableName": "x" + T, "KeySchema": None}),
    ("CreateTable", {"TableName": "x" + T, "KeySchema": "x", "AttributeDefinitions": []}),
    ("CreateTable", {"TableName": "x" + T, "KeySchema": [None], "AttributeDefinitions": [None]}),
    ("UpdateTimeToLive", {"TableName": T, "TimeToLiveSpecification": None}),
    ("UpdateTimeToLive", {"TableName": T, "TimeToLiveSpecification": "x"}),
    ("GetItem", {"TableName": T, "Key": KEY, "ReturnConsumedCapacity": "x"}),
    ("GetItem", {"TableName": T, "Key": KEY, "ReturnConsumedCapacity": 1}),
    ("TagResource", {"ResourceArn": None, "Tags": []}),
    ("TagResource", {"ResourceArn": ARN, "Tags": "x"}),
    ("TagResource", {"ResourceArn": ARN, "Tags": [None]}),
    ("TagResource", {"ResourceArn": ARN, "Tags": [{"Key": None, "Value": "v"}]}),
    ("TagResource", {"ResourceArn": ARN, "Tags": [{"Key": "k"}]}),
    ("TagResource", {"ResourceArn": ARN, "Tags": None}),
    ("UntagResource", {"ResourceArn": ARN, "TagKeys": None}),
    ("UntagResource", {"ResourceArn": ARN, "TagKeys": [3]}),
    ("ListTagsOfResource", {"ResourceArn": 3}),
    ("ListTagsOfResource", {}),
    ("CreateTable", {"TableName": "x" + T, "StreamSpecification": "x"}),
    ("CreateTable", {"TableName": "x" + T, "StreamSpecification": {"StreamEnabled": "yes"}}),
    ("CreateTable", {"TableName": "x" + T, "StreamSpecification": {}}),
    ("Streams.ListStreams", {"ExclusiveStartStreamArn": 3}),
    ("Streams.ListStreams", {"Limit": 0}),
    ("Streams.DescribeStream", {"StreamArn": None}),
    ("Streams.DescribeStream", {"StreamArn": "x"}),
    ("Streams.GetShardIterator", {"StreamArn": "bad", "ShardIteratorType": "LATEST"}),
    ("Streams.GetRecords", {"ShardIterator": None}),
    ("Streams.GetRecords", {"ShardIterator": "!!!"}),
    ("Streams.GetRecords", {"ShardIterator": "WzFd"}),  # a JSON list, not an iterator
    ("Streams.GetRecords", {"ShardIterator": 3}),
]


@pytest.fixture(scope="module")
def signer(server: Running, credentials: tuple[str, str]) -> SigV4Auth:
    """A signer of the API user, and a table ``T`` keyed by ``k``."""
    client = boto3_client(server, *credentials)
    client.create_table(TableName=T, **table_keys(k="S"), BillingMode="PAY_PER_REQUEST")
    return SigV4Auth(Credentials(*credentials), "dynamodb", "eu-west-1")


def _post(server: Running, signer: SigV4Auth, operation: str, body: object) -> httpx.Response:
    return _post_bytes(server, signer, operation, orjson.dumps(body))


def _post_bytes(server: Running, signer: SigV4Auth, operation: str, data: bytes) -> httpx.Response:
    request = AWSRequest(
        method="POST",
        url=server.base_url + "/",
        data=data,
        headers={
            "X-Amz-Target": (
                "DynamoDBStreams_20120810." + operation.removeprefix("Streams.")
                if operation.startswith("Streams.")
                else "DynamoDB_20120810." + operation
            ),
            "Content-Type": "application/x-amz-json-1.0",
        },
    )
    signer.add_auth(request)
    return httpx.post(request.url, content=request.body, headers=dict(request.headers.items()))


@pytest.mark.parametrize(
    ("operation", "body"), MALFORMED, ids=[f"{op}-{i}" for i, (op, _) in enumerate(MALFORMED)]
)
def test_malformed_requests_are_refused_never_a_server_error(
    server: Running, signer: SigV4Auth, operation: str, body: dict[str, Any]
) -> None:
    answer = _post(server, signer, operation, body)
    assert answer.status_code == 400, answer.text
    code = answer.json()["__type"].rsplit("#", 1)[-1]
    assert code in {"ValidationException", "SerializationException"}, answer.text


def test_batch_write_item_of_a_null_request_list_is_a_validation_error(
    server: Running, signer: SigV4Auth
) -> None:
    answer = _post(server, signer, "BatchWriteItem", {"RequestItems": {T: None}})
    assert answer.status_code == 400
    assert answer.json()["__type"].endswith("#ValidationException")


NOT_JSON: list[tuple[bytes, str]] = [
    (
        b'{"TableName": "' + T.encode() + b'"',
        "Unexpected end-of-input: expected close marker for OBJECT (start marker at line 1, "
        f"column 1) at line 1, column {17 + len(T)}",
    ),
    (
        b'{"TableName": "t", "Key": {"k": {"S": "a"}}, "AttributesToGet": ["x"',
        "Unexpected end-of-input: expected close marker for ARRAY (start marker at line 1, "
        "column 65) at line 1, column 69",
    ),
    (
        b'{"TableName": "unfinished',
        "Unexpected end-of-input in a string value (started at line 1, column 15) at line 1, "
        "column 26",
    ),
    (
        b'{\n  "TableName" "t"\n}',
        "Unexpected character ('\"' (code 34)) at line 2, column 15: expected ':' after key",
    ),
    (
        b'{"TableName": "t"} {}',
        "Unexpected character ('{' (code 123)) at line 1, column 20: "
        "unexpected content after document",
    ),
    (b'{"Limit": tru}', "Invalid JSON at line 1, column 11: invalid literal, expected 'true'"),
    (b"\xff\xfe{}", "Invalid JSON at line 1, column 1: the body is not valid UTF-8"),
]


@pytest.mark.parametrize(("data", "message"), NOT_JSON)
def test_a_body_that_is_not_json_is_a_serialization_error_naming_where(
    server: Running, signer: SigV4Auth, data: bytes, message: str
) -> None:
    answer = _post_bytes(server, signer, "GetItem", data)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/x-amz-json-1.0"
    assert answer.json() == {
        "__type": "com.amazon.coral.service#SerializationException",
        "Message": message,
    }
    # nothing was done: the table is still there, and the server still answers
    assert _post(server, signer, "DescribeTable", {"TableName": T}).status_code == 200
