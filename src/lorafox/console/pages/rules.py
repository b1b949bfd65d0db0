"""``/console/rules``: the topic rules the user sees, their editor, and the dry run.

The editor takes the SQL statement, the actions as JSON (AWS's shapes, as ``/api/v2/rules``
takes them) and whether the rule is enabled; a refused statement or action is shown next to
its field. The dry run (``TopicRules.dry_run``) runs the rule as typed in the editor (its
statement and actions, not saved; the saved rule for a user without the editor, or a browser
without script) on a JSON message typed in, or on a device's last messages as lorafox
published them, and shows what it selected and the requests its actions would make, or why
the statement or an action as typed is refused: nothing is executed, so a VIEWER may run it
too.
"""

from __future__ import annotations

import time
from typing import Any

import orjson
from fastapi import Request
from starlette.responses import RedirectResponse, Response

from lorafox.console.context import Cx, Session, can_operate, page_router
from lorafox.console.forms import Form, FormData, FormErrors
from lorafox.console.templating import NavItem
from lorafox.domain import Principal
from lorafox.domain.rules import TopicRule
from lorafox.errors import Forbidden, InvalidInput, NotFound, StoreError
from lorafox.rules.service import TopicRules
from lorafox.rules.sql import MessageContext

__all__ = ["DRY_RUN_LAST", "NAV", "router"]

NAV = NavItem("Rules", "/console/rules", order=40)
DRY_RUN_LAST = 10
"""A device's last messages the dry run takes at most."""
_CHOICES = 50
"""The devices last heard that the dry run offers."""

router = page_router()


def _rules(cx: Cx) -> TopicRules:
    if cx.api.rules is None:
        raise StoreError("topic rules are not available on this instance")
    return cx.api.rules


def _field(exc: InvalidInput) -> str:
    """The editor's field a rule error is about."""
    if exc.field in ("sql", "awsIotSqlVersion"):
        return "sql"
    if exc.field == "ruleName":
        return "name"
    if exc.field in (None, "topicRulePayload"):
        return ""
    return "actions"


def _failing(rules: TopicRules, name: str) -> list[int]:
    health = rules.engine.health
    return health.failing(name) if health is not None else []


@router.get("/console/rules")
async def rule_list(request: Request, cx: Cx, session: Session) -> Response:
    rules = _rules(cx)
    found = sorted(await rules.list_rules(session.principal), key=lambda r: r.name.lower())
    values = {
        "rules": found,
        "stats": {r.name: rules.engine.stats_of(r.name) for r in found},
        "failing": {r.name: _failing(rules, r.name) for r in found},
        "editable": can_operate(session.principal),
    }
    return cx.templates.render(request, "rules/list.html", values)


def _editor_values(rule: TopicRule | None) -> dict[str, Any]:
    if rule is None:
        return {"name": "", "sql": "", "description": "", "actions": "[]", "enabled": True}
    return {
        "name": rule.name,
        "sql": rule.sql,
        "description": rule.description,
        "actions": orjson.dumps(list(rule.actions), option=orjson.OPT_INDENT_2).decode(),
        "enabled": not rule.disabled,
    }


async def _editor(
    request: Request,
    cx: Cx,
    principal: Principal,
    rule: TopicRule | None,
    values: dict[str, Any],
    errors: FormErrors,
    *,
    status: int = 200,
    notice: str = "",
) -> Response:
    rules = _rules(cx)
    page = {
        "rule": rule,
        "v": values,
        "errors": errors,
        "notice": notice,
        "editable": can_operate(principal, rule.group_path if rule else None),
        "stats": (await rules.stats(principal, rule.name)).as_dict() if rule else None,
        "failing": _failing(rules, rule.name) if rule else [],
        "run": None,
        "run_errors": FormErrors(),
        "run_values": {"topic": "", "payload": "", "device": ""},
        "recent": await cx.api.devices.devices.list(principal, sort="-lastCom", limit=_CHOICES)
        if rule
        else [],
    }
    return cx.templates.render(request, "rules/editor.html", page, status=status)


def _payload(form: FormData, errors: FormErrors, old: TopicRule | None) -> dict[str, Any]:
    """The form as a ``TopicRulePayload`` (what it does not show kept from ``old``)."""
    payload: dict[str, Any] = old.payload() if old is not None else {}
    payload |= {
        "sql": form.get("sql").strip(),
        "description": form.get("description"),
        "ruleDisabled": not form.flag("enabled"),
    }
    try:
        actions = orjson.loads(form.get("actions") or "[]")
    except orjson.JSONDecodeError as exc:
        errors.add("actions", f"actions: not JSON ({exc})")
        return payload
    if not isinstance(actions, list):
        errors.add("actions", 'actions: a JSON list, e.g. [{"republish": {"topic": "t"}}]')
        return payload
    payload["actions"] = actions
    return payload


def _typed(form: FormData) -> dict[str, Any]:
    return {
        "name": form.get("name").strip(),
        "sql": form.get("sql"),
        "description": form.get("description"),
        "actions": form.get("actions"),
        "enabled": form.flag("enabled"),
    }


