"""DynamoDB tables in the SQL store (through the operations), on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from lorafox.settings import Settings
from lorafox.store.sql.store import SqlStore
from lorafox.tables.errors import ConditionalCheckFailedException, ResourceNotFoundException
from lorafox.tables.maintenance import TableMaintenance
from lorafox.tables.operations import TableOperations


async def _table(ops: TableOperations, sort_type: str) -> None:
    await ops.run(
        "CreateTable",
        {
            "TableName": "history",
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": sort_type},
            ],
            "BillingMode": "PAY_PER_REQUEST",
        },
        "us-east-1",
    )


async def _query(ops: TableOperations, condition: str, **values: Any) -> list[str]:
    result = await ops.run(
        "Query",
        {
            "TableName": "history",
            "KeyConditionExpression": "pk = :p AND " + condition,
            "ExpressionAttributeValues": {":p": {"S": "dev"}, **values},
        },
        "us-east-1",
    )
    return [next(iter(i["sk"].values())) for i in result["Items"]]


async def test_numeric_sort_order_and_ranges(store: SqlStore) -> None:
    ops = TableOperations(store.items)
    await _table(ops, "N")
    numbers = ["-1e10", "-3.5", "-0.25", "0", "0.001", "2", "10", "10.5", "1e20"]
    for n in reversed(numbers):
        await ops.run(
            "PutItem",
            {"TableName": "history", "Item": {"pk": {"S": "dev"}, "sk": {"N": n}}},
            "us-east-1",
        )
    await ops.run(
        "PutItem",
        {"TableName": "history", "Item": {"pk": {"S": "other"}, "sk": {"N": "1"}}},
        "us-east-1",
    )
    everything = await _query(ops, "sk >= :lo", **{":lo": {"N": "-1e30"}})
    assert everything == [
        "-10000000000",
        "-3.5",
        "-0.25",
        "0",
        "0.001",
        "2",
        "10",
        "10.5",
        "100000000000000000000",
    ]
    assert await _query(ops, "sk BETWEEN :a AND :b", **{":a": {"N": "-3.5"}, ":b": {"N": "2"}}) == [
        "-3.5",
        "-0.25",
        "0",
        "0.001",
        "2",
    ]
    assert await _query(ops, "sk < :a", **{":a": {"N": "0"}}) == ["-10000000000", "-3.5", "-0.25"]


async def test_string_prefix_and_conditions(store: SqlStore) -> None:
    ops = TableOperations(store.items)
    await _table(ops, "S")
    for sk in ("2026-01-01", "2026-01-02", "2026-02-01", "2027-01-01", "2026"):
        await ops.run(
            "PutItem",
            {"TableName": "history", "Item": {"pk": {"S": "dev"}, "sk": {"S": sk}}},
            "us-east-1",
        )
    assert await _query(ops, "begins_with(sk, :x)", **{":x": {"S": "2026-01"}}) == [
        "2026-01-01",
        "2026-01-02",
    ]
    with pytest.raises(ConditionalCheckFailedException):
        await ops.run(
            "PutItem",
            {
                "TableName": "history",
                "Item": {"pk": {"S": "dev"}, "sk": {"S": "2026"}},
                "ConditionExpression": "attribute_not_exists(pk)",
            },
            "us-east-1",
        )
    with pytest.raises(ResourceNotFoundException):
        await ops.run("GetItem", {"TableName": "nope", "Key": {}}, "us-east-1")
    await ops.run("DeleteTable", {"TableName": "history"}, "us-east-1")
    assert (await ops.run("ListTables", {}, "us-east-1"))["TableNames"] == []


async def test_query_reads_the_primary_key_range(tmp_path: Path) -> None:
    """The SQLite plan of a Query is a search on the primary key, never a table scan."""
    store = await SqlStore.open(Settings.load(None, data_dir=tmp_path).sqlalchemy_url)
    try:
        async with store.database.reading() as conn:
            plan = (
                await conn.execute(
                    text(
                        "EXPLAIN QUERY PLAN SELECT * FROM ddb_items WHERE table_id = 1 "
                        "AND pk = x'01' AND sk >= x'02' AND sk < x'03' ORDER BY sk DESC LIMIT 10"
                    )
                )
            ).all()
        details = " ".join(str(row[-1]) for row in plan)
        assert "SEARCH ddb_items USING PRIMARY KEY" in details or "USING INDEX" in details
        assert "SCAN" not in details
    finally:
        await store.close()


async def test_concurrent_conditional_creates(store: SqlStore) -> None:
    """attribute_not_exists holds under concurrency: one create wins, the others fail."""
    ops = TableOperations(store.items)
    await _table(ops, "N")

    async def create(n: int) -> bool:
        try:
            await ops.run(
                "PutItem",
                {
                    "TableName": "history",
                    "Item": {"pk": {"S": "dev"}, "sk": {"N": "1"}, "n": {"N": str(n)}},
                    "ConditionExpression": "attribute_not_exists(pk)",
                },
                "us-east-1",
            )
        except ConditionalCheckFailedException:
            return False
        return True

    results = await asyncio.gather(*(create(n) for n in range(10)))
    assert sum(results) == 1


async def test_index_query_reads_the_index_range(tmp_path: Path) -> None:
    """A Query on a secondary index is a search on the index entries' primary key, joined to
    the items by theirs: never a scan."""
    store = await SqlStore.open(Settings.load(None, data_dir=tmp_path).sqlalchemy_url)
    try:
        async with store.database.reading() as conn:
            plan = (
                await conn.execute(
                    text(
                        "EXPLAIN QUERY PLAN SELECT i.pk, d.item FROM ddb_index_items i "
                        "JOIN ddb_items d ON d.table_id = i.table_id AND d.pk = i.item_pk "
                        "AND d.sk = i.item_sk WHERE i.table_id = 1 AND i.index_id = 2 "
                        "AND i.pk = x'01' AND i.sk >= x'02' AND i.sk < x'03' "
                        "ORDER BY i.sk, i.item_pk, i.item_sk LIMIT 100"
                    )
                )
            ).all()
        details = " ".join(str(row[-1]) for row in plan)
        assert "SEARCH i USING COVERING INDEX" in details
        assert "SEARCH d USING PRIMARY KEY" in details or "SEARCH d USING INDEX" in details
        assert "SCAN" not in details
        assert "TEMP B-TREE" not in details  # no sort: the index order is the answer's
    finally:
        await store.close()


async def _indexed_table(ops: TableOperations) -> None:
    await ops.run(
        "CreateTable",
        {
            "TableName": "history",
            "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "N"},
                {"AttributeName": "site", "AttributeType": "S"},
            ],
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": "by_site",
                    "KeySchema": [
                        {"AttributeName": "site", "KeyType": "HASH"},
                        {"AttributeName": "sk", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            ],
            "BillingMode": "PAY_PER_REQUEST",
        },
        "us-east-1",
    )


async def test_index_entries_follow_every_write(store: SqlStore) -> None:
    ops = TableOperations(store.items)
    await _indexed_table(ops)

    async def sites(site: str) -> list[str]:
        result = await ops.run(
            "Query",
            {
                "TableName": "history",
                "IndexName": "by_site",
                "KeyConditionExpression": "site = :s",
                "ExpressionAttributeValues": {":s": {"S": site}},
            },
            "us-east-1",
        )
        return [f"{i['pk']['S']}/{i['sk']['N']}" for i in result["Items"]]

    def put(pk: str, sk: int, site: str) -> dict[str, Any]:
        return {
            "PutRequest": {"Item": {"pk": {"S": pk}, "sk": {"N": str(sk)}, "site": {"S": site}}}
        }

    await ops.run(
        "BatchWriteItem",
        {"RequestItems": {"history": [put("a", 2, "x"), put("b", 1, "x"), put("c", 3, "y")]}},
        "us-east-1",
    )
    assert await sites("x") == ["b/1", "a/2"]
    await ops.run(
        "TransactWriteItems",
        {
            "TransactItems": [
                {
                    "Update": {
                        "TableName": "history",
                        "Key": {"pk": {"S": "a"}, "sk": {"N": "2"}},
                        "UpdateExpression": "SET site = :y",
                        "ExpressionAttributeValues": {":y": {"S": "y"}},
                    }
                },
                {"Delete": {"TableName": "history", "Key": {"pk": {"S": "b"}, "sk": {"N": "1"}}}},
            ]
        },
        "us-east-1",
    )
    assert await sites("x") == []
    assert await sites("y") == ["a/2", "c/3"]
    await ops.run(
        "BatchWriteItem",
        {"RequestItems": {"history": [put("c", 3, "x")]}},
        "us-east-1",
    )
    assert await sites("y") == ["a/2"]
    assert await sites("x") == ["c/3"]
    await ops.run("DeleteTable", {"TableName": "history"}, "us-east-1")
    async with store.database.reading() as conn:
        left = (await conn.execute(text("SELECT count(*) FROM ddb_index_items"))).scalar_one()
    assert left == 0


async def test_expired_items_are_read_until_purged(store: SqlStore) -> None:
    now = [1_700_000_000.0]
    ops = TableOperations(store.items, clock=lambda: now[0])
    maintenance = TableMaintenance(store.items, clock=lambda: now[0], grace=0, batch=2)
    await _table(ops, "N")
    await ops.run(
        "UpdateTimeToLive",
        {
            "TableName": "history",
            "TimeToLiveSpecification": {"Enabled": True, "AttributeName": "ttl"},
        },
        "us-east-1",
    )
    for sk, ttl in ((1, "1699999990"), (2, "1700000100"), (3, "1699999999.5"), (4, "1")):
        await ops.run(
            "PutItem",
            {
                "TableName": "history",
                "Item": {"pk": {"S": "dev"}, "sk": {"N": str(sk)}, "ttl": {"N": ttl}},
            },
            "us-east-1",
        )
    await ops.run(
        "PutItem",
        {
            "TableName": "history",
            "Item": {"pk": {"S": "dev"}, "sk": {"N": "5"}, "ttl": {"S": "not a number"}},
        },
        "us-east-1",
    )
    assert await _query(ops, "sk > :z", **{":z": {"N": "0"}}) == ["1", "2", "3", "4", "5"]
    assert await maintenance.step() == 2  # 1 and 3; 4 expired more than five years ago
    assert await _query(ops, "sk > :z", **{":z": {"N": "0"}}) == ["2", "4", "5"]
    now[0] += 200
    assert await maintenance.step() == 1
    assert await _query(ops, "sk > :z", **{":z": {"N": "0"}}) == ["4", "5"]


async def test_time_to_live_enabled_before_its_index_existed(store: SqlStore) -> None:
    """A table whose TTL was enabled by an older lorafox (no TTL index) gets one, then purges."""
    now = [1_700_000_000.0]
    ops = TableOperations(store.items, clock=lambda: now[0])
    await _table(ops, "N")
    for sk, ttl in ((1, "1699999900"), (2, "1700000100")):
        await ops.run(
            "PutItem",
            {
                "TableName": "history",
                "Item": {"pk": {"S": "dev"}, "sk": {"N": str(sk)}, "ttl": {"N": ttl}},
            },
            "us-east-1",
        )
    table = await store.items.get_table("history")
    assert table is not None
    await store.items.update_table(
        table.id, lambda t: (t.definition, "ttl")
    )  # as revision 0004 left it
    assert await TableMaintenance(store.items, clock=lambda: now[0], grace=0).step() == 1
    assert await _query(ops, "sk > :z", **{":z": {"N": "0"}}) == ["2"]


async def test_stream_records_in_order_bounds_and_retention(store: SqlStore) -> None:
    ops = TableOperations(store.items)
    await _table(ops, "N")
    table = await store.items.get_table("history")
    assert table is not None
    items = store.items
    assert await items.stream_bounds(table.id, "label") is None
    await items.append_stream_records(
        table.id, "label", [(1000, {"n": 1}), (2000, {"n": 2}), (3000, {"n": 3})]
    )
    await items.append_stream_records(table.id, "other", [(4000, {"n": 4})])
    rows = await items.stream_records(table.id, "label", 0, 10)
    assert [record for _, _, record in rows] == [{"n": 1}, {"n": 2}, {"n": 3}]
    numbers = [number for number, _, _ in rows]
    assert numbers == sorted(numbers)
    assert [at for _, at, _ in rows] == [1000, 2000, 3000]
    assert await items.stream_bounds(table.id, "label") == (numbers[0], numbers[-1])
    assert await items.last_stream_sequence() > numbers[-1]
    after = await items.stream_records(table.id, "label", numbers[0], 1)
    assert [record for _, _, record in after] == [{"n": 2}]
    assert await items.trim_stream_records(2500) == 2
    assert [r for _, _, r in await items.stream_records(table.id, "label", 0, 10)] == [{"n": 3}]
    await ops.run("DeleteTable", {"TableName": "history"}, "us-east-1")
    assert await items.stream_records(table.id, "other", 0, 10) == []


async def test_multi_attribute_index_created_and_backfilled(store: SqlStore) -> None:
    """A global index keyed by two partition and two sort attributes, added by UpdateTable:
    the backfill and later writes put the items in (round, score) order in each partition."""
    now = [1_700_000_000.0]
    ops = TableOperations(store.items, clock=lambda: now[0])
    await _table(ops, "N")

    async def put(sk: int, **attributes: str | int) -> None:
        item: dict[str, Any] = {"pk": {"S": "dev"}, "sk": {"N": str(sk)}}
        for name, value in attributes.items():
            item[name] = {"N": str(value)} if isinstance(value, int) else {"S": value}
        await ops.run("PutItem", {"TableName": "history", "Item": item}, "us-east-1")

    await put(1, league="L", region="EU", round="b", score=10)
    await put(2, league="L", region="EU", round="b", score=9)
    await put(3, league="L", region="EU", round="a", score=100)
    await put(4, league="L", region="NA", round="a", score=1)
    await put(5, league="L", region="EU", round="a")  # no score: not in the index
    await put(6, league="L", region="EU", round="a", score="x")  # not a number: left out
    keys = [
        {"AttributeName": "league", "KeyType": "HASH"},
        {"AttributeName": "region", "KeyType": "HASH"},
        {"AttributeName": "round", "KeyType": "RANGE"},
        {"AttributeName": "score", "KeyType": "RANGE"},
    ]
    await ops.run(
        "UpdateTable",
        {
            "TableName": "history",
            "AttributeDefinitions": [
                {"AttributeName": "league", "AttributeType": "S"},
                {"AttributeName": "region", "AttributeType": "S"},
                {"AttributeName": "round", "AttributeType": "S"},
                {"AttributeName": "score", "AttributeType": "N"},
            ],
            "GlobalSecondaryIndexUpdates": [
                {
                    "Create": {
                        "IndexName": "by_round",
                        "KeySchema": keys,
                        "Projection": {"ProjectionType": "KEYS_ONLY"},
                    }
                }
            ],
        },
        "us-east-1",
    )
    await TableMaintenance(store.items, clock=lambda: now[0], grace=0).step()  # the backfill
    await put(7, league="L", region="EU", round="a", score=-1)

    async def ranked(condition: str = "", **values: Any) -> list[str]:
        result = await ops.run(
            "Query",
            {
                "TableName": "history",
                "IndexName": "by_round",
                "KeyConditionExpression": "league = :l AND #region = :r" + condition,
                "ExpressionAttributeNames": {"#region": "region", **values.pop("names", {})},
                "ExpressionAttributeValues": {":l": {"S": "L"}, ":r": {"S": "EU"}, **values},
            },
            "us-east-1",
        )
        return [i["sk"]["N"] for i in result["Items"]]

    described = await ops.run("DescribeTable", {"TableName": "history"}, "us-east-1")
    assert described["Table"]["GlobalSecondaryIndexes"][0]["KeySchema"] == keys
    assert await ranked() == ["7", "3", "2", "1"]
    names = {"#o": "round"}
    assert await ranked(" AND #o = :a", names=names, **{":a": {"S": "b"}}) == ["2", "1"]
    between = " AND #o = :a AND score BETWEEN :lo AND :hi"
    bounds = {":a": {"S": "a"}, ":lo": {"N": "0"}, ":hi": {"N": "100"}}
    assert await ranked(between, names=names, **bounds) == ["3"]
    assert await ranked(" AND #o > :a", names=names, **{":a": {"S": "a"}}) == ["2", "1"]
