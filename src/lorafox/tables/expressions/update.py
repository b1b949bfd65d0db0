"""Applying an update expression to an item, as DynamoDB does.

* Every ``SET`` value is computed from the item *before* the update, then the actions are
  applied: ``SET``, ``ADD``, ``DELETE``, and last ``REMOVE`` — so list indexes always refer to
  the positions the client saw (``SET a[3] = :x REMOVE a[1]`` sets the old fourth element).
* ``SET`` of a list index past the end appends (several such appends keep their index order).
  ``REMOVE`` of a missing attribute or index does nothing.
* A nested path needs its parent: ``SET a.b = :v`` when ``a`` is not a map fails with "The
  document path provided in the update expression is invalid for update".
* ``ADD`` adds to a number or joins a set (a missing attribute starts at zero / the empty set);
  ``DELETE`` takes members out of a set and removes the attribute when it becomes empty.
* ``+``, ``-``, ``list_append``, ``ADD`` and ``DELETE`` on values of the wrong type fail with "An
  operand in the update expression has an incorrect data type" ("Type mismatch for attribute to
  update" for the legacy ``AttributeUpdates``); a path to nothing in a ``SET`` value fails with
  "The provided expression refers to an attribute that does not exist in the item".
* An attribute may not end up with lists and maps nested more than 31 deep.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lorafox.tables.errors import ValidationException
from lorafox.tables.expressions.evaluate import operand_value
from lorafox.tables.expressions.nodes import (
    Arithmetic,
    IfNotExists,
    ListAppend,
    Path,
    ResolvedPath,
    SetValue,
    UpdateExpression,
)
from lorafox.tables.expressions.paths import get_value, project_paths, resolve_path
from lorafox.tables.numbers import add_numbers, subtract_numbers
from lorafox.tables.values import AttributeValue, Item, check_nesting, value_type

__all__ = ["UpdateResult", "apply_update", "check_key_not_updated"]

_INVALID_PATH = "The document path provided in the update expression is invalid for update"
_WRONG_TYPE = "An operand in the update expression has an incorrect data type"
_LEGACY_WRONG_TYPE = "Type mismatch for attribute to update"
_MISSING = "The provided expression refers to an attribute that does not exist in the item"

Names = Mapping[str, str] | None
Values = Mapping[str, Mapping[str, Any]] | None


@dataclass(frozen=True, slots=True)
class UpdateResult:
    """The item after the update, and the paths the update wrote (for ``UPDATED_*``)."""

    item: Item
    paths: tuple[ResolvedPath, ...]

    def updated_new(self) -> Item:
        """``ReturnValues=UPDATED_NEW``: the written paths, as they are now."""
        return project_paths(self.item, self.paths)

    def updated_old(self, old: Mapping[str, Any] | None) -> Item:
        """``ReturnValues=UPDATED_OLD``: the written paths, as they were in ``old``."""
        return project_paths(old or {}, self.paths)


def _clone(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _clone(member) for key, member in value.items()}
    if isinstance(value, list):
        return [_clone(member) for member in value]
    return value


def _required(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if value is None:
        raise ValidationException(_MISSING)
    return value


def _compute(
    value: SetValue, item: Item, names: Names, values: Values, wrong: str
) -> AttributeValue:
    if isinstance(value, Arithmetic):
        left = _compute(value.left, item, names, values, wrong)
        right = _compute(value.right, item, names, values, wrong)
        if value_type(left) != "N" or value_type(right) != "N":
            raise ValidationException(wrong)
        combine = add_numbers if value.op == "+" else subtract_numbers
        return {"N": combine(left["N"], right["N"])}
    if isinstance(value, ListAppend):
        left = _compute(value.left, item, names, values, wrong)
        right = _compute(value.right, item, names, values, wrong)
        if value_type(left) != "L" or value_type(right) != "L":
            raise ValidationException(wrong)
        return {"L": [*_clone(left["L"]), *_clone(right["L"])]}
    if isinstance(value, IfNotExists):
        existing = get_value(item, resolve_path(value.path, names))
        if existing is not None:
            return dict(_clone(existing))
        return _compute(value.default, item, names, values, wrong)
    return dict(_clone(_required(operand_value(value, item, names, values))))


class _Writer:
    """Applies actions to a copy of the item, deferring appends and removals from lists."""

    def __init__(self, item: Item) -> None:
        self.item = item
        self.appends: dict[int, tuple[list[AttributeValue], list[tuple[int, AttributeValue]]]] = {}
        self.removals: dict[int, tuple[list[AttributeValue], set[int]]] = {}

    def parent(self, path: ResolvedPath) -> dict[str, Any] | list[Any]:
        """The map (``M`` member, or the item) or list (``L`` member) holding ``path``'s end."""
        if len(path) == 1:
            return self.item
        holder = get_value(self.item, path[:-1])
        kind = "L" if isinstance(path[-1], int) else "M"
        if holder is None or value_type(holder) != kind:
            raise ValidationException(_INVALID_PATH)
        container: dict[str, Any] | list[Any] = holder[kind]
        return container

    def get(self, path: ResolvedPath) -> AttributeValue | None:
        self.parent(path)
        return get_value(self.item, path)

    def put(self, path: ResolvedPath, value: AttributeValue) -> None:
        container, last = self.parent(path), path[-1]
        if isinstance(container, dict):
            container[str(last)] = value
        elif isinstance(last, int) and last < len(container):
            container[last] = value
        else:
            entry = self.appends.setdefault(id(container), (container, []))
            entry[1].append((int(last), value))

    def remove(self, path: ResolvedPath) -> None:
        container, last = self.parent(path), path[-1]
        if isinstance(container, dict):
            container.pop(str(last), None)
        else:
            self.removals.setdefault(id(container), (container, set()))[1].add(int(last))

    def finish(self) -> None:
        for container, pending in self.appends.values():
            container.extend(value for _, value in sorted(pending, key=lambda entry: entry[0]))
        for container, indexes in self.removals.values():
            for index in sorted(indexes, reverse=True):
                if index < len(container):
                    del container[index]