@router.get("/console/rules/new")
async def new_rule(request: Request, cx: Cx, session: Session) -> Response:
    if not can_operate(session.principal):
        raise Forbidden("DEVICE_MANAGER is needed to make a rule")
    return await _editor(request, cx, session.principal, None, _editor_values(None), FormErrors())


@router.post("/console/rules/new")
async def create_rule(request: Request, cx: Cx, session: Session, form: Form) -> Response:
    principal = session.principal
    if not can_operate(principal):
        raise Forbidden("DEVICE_MANAGER is needed to make a rule")
    errors = FormErrors()
    payload = _payload(form, errors, None)
    name = form.get("name").strip()
    if not errors:
        try:
            await _rules(cx).create(principal, name, payload)
        except InvalidInput as exc:
            errors.add(_field(exc), exc.message)
        else:
            return RedirectResponse(f"/console/rules/{name}?saved=1", status_code=303)
    return await _editor(request, cx, principal, None, _typed(form), errors, status=400)


@router.get("/console/rules/{name}")
async def edit_rule(
    request: Request, cx: Cx, session: Session, name: str, saved: str = ""
) -> Response:
    rule = await _rules(cx).get(session.principal, name)
    return await _editor(
        request,
        cx,
        session.principal,
        rule,
        _editor_values(rule),
        FormErrors(),
        notice="Saved." if saved else "",
    )


@router.post("/console/rules/{name}")
async def replace_rule(
    request: Request, cx: Cx, session: Session, name: str, form: Form
) -> Response:
    principal = session.principal
    rules = _rules(cx)
    rule = await rules.get(principal, name)
    if not can_operate(principal, rule.group_path):
        raise Forbidden("DEVICE_MANAGER is needed to change this rule")
    errors = FormErrors()
    payload = _payload(form, errors, rule)
    if not errors:
        try:
            await rules.replace(principal, name, payload)
        except InvalidInput as exc:
            errors.add(_field(exc), exc.message)
        else:
            return RedirectResponse(f"/console/rules/{name}?saved=1", status_code=303)
    values = _typed(form) | {"name": name}
    return await _editor(request, cx, principal, rule, values, errors, status=400)


async def _messages(
    cx: Cx, principal: Principal, rules: TopicRules, form: FormData, errors: FormErrors
) -> list[MessageContext]:
    """The dry run's messages: the one typed in, then the device's last ones."""
    messages = []
    topic, text, device = form.get("topic").strip(), form.get("payload"), form.get("device")
    if text.strip() or topic:
        if not topic:
            errors.add("topic", "topic: the topic the message is published on")
        try:
            payload = orjson.dumps(orjson.loads(text or "null"))
        except orjson.JSONDecodeError as exc:
            errors.add("payload", f"payload: not JSON ({exc})")
        else:
            if topic:
                now = int(time.time() * 1000)
                messages.append(MessageContext(topic, payload, now, principal=principal.name))
    if device.strip() and rules.uplink_message is not None:
        record = await cx.api.devices.history.device(principal, device.strip().upper())
        for stored in reversed(await record.messages(limit=DRY_RUN_LAST)):
            topic_of, payload_of = rules.uplink_message(stored)
            messages.append(MessageContext(topic_of, payload_of, stored.received_at))
        if not messages:
            errors.add("device", "device: it has no message yet")
    if not messages and not errors:
        errors.add("", "type a message (topic and JSON payload), or give a device")
    return messages


def _as_typed(form: FormData, rule: TopicRule, errors: FormErrors) -> str | dict[str, Any]:
    """The rule the dry run runs: the editor's statement and actions as typed when the form
    sends them (not saved), else the saved rule (its name)."""
    if "sql" not in form.fields:
        return rule.name
    typed = FormErrors()
    payload = _payload(form, typed, rule)
    for message in typed.messages.values():
        errors.add("", f"the rule as typed: {message}")
    return payload


@router.post("/console/rules/{name}/dry-run")
async def dry_run(request: Request, cx: Cx, session: Session, name: str, form: Form) -> Response:
    rules = _rules(cx)
    rule = await rules.get(session.principal, name)
    errors = FormErrors()
    run = None
    which = _as_typed(form, rule, errors)
    try:
        messages = await _messages(cx, session.principal, rules, form, errors)
    except (InvalidInput, NotFound) as exc:  # a device id that is none, or not seen
        errors.add("device", exc.message)
        messages = []
    if not errors:
        try:
            run = await rules.dry_run(session.principal, which, messages)
        except InvalidInput as exc:  # the statement or an action as typed
            errors.add("", f"the rule as typed: {exc.message}")
    values = {
        "rule": rule,
        "run": run,
        "run_errors": errors,
        "editable": can_operate(session.principal, rule.group_path),
        "run_values": {k: form.get(k) for k in ("topic", "payload", "device")},
    }
    return cx.templates.render(
        request, "rules/_dry_run.html", values, status=400 if errors else 200
    )
