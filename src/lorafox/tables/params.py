"""Reading request parameters with DynamoDB's errors for missing or mistyped ones."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from lorafox.tables.errors import SerializationException, ValidationException

__all__ = ["INVALID", "limit", "null", "string", "table_name"]

INVALID = "One or more parameter values were invalid: "
_TABLE_NAME = re.compile(r"[a-zA-Z0-9_.-]{3,255}")


def null(where: str) -> ValidationException:
    """DynamoDB's error for a required parameter that is missing."""
    return ValidationException.constraints(
        [f"Value null at '{where}' failed to satisfy constraint: Member must not be null"]
    )


def string(params: Mapping[str, Any], name: str, *, required: bool = True) -> str | None:
    value = params.get(name)
    if value is None:
        if required:
            raise null(name[0].lower() + name[1:])
        return None
    if not isinstance(value, str):
        raise SerializationException("NUMBER_VALUE cannot be converted to String")
    return value


def table_name(params: Mapping[str, Any]) -> str:
    name = string(params, "TableName")
    assert name is not None  # noqa: S101
    if _TABLE_NAME.fullmatch(name) is None:
        raise ValidationException.constraints(
            [
                f"Value '{name}' at 'tableName' failed to satisfy constraint: Member must "
                "satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
                if len(name) >= 3
                else f"Value '{name}' at 'tableName' failed to satisfy constraint: Member must "
                "have length greater than or equal to 3"
            ]
        )
    return name


def limit(params: Mapping[str, Any]) -> int | None:
    value = params.get("Limit")
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise SerializationException("STRING_VALUE can not be converted to an Integer")
    if value < 1:
        raise ValidationException.constraints(
            [
                f"Value '{value}' at 'limit' failed to satisfy constraint: "
                "Member must have value greater than or equal to 1"
            ]
        )
    return value
