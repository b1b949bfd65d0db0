"""What CreateTable and UpdateTable are given, checked as DynamoDB checks it: attribute
definitions, key names, throughput, billing mode, streams."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lorafox.tables.errors import (
    ValidationException,
)
from lorafox.tables.indexes import check_key_name
from lorafox.tables.params import INVALID, null

__all__ = [
    "billing_mode",
    "check_definitions",
    "key_names",
    "throughput",
    "types_of",
]


def types_of(definitions: object, where: str = "attributeDefinitions") -> dict[str, str]:
    if not isinstance(definitions, list) or not definitions:
        raise null(where)
    types: dict[str, str] = {}
    for position, definition in enumerate(definitions, 1):
        if not isinstance(definition, Mapping):
            raise null(f"{where}.{position}.member")
        kind = definition.get("AttributeType")
        if kind not in ("S", "N", "B"):
            raise ValidationException.constraints(
                [
                    f"Value '{kind}' at '{where}.{position}.member.attributeType' failed to "
                    "satisfy constraint: Member must satisfy enum value set: [B, N, S]"
                ]
            )
        name = definition.get("AttributeName")
        if not isinstance(name, str) or not name:
            raise null(f"{where}.{position}.member.attributeName")
        check_key_name(name, f"{where}.{position}.member.attributeName")
        if name in types and types[name] != kind:
            raise ValidationException(
                INVALID + f"Cannot change the type of attribute {name} from {types[name]} to {kind}"
            )
        types[name] = kind
    return types


def key_names(indexes: list[dict[str, Any]], table_keys: list[tuple[str, str]]) -> list[str]:
    names = [n for n, _ in table_keys]
    for index in indexes:
        names.extend(e["AttributeName"] for e in index["KeySchema"])
    return list(dict.fromkeys(names))


def check_definitions(
    types: Mapping[str, str], table_keys: list[tuple[str, str]], indexes: list[dict[str, Any]]
) -> None:
    used = key_names(indexes, table_keys)
    missing = [n for n in used if n not in types]
    if missing:
        raise ValidationException(
            INVALID + "Some index key attributes are not defined in AttributeDefinitions. "
            f"Keys: [{', '.join(used)}], AttributeDefinitions: [{', '.join(types)}]"
        )
    if len(types) != len(used):
        if not indexes:
            raise ValidationException(
                INVALID + "Number of attributes in KeySchema does not exactly match number of "
                "attributes defined in AttributeDefinitions"
            )
        raise ValidationException(
            INVALID + f"Some AttributeDefinitions are not used. AttributeDefinitions: "
            f"[{', '.join(types)}], keys used: [{', '.join(used)}]"
        )


def throughput(raw: object) -> dict[str, int]:
    if not isinstance(raw, Mapping):
        raise null("provisionedThroughput")
    values: dict[str, int] = {}
    for name in ("ReadCapacityUnits", "WriteCapacityUnits"):
        value = raw.get(name)
        if not isinstance(value, int) or isinstance(value, bool):
            raise null(f"provisionedThroughput.{name[0].lower() + name[1:]}")
        if value < 1:
            raise ValidationException.constraints(
                [
                    f"Value '{value}' at 'provisionedThroughput.{name[0].lower() + name[1:]}' "
                    "failed to satisfy constraint: Member must have value greater than or "
                    "equal to 1"
                ]
            )
        values[name] = value
    return values


def billing_mode(params: Mapping[str, Any], default: str | None) -> str:
    billing = params.get("BillingMode") or default
    if billing not in ("PROVISIONED", "PAY_PER_REQUEST"):
        raise ValidationException.constraints(
            [
                f"Value '{billing}' at 'billingMode' failed to satisfy constraint: Member must "
                "satisfy enum value set: [PROVISIONED, PAY_PER_REQUEST]"
            ]
        )
    return str(billing)
