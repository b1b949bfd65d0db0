"""Random conditions and updates for the property tests, as specs and as expression strings.

A *spec* is a small tuple the reference model evaluates directly (``reference``) and that
``Renderer`` writes as an expression string with placeholders. The hypothesis strategies are
built once; what depends on the item is drawn as a *marker* (``("from_item", kind, i, j)``…)
that ``resolve`` turns into paths and values of the item, so that conditions hold about as often
as not and updates mostly reach valid paths — random specs alone almost never would.
"""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from lorafox.tables.numbers import canonical_number
from tests.tables import reference
from tests.tables.strategies import (
    MAP_KEYS,
    SMALL_NUMBERS,
    TOP_NAMES,
    attribute_values,
    sub_values,
)

__all__ = ["CONDITIONS", "LEAF_CONDITIONS", "UPDATES", "Renderer", "resolve", "resolve_update"]

Spec = tuple[Any, ...]
_CHOICE = st.integers(0, 63)


def _invented(head: str, tail: list[Any]) -> Spec:
    return ("path", (head, *tail))


def _value(value: dict[str, Any]) -> Spec:
    return ("value", value)


def _size(spec: Spec) -> Spec:
    return ("size", spec)


def _marker(kind: str) -> st.SearchStrategy[Spec]:
    return st.tuples(st.just(kind), _CHOICE)


_STEP = st.one_of(st.sampled_from(MAP_KEYS), st.integers(0, 2))
PATHS = st.one_of(
    _marker("existing_path"),
    st.builds(_invented, st.sampled_from(TOP_NAMES), st.lists(_STEP, max_size=2)),
)
NUMBERS = st.builds(_value, st.builds(dict, N=SMALL_NUMBERS))
VALUES = st.one_of(
    _marker("known_value"),
    st.builds(_value, attribute_values(3)),
    NUMBERS,
    st.builds(_value, st.builds(dict, S=st.sampled_from(["", "a", "b", "é"]))),
)
OPERANDS = st.one_of(PATHS, VALUES, PATHS, VALUES, st.builds(_size, st.one_of(PATHS, VALUES)))
_TYPE_NAMES = st.builds(
    _value, st.builds(dict, S=st.sampled_from([*reference.TYPE_NAMES, "STRING"]))
)
_COMPARATORS = ["=", "<>", "<", "<=", ">", ">="]
_FROM_ITEM_KINDS = ["between", "in", "attribute_type", "size", "begins_with", "contains"]
_FROM_ITEM = st.tuples(
    st.just("from_item"),
    st.sampled_from(_COMPARATORS + _FROM_ITEM_KINDS),
    _CHOICE,
    _CHOICE,
)
_EXISTS = st.sampled_from(["attribute_exists", "attribute_not_exists"])
_STRING_FUNCTIONS = st.sampled_from(["begins_with", "contains"])
LEAF_CONDITIONS = st.one_of(
    st.tuples(st.just("cmp"), st.sampled_from(_COMPARATORS), OPERANDS, OPERANDS),
    st.tuples(st.just("between"), OPERANDS, OPERANDS, OPERANDS),
    st.tuples(st.just("in"), OPERANDS, st.lists(OPERANDS, min_size=1, max_size=3).map(tuple)),
    st.tuples(st.just("fn"), _EXISTS, st.tuples(PATHS)),
    st.tuples(st.just("fn"), st.just("attribute_type"), st.tuples(PATHS, _TYPE_NAMES)),
    st.tuples(st.just("fn"), _STRING_FUNCTIONS, st.tuples(OPERANDS, OPERANDS)),
    _FROM_ITEM,  # three times: most conditions are built from the item
    _FROM_ITEM,
    _FROM_ITEM,
)
CONDITIONS = st.recursive(
    LEAF_CONDITIONS,
    lambda inner: st.one_of(
        st.tuples(st.sampled_from(["and", "or"]), inner, inner), st.tuples(st.just("not"), inner)
    ),
    max_leaves=5,
)
_ACTION = st.tuples(
    st.sampled_from(["SET", "SET", "REMOVE", "ADD", "DELETE"]),
    _CHOICE,  # which target under the head
    _CHOICE,  # which value
    st.sampled_from(["plain", "+", "-", "list_append", "if_not_exists"]),
    st.one_of(PATHS, VALUES),
    st.one_of(PATHS, VALUES),
)
UPDATES = st.tuples(
    st.lists(st.sampled_from(TOP_NAMES), min_size=1, max_size=4, unique=True),
    st.lists(_ACTION, min_size=4, max_size=4),
)


# --- resolving markers against the item --------------------------------------------------------


def _paths(item: dict[str, Any]) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []

    def walk(prefix: tuple[Any, ...], value: dict[str, Any]) -> None:
        found.append(prefix)
        for key, member in value.get("M", {}).items():
            walk((*prefix, key), member)
        for index, member in enumerate(value.get("L", [])):
            walk((*prefix, index), member)

    for name, value in item.items():
        walk((name,), value)
    return found


