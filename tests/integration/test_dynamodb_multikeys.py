"""Global secondary indexes with multi-attribute keys (up to four partition and four sort key
attributes) through boto3, against a running lorafox over a real socket."""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.exceptions import ClientError  # type: ignore[import-untyped]

from tests.conftest import root_api_user
from tests.integration.helpers import boto3_client, error_code, error_message, new_table_name

_DEFINITIONS = [
    {"AttributeName": "id", "AttributeType": "S"},
    {"AttributeName": "tournament", "AttributeType": "S"},
    {"AttributeName": "region", "AttributeType": "S"},
    {"AttributeName": "round", "AttributeType": "S"},
    {"AttributeName": "bracket", "AttributeType": "S"},
    {"AttributeName": "score", "AttributeType": "N"},
]
_GSI_KEYS = [
    {"AttributeName": "tournament", "KeyType": "HASH"},
    {"AttributeName": "region", "KeyType": "HASH"},
    {"AttributeName": "round", "KeyType": "RANGE"},
    {"AttributeName": "bracket", "KeyType": "RANGE"},
    {"AttributeName": "score", "KeyType": "RANGE"},
]


def _matches_table(client: Any) -> str:
    """Matches keyed by id; GSI ``by_round``: (tournament, region) → (round, bracket, score)."""
    name = new_table_name()
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=_DEFINITIONS,
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by_round",
                "KeySchema": _GSI_KEYS,
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def _match(id_: str, **attributes: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"id": {"S": id_}}
    for key, value in attributes.items():
        item[key] = {"N": str(value)} if isinstance(value, int) else {"S": value}
    return item


#: (id, round, bracket, score) of the matches of tournament W24, region EU; the sort order of
#: the index is (round, bracket, score) — strings by their UTF-8 bytes, scores as numbers.
_EU = [
    ("m1", "final", "upper", 10),
    ("m2", "final", "upper", 9),
    ("m3", "final", "lower", 100),
    ("m4", "semi", "upper", 3),
    ("m5", "semi", "lower", 7),
    ("m6", "semi", "lower", -2),
    ("m7", "quarter", "upper", 1),
    ("m8", "fin", "upper", 1),
    ("m9", "fin\x00al", "upper", 1),
    ("m10", "finals", "upper", 1),
]
_EU_ORDER = ["m8", "m9", "m3", "m2", "m1", "m10", "m7", "m6", "m5", "m4"]


def _fill(client: Any, name: str) -> None:
    for id_, round_, bracket, score in _EU:
        item = _match(
            id_, tournament="W24", region="EU", round=round_, bracket=bracket, score=score
        )
        client.put_item(TableName=name, Item=item)
    # other partitions: another region, another tournament (the same values otherwise)
    client.put_item(
        TableName=name,
        Item=_match("n1", tournament="W24", region="NA", round="final", bracket="upper", score=1),
    )
    client.put_item(
        TableName=name,
        Item=_match("n2", tournament="S25", region="EU", round="final", bracket="upper", score=1),
    )
    # not in the index: a key attribute is missing
    client.put_item(
        TableName=name, Item=_match("x1", tournament="W24", region="EU", round="final", score=1)
    )
    client.put_item(
        TableName=name, Item=_match("x2", region="EU", round="final", bracket="upper", score=1)
    )


def _query(client: Any, name: str, condition: str, **values: Any) -> list[str]:
    """The ids a Query of the W24/EU partition finds with one more ``condition``."""
    expression = "tournament = :t AND #region = :r" + (f" AND {condition}" if condition else "")
    response = client.query(
        TableName=name,
        IndexName="by_round",
        KeyConditionExpression=expression,
        ExpressionAttributeNames={"#region": "region", **values.pop("names", {})},
        ExpressionAttributeValues={
            ":t": {"S": "W24"},
            ":r": {"S": "EU"},
            **{
                f":{k}": {"N": str(v)} if isinstance(v, int) else {"S": v}
                for k, v in values.items()
            },
        },
    )
    return [item["id"]["S"] for item in response["Items"]]


