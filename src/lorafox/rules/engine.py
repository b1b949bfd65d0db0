"""The rules engine: every message crossing the bus, through the rules whose filter it matches.

``offer`` is what the bus adapters call, on their hot path: it only looks the topic up among
the rules' filters and, when some rule may want it, puts the message in a bounded queue (a full
queue drops the message, counted and logged once a minute). ``run`` takes messages off the
queue, evaluates each matching rule (compiled once) and runs the actions of the rules that
fire as tasks, at most ``concurrency`` at once; when one of a rule's actions fails, its
``errorAction`` gets AWS's error document. A rule sees only the messages its group may read.

Each action's outcome goes to ``health`` (``rules.health``: rule_failing, rule_restored).
Per-rule counters (matched, passed WHERE, action successes and failures, the last errors with
their message ids) are in ``stats``, and in Prometheus through ``collect``.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from lorafox.domain.rules import TopicRule
from lorafox.errors import LorafoxError
from lorafox.rules.actions import ActionRunner, CompiledAction, Prepared
from lorafox.rules.compiled import CompiledRule, compile_rule
from lorafox.rules.errors import ActionFailed
from lorafox.rules.health import RuleHealth
from lorafox.rules.sql import NO_MATCH, UNDEFINED, Env, MessageContext
from lorafox.rules.sql.values import from_json
from lorafox.rules.topics import filter_matches

__all__ = ["BusMessage", "RuleStats", "RulesEngine"]

log = logging.getLogger(__name__)

LAST_ERRORS = 10
MATCH_CACHE = 50_000
"""Topics whose matching rules are remembered (forgotten all at once past it)."""


@dataclass(slots=True, frozen=True)
class BusMessage:
    """One message crossing the bus, and who may read it.

    ``audience``: the group paths whose subtrees may read it; None: only those who read
    everything (the root group's rules)."""

    topic: str
    payload: bytes
    audience: tuple[str, ...] | None = None
    client_id: str | None = None
    principal: str | None = None
    source_ip: str | None = None
    received_at: int = 0
    """Milliseconds since the epoch (0: when it is offered)."""
    properties: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class RuleStats:
    matched: int = 0
    passed: int = 0
    failed: int = 0
    """Messages whose evaluation raised (a lorafox bug, logged)."""
    action_successes: int = 0
    action_failures: int = 0
    last_errors: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=LAST_ERRORS))

    def as_dict(self) -> dict[str, Any]:
        return {
            "matched": self.matched,
            "passed": self.passed,
            "failed": self.failed,
            "actionSuccesses": self.action_successes,
            "actionFailures": self.action_failures,
            "lastErrors": list(self.last_errors),
        }


@dataclass(slots=True)
class _Plan:
    """What to do with the messages of one topic."""

    rules: list[CompiledRule]
    """Every enabled rule whose filter matches (their ``matched`` counters)."""
    free: list[CompiledRule]
    """Those evaluated on every message."""
    guarded: dict[tuple[str, ...], dict[str, list[CompiledRule]]]
    """Those whose WHERE needs ``path = 'text'``, by path and text."""
    everyone: list[RuleStats]
    """The counters of those that see every message (the root group's)."""
    grouped: list[tuple[str, RuleStats]]
    """The counters of the others, with their group's path (see ``sees``)."""


def _at(doc: Any, path: tuple[str, ...]) -> Any:
    """The text at ``path`` of ``doc`` (None when there is no text there)."""
    for key in path:
        if not isinstance(doc, dict):
            return None
        doc = doc.get(key)
    return doc if isinstance(doc, str) else None


def sees(rule: TopicRule, audience: tuple[str, ...] | None, root_path: str) -> bool:
    """Whether a rule of its group may read a message with ``audience``."""
    if rule.group_path == root_path:
        return True
    if audience is None:
        return False
    return any(path.startswith(rule.group_path) for path in audience)


def error_document(
    rule: str, message: MessageContext, failures: list[dict[str, str]]
) -> dict[str, Any]:
    """What an ``errorAction`` receives, in AWS's shape."""
    return {
        "ruleName": rule,
        "topic": message.topic,
        "cloudwatchTraceId": message.trace_id or str(uuid.uuid4()),
        "clientId": message.client_id or "n/a",
        "base64OriginalPayload": base64.b64encode(message.payload).decode(),
        "failures": failures,
    }


