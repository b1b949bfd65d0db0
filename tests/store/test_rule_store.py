"""``RuleRepository`` on every store spelling: create, read back, replace, delete."""

from __future__ import annotations

from dataclasses import replace

from lorafox.domain.rules import TopicRule
from lorafox.store.sql.store import SqlStore


async def test_rules_round_trip(store: SqlStore) -> None:
    rule = TopicRule(
        name="Sigfox_1",
        group_path="/root/g/",
        sql="SELECT * FROM 'a/+'\n",
        description="d",
        actions=({"dynamoDBv2": {"roleArn": "r", "putItem": {"tableName": "T"}}},),
        error_action={"republish": {"roleArn": "r", "topic": "errors"}},
        created_at=1700000000.5,
        owner="api-login",
    )
    assert await store.rules.create_rule(rule)
    assert not await store.rules.create_rule(rule)
    assert await store.rules.get_rule("Sigfox_1") == rule
    assert (await store.rules.get_rule("Sigfox_1")).sql_version is None  # type: ignore[union-attr]
    changed = replace(rule, sql_version="2016-03-23", disabled=True, actions=())
    assert await store.rules.replace_rule(changed)
    assert await store.rules.list_rules() == [changed]
    assert not await store.rules.replace_rule(replace(rule, name="other"))
    assert await store.rules.delete_rule("Sigfox_1")
    assert not await store.rules.delete_rule("Sigfox_1")
    assert await store.rules.get_rule("Sigfox_1") is None


async def test_http_outbox(store: SqlStore) -> None:
    """Requests kept with a claim: taken only once it lapsed, by one claimer, renewed and
    released by their holder only."""
    from lorafox.ports.rules import HttpRequest

    rules = store.rule_http
    first = await rules.keep(HttpRequest("R", "https://h/1", {"k": "v"}, b"\x00{}"), "a", 1000)
    second = await rules.keep(HttpRequest("S", "https://h/2", {}, b""), "b", 2000)
    assert await rules.claim("c", 1000, 5000, 10) == []  # neither lapsed before 1000
    [taken] = await rules.claim("c", 1500, 5000, 10)
    assert (taken.id, taken.rule, taken.url, taken.headers, taken.body) == (
        first,
        "R",
        "https://h/1",
        {"k": "v"},
        b"\x00{}",
    )
    assert await rules.renew("a", 9000) == 0  # a lost it to c
    assert await rules.renew("b", 9000) == 1
    assert await rules.claim("d", 4999, 9999, 10) == []  # c holds it until 5000, b until 9000
    assert [r.id for r in await rules.claim("d", 5001, 9999, 10)] == [first]
    assert await rules.renew("d", 20_000, request_id=second) == 0
    await rules.release("b")
    assert [r.id for r in await rules.claim("e", 1, 9999, 1)] == [second]
    await rules.forget(first)
    await rules.forget(second)
    assert await rules.claim("f", 2**62, 0, 10) == []