def _lookup(item: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any] | None:
    value: Any = item.get(path[0])
    for step in path[1:]:
        if value is None:
            return None
        kind = "L" if isinstance(step, int) else "M"
        members = value.get(kind)
        if members is None or (kind == "L" and step >= len(members)):
            return None
        value = members[step] if kind == "L" else members.get(step)
    return value if value is None else dict(value)


def _kind(value: dict[str, Any]) -> str:
    return next(iter(value))


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _part(value: dict[str, Any], choice: int) -> dict[str, Any]:
    """A piece of ``value``: a prefix of a string or binary, a member of a set or list."""
    kind, raw = _kind(value), value[_kind(value)]
    if kind == "S":
        return {"S": raw[: choice % (len(raw) + 1)]}
    if kind == "B":
        data = base64.b64decode(raw)
        return {"B": _b64(data[: choice % (len(data) + 1)])}
    if kind in ("SS", "NS", "BS"):
        return {kind[0]: raw[choice % len(raw)]}
    if kind == "L" and raw:
        return dict(raw[choice % len(raw)])
    return value


def _near(value: dict[str, Any], choice: int) -> dict[str, Any]:
    """``value`` (0), or a value of its type above (1) or below (2) it, or another (3)."""
    kind, raw = _kind(value), value[_kind(value)]
    if kind == "N":
        return {"N": canonical_number(Decimal(raw) + (0, 1, -1, Decimal("0.5"))[choice % 4])}
    if kind == "S":
        return {"S": (raw, raw + "a", raw[:-1], "b" + raw)[choice % 4]}
    if kind == "B":
        data = base64.b64decode(raw)
        return {"B": _b64((data, data + b"\x00", data[:-1], b"\x01" + data)[choice % 4])}
    return value


def _size_of(value: dict[str, Any]) -> int:
    kind, raw = _kind(value), value[_kind(value)]
    if kind == "B":
        return len(base64.b64decode(raw))
    return len(raw) if kind in ("S", "SS", "NS", "BS", "L", "M") else 1