def test_create_describe_and_query(client: Any) -> None:
    name = _matches_table(client)
    described = client.describe_table(TableName=name)["Table"]
    (index,) = described["GlobalSecondaryIndexes"]
    assert index["KeySchema"] == _GSI_KEYS
    assert index["IndexStatus"] == "ACTIVE"
    _fill(client, name)
    assert _query(client, name, "") == _EU_ORDER
    assert _query(client, name, "#round = :a", names={"#round": "round"}, a="final") == [
        "m3",
        "m2",
        "m1",
    ]
    by_bracket = "#round = :a AND bracket = :b"
    names = {"#round": "round"}
    assert _query(client, name, by_bracket, names=names, a="final", b="upper") == ["m2", "m1"]
    full = by_bracket + " AND score BETWEEN :lo AND :hi"
    assert _query(client, name, full, names=names, a="semi", b="lower", lo=-5, hi=7) == [
        "m6",
        "m5",
    ]
    for condition, expected in (
        ("score < :s", ["m6"]),
        ("score <= :s", ["m6", "m5"]),
        ("score > :s", []),
        ("score >= :s", ["m5"]),
        ("score = :s", ["m5"]),
    ):
        assert (
            _query(
                client, name, f"{by_bracket} AND {condition}", names=names, a="semi", b="lower", s=7
            )
            == expected
        )
    # a range condition on the first sort attribute: every later attribute is left free
    assert _query(client, name, "begins_with(#round, :a)", names=names, a="fin") == _EU_ORDER[:6]
    assert _query(client, name, "#round > :a", names=names, a="final") == [
        "m10",
        "m7",
        "m6",
        "m5",
        "m4",
    ]
    assert _query(client, name, "#round >= :a", names=names, a="final") == _EU_ORDER[2:]
    assert _query(client, name, "#round < :a", names=names, a="final") == ["m8", "m9"]
    assert _query(client, name, "#round <= :a", names=names, a="final") == _EU_ORDER[:5]
    between = "#round BETWEEN :a AND :b"
    assert _query(client, name, between, names=names, a="fin", b="final") == _EU_ORDER[:5]
    assert _query(client, name, "#round = :a AND bracket > :b", names=names, a="semi", b="a") == [
        "m6",
        "m5",
        "m4",
    ]
    backwards = client.query(
        TableName=name,
        IndexName="by_round",
        KeyConditionExpression="tournament = :t AND #region = :r",
        ExpressionAttributeNames={"#region": "region"},
        ExpressionAttributeValues={":t": {"S": "W24"}, ":r": {"S": "EU"}},
        ScanIndexForward=False,
    )
    assert [i["id"]["S"] for i in backwards["Items"]] == list(reversed(_EU_ORDER))
    scanned = client.scan(TableName=name, IndexName="by_round")["Items"]
    assert sorted(i["id"]["S"] for i in scanned) == sorted([*_EU_ORDER, "n1", "n2"])


def test_paging_and_legacy_key_conditions(client: Any) -> None:
    name = _matches_table(client)
    _fill(client, name)
    seen: list[str] = []
    start: dict[str, Any] | None = None
    while True:
        extra = {} if start is None else {"ExclusiveStartKey": start}
        page = client.query(
            TableName=name,
            IndexName="by_round",
            KeyConditionExpression="tournament = :t AND #region = :r AND begins_with(#o, :f)",
            ExpressionAttributeNames={"#region": "region", "#o": "round"},
            ExpressionAttributeValues={
                ":t": {"S": "W24"},
                ":r": {"S": "EU"},
                ":f": {"S": "fin"},
            },
            Limit=2,
            **extra,
        )
        seen.extend(i["id"]["S"] for i in page["Items"])
        start = page.get("LastEvaluatedKey")
        if start is None:
            break
        assert set(start) == {"id", "tournament", "region", "round", "bracket", "score"}
    assert seen == _EU_ORDER[:6]
    legacy = client.query(
        TableName=name,
        IndexName="by_round",
        KeyConditions={
            "tournament": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "W24"}]},
            "region": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "EU"}]},
            "round": {"ComparisonOperator": "EQ", "AttributeValueList": [{"S": "final"}]},
            "bracket": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [{"S": "up"}]},
        },
    )
    assert [i["id"]["S"] for i in legacy["Items"]] == ["m2", "m1"]
    other_partition = {
        "id": {"S": "n1"},
        "tournament": {"S": "W24"},
        "region": {"S": "NA"},
        "round": {"S": "final"},
        "bracket": {"S": "upper"},
        "score": {"N": "1"},
    }
    with pytest.raises(ClientError) as info:
        client.query(
            TableName=name,
            IndexName="by_round",
            KeyConditionExpression="tournament = :t AND #region = :r",
            ExpressionAttributeNames={"#region": "region"},
            ExpressionAttributeValues={":t": {"S": "W24"}, ":r": {"S": "EU"}},
            ExclusiveStartKey=other_partition,
        )
    assert error_message(info) == (
        "The provided starting key is outside query boundaries based on provided conditions"
    )


