"""A topic rule as it is stored: its AWS ``TopicRulePayload`` and whose it is."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["TopicRule"]


@dataclass(frozen=True, slots=True)
class TopicRule:
    """One rule. ``actions`` and ``error_action`` are in AWS's shapes (``{"dynamoDBv2":
    {...}}``); ``sql_version`` is None when the rule names none (it then runs 2015-10-08, as on
    AWS); ``group_path`` is the group it belongs to: it sees that subtree's messages and writes
    to that subtree's tables."""

    name: str
    group_path: str
    sql: str
    sql_version: str | None = None
    description: str = ""
    disabled: bool = False
    actions: tuple[dict[str, Any], ...] = ()
    error_action: dict[str, Any] | None = None
    created_at: float = 0.0
    """Seconds since the epoch."""
    owner: str = ""
    """The login that made it (for messages)."""
    tags: dict[str, str] = field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        """Its ``TopicRulePayload`` (as CreateTopicRule took it)."""
        out: dict[str, Any] = {
            "sql": self.sql,
            "description": self.description,
            "actions": list(self.actions),
            "ruleDisabled": self.disabled,
        }
        if self.sql_version is not None:
            out["awsIotSqlVersion"] = self.sql_version
        if self.error_action is not None:
            out["errorAction"] = self.error_action
        return out
