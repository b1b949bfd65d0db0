"""``TopicRules``: the rule use cases for a caller, kept in the store and in the engine.

A rule belongs to the group its maker creates things in (``rbac.home``); callers see the rules
of the groups they see, and need DEVICE_MANAGER there to create, change or delete one. A rule
the caller does not see is ``RuleNotFound`` exactly as a missing one (the AWS adapter answers
both with AWS's ``UnauthorizedException``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from lorafox.auth import rbac
from lorafox.domain import Principal, StoredUplink
from lorafox.domain.rules import TopicRule
from lorafox.errors import Conflict, Forbidden, LorafoxError, NotFound
from lorafox.ports.cluster import Changes
from lorafox.ports.rules import RuleStore
from lorafox.rules.actions import showable
from lorafox.rules.builtin import (
    BUILTIN_DOWNLINKS,
    BUILTIN_OWNER,
    BuiltinState,
    is_builtin,
    refreshed,
    same_statement,
)
from lorafox.rules.compiled import check_name, compile_rule, rule_from_payload
from lorafox.rules.engine import RulesEngine, RuleStats
from lorafox.rules.errors import ActionFailed, RuleInvalid
from lorafox.rules.sql import NO_MATCH, MessageContext
from lorafox.rules.topics import filter_matches

__all__ = ["RULES", "RuleExists", "RuleNotFound", "TopicRules"]

RULES = "rules"
"""The topic of changed topic rules (no keys: all are read again)."""

log = logging.getLogger(__name__)

MAX_RULES = 1000
"""Topic rules at most (AWS's default quota per account and region)."""


class RuleNotFound(NotFound):
    """No such rule, or one the caller does not see."""

    def __init__(self, name: str) -> None:
        super().__init__(f"rule {name} not found")
        self.name = name


class RuleExists(Conflict):
    def __init__(self, name: str) -> None:
        super().__init__(f"rule {name} already exists")
        self.name = name


class TopicRules:
    """Create, read, change and delete rules; the engine follows every change."""

    def __init__(
        self,
        store: RuleStore,
        engine: RulesEngine,
        *,
        clock: Callable[[], float] = time.time,
        uplink_message: Callable[[StoredUplink], tuple[str, bytes]] | None = None,
        builtin: TopicRule | None = None,
    ) -> None:
        self._store = store
        self.engine = engine
        self._builtin = builtin
        """The built-in downlink rule for the current settings (None: no such path)."""
        self.builtin_state = BuiltinState()
        self._clock = clock
        self.uplink_message = uplink_message
        """A stored uplink as the (topic, payload) lorafox publishes it (the dry run on a
        device's messages)."""
        self._loaded: list[TopicRule] = []
        self._changes: Changes | None = None

    async def load(self) -> int:
        """Give the engine every stored rule (the built-in downlink rule made, or brought to
        the current settings, first); how many there are."""
        rules = list(await self._store.list_rules())
        builtin = self._builtin
        if builtin is not None:
            stored = next((r for r in rules if r.name == BUILTIN_DOWNLINKS), None)
            if stored is None:
                await self._store.create_rule(builtin)
                rules = list(await self._store.list_rules())
            elif is_builtin(stored) and not same_statement(stored, builtin):
                await self._store.replace_rule(refreshed(stored, builtin))
                rules = list(await self._store.list_rules())
        self._follow(rules)
        return len(rules)

    def _follow(self, rules: list[TopicRule]) -> None:
        """Run ``rules``: the engine runs all but the built-in one, which only says whether
        the built-in path runs."""
        self.engine.load([r for r in rules if not is_builtin(r)])
        self.builtin_state.follow(next((r for r in rules if r.name == BUILTIN_DOWNLINKS), None))
        self._loaded = rules

    async def _reload(self) -> None:
        self._follow(list(await self._store.list_rules()))

    def tell(self, changes: Changes) -> None:
        """Tell ``changes`` of every rule changed here; reload the rules another instance
        changed at once (``follow`` compares them every so often too)."""

        async def reload(_: Sequence[str] | None) -> None:
            await self._reload()
            log.info("topic rules reloaded: %d", len(self._loaded))

        self._changes = changes
        changes.on(RULES, reload)

    def _tell(self) -> None:
        if self._changes is not None:
            self._changes.changed(RULES)

    async def follow(self, interval: float) -> None:
        """Reload the rules every ``interval`` seconds when the store's differ from what the
        engine runs (changes made by another instance sharing the database); until cancelled."""
        while True:
            await asyncio.sleep(interval)
            try:
                rules = list(await self._store.list_rules())
            except LorafoxError as exc:
                log.warning("cannot reload the topic rules: %s", exc)
                continue
            if rules != self._loaded:
                self._follow(rules)
                log.info("topic rules reloaded: %d", len(rules))

    @staticmethod
    def _home(caller: Principal) -> str:
        home = rbac.home(caller)
        if home is None:
            raise Forbidden("a rule needs a group: this caller holds no role anywhere")
        rbac.require(caller, home.path, rbac.OPERATE, "group")
        return home.path

    async def _visible(self, caller: Principal, name: str) -> TopicRule:
        rule = await self._store.get_rule(name)
        if rule is None or not rbac.visible(caller, rule.group_path):
            raise RuleNotFound(name)
        return rule

    async def _changeable(self, caller: Principal, name: str) -> TopicRule:
        rule = await self._visible(caller, name)
        rbac.require(caller, rule.group_path, rbac.OPERATE, "rule")
        return rule

    async def create(self, caller: Principal, name: str, payload: Any) -> TopicRule:
        check_name(name)
        if name == BUILTIN_DOWNLINKS and self._builtin is not None:
            raise RuleExists(name)
        if len(await self._store.list_rules()) >= MAX_RULES:
            raise RuleInvalid(f"lorafox runs at most {MAX_RULES} topic rules: delete one first")
        rule = rule_from_payload(
            name,
            payload,
            group_path=self._home(caller),
            owner=caller.name,
            created_at=float(int(self._clock())),
        )
        if not await self._store.create_rule(rule):
            raise RuleExists(name)
        self.engine.put(rule)
        self._tell()
        return rule

    async def get(self, caller: Principal, name: str) -> TopicRule:
        return await self._visible(caller, name)

    async def list_rules(
        self, caller: Principal, *, topic: str | None = None, disabled: bool | None = None
    ) -> list[TopicRule]:
        """The rules the caller sees (``topic``: only those whose FROM is exactly it)."""
        out = []
        for rule in await self._store.list_rules():
            if not rbac.visible(caller, rule.group_path):
                continue
            if disabled is not None and rule.disabled != disabled:
                continue
            if topic is not None and self.topic_filter(rule) != topic:
                continue
            out.append(rule)
        return out

    def topic_filter(self, rule: TopicRule) -> str:
        """The filter of ``rule``'s FROM (AWS's ``topicPattern``)."""
        return self.engine.compiled(rule).statement.topic_filter

    async def replace(self, caller: Principal, name: str, payload: Any) -> TopicRule:
        old = await self._changeable(caller, name)
        new = rule_from_payload(
            name, payload, group_path=old.group_path, owner=old.owner, created_at=old.created_at
        )
        builtin = name == BUILTIN_DOWNLINKS and self._builtin is not None
        if builtin and self._builtin is not None:
            # its own statement again: the built-in path; anything else: a rule like the others
            taken_over = not same_statement(new, self._builtin)
            new = replace(new, owner=caller.name if taken_over else BUILTIN_OWNER)
        if not await self._store.replace_rule(new):
            raise RuleNotFound(name)
        if builtin:
            await self._reload()
        else:
            self.engine.put(new)
        self._tell()
        return new

    async def delete(self, caller: Principal, name: str) -> None:
        await self._changeable(caller, name)
        if name == BUILTIN_DOWNLINKS and self._builtin is not None:
            raise RuleInvalid(
                f"rule {name} is lorafox's downlink path and cannot be deleted: disable it, "
                "or replace its statement and actions"
            )
        await self._store.delete_rule(name)
        self.engine.remove(name)
        self._tell()

    async def set_disabled(self, caller: Principal, name: str, disabled: bool) -> None:
        rule = replace(await self._changeable(caller, name), disabled=disabled)
        if not await self._store.replace_rule(rule):
            raise RuleNotFound(name)
        if name == BUILTIN_DOWNLINKS and self._builtin is not None:
            await self._reload()
        else:
            self.engine.put(rule)
        self._tell()

    async def stats(self, caller: Principal, name: str) -> RuleStats:
        await self._visible(caller, name)
        return self.engine.stats_of(name)

    async def dry_run(
        self,
        caller: Principal,
        rule: str | Mapping[str, Any],
        messages: Sequence[MessageContext],
    ) -> list[dict[str, Any]]:
        """What ``rule`` (a name, or a TopicRulePayload) does with each message: whether it
        matches its filter and WHERE, the SELECT's output and each action's request; nothing
        is executed."""
        if isinstance(rule, str):
            topic_rule = await self._visible(caller, rule)
        else:
            topic_rule = rule_from_payload(
                "dry_run", rule, group_path=self._home(caller), owner=caller.name, created_at=0.0
            )
        compiled = compile_rule(topic_rule)
        statement = compiled.statement
        out: list[dict[str, Any]] = []
        for message in messages:
            entry: dict[str, Any] = {"topic": message.topic, "matched": False}
            out.append(entry)
            if not filter_matches(statement.topic_filter, message.topic):
                continue
            entry["matched"] = True
            env = statement.env(message)
            result = statement.run(env)
            entry["passed"] = result is not NO_MATCH
            if result is NO_MATCH:
                continue
            entry["output"] = showable(result)
            actions = []
            for action in compiled.actions:
                try:
                    actions.append(action.prepare(result, env).shown())
                except ActionFailed as exc:
                    actions.append({"action": action.kind, "error": exc.message})
            entry["actions"] = actions
        return out
