"""Rows to domain dataclasses and back, by name: a column and the field it holds share one."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Collection
from typing import Any, TypeVar

from sqlalchemy import Row, Table

__all__ = ["columns", "record"]

_D = TypeVar("_D")


_FIELDS: dict[type[Any], tuple[str, ...]] = {}


def _fields(cls: type[Any]) -> tuple[str, ...]:
    found = _FIELDS.get(cls)
    if found is None:
        found = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return found


def record(cls: type[_D], row: Row[Any], **values: Any) -> _D:
    """The dataclass ``cls`` from the columns of ``row`` named as its fields (a field without
    one keeps its default); ``values`` set fields outright."""
    m = row._mapping
    found = {name: m[name] for name in _fields(cls) if name not in values and name in m}
    return cls(**found, **values)


def columns(obj: Any, table: Table, *, skip: Collection[str] = (), **values: Any) -> dict[str, Any]:
    """The fields of the dataclass ``obj`` that are columns of ``table`` (an enum as its value),
    but those in ``skip``; ``values`` set columns outright."""
    found: dict[str, Any] = {}
    for name in _fields(type(obj)):
        if name in table.c and name not in values and name not in skip:
            value = getattr(obj, name)
            found[name] = value.value if isinstance(value, enum.Enum) else value
    found.update(values)
    return found
