"""A deliberately naive, separately written model of DynamoDB's semantics, for property tests.

It shares no code with ``lorafox.tables``: values become plain Python objects (``Fraction`` for
numbers, ``bytes`` for binaries, ``frozenset`` for sets, ``list``/``dict`` for lists and maps)
and conditions and updates are small tuples ("specs") that the tests also render as expression
strings. Where DynamoDB refuses a request before reading the item, ``*_valid`` says so.
"""

from __future__ import annotations

import base64
import copy
from fractions import Fraction
from typing import Any

__all__ = [
    "RefError",
    "cond_valid",
    "eval_cond",
    "from_wire_item",
    "update_apply",
    "update_valid",
]

Ref = tuple[str, Any]
Spec = tuple[Any, ...]
ORDERED = ("S", "N", "B")
TYPE_NAMES = ("S", "N", "B", "BOOL", "NULL", "SS", "NS", "BS", "L", "M")


class RefError(Exception):
    """The reference model's "DynamoDB answers an error"."""


def from_wire(value: dict[str, Any]) -> Ref:
    ((tag, raw),) = value.items()
    if tag == "S":
        return ("S", raw)
    if tag == "N":
        return ("N", Fraction(raw))
    if tag == "B":
        return ("B", base64.b64decode(raw))
    if tag in ("BOOL", "NULL"):
        return (tag, raw)
    if tag == "SS":
        return ("SS", frozenset(raw))
    if tag == "NS":
        return ("NS", frozenset(Fraction(x) for x in raw))
    if tag == "BS":
        return ("BS", frozenset(base64.b64decode(x) for x in raw))
    if tag == "L":
        return ("L", [from_wire(x) for x in raw])
    return ("M", {k: from_wire(v) for k, v in raw.items()})


def from_wire_item(item: dict[str, Any]) -> dict[str, Ref]:
    return {name: from_wire(value) for name, value in item.items()}


def lookup(item: dict[str, Ref], steps: tuple[Any, ...]) -> Ref | None:
    current: Ref | None = item.get(steps[0])
    for step in steps[1:]:
        if current is None:
            return None
        tag, payload = current
        if isinstance(step, int):
            current = payload[step] if tag == "L" and step < len(payload) else None
        else:
            current = payload.get(step) if tag == "M" else None
    return current


# --- conditions ------------------------------------------------------------------------------


def operand(spec: Spec, item: dict[str, Ref]) -> Ref | None:
    if spec[0] == "path":
        return lookup(item, spec[1])
    if spec[0] == "value":
        return from_wire(spec[1])
    inner = operand(spec[1], item)
    if inner is None or inner[0] not in ("S", "B", "SS", "NS", "BS", "L", "M"):
        return None
    return ("N", Fraction(len(inner[1])))


def _key(value: Ref) -> Any:
    return value[1].encode("utf-8") if value[0] == "S" else value[1]


def _ordered(a: Ref | None, b: Ref | None) -> bool:
    return a is not None and b is not None and a[0] == b[0] and a[0] in ORDERED


def _contains(haystack: Ref, needle: Ref) -> bool:
    tag, payload = haystack
    if tag in ("S", "B"):
        return needle[0] == tag and needle[1] in payload
    if tag in ("SS", "NS", "BS"):
        return needle[0] == tag[0] and needle[1] in payload
    if tag == "L":
        return needle in payload
    return False


def eval_cond(spec: Spec, item: dict[str, Ref]) -> bool:
    kind = spec[0]
    if kind == "and":
        return eval_cond(spec[1], item) and eval_cond(spec[2], item)
    if kind == "or":
        return eval_cond(spec[1], item) or eval_cond(spec[2], item)
    if kind == "not":
        return not eval_cond(spec[1], item)
    if kind == "cmp":
        op, left, right = spec[1], operand(spec[2], item), operand(spec[3], item)
        if op == "=":
            return left is not None and left == right
        if op == "<>":
            return (left is None) != (right is None) or (left is not None and left != right)
        if not _ordered(left, right):
            return False
        assert left is not None and right is not None
        a, b = _key(left), _key(right)
        results: dict[str, bool] = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}
        return results[op]
    if kind == "between":
        value, low, high = (operand(s, item) for s in spec[1:])
        if not (_ordered(value, low) and _ordered(value, high)):
            return False
        assert value is not None and low is not None and high is not None
        return bool(_key(low) <= _key(value) <= _key(high))
    if kind == "in":
        value = operand(spec[1], item)
        return value is not None and any(value == operand(s, item) for s in spec[2])
    name, args = spec[1], [operand(s, item) for s in spec[2]]
    if name == "attribute_exists":
        return args[0] is not None
    if name == "attribute_not_exists":
        return args[0] is None
    first, second = args
    if first is None or second is None:
        return False
    if name == "attribute_type":
        return second[0] == "S" and first[0] == second[1]
    if name == "begins_with":
        same = first[0] == second[0] and first[0] in ("S", "B")
        return same and bool(first[1].startswith(second[1]))
    return _contains(first, second)


def _literal_type(spec: Spec) -> str | None:
    if spec[0] == "value":
        return str(next(iter(spec[1])))
    return "N" if spec[0] == "size" else None