def _add(existing: AttributeValue | None, value: Mapping[str, Any], wrong: str) -> AttributeValue:
    kind = value_type(value)
    if existing is None:
        return dict(_clone(value))
    if value_type(existing) != kind:
        raise ValidationException(wrong)
    if kind == "N":
        return {"N": add_numbers(existing["N"], value["N"])}
    if kind == "L":  # legacy AttributeUpdates ADD appends to a list
        return {"L": [*_clone(existing["L"]), *_clone(value["L"])]}
    members = list(existing[kind])
    known = {_member_key(kind, m) for m in members}
    members.extend(m for m in value[kind] if _member_key(kind, m) not in known)
    return {kind: members}


def _member_key(kind: str, member: str) -> Decimal | str:
    return Decimal(member) if kind == "NS" else member


def _delete(
    existing: AttributeValue, value: Mapping[str, Any], wrong: str
) -> AttributeValue | None:
    kind = value_type(value)
    if value_type(existing) != kind:
        raise ValidationException(wrong)
    gone = {_member_key(kind, m) for m in value[kind]}
    members = [m for m in existing[kind] if _member_key(kind, m) not in gone]
    return {kind: members} if members else None


def apply_update(
    expression: UpdateExpression,
    item: Mapping[str, Any] | None,
    names: Names = None,
    values: Values = None,
) -> UpdateResult:
    """The item after the update (``item`` is not changed; ``None``: a new item)."""
    original: Item = dict(item or {})  # read only: values taken from it are copied
    wrong = _LEGACY_WRONG_TYPE if expression.legacy else _WRONG_TYPE
    computed = [
        (resolve_path(action.path, names), _compute(action.value, original, names, values, wrong))
        for action in expression.set
    ]
    writer = _Writer(_clone(original))
    for path, value in computed:
        writer.put(path, value)
    for add in expression.add:
        path = resolve_path(add.path, names)
        operand = operand_value(add.value, original, names, values)
        assert operand is not None  # noqa: S101 - a value placeholder or a literal
        writer.put(path, _add(writer.get(path), operand, wrong))
    for delete in expression.delete:
        path = resolve_path(delete.path, names)
        operand = operand_value(delete.value, original, names, values)
        assert operand is not None  # noqa: S101 - a value placeholder or a literal
        existing = writer.get(path)
        if existing is not None:
            remaining = _delete(existing, operand, wrong)
            if remaining is None:
                writer.remove(path)
            else:
                writer.put(path, remaining)
    for remove in expression.remove:
        writer.remove(resolve_path(remove.path, names))
    writer.finish()
    paths = tuple(resolve_path(path, names) for path in expression.paths)
    check_nesting(
        {str(path[0]): writer.item[str(path[0])] for path in paths if path[0] in writer.item}
    )
    return UpdateResult(writer.item, paths)


def check_key_not_updated(
    expression: UpdateExpression, names: Names, key_names: Collection[str]
) -> None:
    """DynamoDB's error if the update writes a key attribute (or inside one)."""
    for path in expression.paths:
        head = resolve_path(Path(path.elements[:1]), names)[0]
        if head in key_names:
            raise ValidationException(
                "One or more parameter values were invalid: Cannot update attribute "
                f"{head}. This attribute is part of the key"
            )
