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
    from lorafox.ports.rules import HttpRequest

    first = await store.rule_http.keep(HttpRequest("R", "https://h/1", {"k": "v"}, b"\x00{}"))
    second = await store.rule_http.keep(HttpRequest("S", "https://h/2", {}, b""))
    kept = await store.rule_http.kept(10)
    assert [(k.id, k.rule, k.url, k.headers, k.body) for k in kept] == [
        (first, "R", "https://h/1", {"k": "v"}, b"\x00{}"),
        (second, "S", "https://h/2", {}, b""),
    ]
    await store.rule_http.forget(first)
    assert [k.id for k in await store.rule_http.kept(10)] == [second]
