"""Requests DynamoDB refuses with a ValidationException, through boto3 over a real socket: each
test asserts the error code and message a boto3 user sees."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from tests.integration.helpers import error_code, error_message, new_table_name, table_keys

INVALID = "One or more parameter values were invalid: "
KEY = {"h": {"S": "a"}, "r": {"N": "1"}}


def _index(name: str, *keys: tuple[str, str], projection: str = "KEYS_ONLY") -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": [{"AttributeName": n, "KeyType": k} for n, k in keys],
        "Projection": {"ProjectionType": projection},
    }


@pytest.fixture(scope="module")
def table(client: Any) -> str:
    """A table keyed by h (S) and r (N), with a local index on l and a global one on g."""
    name = new_table_name()
    client.create_table(
        TableName=name,
        KeySchema=table_keys(h="S", r="N")["KeySchema"],
        AttributeDefinitions=[
            {"AttributeName": n, "AttributeType": t}
            for n, t in (("h", "S"), ("r", "N"), ("l", "S"), ("g", "S"))
        ],
        BillingMode="PAY_PER_REQUEST",
        LocalSecondaryIndexes=[_index("local", ("h", "HASH"), ("l", "RANGE"))],
        GlobalSecondaryIndexes=[_index("global", ("g", "HASH"))],
    )
    client.put_item(
        TableName=name,
        Item={**KEY, "l": {"S": "x"}, "g": {"S": "y"}, "lst": {"L": [{"S": "a"}]}},
    )
    return name


def _refused(call: Any, **params: Any) -> str:
    """The message of the ValidationException ``call(**params)`` raises."""
    with pytest.raises(ClientError) as info:
        call(**params)
    assert error_code(info) == "ValidationException", error_message(info)
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error_message(info)


# -- a Query's filter on a key attribute -------------------------------------------------------


def test_filter_expression_on_a_key_attribute(client: Any, table: str) -> None:
    message = _refused(
        client.query,
        TableName=table,
        KeyConditionExpression="h = :h",
        FilterExpression="r = :r",
        ExpressionAttributeValues={":h": {"S": "a"}, ":r": {"N": "1"}},
    )
    assert message == (
        "Filter Expression can only contain non-primary key attributes: Primary key attribute: r"
    )


def test_query_filter_on_a_key_attribute(client: Any, table: str) -> None:
    message = _refused(
        client.query,
        TableName=table,
        KeyConditions={"h": {"AttributeValueList": [{"S": "a"}], "ComparisonOperator": "EQ"}},
        QueryFilter={"r": {"AttributeValueList": [{"N": "1"}], "ComparisonOperator": "EQ"}},
    )
    assert message == (
        "QueryFilter can only contain non-primary key attributes: Primary key attribute: r"
    )


def test_filter_on_the_index_key_of_a_queried_index(client: Any, table: str) -> None:
    message = _refused(
        client.query,
        TableName=table,
        IndexName="local",
        KeyConditionExpression="h = :h",
        FilterExpression="#l = :l",
        ExpressionAttributeNames={"#l": "l"},
        ExpressionAttributeValues={":h": {"S": "a"}, ":l": {"S": "x"}},
    )
    assert message.endswith("Primary key attribute: l")


def test_scan_filter_may_read_key_attributes(client: Any, table: str) -> None:
    answer = client.scan(
        TableName=table, FilterExpression="r = :r", ExpressionAttributeValues={":r": {"N": "1"}}
    )
    assert answer["Count"] >= 1


# -- QueryFilter EQ and NE on lists, maps and sets ---------------------------------------------


@pytest.mark.parametrize(
    ("operator", "value", "count"),
    [
        ("EQ", {"L": [{"S": "a"}]}, 1),
        ("EQ", {"L": [{"S": "b"}]}, 0),
        ("NE", {"L": [{"S": "b"}]}, 1),
        ("EQ", {"M": {"k": {"S": "a"}}}, 0),
        ("NE", {"SS": ["a"]}, 1),
        ("EQ", {"BOOL": True}, 0),
    ],
)
def test_query_filter_eq_ne_on_every_type(
    client: Any, table: str, operator: str, value: dict[str, Any], count: int
) -> None:
    answer = client.query(
        TableName=table,
        KeyConditions={"h": {"AttributeValueList": [{"S": "a"}], "ComparisonOperator": "EQ"}},
        QueryFilter={"lst": {"AttributeValueList": [value], "ComparisonOperator": operator}},
    )
    assert answer["Count"] == count


# -- Expected ----------------------------------------------------------------------------------


def test_expected_with_an_empty_value_list(client: Any, table: str) -> None:
    message = _refused(
        client.put_item,
        TableName=table,
        Item=KEY,
        Expected={"x": {"AttributeValueList": [], "ComparisonOperator": "EQ"}},
    )
    assert message == INVALID + "Invalid number of argument(s) for the EQ ComparisonOperator"


def test_expected_value_list_without_an_operator(client: Any, table: str) -> None:
    message = _refused(
        client.put_item,
        TableName=table,
        Item=KEY,
        Expected={"x": {"AttributeValueList": [{"S": "a"}]}},
    )
    assert message == (
        INVALID + "AttributeValueList can only be used with a ComparisonOperator for Attribute: x"
    )


@pytest.mark.parametrize(
    ("operator", "value", "kind"),
    [
        ("LT", {"L": []}, "L"),
        ("GE", {"M": {}}, "M"),
        ("BETWEEN", {"BOOL": True}, "BOOL"),
        ("CONTAINS", {"L": [{"N": "1"}]}, "L"),
        ("IN", {"SS": ["a"]}, "SS"),
        ("BEGINS_WITH", {"N": "1"}, "N"),
    ],
)
def test_expected_operand_of_a_type_the_operator_refuses(
    client: Any, table: str, operator: str, value: dict[str, Any], kind: str
) -> None:
    values = [value, value] if operator == "BETWEEN" else [value]
    message = _refused(
        client.put_item,
        TableName=table,
        Item=KEY,
        Expected={"h": {"AttributeValueList": values, "ComparisonOperator": operator}},
    )
    assert message == INVALID + f"ComparisonOperator {operator} is not valid for {kind} " + (
        "AttributeValue type"
    )


def test_expected_lt_with_another_scalar_type_fails_the_condition(client: Any, table: str) -> None:
    with pytest.raises(ClientError) as info:
        client.put_item(
            TableName=table,
            Item=KEY,
            Expected={"h": {"AttributeValueList": [{"N": "1"}], "ComparisonOperator": "LT"}},
        )
    assert error_code(info) == "ConditionalCheckFailedException"


# -- ConditionExpression operands of a type without an order -----------------------------------


@pytest.mark.parametrize(
    ("condition", "value", "shown"),
    [
        ("h < :v", {"L": []}, "<, operand type: L"),
        ("h >= :v", {"M": {}}, ">=, operand type: M"),
        ("h BETWEEN :v AND :v", {"BOOL": True}, "BETWEEN, operand type: BOOL"),
        ("h > :v", {"NS": ["1"]}, ">, operand type: NS"),
    ],
)
def test_condition_comparison_with_an_unordered_operand(
    client: Any, table: str, condition: str, value: dict[str, Any], shown: str
) -> None:
    message = _refused(
        client.put_item,
        TableName=table,
        Item=KEY,
        ConditionExpression=condition,
        ExpressionAttributeValues={":v": value},
    )
    assert message == (
        "Invalid ConditionExpression: Incorrect operand type for operator or function; "
        f"operator or function: {shown}"
    )


# -- attribute names ---------------------------------------------------------------------------

LONG = "n" * 65536


def test_attribute_name_of_64_kb_is_refused(client: Any, table: str) -> None:
    message = _refused(client.put_item, TableName=table, Item={**KEY, LONG: {"S": "x"}})
    assert message == INVALID + "Attribute name is too large, must be less than 65536 bytes"


def test_attribute_name_of_65535_bytes_is_accepted(client: Any, table: str) -> None:
    item = {"h": {"S": "long"}, "r": {"N": "1"}, LONG[1:]: {"S": "x"}}
    client.put_item(TableName=table, Item=item)
    assert client.get_item(TableName=table, Key={"h": {"S": "long"}, "r": {"N": "1"}})["Item"] == (
        item
    )


@pytest.mark.parametrize(
    "params",
    [
        {"AttributesToGet": [LONG]},
        {"ProjectionExpression": "#n", "ExpressionAttributeNames": {"#n": LONG}},
    ],
)
def test_long_attribute_name_in_a_read(client: Any, table: str, params: dict[str, Any]) -> None:
    message = _refused(client.get_item, TableName=table, Key=KEY, **params)
    assert "Attribute name is too large, must be less than 65536 bytes" in message


def test_long_attribute_name_in_attribute_updates(client: Any, table: str) -> None:
    message = _refused(
        client.update_item,
        TableName=table,
        Key=KEY,
        AttributeUpdates={LONG: {"Value": {"N": "1"}, "Action": "PUT"}},
    )
    assert message == INVALID + "Attribute name is too large, must be less than 65536 bytes"


def test_empty_attribute_name(client: Any, table: str) -> None:
    message = _refused(client.put_item, TableName=table, Item={**KEY, "": {"S": "x"}})
    assert message == INVALID + "Empty attribute name"


def test_empty_attribute_name_behind_a_placeholder(client: Any, table: str) -> None:
    message = _refused(
        client.get_item,
        TableName=table,
        Key=KEY,
        ProjectionExpression="#n",
        ExpressionAttributeNames={"#n": ""},
    )
    assert message == (
        "ExpressionAttributeNames contains invalid value: "
        + INVALID
        + "Empty attribute name for key #n"
    )


def _create(client: Any, **params: Any) -> str:
    return _refused(
        client.create_table, TableName=new_table_name(), BillingMode="PAY_PER_REQUEST", **params
    )


def test_key_attribute_name_over_255(client: Any) -> None:
    name = "k" * 256
    message = _create(client, **table_keys(**{name: "S"}))
    assert message == (
        f"1 validation error detected: Value '{name}' at 'keySchema.1.member.attributeName' "
        "failed to satisfy constraint: Member must have length less than or equal to 255"
    )


def test_key_attribute_name_of_255_is_accepted(client: Any) -> None:
    long = "k" * 255
    other = new_table_name()
    client.create_table(TableName=other, BillingMode="PAY_PER_REQUEST", **table_keys(**{long: "S"}))
    client.put_item(TableName=other, Item={long: {"S": "x"}})


def test_index_key_attribute_name_over_255(client: Any) -> None:
    name = "g" * 256
    message = _create(
        client,
        KeySchema=[{"AttributeName": "h", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "h", "AttributeType": "S"},
            {"AttributeName": name, "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[_index("index", (name, "HASH"), projection="ALL")],
    )
    assert "Member must have length less than or equal to 255" in message


def test_projected_attribute_name_over_255(client: Any) -> None:
    name = "p" * 256
    index = _index("index", ("g", "HASH"))
    index["Projection"] = {"ProjectionType": "INCLUDE", "NonKeyAttributes": [name]}
    message = _create(
        client,
        KeySchema=[{"AttributeName": "h", "KeyType": "HASH"}],
        AttributeDefinitions=[
            {"AttributeName": "h", "AttributeType": "S"},
            {"AttributeName": "g", "AttributeType": "S"},
        ],
        GlobalSecondaryIndexes=[index],
    )
    assert message == (
        f"1 validation error detected: Value '{name}' at "
        "'globalSecondaryIndexes.1.member.projection.nonKeyAttributes' failed to satisfy "
        "constraint: Member must have length less than or equal to 255"
    )


# -- document paths ----------------------------------------------------------------------------


def test_projection_path_deeper_than_32(client: Any, table: str) -> None:
    message = _refused(
        client.get_item, TableName=table, Key=KEY, ProjectionExpression=".".join(["a"] * 33)
    )
    assert message == (
        "Invalid ProjectionExpression: The document path has too many nesting levels; "
        "nesting levels: 33"
    )


def test_projection_path_of_32_levels_is_accepted(client: Any, table: str) -> None:
    answer = client.get_item(TableName=table, Key=KEY, ProjectionExpression="a" + "[0]" * 31)
    assert answer["Item"] == {}


def test_update_path_deeper_than_32(client: Any, table: str) -> None:
    message = _refused(
        client.update_item,
        TableName=table,
        Key=KEY,
        UpdateExpression="SET a" + "[0]" * 32 + " = :v",
        ExpressionAttributeValues={":v": {"S": "x"}},
    )
    assert message == (
        "Invalid UpdateExpression: The document path has too many nesting levels; "
        "nesting levels: 33"
    )


# -- AttributesToGet ---------------------------------------------------------------------------


def test_duplicate_attributes_to_get(client: Any, table: str) -> None:
    message = _refused(client.get_item, TableName=table, Key=KEY, AttributesToGet=["a", "a"])
    assert message == INVALID + "Duplicate value in attribute name: a"


# -- ReturnValuesOnConditionCheckFailure -------------------------------------------------------


def test_return_values_on_condition_check_failure_unknown(client: Any, table: str) -> None:
    message = _refused(
        client.put_item, TableName=table, Item=KEY, ReturnValuesOnConditionCheckFailure="ALL_NEW"
    )
    assert message == (
        "1 validation error detected: Value 'ALL_NEW' at 'returnValuesOnConditionCheckFailure' "
        "failed to satisfy constraint: Member must satisfy enum value set: [ALL_OLD, NONE]"
    )


# -- time to live ------------------------------------------------------------------------------


def test_time_to_live_errors(client: Any) -> None:
    name = new_table_name()
    client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", **table_keys(k="S"))

    def ttl(enabled: bool, attribute: str) -> Any:
        return client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"Enabled": enabled, "AttributeName": attribute},
        )

    message = _refused(ttl, enabled=False, attribute="e")
    assert message == "TimeToLive is already disabled"
    ttl(True, "e")
    assert _refused(ttl, enabled=True, attribute="e") == "TimeToLive is already enabled"
    different = "TimeToLive is active on a different AttributeName: current AttributeName is e"
    assert _refused(ttl, enabled=True, attribute="f") == different
    assert _refused(ttl, enabled=False, attribute="f") == different
    long = "t" * 256
    assert _refused(ttl, enabled=True, attribute=long) == (
        f"1 validation error detected: Value '{long}' at "
        "'timeToLiveSpecification.attributeName' failed to satisfy constraint: Member must "
        "have length less than or equal to 255"
    )
    ttl(False, "e")
    assert _refused(ttl, enabled=False, attribute="e") == "TimeToLive is already disabled"


# -- transactions ------------------------------------------------------------------------------


def test_a_5_mb_item_inside_a_transaction(client: Any, table: str) -> None:
    big = {**KEY, "big": {"S": "x" * 5_000_000}}
    message = _refused(
        client.transact_write_items, TransactItems=[{"Put": {"TableName": table, "Item": big}}]
    )
    assert message == "Item size has exceeded the maximum allowed size"


def test_validation_error_found_on_the_stored_item_cancels_the_transaction(
    client: Any, table: str
) -> None:
    with pytest.raises(ClientError) as info:
        client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": table,
                        "Key": KEY,
                        "UpdateExpression": "ADD l :n",
                        "ExpressionAttributeValues": {":n": {"N": "1"}},
                    }
                },
                {"Put": {"TableName": table, "Item": {"h": {"S": "other"}, "r": {"N": "1"}}}},
            ]
        )
    assert error_code(info) == "TransactionCanceledException"
    reasons = info.value.response["CancellationReasons"]
    assert [reason["Code"] for reason in reasons] == ["ValidationError", "None"]
    assert reasons[0]["Message"].startswith("An operand in the update expression has an incorrect")


# -- ExclusiveStartKey -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("index", "start"),
    [
        (None, {"h": {"S": "a"}}),
        (None, {"h": {"S": "a"}, "r": {"S": "1"}}),
        (None, {**KEY, "x": {"S": "1"}}),
        ("local", KEY),
        ("local", {"h": {"S": "a"}, "l": {"S": "x"}}),
    ],
)
def test_exclusive_start_key_not_the_key_of_the_query(
    client: Any, table: str, index: str | None, start: dict[str, Any]
) -> None:
    params: dict[str, Any] = {} if index is None else {"IndexName": index}
    message = _refused(
        client.query,
        TableName=table,
        KeyConditionExpression="h = :h",
        ExpressionAttributeValues={":h": {"S": "a"}},
        ExclusiveStartKey=start,
        **params,
    )
    assert message == "The provided starting key is invalid"


def _query_from(client: Any, table: str, start: dict[str, Any], **more: Any) -> str:
    condition = more.pop("condition", "h = :h")
    values = {":h": {"S": "a"}, **more.pop("values", {})}
    return _refused(
        client.query,
        TableName=table,
        KeyConditionExpression=condition,
        ExpressionAttributeValues=values,
        ExclusiveStartKey=start,
        **more,
    )


def test_exclusive_start_key_of_another_partition(client: Any, table: str) -> None:
    message = _query_from(client, table, {"h": {"S": "b"}, "r": {"N": "1"}})
    assert message == (
        "The provided starting key is outside query boundaries based on provided conditions"
    )


@pytest.mark.parametrize(
    ("condition", "bound"),
    [("r > :r", "1"), ("r < :r", "1"), ("r BETWEEN :r AND :s", "2"), ("r = :r", "3")],
)
def test_exclusive_start_key_outside_the_sort_key_condition(
    client: Any, table: str, condition: str, bound: str
) -> None:
    values = {":r": {"N": bound}}
    if ":s" in condition:
        values[":s"] = {"N": "5"}
    message = _query_from(client, table, KEY, condition="h = :h AND " + condition, values=values)
    assert message == "The provided starting key does not match the range key predicate"


def test_exclusive_start_key_within_the_sort_key_condition(client: Any, table: str) -> None:
    answer = client.query(
        TableName=table,
        KeyConditionExpression="h = :h AND r >= :r",
        ExpressionAttributeValues={":h": {"S": "a"}, ":r": {"N": "1"}},
        ExclusiveStartKey=KEY,
    )
    assert answer["Count"] == 0


def test_exclusive_start_key_with_an_invalid_value(client: Any, table: str) -> None:
    message = _query_from(client, table, {"h": {"S": "a"}, "r": {"N": "x"}})
    assert message == (
        "The provided starting key is invalid: The parameter cannot be converted to a numeric "
        "value: x"
    )


def test_exclusive_start_key_of_a_global_index_needs_the_table_key(client: Any, table: str) -> None:
    message = _refused(
        client.scan, TableName=table, IndexName="global", ExclusiveStartKey={"g": {"S": "y"}}
    )
    assert message == "The provided starting key is invalid"
