"""The syntax tree of DynamoDB expressions: frozen, slotted dataclasses.

A tree is built once per expression string (``parser``) and shared by every request that sends
the same string, so it holds the placeholders (``#name``, ``:value``) unresolved: each request
brings its own ``ExpressionAttributeNames`` and ``ExpressionAttributeValues``. The translations
of the legacy parameters (``legacy``) use ``Literal`` values and plain attribute names instead.

Operands::

    Path(("a", Name("#b"), 2, "c"))      a.#b[2].c
    Placeholder(":v")                     :v
    Literal({"S": "x"})                   a value given directly (legacy parameters)
    Size(operand)                         size(operand)

Conditions: ``Compare``, ``Between``, ``In``, ``Call`` (the Boolean functions), ``And``, ``Or``,
``Not``. Updates: ``SetAction`` (whose value may be ``Arithmetic``, ``IfNotExists``,
``ListAppend``), ``RemoveAction``, ``AddAction``, ``DeleteAction``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "AddAction",
    "And",
    "Arithmetic",
    "Between",
    "Call",
    "Compare",
    "Condition",
    "ConditionExpression",
    "DeleteAction",
    "IfNotExists",
    "In",
    "ListAppend",
    "Literal",
    "Name",
    "Not",
    "Operand",
    "Or",
    "Path",
    "PathElement",
    "Placeholder",
    "ProjectionExpression",
    "RemoveAction",
    "ResolvedPath",
    "SetAction",
    "SetValue",
    "Size",
    "UpdateExpression",
    "UpdateOperand",
]


@dataclass(frozen=True, slots=True)
class Name:
    """An expression attribute name placeholder, ``#name``."""

    placeholder: str


PathElement = str | Name | int
"""An attribute or map key (``str``), a ``#name`` placeholder, or a list index (``int``)."""
ResolvedPath = tuple[str | int, ...]
"""A document path with its placeholders replaced: map keys and list indexes."""


@dataclass(frozen=True, slots=True)
class Path:
    """A document path: ``a.b[2].c`` is ``("a", "b", 2, "c")``."""

    elements: tuple[PathElement, ...]


@dataclass(frozen=True, slots=True)
class Placeholder:
    """An expression attribute value placeholder, ``:value``."""

    name: str


@dataclass(frozen=True, slots=True)
class Literal:
    """A value given directly (the legacy parameters carry values, not placeholders)."""

    value: Mapping[str, Any] = field(hash=False)


@dataclass(frozen=True, slots=True)
class Size:
    """``size(operand)``: the length of a string, binary, set, list or map."""

    operand: Operand


Operand = Path | Placeholder | Literal | Size


@dataclass(frozen=True, slots=True)
class Compare:
    """``left <op> right`` with ``op`` one of ``= <> < <= > >=``."""

    op: str
    left: Operand
    right: Operand


@dataclass(frozen=True, slots=True)
class Between:
    """``operand BETWEEN low AND high`` (bounds included)."""

    operand: Operand
    low: Operand
    high: Operand


@dataclass(frozen=True, slots=True)
class In:
    """``operand IN (choice, …)``."""

    operand: Operand
    choices: tuple[Operand, ...]


@dataclass(frozen=True, slots=True)
class Call:
    """A Boolean function: ``attribute_exists``, ``attribute_not_exists``, ``attribute_type``,
    ``begins_with`` or ``contains``."""

    function: str
    args: tuple[Operand, ...]


@dataclass(frozen=True, slots=True)
class And:
    left: Condition
    right: Condition


@dataclass(frozen=True, slots=True)
class Or:
    left: Condition
    right: Condition


@dataclass(frozen=True, slots=True)
class Not:
    operand: Condition


Condition = Compare | Between | In | Call | And | Or | Not


@dataclass(frozen=True, slots=True)
class IfNotExists:
    """``if_not_exists(path, default)``."""

    path: Path
    default: UpdateOperand


@dataclass(frozen=True, slots=True)
class ListAppend:
    """``list_append(left, right)``."""

    left: UpdateOperand
    right: UpdateOperand


UpdateOperand = Path | Placeholder | Literal | IfNotExists | ListAppend


@dataclass(frozen=True, slots=True)
class Arithmetic:
    """``left + right`` or ``left - right`` (numbers only)."""

    op: str
    left: UpdateOperand
    right: UpdateOperand


SetValue = UpdateOperand | Arithmetic


@dataclass(frozen=True, slots=True)
class SetAction:
    path: Path
    value: SetValue


@dataclass(frozen=True, slots=True)
class RemoveAction:
    path: Path


@dataclass(frozen=True, slots=True)
class AddAction:
    path: Path
    value: Placeholder | Literal


@dataclass(frozen=True, slots=True)
class DeleteAction:
    path: Path
    value: Placeholder | Literal


@dataclass(frozen=True, slots=True)
class ConditionExpression:
    """A parsed ConditionExpression, FilterExpression or KeyConditionExpression.

    ``names`` and ``values`` list the placeholders it uses, in order of appearance.
    """

    root: Condition
    names: tuple[str, ...] = ()
    values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UpdateExpression:
    """A parsed UpdateExpression; ``legacy`` for a translation of ``AttributeUpdates``."""

    set: tuple[SetAction, ...] = ()
    remove: tuple[RemoveAction, ...] = ()
    add: tuple[AddAction, ...] = ()
    delete: tuple[DeleteAction, ...] = ()
    names: tuple[str, ...] = ()
    values: tuple[str, ...] = ()
    legacy: bool = False

    @property
    def paths(self) -> tuple[Path, ...]:
        """The paths the actions write, in the order of the clauses."""
        actions: tuple[SetAction | RemoveAction | AddAction | DeleteAction, ...] = (
            *self.set,
            *self.remove,
            *self.add,
            *self.delete,
        )
        return tuple(action.path for action in actions)


@dataclass(frozen=True, slots=True)
class ProjectionExpression:
    """A parsed ProjectionExpression (or a translation of ``AttributesToGet``)."""

    paths: tuple[Path, ...]
    names: tuple[str, ...] = ()