def test_writes_keep_the_index_in_step(client: Any) -> None:
    name = _matches_table(client)
    _fill(client, name)
    # a key attribute removed: the item leaves the index; given back: it returns
    client.update_item(TableName=name, Key={"id": {"S": "m1"}}, UpdateExpression="REMOVE score")
    assert "m1" not in _query(client, name, "")
    client.update_item(
        TableName=name,
        Key={"id": {"S": "m1"}},
        UpdateExpression="SET score = :s",
        ExpressionAttributeValues={":s": {"N": "0"}},
    )
    assert _query(
        client, name, "#o = :a AND bracket = :b", names={"#o": "round"}, a="final", b="upper"
    ) == [
        "m1",
        "m2",
    ]
    client.delete_item(TableName=name, Key={"id": {"S": "m2"}})
    assert "m2" not in _query(client, name, "")
    with pytest.raises(ClientError) as info:
        client.put_item(
            TableName=name,
            Item=_match("bad", tournament="W24", region="EU", round="r", bracket="b", score="x"),
        )
    assert error_message(info) == (
        "One or more parameter values were invalid: Type mismatch for Index Key score "
        "Expected: N Actual: S IndexName: by_round"
    )


def test_query_errors(client: Any) -> None:
    name = _matches_table(client)

    def refused(condition: str, **values: Any) -> str:
        with pytest.raises(ClientError) as info:
            client.query(
                TableName=name,
                IndexName="by_round",
                KeyConditionExpression=condition,
                ExpressionAttributeNames={
                    k: v for k, v in (("#region", "region"), ("#o", "round")) if k in condition
                },
                ExpressionAttributeValues={
                    k: {"N": str(v)} if isinstance(v, int) else {"S": v} for k, v in values.items()
                },
            )
        assert error_code(info) == "ValidationException"
        return error_message(info)

    both = {":t": "W24", ":r": "EU"}
    assert (
        refused("tournament = :t AND #o = :a", **{":t": "W24", ":a": "x"})
        == "Query condition missed key schema element: region"
    )
    assert (
        refused("tournament = :t AND #region > :r", **both) == "Query key condition not supported"
    )
    assert refused("tournament = :t AND #region = :r AND bracket = :b", **both, **{":b": "x"}) == (
        "Query condition missed key schema element: round (sort key attributes are given left "
        "to right, and bracket comes after it)"
    )
    assert refused(
        "tournament = :t AND #region = :r AND #o > :a AND bracket = :b",
        **both,
        **{":a": "x", ":b": "y"},
    ) == (
        "Query key condition not supported: only the last sort key attribute given may have a "
        "GT condition, and round is followed by bracket"
    )
    assert refused("tournament = :t AND #region = :r AND #o = :a", **both, **{":a": 1}) == (
        "One or more parameter values were invalid: "
        "Condition parameter type does not match schema type"
    )
    assert refused("tournament = :t AND #region = :r AND colour = :a", **both, **{":a": "x"}) == (
        "Query key condition not supported: colour is not a key attribute of the index"
    )


