"""The ``fields`` query parameter of Sigfox API v2: which referenced objects to expand.

Sigfox answers with references reduced to their ``id`` (a device's ``deviceType``, a profile's
roles…) unless ``fields`` asks for more, in its own small grammar: a comma-separated list of
names, each with an optional parenthesised list of its sub-fields, nested as deep as needed::

    fields=deviceType(name),group(name,type,level)
    fields=userRoles(group(name,type),profile(name,roles(name)))

Each route declares the selection Sigfox allows there (``selection(...)`` is the FastAPI
dependency); a request naming anything else gets 400 in the Sigfox error shape. A bare name
(``fields=deviceType``) selects the field with every sub-field allowed for it.

Some selections name what lorafox does not have (``contract(name)``, ``bssId``, certificates):
they are accepted and give nothing, as Sigfox omits a property without a value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from typing import Annotated

from fastapi import Query

from lorafox.errors import InvalidInput

__all__ = ["FIELDS_MAX", "Selection", "parse", "selection"]

FIELDS_MAX = 1000
"""The longest ``fields`` value accepted (Sigfox's longest allowed selection is ~90)."""

_TOKEN = re.compile(r"\s*(?:([A-Za-z][A-Za-z0-9_]*)|([(),]))")


class Selection(Mapping[str, "Selection"]):
    """A parsed ``fields`` value: each selected name and the selection of its sub-fields."""

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, Selection] | None = None) -> None:
        self._items: dict[str, Selection] = dict(items or {})

    def __getitem__(self, name: str) -> Selection:
        return self._items[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Selection({self.render()!r})"

    def sub(self, name: str) -> Selection:
        """The sub-selection of ``name``, empty when ``name`` is not selected."""
        return self._items.get(name, _EMPTY)

    def render(self) -> str:
        """Back to the ``fields`` grammar (for messages and ``paging.next``)."""
        return ",".join(f"{k}({v.render()})" if v else k for k, v in self._items.items())

    def merged(self, other: Selection) -> Selection:
        names = dict(self._items)
        for name, sub in other.items():
            names[name] = names[name].merged(sub) if name in names else sub
        return Selection(names)


_EMPTY = Selection()


def _fail(message: str) -> InvalidInput:
    return InvalidInput(f"fields: {message}", field="fields")


def _tokens(text: str) -> list[str]:
    found: list[str] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise _fail(f"unexpected character {text[pos:].lstrip()[:1]!r}")
        found.append(match.group(1) or match.group(2))
        pos = match.end()
    return found


def parse(text: str) -> Selection:
    """Parse the ``fields`` grammar; ``InvalidInput`` (400) when malformed."""
    if len(text) > FIELDS_MAX:
        raise _fail(f"longer than {FIELDS_MAX} characters")
    tokens = _tokens(text)
    if not tokens:
        raise _fail("no field given")
    selection, end = _parse_list(tokens, 0, depth=0)
    if end != len(tokens):
        raise _fail(f"unexpected {tokens[end]!r}")
    return selection


def _parse_list(tokens: list[str], pos: int, *, depth: int) -> tuple[Selection, int]:
    if depth > 8:
        raise _fail("nested too deep")
    result = _EMPTY
    while True:
        if pos >= len(tokens) or not (tokens[pos][0].isalpha()):
            got = repr(tokens[pos]) if pos < len(tokens) else "the end"
            raise _fail(f"a field name expected, got {got}")
        name, pos = tokens[pos], pos + 1
        sub = _EMPTY
        if pos < len(tokens) and tokens[pos] == "(":
            sub, pos = _parse_list(tokens, pos + 1, depth=depth + 1)
            if pos >= len(tokens) or tokens[pos] != ")":
                raise _fail(f"missing ')' after the sub-fields of {name!r}")
            pos += 1
        result = result.merged(Selection({name: sub}))
        if pos < len(tokens) and tokens[pos] == ",":
            pos += 1
            continue
        return result, pos


def _check(asked: Selection, allowed: Selection, where: str) -> Selection:
    """``asked`` restricted to ``allowed``: an unknown name is a 400; a bare name takes all."""
    checked: dict[str, Selection] = {}
    for name, sub in asked.items():
        if name not in allowed:
            known = allowed.render() or "none"
            raise _fail(f"unknown field {where}{name!r} (allowed: {known})")
        checked[name] = _check(sub, allowed[name], f"{where}{name}.") if sub else allowed[name]
    return Selection(checked)


def selection(*allowed: str, note: str = "") -> Callable[..., Selection]:
    """A FastAPI dependency reading ``fields``, checked against ``allowed`` (Sigfox's list):
    ``Fields = Annotated[Selection, Depends(selection("deviceType(name)", …))]``."""
    known = parse(",".join(allowed))
    description = (
        "Sigfox's `fields`: the referenced objects to expand, with the sub-fields wanted; "
        f"any of `{'`, `'.join(allowed)}` (comma-separated, or a subset of the sub-fields)."
    )
    if note:
        description += f" {note}"

    def read(fields: str | None = None) -> Selection:
        if fields is None or not fields.strip():
            return _EMPTY
        return _check(parse(fields), known, "")

    # the annotation is built here, not written in the signature: FastAPI resolves string
    # annotations in the module's globals, where ``description`` does not exist
    read.__annotations__["fields"] = Annotated[
        str | None, Query(max_length=FIELDS_MAX, description=description, examples=[allowed[0]])
    ]
    return read
