"""A ``TopicRule`` checked and compiled once: its statement, its actions, its error action.

``rule_from_payload`` reads AWS's ``TopicRulePayload`` (what CreateTopicRule and
ReplaceTopicRule send) and raises ``SqlParseError`` or ``RuleInvalid`` in AWS's terms.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from lorafox.domain.rules import TopicRule
from lorafox.rules.actions import MAX_ACTIONS, CompiledAction, compile_action
from lorafox.rules.errors import RuleInvalid
from lorafox.rules.sql import Statement, compile_statement

__all__ = ["CompiledRule", "check_name", "compile_rule", "rule_from_payload"]

_NAME = re.compile(r"^[a-zA-Z0-9_]+$")


def check_name(name: str) -> str:
    """``name`` when AWS accepts it as a rule name (``^[a-zA-Z0-9_]+$``, 1 to 128)."""
    if not _NAME.match(name) or len(name) > 128:
        raise RuleInvalid(
            f"1 validation error detected: Value '{name}' at 'ruleName' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9_]+$ "
            "and have length less than or equal to 128",
            field="ruleName",
        )
    return name


@dataclass(slots=True, frozen=True)
class CompiledRule:
    rule: TopicRule
    statement: Statement
    actions: tuple[CompiledAction, ...]
    error_action: CompiledAction | None

    @property
    def name(self) -> str:
        return self.rule.name


def compile_rule(rule: TopicRule) -> CompiledRule:
    """Compile a stored (or new) rule: its SQL, each action, its error action."""
    if len(rule.actions) > MAX_ACTIONS:
        raise RuleInvalid(f"a rule takes at most {MAX_ACTIONS} actions", field="actions")
    statement = compile_statement(rule.sql, rule.sql_version)
    variables = statement.variables
    actions = tuple(compile_action(a, rule.sql_version, variables=variables) for a in rule.actions)
    error = (
        compile_action(
            rule.error_action, rule.sql_version, where="errorAction", variables=variables
        )
        if rule.error_action is not None
        else None
    )
    return CompiledRule(rule, statement, actions, error)


def rule_from_payload(
    name: str, payload: Any, *, group_path: str, owner: str, created_at: float
) -> TopicRule:
    """A ``TopicRule`` from AWS's ``TopicRulePayload``; compiled once to check it."""
    check_name(name)
    if not isinstance(payload, Mapping):
        raise RuleInvalid("the topicRulePayload must be an object", field="topicRulePayload")
    sql = payload.get("sql")
    if not isinstance(sql, str) or not sql.strip():
        raise RuleInvalid("topicRulePayload.sql is required", field="sql")
    actions = payload.get("actions", [])
    if not isinstance(actions, list):
        raise RuleInvalid("topicRulePayload.actions must be a list", field="actions")
    version = payload.get("awsIotSqlVersion")
    if version is not None and not isinstance(version, str):
        raise RuleInvalid("awsIotSqlVersion must be a string", field="awsIotSqlVersion")
    description = payload.get("description") or ""
    disabled = payload.get("ruleDisabled", False)
    if not isinstance(description, str) or not isinstance(disabled, bool):
        raise RuleInvalid("description is a string and ruleDisabled a boolean")
    error_action = payload.get("errorAction")
    rule = TopicRule(
        name=name,
        group_path=group_path,
        sql=sql,
        sql_version=version or None,
        description=description,
        disabled=disabled,
        actions=tuple(dict(a) if isinstance(a, Mapping) else a for a in actions),
        error_action=dict(error_action) if isinstance(error_action, Mapping) else error_action,
        created_at=created_at,
        owner=owner,
    )
    try:
        orjson.dumps(rule.payload())
    except orjson.JSONEncodeError as exc:
        raise RuleInvalid(f"the rule cannot be stored: {exc}") from None
    compile_rule(rule)
    return rule
