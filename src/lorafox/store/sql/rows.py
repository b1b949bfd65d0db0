"""Rows to domain dataclasses and back, by name: a column and the field it holds share one."""

from __future__ import annotations

import dataclasses
import enum
import typing
from collections.abc import Collection
from typing import Any, TypeVar

from sqlalchemy import Row, Table

__all__ = ["columns", "record"]

_D = TypeVar("_D")


_FIELDS: dict[type[Any], tuple[str, ...]] = {}
_ENUMS: dict[type[Any], dict[str, type[enum.Enum]]] = {}


def _fields(cls: type[Any]) -> tuple[str, ...]:
    found = _FIELDS.get(cls)
    if found is None:
        found = _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))
    return found


def _enums(cls: type[Any]) -> dict[str, type[enum.Enum]]:
    """The fields of ``cls`` whose type is an enum, and that type."""
    found = _ENUMS.get(cls)
    if found is None:
        found = _ENUMS[cls] = {
            name: kind
            for name, kind in typing.get_type_hints(cls).items()
            if isinstance(kind, type) and issubclass(kind, enum.Enum)
        }
    return found


def record(cls: type[_D], row: Row[Any], **values: Any) -> _D:
    """The dataclass ``cls`` from the columns of ``row`` named as its fields (a field without
    one keeps its default; an enum field gets its member); ``values`` set fields outright."""
    m = row._mapping
    found = {name: m[name] for name in _fields(cls) if name not in values and name in m}
    for name, kind in _enums(cls).items():
        if name in found:
            found[name] = kind(found[name])
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