def test_create_table_key_schema_errors(client: Any) -> None:
    def refused(**params: Any) -> str:
        with pytest.raises(ClientError) as info:
            client.create_table(TableName=new_table_name(), BillingMode="PAY_PER_REQUEST", **params)
        assert error_code(info) == "ValidationException"
        return error_message(info)

    def gsi(*keys: tuple[str, str]) -> dict[str, Any]:
        return {
            "IndexName": "gsi1",
            "KeySchema": [{"AttributeName": n, "KeyType": k} for n, k in keys],
            "Projection": {"ProjectionType": "ALL"},
        }

    table_key = [{"AttributeName": "id", "KeyType": "HASH"}]
    letters = "abcde"
    definitions = [
        {"AttributeName": "id", "AttributeType": "S"},
        *({"AttributeName": n, "AttributeType": "S"} for n in letters),
    ]
    # the table's own key stays one HASH and one RANGE attribute
    assert (
        refused(
            KeySchema=[
                {"AttributeName": "id", "KeyType": "HASH"},
                {"AttributeName": "a", "KeyType": "HASH"},
            ],
            AttributeDefinitions=definitions[:2],
        )
        == "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type"
    )
    three = [
        {"AttributeName": "id", "KeyType": "HASH"},
        {"AttributeName": "a", "KeyType": "RANGE"},
        {"AttributeName": "b", "KeyType": "RANGE"},
    ]
    assert (
        "at 'keySchema' failed to satisfy constraint: Member must have length less than or "
        "equal to 2" in refused(KeySchema=three, AttributeDefinitions=definitions[:3])
    )
    # local indexes too
    lsi = {
        "IndexName": "lsi1",
        "KeySchema": [
            {"AttributeName": "id", "KeyType": "HASH"},
            {"AttributeName": "b", "KeyType": "RANGE"},
            {"AttributeName": "c", "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }
    message = refused(
        KeySchema=three[:2], AttributeDefinitions=definitions[:4], LocalSecondaryIndexes=[lsi]
    )
    assert (
        "at 'localSecondaryIndexes.1.member.keySchema' failed to satisfy constraint: Member "
        "must have length less than or equal to 2" in message
    )
    # a global index: at most four of each, HASH first
    five_hashes = gsi(*((n, "HASH") for n in letters))
    assert (
        refused(
            KeySchema=table_key,
            AttributeDefinitions=definitions,
            GlobalSecondaryIndexes=[five_hashes],
        )
        == "Invalid KeySchema: A KeySchema may have at most 4 HASH KeySchemaElements, not 5"
    )
    five_ranges = gsi(("id", "HASH"), *((n, "RANGE") for n in letters))
    assert (
        refused(
            KeySchema=table_key,
            AttributeDefinitions=definitions,
            GlobalSecondaryIndexes=[five_ranges],
        )
        == "Invalid KeySchema: A KeySchema may have at most 4 RANGE KeySchemaElements, not 5"
    )
    mixed = gsi(("a", "HASH"), ("b", "RANGE"), ("c", "HASH"))
    assert (
        refused(
            KeySchema=table_key,
            AttributeDefinitions=definitions[:4],
            GlobalSecondaryIndexes=[mixed],
        )
        == "Invalid KeySchema: HASH KeySchemaElements must all come before the RANGE ones"
    )
    undefined = gsi(("a", "HASH"), ("zz", "HASH"))
    assert "Some index key attributes are not defined in AttributeDefinitions" in refused(
        KeySchema=table_key,
        AttributeDefinitions=definitions[:2],
        GlobalSecondaryIndexes=[undefined],
    )
    nine = {**gsi(("a", "HASH")), "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}] * 9}
    assert "Member must have length less than or equal to 8" in refused(
        KeySchema=table_key, AttributeDefinitions=definitions[:2], GlobalSecondaryIndexes=[nine]
    )


def _wait_active(client: Any, name: str, index: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while True:
        table = client.describe_table(TableName=name)["Table"]
        found = [i for i in table.get("GlobalSecondaryIndexes", []) if i["IndexName"] == index]
        if found and found[0]["IndexStatus"] == "ACTIVE":
            return dict(found[0])
        assert time.monotonic() < deadline, f"index {index} did not become active"
        time.sleep(0.1)


def test_update_table_creates_a_multi_attribute_index(client: Any) -> None:
    name = new_table_name()
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for id_, round_, bracket, score in _EU:
        client.put_item(
            TableName=name,
            Item=_match(
                id_, tournament="W24", region="EU", round=round_, bracket=bracket, score=score
            ),
        )
    # a score that is not a number: left out of the new index, as DynamoDB's backfill does
    client.put_item(
        TableName=name,
        Item=_match("odd", tournament="W24", region="EU", round="a", bracket="b", score="x"),
    )
    client.update_table(
        TableName=name,
        AttributeDefinitions=_DEFINITIONS[1:],
        GlobalSecondaryIndexUpdates=[
            {
                "Create": {
                    "IndexName": "by_round",
                    "KeySchema": _GSI_KEYS,
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            }
        ],
    )
    index = _wait_active(client, name, "by_round")
    assert index["KeySchema"] == _GSI_KEYS
    assert index["Projection"] == {"ProjectionType": "KEYS_ONLY"}
    assert _query(client, name, "") == _EU_ORDER
    definitions = client.describe_table(TableName=name)["Table"]["AttributeDefinitions"]
    assert {d["AttributeName"] for d in definitions} == {d["AttributeName"] for d in _DEFINITIONS}


@pytest.mark.postgres
def test_multi_attribute_index_on_postgresql(lorafox_factory: Any, pg_database: str) -> None:
    """The same index on PostgreSQL: its bytea order is the same as SQLite's BLOB order."""
    running = lorafox_factory(database_url=pg_database)
    client = boto3_client(running, *root_api_user(running.base_url, "pg"))
    name = _matches_table(client)
    _fill(client, name)
    assert _query(client, name, "") == _EU_ORDER
    assert _query(
        client, name, "#o = :a AND bracket = :b", names={"#o": "round"}, a="semi", b="lower"
    ) == [
        "m6",
        "m5",
    ]
    assert (
        _query(client, name, "begins_with(#o, :a)", names={"#o": "round"}, a="fin") == _EU_ORDER[:6]
    )
