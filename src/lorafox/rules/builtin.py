"""``lorafox_downlinks``: the built-in Sigfox downlink path, shown and managed as a topic rule.

lorafox queues the downlinks published on ``mqtt.downlink_topic`` (``sigfox/downlink/+``) with
built-in code (``DownlinkQueue.on_mqtt``: the sender's rights checked per device, refusals on
``…/rejected``, the HTTPS publish answered once the downlink is queued). That path is also a
rule of the root group, kept in the rule store so that every instance sharing it agrees:

* **untouched**, it describes the built-in path in AWS's terms (the statement and a
  ``downlink`` action built from the ``mqtt`` settings, refreshed at each start when they
  change) and carries its counters; the rules engine does not run it, the built-in code does;
* **disabled** (DisableTopicRule, or ``ruleDisabled`` in a replace), the built-in path stops:
  the messages on the downlink topic reach only the rules that want them;
* **replaced** with another statement or other actions, it becomes a rule like the others,
  run by the engine, and the built-in path stops; replacing it with the built-in statement and
  actions again gives the built-in path back;
* it cannot be deleted (disable it instead), and no other rule may take its name.

``is_builtin`` tells the untouched or disabled rule (its ``owner`` is ``BUILTIN_OWNER``, which
no login can be) from one a user replaced.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace

from lorafox.domain.rules import TopicRule
from lorafox.ports.bus import MessageHandler
from lorafox.rules.engine import RulesEngine
from lorafox.settings import MqttSettings

__all__ = [
    "BUILTIN_DOWNLINKS",
    "BUILTIN_OWNER",
    "BuiltinState",
    "builtin_downlink_rule",
    "builtin_handler",
    "is_builtin",
    "refreshed",
    "same_statement",
]

BUILTIN_DOWNLINKS = "lorafox_downlinks"
BUILTIN_OWNER = "(lorafox)"
"""The ``owner`` of the untouched rule: not a login (logins have no parentheses)."""
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DESCRIPTION = (
    "lorafox's built-in Sigfox downlink path: each message on the downlink topic queues a "
    "downlink for a device the sender may operate, refusals go to <topic>/rejected. Disable "
    "it to let your own rules handle these messages; replace its statement or actions and it "
    "becomes a rule like the others."
)


def _field(name: str) -> str:
    return name if _IDENTIFIER.fullmatch(name) else f"get(*, '{name}')"


def builtin_downlink_rule(mqtt: MqttSettings, root_path: str) -> TopicRule:
    """The built-in rule for these ``mqtt`` settings (enabled, created now)."""
    level = mqtt.downlink_topic_level()
    device = f"topic({level})" if level is not None else _field(mqtt.downlink_device)
    data = _field(mqtt.downlink_field)
    return TopicRule(
        name=BUILTIN_DOWNLINKS,
        group_path=root_path,
        sql=(
            f"SELECT {data} AS downlinkData, {device} AS deviceId "  # noqa: S608 - AWS IoT SQL
            f"FROM '{mqtt.downlink_topic}'"
        ),
        sql_version="2016-03-23",
        description=_DESCRIPTION,
        actions=({"downlink": {"deviceId": f"${{{device}}}", "downlinkData": f"${{{data}}}"}},),
        error_action={"republish": {"topic": "${topic()}/rejected", "qos": 1}},
        created_at=float(int(time.time())),
        owner=BUILTIN_OWNER,
    )


def is_builtin(rule: TopicRule) -> bool:
    """Whether ``rule`` is the built-in downlink rule as lorafox made it (maybe disabled)."""
    return rule.name == BUILTIN_DOWNLINKS and rule.owner == BUILTIN_OWNER


def same_statement(rule: TopicRule, builtin: TopicRule) -> bool:
    """Whether ``rule`` does what ``builtin`` does (its description and state aside)."""
    return (
        rule.sql == builtin.sql
        and rule.sql_version == builtin.sql_version
        and rule.actions == builtin.actions
        and rule.error_action == builtin.error_action
    )


def refreshed(stored: TopicRule, builtin: TopicRule) -> TopicRule:
    """The stored built-in rule with the statement of the current settings (its state kept)."""
    return replace(builtin, disabled=stored.disabled, created_at=stored.created_at)


class BuiltinState:
    """Whether the built-in path runs: the stored rule says (``TopicRules`` keeps it)."""

    __slots__ = ("enabled",)

    def __init__(self) -> None:
        self.enabled = True

    def follow(self, rule: TopicRule | None) -> None:
        self.enabled = rule is not None and is_builtin(rule) and not rule.disabled


def builtin_handler(
    state: BuiltinState,
    engine: RulesEngine,
    handle: Callable[[str, bytes], Awaitable[str | None]],
) -> MessageHandler:
    """The downlink topic's handler: ``handle`` (an error message, or None once queued) while
    the built-in rule is enabled, counted in that rule's counters."""

    async def on_message(topic: str, payload: bytes) -> None:
        if not state.enabled or topic.endswith("/rejected"):
            return
        stats = engine.stats_of(BUILTIN_DOWNLINKS)
        stats.matched += 1
        stats.passed += 1
        error = await handle(topic, payload)
        if error is None:
            stats.action_successes += 1
            return
        stats.action_failures += 1
        stats.last_errors.append(
            {
                "time": int(time.time() * 1000),
                "traceId": None,
                "messageId": None,
                "topic": topic,
                "failedAction": "DownlinkAction",
                "failedResource": topic,
                "errorMessage": error,
            }
        )

    return on_message
