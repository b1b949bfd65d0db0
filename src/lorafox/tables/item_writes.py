"""One planned item write and the parameters every write shares: its condition, the values
it returns, its size, a transaction's client token."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lorafox.ports.tables import (
    KEEP,
    ClientToken,
)
from lorafox.tables.errors import (
    ConditionalCheckFailedException,
    ValidationException,
)
from lorafox.tables.expressions import (
    ConditionExpression,
    ParsedExpressions,
    UpdateResult,
    evaluate_condition,
    expected_to_condition,
)
from lorafox.tables.params import INVALID
from lorafox.tables.table import OpenTable
from lorafox.tables.values import MAX_ITEM_SIZE, item_size

__all__ = [
    "TOKEN_WINDOW",
    "PlannedWrite",
    "client_token",
    "condition",
    "return_old_on_failure",
    "return_values",
    "sized",
]

TOKEN_WINDOW = 10 * 60
"""Seconds a TransactWriteItems ClientRequestToken is remembered (DynamoDB: 10 minutes)."""


@dataclass(slots=True)
class PlannedWrite:
    """One planned write of one item: its condition and how to make the new item."""

    table: OpenTable
    pk: bytes
    sk: bytes
    condition: Any
    parsed: ParsedExpressions
    return_old_on_failure: bool
    make: Callable[[dict[str, Any] | None], tuple[dict[str, Any], int] | None] | None
    """None: a condition check, which changes nothing."""
    new: dict[str, Any] | None = field(default=None, init=False)
    updated: UpdateResult | None = field(default=None, init=False)

    def decide(self, old: dict[str, Any] | None) -> Any:
        """The new item and size, None (delete) or KEEP; raises when the condition fails."""
        if self.condition is not None and not evaluate_condition(
            self.condition, old, self.parsed.names, self.parsed.values
        ):
            raise ConditionalCheckFailedException(
                item=old if self.return_old_on_failure and old is not None else None
            )
        return KEEP if self.make is None else self.make(old)


def sized(item: Mapping[str, Any], *, update: bool = False) -> int:
    """The item's size; DynamoDB's error over 400 KB (``update``: UpdateItem's wording)."""
    size = item_size(item)
    if size > MAX_ITEM_SIZE:
        what = "Item size to update" if update else "Item size"
        raise ValidationException(f"{what} has exceeded the maximum allowed size")
    return size


def condition(params: Mapping[str, Any], parsed: ConditionExpression | None) -> Any:
    if parsed is not None:
        return parsed
    return expected_to_condition(params.get("Expected"), params.get("ConditionalOperator"))


def return_values(params: Mapping[str, Any], allowed: tuple[str, ...]) -> str:
    value = params.get("ReturnValues") or "NONE"
    if value not in allowed:
        raise ValidationException(INVALID + "Return values set to invalid value")
    return str(value)


def return_old_on_failure(params: Mapping[str, Any]) -> bool:
    """Whether ``ReturnValuesOnConditionCheckFailure`` asks for the old item; DynamoDB's error
    for a value it does not know."""
    value = params.get("ReturnValuesOnConditionCheckFailure")
    if value not in (None, "ALL_OLD", "NONE"):
        raise ValidationException.constraints(
            [
                f"Value '{value}' at 'returnValuesOnConditionCheckFailure' failed to satisfy "
                "constraint: Member must satisfy enum value set: [ALL_OLD, NONE]"
            ]
        )
    return value == "ALL_OLD"


def client_token(params: Mapping[str, Any], now: float) -> ClientToken | None:
    token = params.get("ClientRequestToken")
    if token is None:
        return None
    if not isinstance(token, str) or not 1 <= len(token) <= 36:
        raise ValidationException.constraints(
            [
                f"Value '{token}' at 'clientRequestToken' failed to satisfy constraint: Member "
                "must have length less than or equal to 36"
            ]
        )
    significant = {
        k: v
        for k, v in params.items()
        if k not in ("ClientRequestToken", "ReturnConsumedCapacity", "ReturnItemCollectionMetrics")
    }
    digest = hashlib.sha256(
        json.dumps(significant, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    return ClientToken(token, digest, int(now * 1000), TOKEN_WINDOW * 1000)
