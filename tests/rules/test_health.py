"""A rule's actions are failing after ``failing_after`` failures in a row, one event each way,
and say so until their next success."""

from __future__ import annotations

from lorafox.domain import Event, EventType
from lorafox.domain.rules import TopicRule
from lorafox.rules.health import RuleHealth

_FAILURE = {"failedAction": "HttpAction", "failedResource": "https://x.org/", "errorMessage": "503"}


def test_failing_actions_are_told_until_they_work_again() -> None:
    events: list[Event] = []
    health = RuleHealth(events.append, lambda: 1000, failing_after=2)
    rule = TopicRule(name="r", group_path="/", sql="SELECT * FROM 'a'")
    health.failed(rule, 1, _FAILURE)
    assert health.failing("r") == [] and events == []
    health.failed(rule, 1, _FAILURE)
    health.failed(rule, 0, _FAILURE)
    health.failed(rule, 0, _FAILURE)
    assert health.failing("r") == [0, 1] and health.failing("other") == []
    assert [e.type for e in events] == [EventType.RULE_FAILING] * 2
    health.succeeded(rule, 1)
    assert health.failing("r") == [0]
    assert events[-1].type is EventType.RULE_RESTORED
    health.forget("r")
    assert health.failing("r") == []
