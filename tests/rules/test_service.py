"""``TopicRules``: who may create, see and change rules; the engine follows; the dry run."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import replace

import pytest

from lorafox.domain import Principal
from lorafox.domain.identity import Grant, PrincipalKind, Profile
from lorafox.domain.rules import TopicRule
from lorafox.errors import Forbidden
from lorafox.rules.actions import ActionRunner
from lorafox.rules.engine import RulesEngine
from lorafox.rules.errors import SqlParseError
from lorafox.rules.service import RuleExists, RuleNotFound, TopicRules
from lorafox.rules.sql import MessageContext

ROOT = "/root/"


class Store:
    def __init__(self) -> None:
        self.rules: dict[str, TopicRule] = {}

    async def list_rules(self) -> Sequence[TopicRule]:
        return [self.rules[n] for n in sorted(self.rules)]

    async def get_rule(self, name: str) -> TopicRule | None:
        return self.rules.get(name)

    async def create_rule(self, rule: TopicRule) -> bool:
        if rule.name in self.rules:
            return False
        self.rules[rule.name] = rule
        return True

    async def replace_rule(self, rule: TopicRule) -> bool:
        if rule.name not in self.rules:
            return False
        self.rules[rule.name] = rule
        return True

    async def delete_rule(self, name: str) -> bool:
        return self.rules.pop(name, None) is not None


def caller(path: str, profile: Profile, name: str = "u") -> Principal:
    return Principal(PrincipalKind.API_USER, name, name, (Grant("g", path, profile),))


@pytest.fixture
def rules() -> TopicRules:
    engine = RulesEngine(ActionRunner(), root_path=ROOT)
    return TopicRules(Store(), engine, clock=lambda: 1234.9)


SQL = {"sql": "SELECT a FROM 'x/+' WHERE a > 1", "awsIotSqlVersion": "2016-03-23"}


async def test_groups_and_profiles(rules: TopicRules) -> None:
    child = caller("/root/c/", Profile.DEVICE_MANAGER, "child")
    other = caller("/root/o/", Profile.ADMIN, "other")
    viewer = caller("/root/c/", Profile.VIEWER, "viewer")
    made = await rules.create(child, "R", SQL)
    assert (made.group_path, made.owner, made.created_at) == ("/root/c/", "child", 1234.0)
    with pytest.raises(RuleExists):
        await rules.create(other, "R", SQL)
    with pytest.raises(Forbidden):
        await rules.create(viewer, "V", SQL)
    assert [r.name for r in await rules.list_rules(viewer)] == ["R"]
    assert await rules.list_rules(other) == []
    with pytest.raises(RuleNotFound):
        await rules.get(other, "R")
    with pytest.raises(Forbidden):
        await rules.delete(viewer, "R")
    with pytest.raises(SqlParseError):
        await rules.replace(child, "R", {"sql": "SELECT"})
    await rules.set_disabled(child, "R", True)
    assert (await rules.get(viewer, "R")).disabled
    assert await rules.list_rules(viewer, disabled=False) == []
    assert [r.name for r in await rules.list_rules(viewer, topic="x/+")] == ["R"]
    await rules.delete(child, "R")
    with pytest.raises(RuleNotFound):
        await rules.get(child, "R")


async def test_dry_run(rules: TopicRules) -> None:
    admin = caller(ROOT, Profile.ADMIN)
    messages = [
        MessageContext("x/1", b'{"a": 2}', 0),
        MessageContext("x/2", b'{"a": 0}', 0),
        MessageContext("y", b"{}", 0),
    ]
    payload = {**SQL, "actions": [{"republish": {"roleArn": "r", "topic": "out/${topic(2)}"}}]}
    first, second, third = await rules.dry_run(admin, payload, messages)
    assert first["output"] == {"a": 2} and first["actions"][0]["resource"] == "out/1"
    assert second == {"topic": "x/2", "matched": True, "passed": False}
    assert third == {"topic": "y", "matched": False}
    with pytest.raises(RuleNotFound):
        await rules.dry_run(admin, "nope", messages)


async def test_rules_changed_elsewhere_are_picked_up(rules: TopicRules) -> None:
    store = rules._store
    assert isinstance(store, Store)
    assert await rules.load() == 0
    store.rules["E"] = TopicRule("E", ROOT, "SELECT * FROM 'e'", actions=())
    follower = asyncio.create_task(rules.follow(0.01))
    try:
        for _ in range(100):
            await asyncio.sleep(0.01)
            if rules.engine._matching("e"):
                break
        assert [c.name for c in rules.engine._matching("e")] == ["E"]
        store.rules["E"] = replace(store.rules["E"], disabled=True)
        for _ in range(100):
            await asyncio.sleep(0.01)
            if not rules.engine._matching("e"):
                break
        assert rules.engine._matching("e") == []
    finally:
        follower.cancel()


async def test_at_most_max_rules(rules: TopicRules, monkeypatch: pytest.MonkeyPatch) -> None:
    from lorafox.rules import service
    from lorafox.rules.errors import RuleInvalid

    monkeypatch.setattr(service, "MAX_RULES", 2)
    admin = caller(ROOT, Profile.ADMIN)
    await rules.create(admin, "A", SQL)
    await rules.create(admin, "B", SQL)
    with pytest.raises(RuleInvalid, match="at most 2"):
        await rules.create(admin, "C", SQL)