def _operands(spec: Spec) -> list[Spec]:
    if spec[0] in ("cmp",):
        return [spec[2], spec[3]]
    if spec[0] == "between":
        return list(spec[1:])
    if spec[0] == "in":
        return [spec[1], *spec[2]]
    return list(spec[2])


def cond_valid(spec: Spec) -> bool:
    """Whether DynamoDB accepts the condition (before reading any item)."""
    kind = spec[0]
    if kind in ("and", "or"):
        return cond_valid(spec[1]) and cond_valid(spec[2])
    if kind == "not":
        return cond_valid(spec[1])
    operands = _operands(spec)
    for part in operands:
        if part[0] == "size" and _literal_type(part[1]) in ("N", "BOOL", "NULL"):
            return False
    ordering = (kind == "cmp" and spec[1] in ("<", "<=", ">", ">=")) or kind == "between"
    if ordering and any(_literal_type(part) not in (None, *ORDERED) for part in operands):
        return False  # a value of a type without an order: refused, not just false
    two = operands if kind == "cmp" or (kind == "fn" and len(operands) == 2) else []
    if two and two[0][0] == "path" and two[0] == two[1]:
        return False
    if kind == "fn" and spec[1] == "begins_with":
        return all(_literal_type(a) in (None, "S", "B") for a in operands)
    if kind == "fn" and spec[1] == "attribute_type":
        return operands[1][0] == "value" and operands[1][1].get("S") in TYPE_NAMES
    if kind == "between" and spec[2][0] == "value" and spec[3][0] == "value":
        low, high = from_wire(spec[2][1]), from_wire(spec[3][1])
        if low[0] != high[0]:
            return False
        if low[0] in ORDERED and _key(low) > _key(high):
            return False
    return True


# --- updates ---------------------------------------------------------------------------------


def _value(spec: Spec, item: dict[str, Ref]) -> Ref:
    kind = spec[0]
    if kind in ("path", "value"):
        found = operand(spec, item)
        if found is None:
            raise RefError("no such attribute")
        return copy.deepcopy(found)
    if kind == "if_not_exists":
        found = lookup(item, spec[1][1])
        return copy.deepcopy(found) if found is not None else _value(spec[2], item)
    left, right = _value(spec[1], item), _value(spec[2], item)
    if kind == "list_append":
        if left[0] != "L" or right[0] != "L":
            raise RefError("not lists")
        return ("L", left[1] + right[1])
    if left[0] != "N" or right[0] != "N":
        raise RefError("not numbers")
    return ("N", left[1] + right[1] if kind == "+" else left[1] - right[1])


def _parent(item: dict[str, Ref], steps: tuple[Any, ...]) -> Any:
    if len(steps) == 1:
        return item
    holder = lookup(item, steps[:-1])
    wanted = "L" if isinstance(steps[-1], int) else "M"
    if holder is None or holder[0] != wanted:
        raise RefError("invalid document path")
    return holder[1]


def _put(item: dict[str, Ref], steps: tuple[Any, ...], value: Ref) -> None:
    parent, last = _parent(item, steps), steps[-1]
    if isinstance(parent, list) and last >= len(parent):
        parent.append(value)
    else:
        parent[last] = value


def _drop(item: dict[str, Ref], steps: tuple[Any, ...]) -> None:
    parent, last = _parent(item, steps), steps[-1]
    if isinstance(parent, list):
        if last < len(parent):
            del parent[last]
    else:
        parent.pop(last, None)


def update_valid(actions: list[Spec]) -> bool:
    """Whether DynamoDB accepts the update (targets are known not to overlap)."""
    for action in actions:
        kind = action[0]
        if kind == "ADD" and _literal_type(action[2]) not in ("N", "SS", "NS", "BS"):
            return False
        if kind == "DELETE" and _literal_type(action[2]) not in ("SS", "NS", "BS"):
            return False
        if kind == "SET":
            value = action[2]
            wanted = {"+": "N", "-": "N", "list_append": "L"}.get(value[0])
            if wanted and any(_literal_type(v) not in (None, wanted) for v in value[1:]):
                return False
    return True


def update_apply(actions: list[Spec], item: dict[str, Ref]) -> dict[str, Ref]:
    """The item after the update; ``RefError`` where DynamoDB fails."""
    old, new = item, copy.deepcopy(item)
    computed = [(a[1], _value(a[2], old)) for a in actions if a[0] == "SET"]
    for steps, value in computed:
        _put(new, steps, value)
    for action in actions:
        kind, steps = action[0], action[1]
        if kind == "REMOVE":
            _drop(new, steps)
        elif kind in ("ADD", "DELETE"):
            given = from_wire(action[2][1])
            _parent(new, steps)
            existing = lookup(new, steps)
            if existing is None:
                if kind == "ADD":
                    _put(new, steps, given)
                continue
            if existing[0] != given[0]:
                raise RefError("wrong type")
            if kind == "ADD":
                merged = existing[1] + given[1] if given[0] == "N" else existing[1] | given[1]
                _put(new, steps, (given[0], merged))
            elif existing[1] - given[1]:
                _put(new, steps, (given[0], existing[1] - given[1]))
            else:
                _drop(new, steps)
    return new
