"""Whether each topic rule's actions work: ``rule_failing`` once an action has failed
``failing_after`` times in a row, ``rule_restored`` at its next success.

Each action of a rule is followed on its own (a rule whose http action fails while its
republish works is failing). The events carry the rule's name, the action, its resource and
the last error, and the rule's group path (``groupPath``) for the alerts of that group. The
state is in memory: a restart forgets a rule that was failing (its next failures report it
again).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from lorafox.domain import Event, EventType, Severity
from lorafox.domain.rules import TopicRule

__all__ = ["RuleHealth"]

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Action:
    failures: int = 0
    failing: bool = False


class RuleHealth:
    """Counts the failures in a row of each rule's actions and reports the changes."""

    def __init__(
        self, report: Callable[[Event], None], clock: Callable[[], int], *, failing_after: int = 5
    ) -> None:
        self._report = report
        self._clock = clock
        self._after = failing_after
        self._actions: dict[tuple[str, int], _Action] = {}

    def succeeded(self, rule: TopicRule, index: int) -> None:
        """Action ``index`` of ``rule`` worked."""
        state = self._actions.pop((rule.name, index), None)
        if state is None or not state.failing:
            return
        message = f"rule {rule.name}: its action {index + 1} works again"
        log.info(message)
        self._event(EventType.RULE_RESTORED, Severity.INFO, rule, message, {"actionIndex": index})

    def failed(self, rule: TopicRule, index: int, failure: dict[str, str]) -> None:
        """Action ``index`` of ``rule`` failed (``failure``: failedAction, failedResource,
        errorMessage)."""
        state = self._actions.setdefault((rule.name, index), _Action())
        state.failures += 1
        if state.failing or state.failures < self._after:
            return
        state.failing = True
        action = failure["failedAction"]
        message = (
            f"rule {rule.name}: {action} failed {state.failures} times in a row: "
            f"{failure['errorMessage']}"
        )
        details = {
            "actionIndex": index,
            "action": action,
            "resource": failure["failedResource"],
            "error": failure["errorMessage"],
            "failures": state.failures,
        }
        self._event(EventType.RULE_FAILING, Severity.ERROR, rule, message, details)

    def failing(self, name: str) -> list[int]:
        """The indexes of the actions of rule ``name`` failing now (none: it works)."""
        return sorted(i for (rule, i), s in self._actions.items() if rule == name and s.failing)

    def forget(self, name: str) -> None:
        """A rule deleted or replaced: its actions start afresh."""
        for key in [k for k in self._actions if k[0] == name]:
            del self._actions[key]

    def _event(
        self,
        kind: EventType,
        severity: Severity,
        rule: TopicRule,
        message: str,
        details: dict[str, object],
    ) -> None:
        data = {"rule": rule.name, "groupPath": rule.group_path, **details}
        self._report(Event(kind, severity, self._clock(), message, data=data))
