"""Expression strings → syntax trees, with DynamoDB's error messages; parsed once, cached.

``parse_condition``, ``parse_update`` and ``parse_projection`` parse with the Lark grammars
(``syntax``: the 4 KB limit and syntax errors) and turn the parse tree into ``nodes``. What only
depends on the string is checked here, in DynamoDB's order: syntax, redundant parentheses,
unknown functions, functions used out of place, reserved words, the number of operands, a clause
used twice. What depends on the request's placeholders is checked by ``checks``. Results are
cached by string: the same expression arrives on every request.

Chains (``a AND b AND c…``) become balanced trees and double negations cancel, so nesting grows
only with parentheses and function calls; past ``MAX_NESTING`` levels the expression is refused
("The expression has too many levels of nesting;" — lorafox's wording: DynamoDB documents no
such limit, only the 4 KB one, and Python must not hit its recursion limit).

Every error is a ``ValidationException`` whose message starts with ``Invalid <kind>: `` where
``kind`` names the parameter (``ConditionExpression``, ``FilterExpression``…).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TypeVar

from lark import Token, Tree

from lorafox.tables.errors import ValidationException
from lorafox.tables.expressions.nodes import (
    AddAction,
    And,
    Arithmetic,
    Between,
    Call,
    Compare,
    Condition,
    ConditionExpression,
    DeleteAction,
    IfNotExists,
    In,
    ListAppend,
    Name,
    Not,
    Operand,
    Or,
    Path,
    PathElement,
    Placeholder,
    ProjectionExpression,
    RemoveAction,
    SetAction,
    SetValue,
    Size,
    UpdateExpression,
    UpdateOperand,
)
from lorafox.tables.expressions.reserved import is_reserved
from lorafox.tables.expressions.syntax import MAX_EXPRESSION_BYTES, parse_tree, syntax_error

__all__ = [
    "MAX_EXPRESSION_BYTES",
    "MAX_IN_OPERANDS",
    "MAX_NESTING",
    "parse_condition",
    "parse_projection",
    "parse_update",
]

MAX_IN_OPERANDS = 100
MAX_NESTING = 100
"""Levels of nesting (parentheses, functions) lorafox accepts in one expression."""
_CACHE_SIZE = 2048
_ARITY = {
    "attribute_exists": 1,
    "attribute_not_exists": 1,
    "attribute_type": 2,
    "begins_with": 2,
    "contains": 2,
    "size": 1,
    "if_not_exists": 2,
    "list_append": 2,
}
_CONDITION_FUNCTIONS = frozenset(
    {"attribute_exists", "attribute_not_exists", "attribute_type", "begins_with", "contains"}
)
_NEEDS_PATH = frozenset({"attribute_exists", "attribute_not_exists", "if_not_exists"})
_CONDITION_NODES = frozenset({"compare", "between", "in_", "and_", "or_", "not_"})
# Error categories, in the order DynamoDB reports them when an expression has several.
_CONDITION_ORDER = ("parens", "function", "misused", "reserved", "operands")
_UPDATE_ORDER = ("reserved", "function", "section", "operands")
_BROKEN = Path(("",))
_TOO_DEEP = "The expression has too many levels of nesting;"
MAX_PATH_DEPTH = 32
"""The most steps (names and list indexes) in one document path."""
_Operand = TypeVar("_Operand", Operand, UpdateOperand)
_MISUSED = "The function is not allowed to be used this way in an expression; function: {}"


class _Builder:
    """Turns one parse tree into nodes, collecting the errors that are not syntax errors."""

    def __init__(self, kind: str, text: str) -> None:
        self.kind = kind
        self.text = text
        self.errors: dict[str, str] = {}
        self.names: list[str] = []
        self.values: list[str] = []
        self.depth = 0

    def note(self, category: str, message: str) -> None:
        self.errors.setdefault(category, message)

    def raise_first(self, order: tuple[str, ...]) -> None:
        for category in order:
            if category in self.errors:
                raise ValidationException(f"Invalid {self.kind}: {self.errors[category]}")

    def syntax_at(self, pos: int | None) -> ValidationException:
        return syntax_error(self.kind, self.text, pos)

    # --- paths and placeholders -----------------------------------------------------------------

    def path(self, tree: Tree[Token]) -> Path:
        elements: list[PathElement] = []
        for child in tree.children:
            if isinstance(child, Tree):  # name
                token = child.children[0]
                assert isinstance(token, Token)  # noqa: S101 - grammar guarantees it
                if token.type == "NAME":
                    self.names.append(str(token))
                    elements.append(Name(str(token)))
                else:
                    if is_reserved(token):
                        self.note(
                            "reserved",
                            f"Attribute name is a reserved keyword; reserved keyword: {token}",
                        )
                    elements.append(str(token))
            else:
                elements.append(int(child))
        if len(elements) > MAX_PATH_DEPTH:
            raise ValidationException(
                f"Invalid {self.kind}: The document path has too many nesting levels; "
                f"nesting levels: {len(elements)}"
            )
        return Path(tuple(elements))

    def placeholder(self, token: Token) -> Placeholder:
        self.values.append(str(token))
        return Placeholder(str(token))

    def check_arity(self, function: str, count: int) -> bool:
        expected = _ARITY.get(function)
        if expected is not None and expected != count:
            self.note(
                "operands",
                "Incorrect number of operands for operator or function; "
                f"operator or function: {function}, number of operands: {count}",
            )
            return False
        return True

    def unwrap(self, tree: Tree[Token]) -> Tree[Token]:
        """The content of parentheses; nested parentheses are redundant for DynamoDB."""
        inner = _tree(tree.children[0])
        while inner.data == "parens":
            self.note("parens", "The expression has redundant parentheses;")
            inner = _tree(inner.children[0])
        return inner

    @contextmanager
    def level(self) -> Iterator[None]:
        """One more level of nesting; DynamoDB-style error past ``MAX_NESTING``."""
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise ValidationException(f"Invalid {self.kind}: {_TOO_DEEP}")
        try:
            yield
        finally:
            self.depth -= 1

    # --- conditions ---------------------------------------------------------------------------

    def condition(self, tree: Tree[Token]) -> Condition:
        with self.level():
            return self._condition(tree)

    def _condition(self, tree: Tree[Token]) -> Condition:
        kind, children = tree.data, tree.children
        if kind in ("or_", "and_"):
            # A chain "a AND b AND c" is a left spine in the parse tree: walk it in a loop and
            # build a balanced tree, so that long chains do not nest deeply.
            parts, node = [], tree
            while node.data == kind:
                parts.append(_tree(node.children[2]))
                node = _tree(node.children[0])
            parts.append(node)
            conditions = [self.condition(part) for part in reversed(parts)]
            return _balanced(Or if kind == "or_" else And, conditions)
        if kind == "not_":
            negations, node = 0, tree
            while node.data == "not_":
                negations += 1
                node = _tree(node.children[1])
            inner = self.condition(node)
            return Not(inner) if negations % 2 else inner
        if kind == "parens":
            return self.condition(self.unwrap(tree))
        if kind == "compare":
            left = self.operand(_tree(children[0]))
            return Compare(str(children[1]), left, self.operand(_tree(children[2])))
        if kind == "between":
            operand = self.operand(_tree(children[0]))
            low = self.operand(_tree(children[2]))
            return Between(operand, low, self.operand(_tree(children[4])))
        if kind == "in_":
            operand = self.operand(_tree(children[0]))
            choices = tuple(self.operand(_tree(c)) for c in _tree(children[2]).children)
            if len(choices) > MAX_IN_OPERANDS:
                self.note(
                    "operands",
                    "The IN operator is provided with too many operands; "
                    f"number of operands: {len(choices)}",
                )
            return In(operand, choices)
        if kind == "call":
            function = str(children[0])
            args = tuple(self.operand(_tree(c)) for c in _tree(children[1]).children)
            if function == "size":
                self.note("misused", _MISUSED.format(function))
            elif function not in _CONDITION_FUNCTIONS:
                self.note("function", f"Invalid function name; function: {function}")
            elif self.check_arity(function, len(args)) and function in _NEEDS_PATH:
                self.require_path(function, args[0])
            return Call(function, args)
        # A path or a value where a condition belongs: the next token is unexpected.
        raise self.syntax_at(tree.meta.end_pos)

    def require_path(self, function: str, arg: Operand | UpdateOperand) -> None:
        if not isinstance(arg, Path):
            self.note(
                "operands",
                f"Operator or function requires a document path; operator or function: {function}",
            )

    def operand(self, tree: Tree[Token]) -> Operand:
        return self.path_value_or(tree, self._operand)

    def path_value_or(
        self, tree: Tree[Token], compound: Callable[[Tree[Token]], _Operand]
    ) -> _Operand | Path | Placeholder:
        """``tree`` as the path or the value placeholder it is, which can stand for any operand,
        else ``compound(tree)``; one level of nesting deeper."""
        with self.level():
            if tree.data == "path":
                return self.path(tree)
            if tree.data == "value":
                return self.placeholder(_token(tree.children[0]))
            return compound(tree)

    def _operand(self, tree: Tree[Token]) -> Operand:
        kind, children = tree.data, tree.children
        if kind == "parens":
            inner = self.unwrap(tree)
            if inner.data in _CONDITION_NODES:  # a condition in parentheses, then an operator
                raise self.syntax_at(tree.meta.end_pos)
            return self.operand(inner)
        if kind == "call":
            function = str(children[0])
            args = tuple(self.operand(_tree(c)) for c in _tree(children[1]).children)
            if function in _CONDITION_FUNCTIONS:
                self.note("misused", _MISUSED.format(function))
            elif function != "size":
                self.note("function", f"Invalid function name; function: {function}")
            elif self.check_arity(function, len(args)):
                return Size(args[0])
            return _BROKEN  # an error is noted: the tree is never used
        # A condition where an operand belongs: its operator is the unexpected token.
        if kind in ("and_", "or_", "not_"):
            raise self.syntax_at(_token(children[1] if kind != "not_" else children[0]).start_pos)
        assert kind in _CONDITION_NODES  # noqa: S101
        raise self.syntax_at(_tree(children[0]).meta.end_pos)

    # --- updates ------------------------------------------------------------------------------

    def update_operand(self, tree: Tree[Token]) -> UpdateOperand:
        return self.path_value_or(tree, self._update_operand)

    def _update_operand(self, tree: Tree[Token]) -> UpdateOperand:
        kind, children = tree.data, tree.children
        if kind == "parens":
            inner = self.set_value(_tree(children[0]))
            if isinstance(inner, Arithmetic):
                raise self.syntax_at(tree.meta.end_pos)
            return inner
        if kind == "call":
            function = str(children[0])
            args = tuple(self.update_operand(_tree(c)) for c in children[1:])
            if function not in ("if_not_exists", "list_append"):
                self.note("function", f"Invalid function name; function: {function}")
            elif self.check_arity(function, len(args)):
                if function == "list_append":
                    return ListAppend(args[0], args[1])
                self.require_path(function, args[0])
                if isinstance(args[0], Path):
                    return IfNotExists(args[0], args[1])
            return _BROKEN  # an error is noted: the tree is never used
        raise self.syntax_at(tree.meta.start_pos)  # pragma: no cover - grammar guarantees it

    def set_value(self, tree: Tree[Token]) -> SetValue:
        while tree.data == "parens":
            tree = _tree(tree.children[0])
        if tree.data == "arithmetic":
            children = tree.children
            left = self.update_operand(_tree(children[0]))
            right = self.update_operand(_tree(children[2]))
            return Arithmetic(str(children[1]), left, right)
        return self.update_operand(tree)

    def update(self, tree: Tree[Token]) -> UpdateExpression:
        sections: dict[str, list[SetAction | RemoveAction | AddAction | DeleteAction]] = {}
        for node in tree.children:
            clause = _tree(node)
            keyword = _token(clause.children[0]).upper()
            if keyword in sections:
                self.note(
                    "section",
                    f'The "{keyword}" section can only be used once in an update expression;',
                )
            actions = sections.setdefault(keyword, [])
            rest = clause.children[1:]
            if keyword == "SET":
                for action in rest:
                    target, value = _tree(action).children
                    path = self.path(_tree(target))
                    actions.append(SetAction(path, self.set_value(_tree(value))))
            elif keyword == "REMOVE":
                actions.extend(RemoveAction(self.path(_tree(p))) for p in rest)
            else:
                kind = AddAction if keyword == "ADD" else DeleteAction
                for target, value in zip(rest[::2], rest[1::2], strict=True):
                    path = self.path(_tree(target))
                    actions.append(kind(path, self.placeholder(_token(value))))
        self.raise_first(_UPDATE_ORDER)
        return UpdateExpression(
            set=tuple(a for a in sections.get("SET", ()) if isinstance(a, SetAction)),
            remove=tuple(a for a in sections.get("REMOVE", ()) if isinstance(a, RemoveAction)),
            add=tuple(a for a in sections.get("ADD", ()) if isinstance(a, AddAction)),
            delete=tuple(a for a in sections.get("DELETE", ()) if isinstance(a, DeleteAction)),
            names=tuple(self.names),
            values=tuple(self.values),
        )


def _balanced(kind: type[And] | type[Or], conditions: list[Condition]) -> Condition:
    """``c1 op c2 op … op cn`` as a balanced tree (the order of the operands is kept)."""
    if len(conditions) == 1:
        return conditions[0]
    middle = len(conditions) // 2
    return kind(_balanced(kind, conditions[:middle]), _balanced(kind, conditions[middle:]))


def _tree(node: Tree[Token] | Token) -> Tree[Token]:
    assert isinstance(node, Tree)  # noqa: S101 - the grammar decides
    return node


def _token(node: Tree[Token] | Token) -> Token:
    assert isinstance(node, Token)  # noqa: S101 - the grammar decides
    return node


@contextmanager
def _shallow(kind: str) -> Iterator[None]:
    """Python's recursion limit, should the caller's stack already be deep, as DynamoDB's error."""
    try:
        yield
    except RecursionError:
        raise ValidationException(f"Invalid {kind}: {_TOO_DEEP}") from None