class RulesEngine:
    """Runs the enabled rules on the messages it is offered (see the module docstring)."""

    def __init__(
        self,
        runner: ActionRunner,
        *,
        root_path: str,
        queue_size: int = 10_000,
        concurrency: int = 64,
        account: str = "000000000000",
    ) -> None:
        self.runner = runner
        self._root = root_path
        self._account = account
        self._rules: dict[str, CompiledRule] = {}
        self._by_filter: dict[str, list[CompiledRule]] = {}
        self._matched: dict[str, list[CompiledRule]] = {}
        self._plans: dict[str, _Plan] = {}
        self.listeners: list[Callable[[], None]] = []
        """Called when the set of enabled rules changes (the bus follows their filters)."""
        self._queue: asyncio.Queue[BusMessage | None] = asyncio.Queue(queue_size)
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()
        self.stats: dict[str, RuleStats] = {}
        self.dropped = 0
        self._dropped_logged = 0.0
        self._closer: asyncio.Task[None] | None = None
        self.health: RuleHealth | None = None
        """Told of each action's outcome (the rule_failing and rule_restored events)."""

    # -- the rule set ---------------------------------------------------------------------

    def load(self, rules: Iterable[TopicRule]) -> None:
        """Replace the rule set (a stored rule that no longer compiles is logged, skipped)."""
        self._rules = {}
        for rule in rules:
            try:
                self._rules[rule.name] = compile_rule(rule)
            except LorafoxError as exc:
                log.error("rule %s does not compile and is skipped: %s", rule.name, exc)
        self._index()

    def put(self, rule: TopicRule) -> None:
        """Add or replace one rule (already checked)."""
        self._rules[rule.name] = compile_rule(rule)
        self._index()

    def remove(self, name: str) -> None:
        self._rules.pop(name, None)
        self.stats.pop(name, None)
        if self.health is not None:
            self.health.forget(name)
        self._index()

    def _index(self) -> None:
        by_filter: dict[str, list[CompiledRule]] = {}
        for compiled in self._rules.values():
            if not compiled.rule.disabled:
                by_filter.setdefault(compiled.statement.topic_filter, []).append(compiled)
        self._by_filter = by_filter
        self._matched = {}
        self._plans = {}
        for listener in self.listeners:
            listener()

    def compiled(self, rule: TopicRule) -> CompiledRule:
        """``rule`` compiled: the engine's copy when it runs this very rule."""
        found = self._rules.get(rule.name)
        return found if found is not None and found.rule == rule else compile_rule(rule)

    def filters(self) -> set[str]:
        """The topic filters of the enabled rules."""
        return set(self._by_filter)

    def stats_of(self, name: str) -> RuleStats:
        found = self.stats.get(name)
        if found is None:
            found = self.stats[name] = RuleStats()
        return found

    def _matching(self, topic: str) -> list[CompiledRule]:
        """The enabled rules whose filter matches ``topic`` (remembered per topic)."""
        found = self._matched.get(topic)
        if found is not None:
            return found
        out: list[CompiledRule] = []
        for topic_filter, rules in self._by_filter.items():
            if filter_matches(topic_filter, topic):
                out.extend(rules)
        if len(self._matched) >= MATCH_CACHE:
            self._matched.clear()
        self._matched[topic] = out
        return out

    def _plan(self, topic: str) -> _Plan:
        """The matching rules of ``topic``, those a WHERE text guards indexed by it
        (remembered per topic)."""
        plan = self._plans.get(topic)
        if plan is not None:
            return plan
        plan = _Plan(self._matching(topic), [], {}, [], [])
        for compiled in plan.rules:
            stats = self.stats_of(compiled.name)
            if compiled.rule.group_path == self._root:
                plan.everyone.append(stats)
            else:
                plan.grouped.append((compiled.rule.group_path, stats))
            guard = compiled.statement.guard
            if guard is None or compiled.statement.reads_tables:
                plan.free.append(compiled)
            else:
                path, text = guard
                plan.guarded.setdefault(path, {}).setdefault(text, []).append(compiled)
        if len(self._plans) >= MATCH_CACHE:
            self._plans.clear()
        self._plans[topic] = plan
        return plan

    # -- intake ---------------------------------------------------------------------------

    def wants(self, topic: str) -> bool:
        """Whether an enabled rule's filter matches ``topic`` (a dict lookup once seen)."""
        return bool(self._by_filter) and bool(self._matching(topic))

    def offer(self, message: BusMessage) -> bool:
        """Queue ``message`` if an enabled rule's filter matches it; False when it is dropped
        because the queue is full (never blocks)."""
        if not self.wants(message.topic):
            return True
        try:
            self._queue.put_nowait(message)
        except asyncio.QueueFull:
            self.dropped += 1
            now = time.monotonic()
            if now - self._dropped_logged > 60:
                self._dropped_logged = now
                log.warning("the rules engine is behind: %d messages dropped so far", self.dropped)
            return False
        return True

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    async def run(self) -> None:
        """Take messages off the queue until ``close``; then finish the actions under way."""
        while True:
            message = await self._queue.get()
            if message is None:
                break
            await self.handle(message)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)

    def close(self) -> None:
        """Let ``run`` return once what is queued is handled."""
        try:
            self._queue.put_nowait(None)
        except asyncio.QueueFull:  # behind: the end mark waits for room
            self._closer = asyncio.get_running_loop().create_task(self._queue.put(None))

    async def handle(self, message: BusMessage) -> None:
        """Evaluate every matching rule on ``message`` and start the actions of those that
        fire (waits only for a free action slot)."""
        context = MessageContext(
            topic=message.topic,
            payload=message.payload,
            timestamp=message.received_at or int(time.time() * 1000),
            client_id=message.client_id,
            principal=message.principal,
            source_ip=message.source_ip,
            trace_id=str(uuid.uuid4()),
            account=self._account,
            properties=message.properties,
        )
        audience = message.audience
        plan = self._plan(message.topic)
        for stats in plan.everyone:
            stats.matched += 1
        if audience is not None:
            for group_path, stats in plan.grouped:
                if any(path.startswith(group_path) for path in audience):
                    stats.matched += 1
        envs: dict[str, Env] = {}
        """One evaluation state per SQL version, shared by the rules without SET."""
        chosen = plan.free
        doc: Any = None
        if plan.guarded:
            # the rules whose WHERE needs a text at a path: only those the payload has
            doc = from_json(message.payload, whole_decimals=True)
            chosen = list(chosen)
            for path, by_text in plan.guarded.items():
                found = by_text.get(_at(doc, path))
                if found:
                    chosen.extend(found)
        for compiled in chosen:
            rule = compiled.rule
            if not sees(rule, audience, self._root):
                continue
            stats = self.stats.get(rule.name) or self.stats_of(rule.name)
            statement = compiled.statement
            if statement.reads_tables:  # evaluated in a task of its own: it waits for a read
                await self._start(self._read_then_act(compiled, context, stats))
                continue
            try:
                env = envs.get(statement.version)
                if env is None:
                    shared = doc if statement.whole_decimals else None  # parsed alike
                    env = envs[statement.version] = statement.env(context, shared)
                if statement.has_variables:
                    env = statement.env(context, env.doc)
                result = statement.run(env)
            except Exception:
                stats.failed += 1
                log.exception("rule %s failed on a message on %s", rule.name, message.topic)
                continue
            if result is NO_MATCH:
                continue
            stats.passed += 1
            if not compiled.actions:
                continue
            await self._start(self._act(compiled, env, result, stats))

    async def _start(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` as a task once an action slot is free."""
        await self._slots.acquire()
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._done)

    async def _read_then_act(
        self, compiled: CompiledRule, context: MessageContext, stats: RuleStats
    ) -> None:
        """Evaluate a statement calling ``get_dynamodb``: once to learn the item it reads, then
        with the item; then its actions."""
        statement = compiled.statement
        env = statement.env(context, lookups={})
        result = statement.run(env)
        if env.pending:
            lookups: dict[Any, Any] = {}
            for table, key in env.pending:
                try:
                    item = await self.runner.read(compiled.rule.group_path, table, key)
                except LorafoxError as exc:
                    stats.failed += 1
                    stats.last_errors.append(
                        {
                            "time": int(time.time() * 1000),
                            "traceId": context.trace_id,
                            "topic": context.topic,
                            "failedAction": "get_dynamodb",
                            "failedResource": table,
                            "errorMessage": exc.message,
                        }
                    )
                    log.warning("rule %s: get_dynamodb on %s failed: %s", compiled.name, table, exc)
                    return
                lookups[(table, key)] = UNDEFINED if item is None else item
            env = statement.env(context, lookups=lookups)
            result = statement.run(env)
        if result is NO_MATCH:
            return
        stats.passed += 1
        if compiled.actions:
            await self._act(compiled, env, result, stats)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slots.release()
        if not task.cancelled() and task.exception() is not None:
            log.error("rule actions failed", exc_info=task.exception())

    async def _one(
        self, compiled: CompiledRule, action: CompiledAction, env: Env, result: Any
    ) -> dict[str, str] | None:
        resource = ""
        try:
            prepared: Prepared = action.prepare(result, env)
            resource = prepared.resource
            await self.runner.run(prepared, compiled.rule.group_path, compiled.name)
        except ActionFailed as exc:
            return {
                "failedAction": action.failed_action,
                "failedResource": resource,
                "errorMessage": exc.message,
            }
        except Exception as exc:
            log.exception("action %s of rule %s failed", action.kind, compiled.name)
            return {
                "failedAction": action.failed_action,
                "failedResource": resource,
                "errorMessage": f"internal error: {type(exc).__name__}",
            }
        return None

    async def _act(self, compiled: CompiledRule, env: Env, result: Any, stats: RuleStats) -> None:
        actions = compiled.actions
        if len(actions) == 1:
            outcomes = [await self._one(compiled, actions[0], env, result)]
        else:
            outcomes = await asyncio.gather(
                *(self._one(compiled, action, env, result) for action in actions)
            )
        failures = [f for f in outcomes if f is not None]
        if self.health is not None:
            for index, outcome in enumerate(outcomes):
                if outcome is None:
                    self.health.succeeded(compiled.rule, index)
                else:
                    self.health.failed(compiled.rule, index, outcome)
        stats.action_successes += len(outcomes) - len(failures)
        stats.action_failures += len(failures)
        if not failures:
            return
        message = env.message
        stored = env.doc.get("messageId") if isinstance(env.doc, dict) else None
        for failure in failures:
            stats.last_errors.append(
                {
                    "time": int(time.time() * 1000),
                    "traceId": message.trace_id,
                    "messageId": stored,  # an uplink's id in lorafox's store, when it is one
                    "topic": message.topic,
                    **failure,
                }
            )
            log.warning(
                "rule %s: %s on %s failed: %s",
                compiled.name,
                failure["failedAction"],
                failure["failedResource"] or "?",
                failure["errorMessage"],
            )
        if compiled.error_action is None:
            return
        document = error_document(compiled.name, message, failures)
        problem = await self._one(compiled, compiled.error_action, env, document)
        if problem is not None:
            log.error(
                "rule %s: its errorAction failed too: %s", compiled.name, problem["errorMessage"]
            )

    # -- metrics ----------------------------------------------------------------------------

    def collect(self) -> Iterator[Metric]:
        """Prometheus families: per-rule counters, the queue, dropped messages."""
        families = {
            "matched": CounterMetricFamily(
                "lorafox_rule_matched", "Messages whose topic a rule matched", labels=["rule"]
            ),
            "passed": CounterMetricFamily(
                "lorafox_rule_passed", "Messages that passed a rule's WHERE", labels=["rule"]
            ),
            "action_successes": CounterMetricFamily(
                "lorafox_rule_action_successes", "Rule actions made", labels=["rule"]
            ),
            "action_failures": CounterMetricFamily(
                "lorafox_rule_action_failures", "Rule actions that failed", labels=["rule"]
            ),
        }
        for name, stats in sorted(self.stats.items()):
            for attribute, family in families.items():
                family.add_metric([name], getattr(stats, attribute))
        yield from families.values()
        dropped = CounterMetricFamily(
            "lorafox_rules_dropped", "Messages dropped because the rules engine was behind"
        )
        dropped.add_metric([], self.dropped)
        yield dropped
        backlog = GaugeMetricFamily("lorafox_rules_backlog", "Messages waiting for the rules")
        backlog.add_metric([], self.backlog)
        yield backlog
