"""Property tests at the operation level: random items and writes, then random Query and Scan
requests (on the table, a global and a local index; forwards and backwards, key conditions,
filters, Limit with ExclusiveStartKey paging, parallel segments) through ``TableOperations``
over the SQL store (SQLite, or PostgreSQL with ``LORAFOX_TEST_DATABASE=postgresql``), checked
against ``reference_tables``' in-memory model."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from lorafox.store.sql.store import SqlStore
from lorafox.tables.operations import TableOperations
from tests.conftest import store_url
from tests.tables.reference_tables import ModelTable, Query

NUMBERS = ["-10", "-1.5", "0", "0.25", "1", "2", "10", "1000", "123456789012345678901234567890"]
HASHES = ["a", "b", "é", "ab"]
_names = itertools.count()

OPERATION_PROPERTY = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


class _Harness:
    """A store on its own event loop, shared by the examples (a new table per example)."""

    def __init__(self, path: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.store = self.loop.run_until_complete(SqlStore.open(store_url(path)))
        self.ops = TableOperations(self.store.items)

    def run(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        return self.loop.run_until_complete(self.ops.run(operation, params, "us-east-1"))

    def close(self) -> None:
        self.loop.run_until_complete(self.store.close())
        self.loop.close()


@pytest.fixture(scope="module")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Harness]:
    made = _Harness(tmp_path_factory.mktemp("properties"))
    yield made
    made.close()


def _create(harness: _Harness) -> str:
    name = f"prop-{next(_names)}"
    harness.run(
        "CreateTable",
        {
            "TableName": name,
            "KeySchema": [
                {"AttributeName": "h", "KeyType": "HASH"},
                {"AttributeName": "r", "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": "h", "AttributeType": "S"},
                {"AttributeName": "r", "AttributeType": "N"},
                {"AttributeName": "gh", "AttributeType": "S"},
                {"AttributeName": "gr", "AttributeType": "N"},
                {"AttributeName": "lr", "AttributeType": "N"},
            ],
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": "gsi",
                    "KeySchema": [
                        {"AttributeName": "gh", "KeyType": "HASH"},
                        {"AttributeName": "gr", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["v"]},
                }
            ],
            "LocalSecondaryIndexes": [
                {
                    "IndexName": "lsi",
                    "KeySchema": [
                        {"AttributeName": "h", "KeyType": "HASH"},
                        {"AttributeName": "lr", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "KEYS_ONLY"},
                }
            ],
            "BillingMode": "PAY_PER_REQUEST",
        },
    )
    return name


_NUMBER = st.sampled_from(NUMBERS)
_OFTEN = st.integers(0, 3).map(bool)  # three times in four: most items are in the indexes


@st.composite
def _items(draw: st.DrawFn) -> dict[str, Any]:
    item: dict[str, Any] = {
        "h": {"S": draw(st.sampled_from(HASHES))},
        "r": {"N": draw(_NUMBER)},
    }
    if draw(_OFTEN):
        item["gh"] = {"S": draw(st.sampled_from(["x", "y"]))}
    if draw(_OFTEN):
        item["gr"] = {"N": draw(_NUMBER)}
    if draw(_OFTEN):
        item["lr"] = {"N": draw(_NUMBER)}
    if draw(st.booleans()):
        item["v"] = {"N": draw(_NUMBER)}
    if draw(st.booleans()):
        item["other"] = {"S": "payload"}
    return item


_WRITES = st.lists(
    st.one_of(
        _items().map(lambda item: ("put", item)),
        st.tuples(st.sampled_from(HASHES), _NUMBER).map(lambda key: ("delete", key)),
    ),
    min_size=3,
    max_size=40,
)


@st.composite
def _queries(draw: st.DrawFn) -> Query:
    index = draw(st.sampled_from([None, "g", "l"]))
    limit = draw(st.one_of(st.none(), st.integers(1, 7)))
    above = draw(st.one_of(st.none(), _NUMBER))
    if draw(st.integers(0, 3)) == 0:
        segments = draw(st.one_of(st.none(), st.integers(1, 4)))
        return Query(index, None, above=above, limit=limit, segments=segments)
    hash_value = draw(st.sampled_from(["x", "y"] if index == "g" else HASHES))
    op = draw(st.sampled_from([None, "EQ", "LT", "LE", "GT", "GE", "BETWEEN"]))
    bounds: tuple[str, ...] = ()
    if op == "BETWEEN":
        low, high = sorted(draw(st.lists(_NUMBER, min_size=2, max_size=2)), key=float)
        bounds = (low, high)
    elif op is not None:
        bounds = (draw(_NUMBER),)
    forward = draw(st.booleans())
    return Query(index, hash_value, op, bounds, forward, above, limit)


_SYMBOLS = {"EQ": "=", "LT": "<", "LE": "<=", "GT": ">", "GE": ">="}


def _request(table: str, query: Query) -> dict[str, Any]:
    hash_name, range_name = {None: ("h", "r"), "g": ("gh", "gr"), "l": ("h", "lr")}[query.index]
    params: dict[str, Any] = {"TableName": table}
    values: dict[str, Any] = {}
    if query.index is not None:
        params["IndexName"] = {"g": "gsi", "l": "lsi"}[query.index]
    if query.hash_value is not None:
        values[":h"] = {"S": query.hash_value}
        condition = f"{hash_name} = :h"
        if query.op == "BETWEEN":
            condition += f" AND {range_name} BETWEEN :a AND :b"
            values[":a"], values[":b"] = ({"N": b} for b in query.bounds)
        elif query.op is not None:
            condition += f" AND {range_name} {_SYMBOLS[query.op]} :a"
            values[":a"] = {"N": query.bounds[0]}
        params["KeyConditionExpression"] = condition
        params["ScanIndexForward"] = query.forward
    if query.above is not None:
        params["FilterExpression"] = "v > :v"
        values[":v"] = {"N": query.above}
    if values:
        params["ExpressionAttributeValues"] = values
    if query.limit is not None:
        params["Limit"] = query.limit
    return params


def _all_pages(harness: _Harness, operation: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    request = dict(params)
    for _ in range(1000):
        page = harness.run(operation, request)
        assert page["Count"] == len(page["Items"])
        if "Limit" in params:
            assert page["ScannedCount"] <= params["Limit"]
        found.extend(page["Items"])
        if "LastEvaluatedKey" not in page:
            return found
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    raise AssertionError("paging did not end")


def _key(item: dict[str, Any]) -> tuple[str, str]:
    return item["h"]["S"], item["r"]["N"]


@OPERATION_PROPERTY
@given(writes=_WRITES, queries=st.lists(_queries(), min_size=1, max_size=6))
def test_queries_and_scans_agree_with_the_reference(
    harness: _Harness, writes: list[tuple[str, Any]], queries: list[Query]
) -> None:
    table = _create(harness)
    model = ModelTable()
    for kind, payload in writes:
        if kind == "put":
            harness.run("PutItem", {"TableName": table, "Item": payload})
            model.put(payload)
        else:
            h, r = payload
            harness.run("DeleteItem", {"TableName": table, "Key": {"h": {"S": h}, "r": {"N": r}}})
            model.delete(h, r)
    for query in queries:
        expected = model.evaluate(query)
        params = _request(table, query)
        operation = "Query" if query.hash_value is not None else "Scan"
        if query.segments is None:
            assert _all_pages(harness, operation, params) == expected, params
        else:
            found: list[dict[str, Any]] = []
            for segment in range(query.segments):
                found.extend(
                    _all_pages(
                        harness,
                        "Scan",
                        {**params, "Segment": segment, "TotalSegments": query.segments},
                    )
                )
            assert sorted(found, key=_key) == sorted(expected, key=_key), params
        event(f"{operation} on {query.index or 'table'}: {'some' if expected else 'no'} items")
    harness.run("DeleteTable", {"TableName": table})