@lru_cache(maxsize=_CACHE_SIZE)
def parse_condition(text: str, kind: str = "ConditionExpression") -> ConditionExpression:
    """Parse a ConditionExpression, FilterExpression or KeyConditionExpression (``kind``)."""
    builder = _Builder(kind, text)
    tree = parse_tree("condition", kind, text)
    with _shallow(kind):
        root = builder.condition(tree)
    builder.raise_first(_CONDITION_ORDER)
    return ConditionExpression(root, tuple(builder.names), tuple(builder.values))


@lru_cache(maxsize=_CACHE_SIZE)
def parse_update(text: str) -> UpdateExpression:
    """Parse an UpdateExpression."""
    builder = _Builder("UpdateExpression", text)
    tree = parse_tree("update", "UpdateExpression", text)
    with _shallow("UpdateExpression"):
        return builder.update(tree)


@lru_cache(maxsize=_CACHE_SIZE)
def parse_projection(text: str) -> ProjectionExpression:
    """Parse a ProjectionExpression."""
    builder = _Builder("ProjectionExpression", text)
    tree = parse_tree("projection", "ProjectionExpression", text)
    paths = tuple(builder.path(_tree(child)) for child in tree.children)
    builder.raise_first(("reserved",))
    return ProjectionExpression(paths, tuple(builder.names))
