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
