"""A global index with a multi-attribute key against the synthetic key it replaces, in one run.

Two tables of the same matches (``--items``, default 50,000) on one SQLite store (the fast
path, as ``lorafox serve`` runs it), through ``TableOperations`` (no HTTP, no signature: the
figures are the table API's own cost):

- baseline: a GSI keyed by ``gpk`` = ``"tournament#region"`` (S) and ``gsk`` =
  ``"round#bracket#score"`` (S, the score zero-padded), the attributes the application had to
  build before multi-attribute keys;
- multi: a GSI keyed by ``tournament``, ``region`` (HASH) and ``round``, ``bracket``, ``score``
  (RANGE, ``score`` a number), on the items' own attributes.

Figures for each: PutItem/s (items with their index entry, one after the other; the load itself),
and Query p50/p99 (``--queries`` Queries, ``Limit=100``: a random partition, ``round`` and
``bracket`` equal, ``score`` ≥ a random value — ``begins_with`` plus ``>=`` on the synthetic key
— each returning up to 100 items). Ratios multi/baseline close the table.

    .venv/bin/python bench/dynamodb_multikeys.py [--items 50000] [--queries 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from lorafox.settings import Settings
from lorafox.store.sql.store import SqlStore
from lorafox.tables.operations import TableOperations

REGION = "us-east-1"
TOURNAMENTS = 10
REGIONS = ("EU", "NA", "APAC", "LATAM")
ROUNDS = ("final", "quarter", "round1", "round2", "semi")
BRACKETS = ("lower", "upper")


def _index(name: str, keys: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": [{"AttributeName": n, "KeyType": k} for n, k in keys],
        "Projection": {"ProjectionType": "ALL"},
    }


def _definitions(**types: str) -> list[dict[str, str]]:
    return [{"AttributeName": n, "AttributeType": t} for n, t in types.items()]


async def _create(ops: TableOperations) -> None:
    await ops.run(
        "CreateTable",
        {
            "TableName": "baseline",
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": _definitions(id="S", gpk="S", gsk="S"),
            "GlobalSecondaryIndexes": [_index("gsi", [("gpk", "HASH"), ("gsk", "RANGE")])],
            "BillingMode": "PAY_PER_REQUEST",
        },
        REGION,
    )
    await ops.run(
        "CreateTable",
        {
            "TableName": "multi",
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": _definitions(
                id="S", tournament="S", region="S", round="S", bracket="S", score="N"
            ),
            "GlobalSecondaryIndexes": [
                _index(
                    "gsi",
                    [
                        ("tournament", "HASH"),
                        ("region", "HASH"),
                        ("round", "RANGE"),
                        ("bracket", "RANGE"),
                        ("score", "RANGE"),
                    ],
                )
            ],
            "BillingMode": "PAY_PER_REQUEST",
        },
        REGION,
    )


def _match(n: int, rng: random.Random) -> dict[str, Any]:
    return {
        "id": f"m{n}",
        "tournament": f"T{rng.randrange(TOURNAMENTS)}",
        "region": rng.choice(REGIONS),
        "round": rng.choice(ROUNDS),
        "bracket": rng.choice(BRACKETS),
        "score": rng.randrange(100_000),
        "player": f"p{rng.randrange(10_000)}",
    }


def _item(table: str, match: dict[str, Any]) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": {"S": match["id"]},
        "player": {"S": match["player"]},
        "tournament": {"S": match["tournament"]},
        "region": {"S": match["region"]},
        "round": {"S": match["round"]},
        "bracket": {"S": match["bracket"]},
        "score": {"N": str(match["score"])},
    }
    if table == "baseline":
        item["gpk"] = {"S": f"{match['tournament']}#{match['region']}"}
        item["gsk"] = {"S": f"{match['round']}#{match['bracket']}#{match['score']:06d}"}
    return item


def _query(table: str, rng: random.Random) -> dict[str, Any]:
    tournament, region = f"T{rng.randrange(TOURNAMENTS)}", rng.choice(REGIONS)
    round_, bracket, score = rng.choice(ROUNDS), rng.choice(BRACKETS), rng.randrange(100_000)
    if table == "baseline":
        return {
            "KeyConditionExpression": "gpk = :p AND gsk BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {
                ":p": {"S": f"{tournament}#{region}"},
                ":lo": {"S": f"{round_}#{bracket}#{score:06d}"},
                ":hi": {"S": f"{round_}#{bracket}#999999"},
            },
        }
    return {
        "KeyConditionExpression": (
            "tournament = :t AND #r = :r AND #o = :o AND bracket = :b AND score >= :s"
        ),
        "ExpressionAttributeNames": {"#r": "region", "#o": "round"},
        "ExpressionAttributeValues": {
            ":t": {"S": tournament},
            ":r": {"S": region},
            ":o": {"S": round_},
            ":b": {"S": bracket},
            ":s": {"N": str(score)},
        },
    }


def _percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


async def _measure(ops: TableOperations, table: str, items: int, queries: int) -> dict[str, float]:
    rng = random.Random(7)
    matches = [_match(n, rng) for n in range(items)]
    started = time.perf_counter()
    for match in matches:
        await ops.run("PutItem", {"TableName": table, "Item": _item(table, match)}, REGION)
    puts = items / (time.perf_counter() - started)
    rng = random.Random(11)
    latencies: list[float] = []
    found: list[int] = []
    for n in range(queries + 20):
        request = {"TableName": table, "IndexName": "gsi", "Limit": 100, **_query(table, rng)}
        began = time.perf_counter()
        answer = await ops.run("Query", request, REGION)
        if n >= 20:  # the first ones warm the caches
            latencies.append((time.perf_counter() - began) * 1000)
            found.append(answer["Count"])
    return {
        "puts": puts,
        "p50": _percentile(latencies, 0.5),
        "p99": _percentile(latencies, 0.99),
        "found": statistics.fmean(found),
    }


async def _main(items: int, queries: int) -> None:
    with tempfile.TemporaryDirectory() as temp:
        store = await SqlStore.open(Settings.load(None, data_dir=Path(temp)).sqlalchemy_url)
        try:
            ops = TableOperations(store.items)
            await _create(ops)
            figures = {
                table: await _measure(ops, table, items, queries) for table in ("baseline", "multi")
            }
        finally:
            await store.close()
    print(f"{items:,} items, {queries:,} Queries (Limit 100) per index, SQLite fast path")
    print(
        f"{'index':<10} {'PutItem/s':>10} {'Query p50':>10} {'Query p99':>10} {'items/Query':>12}"
    )
    for table, f in figures.items():
        print(
            f"{table:<10} {f['puts']:>10,.0f} {f['p50']:>8.2f}ms {f['p99']:>8.2f}ms "
            f"{f['found']:>12.1f}"
        )
    base, multi = figures["baseline"], figures["multi"]
    print(
        f"ratios multi/baseline: PutItem/s x{multi['puts'] / base['puts']:.2f}, "
        f"Query p50 x{multi['p50'] / base['p50']:.2f}, p99 x{multi['p99'] / base['p99']:.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--queries", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(_main(args.items, args.queries))


if __name__ == "__main__":
    main()
