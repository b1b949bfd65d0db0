"""``/api/v2/rules``: the topic rules with Basic auth, their counters, and a dry run.

The same rules as the AWS IoT API (``/rules``, ``lorafox.api.iot``), in AWS's
``TopicRulePayload`` shape plus ``name``. ``GET /api/v2/rules/{name}`` adds the rule's
counters (matched, passed WHERE, action successes and failures, the last errors with their
trace ids); ``POST /api/v2/rules/test`` runs a rule (a name, or a payload) on given messages, or
on a device's last messages as lorafox published them, and answers what it would do,
executing nothing.
"""

from __future__ import annotations

import base64
import time
from typing import Any

import orjson
from fastapi import APIRouter, Body, Response
from pydantic import BaseModel, Field

from lorafox.api.context import Caller, Ctx
from lorafox.api.schemas import error_responses
from lorafox.domain.rules import TopicRule
from lorafox.errors import InvalidInput, StoreError
from lorafox.rules.service import TopicRules
from lorafox.rules.sql import MessageContext

__all__ = ["router"]

router = APIRouter(
    prefix="/api/v2/rules", tags=["rules"], responses=error_responses(400, 403, 404, 409)
)


def _rules(ctx: Ctx) -> TopicRules:
    if ctx.rules is None:
        raise StoreError("topic rules are not available")
    return ctx.rules


def _rule_json(rule: TopicRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        **rule.payload(),
        "createdAt": int(rule.created_at * 1000),
        "groupPath": rule.group_path,
    }


class TestMessage(BaseModel):
    topic: str = Field(min_length=1, max_length=256)
    payload: Any = Field(default=None, description="a JSON value (sent as its JSON text)")
    payloadBase64: str | None = Field(  # noqa: N815
        default=None, description="the raw payload, base64 (instead of payload)"
    )
    clientId: str | None = None  # noqa: N815


class DryRun(BaseModel):
    rule: str | dict[str, Any] = Field(description="a rule's name, or a TopicRulePayload")
    messages: list[TestMessage] = Field(default_factory=list, max_length=100)
    device: str | None = Field(
        default=None,
        max_length=64,
        description="run on this device's last messages too, as lorafox published them",
    )
    last: int = Field(default=10, ge=1, le=100, description="how many of the device's messages")


def _payload_of(message: TestMessage) -> bytes:
    if message.payloadBase64 is not None:
        try:
            return base64.b64decode(message.payloadBase64, validate=True)
        except ValueError:  # binascii.Error, or not ASCII
            raise InvalidInput("payloadBase64 is not base64", field="payloadBase64") from None
    try:
        return orjson.dumps(message.payload)
    except orjson.JSONEncodeError as exc:
        raise InvalidInput(f"payload cannot be sent as JSON: {exc}", field="payload") from None


@router.get("", summary="The topic rules the caller sees")
async def list_rules(ctx: Ctx, caller: Caller) -> dict[str, Any]:
    return {"data": [_rule_json(r) for r in await _rules(ctx).list_rules(caller)]}


@router.post("", status_code=201, summary="Create a topic rule (name + TopicRulePayload)")
async def create_rule(
    ctx: Ctx,
    caller: Caller,
    body: dict[str, Any] = Body(...),  # noqa: B008
) -> dict[str, Any]:
    name = body.get("name")
    if not isinstance(name, str):
        raise InvalidInput("name is required", field="name")
    payload = {k: v for k, v in body.items() if k != "name"}
    return _rule_json(await _rules(ctx).create(caller, name, payload))


@router.post("/test", summary="Dry run: what a rule would do with messages (nothing executed)")
async def dry_run(ctx: Ctx, caller: Caller, body: DryRun) -> dict[str, Any]:
    now = int(time.time() * 1000)
    messages = [
        MessageContext(
            topic=m.topic,
            payload=_payload_of(m),
            timestamp=now,
            client_id=m.clientId,
            principal=caller.name,
        )
        for m in body.messages
    ]
    rules = _rules(ctx)
    if body.device is not None and rules.uplink_message is not None:
        record = await ctx.devices.history.device(caller, body.device)
        for stored in reversed(await record.messages(limit=body.last)):
            topic, payload = rules.uplink_message(stored)
            messages.append(
                MessageContext(topic=topic, payload=payload, timestamp=stored.received_at)
            )
    if not messages:
        raise InvalidInput("give messages, or a device that has some", field="messages")
    return {"data": await rules.dry_run(caller, body.rule, messages)}


@router.get("/{name}", summary="A topic rule and its counters")
async def get_rule(ctx: Ctx, caller: Caller, name: str) -> dict[str, Any]:
    rules = _rules(ctx)
    rule = await rules.get(caller, name)
    return {**_rule_json(rule), "metrics": (await rules.stats(caller, name)).as_dict()}


@router.put("/{name}", summary="Replace a topic rule's TopicRulePayload")
async def replace_rule(
    ctx: Ctx,
    caller: Caller,
    name: str,
    body: dict[str, Any] = Body(...),  # noqa: B008
) -> dict[str, Any]:
    payload = {k: v for k, v in body.items() if k != "name"}
    return _rule_json(await _rules(ctx).replace(caller, name, payload))


@router.delete("/{name}", status_code=204, summary="Delete a topic rule")
async def delete_rule(ctx: Ctx, caller: Caller, name: str) -> Response:
    await _rules(ctx).delete(caller, name)
    return Response(status_code=204)
