"""Document paths: placeholder resolution, lookup in an item, overlap rules, projection.

A resolved path is a tuple of map keys (``str``) and list indexes (``int``); its first element
is a top-level attribute name. Looking a path up walks maps by key and lists by index; any
mismatch (a key into a list, an index past the end, a step into a scalar) means "no value".

Two paths of one expression *overlap* when one is a prefix of the other (``a`` and ``a.b``, or the
same path twice), and *conflict* when they disagree on what a step is (``a.b`` and ``a[0]``):
DynamoDB refuses both in ProjectionExpression and UpdateExpression.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from lorafox.tables.errors import ValidationException
from lorafox.tables.expressions.nodes import Name, Path, ProjectionExpression, ResolvedPath
from lorafox.tables.values import AttributeValue, Item

__all__ = [
    "check_overlaps",
    "format_path",
    "get_value",
    "project",
    "project_paths",
    "resolve_path",
    "undefined_name",
]


def undefined_name(placeholder: str) -> str:
    return (
        "An expression attribute name used in the document path is not defined; "
        f"attribute name: {placeholder}"
    )


def resolve_path(path: Path, names: Mapping[str, str] | None) -> ResolvedPath:
    """``path`` with its ``#name`` placeholders replaced by the attribute names they stand for."""
    resolved: list[str | int] = []
    for element in path.elements:
        if isinstance(element, Name):
            name = (names or {}).get(element.placeholder)
            if name is None:
                raise ValidationException(undefined_name(element.placeholder))
            resolved.append(name)
        else:
            resolved.append(element)
    return tuple(resolved)


def get_value(item: Mapping[str, Any], path: Sequence[str | int]) -> AttributeValue | None:
    """The value at ``path`` in ``item``, or ``None`` when there is none."""
    head = path[0]
    if not isinstance(head, str):
        return None
    value: AttributeValue | None = item.get(head)
    for step in path[1:]:
        if value is None:
            return None
        if isinstance(step, int):
            members = value.get("L")
            value = members[step] if members is not None and step < len(members) else None
        else:
            entries = value.get("M")
            value = entries.get(step) if entries is not None else None
    return value


def format_path(path: Sequence[str | int]) -> str:
    """A path as DynamoDB writes it in messages: ``[a, b, [2]]``."""
    return "[" + ", ".join(f"[{step}]" if isinstance(step, int) else step for step in path) + "]"


def check_overlaps(paths: Iterable[ResolvedPath], kind: str) -> None:
    """DynamoDB's error if two paths overlap or conflict (``kind``: "UpdateExpression"…).

    An overlap anywhere is reported before a conflict, as DynamoDB does.
    """
    listed = list(paths)
    pairs = [(one, two) for i, two in enumerate(listed) for one in listed[:i]]
    for wanted in ("overlap", "conflict"):
        for one, two in pairs:
            if _clash(one, two) == wanted:
                raise ValidationException(
                    f"Invalid {kind}: Two document paths {wanted} with each other; must remove "
                    f"or rewrite one of these paths; path one: {format_path(one)}, "
                    f"path two: {format_path(two)}"
                )


def _clash(one: ResolvedPath, two: ResolvedPath) -> str | None:
    for a, b in zip(one, two, strict=False):
        if isinstance(a, int) != isinstance(b, int):
            return "conflict"
        if a != b:
            return None
    return "overlap"


class _Node:
    """A value being rebuilt by a projection: a leaf, a map, or a sparse list."""

    __slots__ = ("children", "kind", "leaf")

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.children: dict[Any, _Node] = {}
        self.leaf: AttributeValue | None = None

    def build(self) -> AttributeValue:
        if self.leaf is not None:
            return self.leaf
        if self.kind == "M":
            return {"M": {key: child.build() for key, child in self.children.items()}}
        return {"L": [self.children[index].build() for index in sorted(self.children)]}


def project_paths(item: Mapping[str, Any], paths: Iterable[ResolvedPath]) -> Item:
    """The parts of ``item`` the paths name, nested as in the item; list elements compacted.

    ``a.b, c[3], c[1]`` gives ``{"a": {"M": {"b": …}}, "c": {"L": [c[1], c[3]]}}``.
    """
    root = _Node("M")
    for path in paths:
        value = get_value(item, path)
        if value is None:
            continue
        node = root
        for depth, step in enumerate(path):
            if node.leaf is not None:
                break  # an enclosing path is already projected whole
            child = node.children.get(step)
            if child is None:
                child = _Node(_kind(path[depth + 1]) if depth + 1 < len(path) else "M")
                node.children[step] = child
            node = child
        else:
            node.leaf = value
            node.children = {}
    return {name: child.build() for name, child in root.children.items()}


def project(
    expression: ProjectionExpression,
    item: Mapping[str, Any],
    names: Mapping[str, str] | None = None,
) -> Item:
    """The attributes of ``item`` a ProjectionExpression (or ``AttributesToGet``) asks for."""
    return project_paths(item, (resolve_path(path, names) for path in expression.paths))


def _kind(step: str | int) -> str:
    return "L" if isinstance(step, int) else "M"