def _from_item(kind: str, index: int, choice: int, item: dict[str, Any]) -> Spec:
    """A condition on one path of the item, built to hold about half of the time."""
    paths = _paths(item) or [("a",)]
    path = paths[index % len(paths)]
    value = _lookup(item, path) or {"S": "a"}
    subject = ("path", path)
    if kind == "between":  # mostly [value or below, value or above]
        low = _near(value, (0, 2)[choice % 2] if choice % 8 else choice // 8)
        high = _near(value, (0, 1)[choice // 2 % 2] if choice % 8 else choice // 16)
        return ("between", subject, ("value", low), ("value", high))
    if kind == "in":
        return (
            "in",
            subject,
            (("value", _near(value, choice)), ("value", _near(value, choice // 4))),
        )
    if kind == "attribute_type":
        named = _kind(value) if choice % 2 else reference.TYPE_NAMES[choice % 10]
        return ("fn", "attribute_type", (subject, ("value", {"S": named})))
    if kind == "size":
        size = {"N": str(max(0, _size_of(value) + (-1, 0, 1)[choice % 3]))}
        return ("cmp", ("=", "<", ">=", "<>")[choice // 3 % 4], ("size", subject), ("value", size))
    if kind in ("begins_with", "contains"):
        other = _part(value, choice) if choice % 4 else _near(value, choice // 4)
        return ("fn", kind, (subject, ("value", other)))
    return ("cmp", kind, subject, ("value", _near(value, choice)))


def resolve(spec: Any, item: dict[str, Any]) -> Any:
    """``spec`` with its markers replaced by paths and values of ``item``."""
    if not isinstance(spec, tuple) or not spec:
        return spec
    if spec[0] == "existing_path":
        paths = _paths(item) or [("a",)]
        return ("path", paths[spec[1] % len(paths)])
    if spec[0] == "known_value":
        values = sub_values(item) or [{"S": "a"}]
        return ("value", values[spec[1] % len(values)])
    if spec[0] == "from_item":
        return _from_item(spec[1], spec[2], spec[3], item)
    return tuple(resolve(part, item) for part in spec)


def _target(item: dict[str, Any], head: str, choice: int) -> tuple[Any, ...]:
    value = item.get(head)
    if choice % 8 == 7:  # now and then a path that may well be invalid
        return (head, ("x", 5)[choice // 8 % 2])
    if value is None or choice % 2 == 0:
        return (head,)
    if "M" in value:
        keys = [*value["M"], *MAP_KEYS]
        return (head, keys[choice // 2 % len(keys)])
    if "L" in value:
        return (head, choice // 2 % (len(value["L"]) + 2))
    return (head,)


def _typed(item: dict[str, Any], kind: str, choice: int, fallback: Spec) -> Spec:
    paths = [p for p in _paths(item) if (v := _lookup(item, p)) is not None and _kind(v) == kind]
    if paths and choice % 2:
        return ("path", paths[choice // 2 % len(paths)])
    return fallback


def _set_value(form: str, choice: int, first: Spec, second: Spec, item: dict[str, Any]) -> Spec:
    if form == "plain":
        return first
    if form in ("+", "-"):
        number = ("value", {"N": ("1", "2.5", "-3")[choice % 3]})
        return (form, _typed(item, "N", choice, number), _typed(item, "N", choice // 4, second))
    if form == "list_append":
        listed = ("value", {"L": [{"S": "e"}]})
        return (form, _typed(item, "L", choice, listed), _typed(item, "L", choice // 4, second))
    path = first if first[0] == "path" else ("path", ("c",))
    return ("if_not_exists", path, second)


def _set_operand(current: dict[str, Any] | None, kind: str, choice: int, free: Spec) -> Spec:
    """The value of an ADD or DELETE: mostly one that fits what is at the target."""
    if choice % 4 == 3 or current is None:
        if kind == "ADD" and choice % 2:
            return ("value", {"N": ("1", "-2", "0.5")[choice % 3]})
        return free if choice % 3 else ("value", {"SS": ["a", "z"][: 1 + choice % 2]})
    current_kind = _kind(current)
    if current_kind not in ("SS", "NS", "BS"):
        return ("value", {"N": "1"}) if current_kind == "N" else free
    members = current[current_kind]
    subset = members[: 1 + choice % len(members)]
    extra = {"SS": "zz", "NS": "99", "BS": _b64(b"\x07")}[current_kind]
    picked = (subset, members, [*subset, extra])[choice // 4 % 3]
    return ("value", {current_kind: picked})


_FREE_SET: Spec = ("value", {"NS": ["1", "2"]})


def resolve_update(draw: tuple[list[str], list[Spec]], item: dict[str, Any]) -> list[Spec]:
    """Actions on distinct attributes, fitted to the item."""
    heads, raw_actions = draw
    actions: list[Spec] = []
    for head, (kind, target_choice, choice, form, raw_first, raw_second) in zip(
        heads, raw_actions, strict=False
    ):
        target = _target(item, head, target_choice)
        first, second = resolve(raw_first, item), resolve(raw_second, item)
        if kind == "SET":
            actions.append(("SET", target, _set_value(form, choice, first, second, item)))
        elif kind == "REMOVE":
            actions.append(("REMOVE", target))
        else:
            free = first if first[0] == "value" else _FREE_SET
            actions.append((kind, target, _set_operand(_lookup(item, target), kind, choice, free)))
    return actions


# --- rendering specs as expression strings -----------------------------------------------------


class Renderer:
    """Renders specs with placeholders, collecting ExpressionAttributeNames/Values."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}

    def path(self, steps: tuple[Any, ...]) -> str:
        text = ""
        for step in steps:
            if isinstance(step, int):
                text += f"[{step}]"
                continue
            word = step
            if step == "status":  # a reserved word
                word = "#st"
                self.names[word] = step
            text += ("." if text else "") + word
        return text

    def operand(self, spec: Spec) -> str:
        if spec[0] == "path":
            return self.path(spec[1])
        if spec[0] == "size":
            return f"size({self.operand(spec[1])})"
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = spec[1]
        return placeholder

    def condition(self, spec: Spec, parent: int = 0) -> str:
        kind = spec[0]
        precedence = {"or": 1, "and": 2, "not": 3}.get(kind, 4)
        if kind in ("and", "or"):
            left = self.condition(spec[1], precedence)
            text = f"{left} {kind.upper()} {self.condition(spec[2], precedence)}"
        elif kind == "not":
            text = f"NOT {self.condition(spec[1], precedence)}"
        elif kind == "cmp":
            text = f"{self.operand(spec[2])} {spec[1]} {self.operand(spec[3])}"
        elif kind == "between":
            low, high = self.operand(spec[2]), self.operand(spec[3])
            text = f"{self.operand(spec[1])} BETWEEN {low} AND {high}"
        elif kind == "in":
            subject = self.operand(spec[1])
            text = f"{subject} IN ({', '.join(self.operand(s) for s in spec[2])})"
        else:
            text = f"{spec[1]}({', '.join(self.operand(s) for s in spec[2])})"
        needs_parentheses = precedence < parent or precedence == parent < 3
        return f"({text})" if needs_parentheses else text

    def update(self, actions: list[Spec]) -> str:
        clauses: dict[str, list[str]] = {}
        for action in actions:
            kind, target = action[0], self.path(action[1])
            if kind == "REMOVE":
                clauses.setdefault(kind, []).append(target)
            elif kind == "SET":
                clauses.setdefault(kind, []).append(f"{target} = {self.set_value(action[2])}")
            else:
                clauses.setdefault(kind, []).append(f"{target} {self.operand(action[2])}")
        return " ".join(f"{kind} {', '.join(parts)}" for kind, parts in clauses.items())

    def set_value(self, value: Spec) -> str:
        if value[0] in ("path", "value"):
            return self.operand(value)
        if value[0] in ("+", "-"):
            return f"{self.operand(value[1])} {value[0]} {self.operand(value[2])}"
        return f"{value[0]}({self.operand(value[1])}, {self.operand(value[2])})"
