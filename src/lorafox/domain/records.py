"""``record``: the dataclass of the values made several times per uplink.

To the type checker a record is a frozen dataclass (assigning a field is an error; make a
changed copy with ``dataclasses.replace``). At run time it is a plain slotted dataclass: a
frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``, which makes an
``Uplink`` cost 2.2 µs instead of 0.6 µs, and the ingest path builds several per frame. Records
are not hashable at run time; none is used as a key.
"""

from __future__ import annotations

import dataclasses
from typing import TypeVar, dataclass_transform

__all__ = ["record"]

_T = TypeVar("_T")


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field,))
def record(cls: type[_T]) -> type[_T]:
    return dataclasses.dataclass(slots=True)(cls)
