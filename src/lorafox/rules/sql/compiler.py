"""AWS IoT SQL text → a ``Statement``: parsed once (Lark), compiled into closures.

``compile_statement(sql, version)`` raises ``SqlParseError`` (with the line and column) for
text the grammar refuses, an unknown or refused function, a wrong number of arguments, or a
construct the SQL version does not have. ``Statement.evaluate(message)`` is pure apart from
``newuuid()``/``rand()``: it returns the SELECT's result, or ``NO_MATCH`` when WHERE is not
exactly true.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from lorafox.rules.errors import SqlParseError
from lorafox.rules.sql import operators
from lorafox.rules.sql.context import Env, MessageContext
from lorafox.rules.sql.functions import FUNCTIONS, REFUSED
from lorafox.rules.sql.grammar import GRAMMAR
from lorafox.rules.sql.values import UNDEFINED, Value, cast, cast_type, from_json, truthy
from lorafox.rules.topics import check_filter

__all__ = [
    "DEFAULT_VERSION",
    "NO_MATCH",
    "VERSIONS",
    "Statement",
    "compile_expression",
    "compile_statement",
]

DEFAULT_VERSION = "2015-10-08"
"""What AWS uses when a rule names no ``awsIotSqlVersion``."""
V2016 = "2016-03-23"
VERSIONS = frozenset({DEFAULT_VERSION, V2016, "beta"})

Compiled = Callable[[Env], Value]


class _NoMatch:
    __slots__ = ()

    def __repr__(self) -> str:
        return "NO_MATCH"


NO_MATCH: Any = _NoMatch()

_NO_ENV: Any = None
"""What a constant's closure is called with at compile time."""
"""What ``Statement.evaluate`` returns when the WHERE clause is not exactly true."""


@functools.cache
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=True)


def _parse(text: str, start: str = "start") -> Tree[Token]:
    if start != "start":
        text = "SELECT " + text + " FROM 'x'"  # noqa: S608 - AWS IoT SQL, not a database's
    try:
        return _parser().parse(text)
    except (UnexpectedEOF, UnexpectedToken) as exc:
        if isinstance(exc, UnexpectedEOF) or exc.token.type == "$END":
            lines = text.split("\n")
            raise SqlParseError(
                "unexpected end of the statement", line=len(lines), column=len(lines[-1]) + 1
            ) from None
        raise SqlParseError(
            f"unexpected {str(exc.token)!r}", line=exc.line, column=exc.column
        ) from None
    except UnexpectedCharacters as exc:
        raise SqlParseError(
            f"unexpected character {exc.char!r}", line=exc.line, column=exc.column
        ) from None
    except UnexpectedInput as exc:  # pragma: no cover - the three above are all LALR raises
        raise SqlParseError(
            "the statement does not parse", line=exc.line, column=exc.column
        ) from None


def _tree(node: Any) -> Tree[Token]:
    """``node`` where the grammar guarantees a tree."""
    if not isinstance(node, Tree):  # pragma: no cover - the grammar gives trees here
        raise SqlParseError("the statement does not parse")
    return node


def _unquote(token: str) -> str:
    quote, body = token[0], token[1:-1]
    if quote == "'":
        body = body.replace("''", "'")
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            following = body[i + 1]
            out.append({"n": "\n", "t": "\t", "r": "\r"}.get(following, following))
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _position(node: Tree[Token] | Token) -> tuple[int | None, int | None]:
    if isinstance(node, Token):
        return node.line, node.column
    meta = node.meta
    return (meta.line, meta.column) if not meta.empty else (None, None)


def _member(container: Value, key: str) -> Value:
    if isinstance(container, dict):
        return container.get(key, UNDEFINED)
    return UNDEFINED


@dataclass(slots=True, frozen=True)
class _Item:
    compiled: Compiled | None
    """None: ``*``."""
    name: str


@dataclass(slots=True, frozen=True)
class _Select:
    value: bool
    items: tuple[_Item, ...]

    def run(self, env: Env) -> Value:
        if self.value:
            item = self.items[0]
            if item.compiled is None:
                return env.doc if env.doc is not UNDEFINED else env.message.payload
            return item.compiled(env)
        if len(self.items) == 1 and self.items[0].compiled is None:
            doc = env.doc
            return doc if doc is not UNDEFINED else env.message.payload
        out: dict[str, Value] = {}
        for item in self.items:
            if item.compiled is None:
                if isinstance(env.doc, dict):
                    out.update(env.doc)
                continue
            result = item.compiled(env)
            if result is not UNDEFINED:
                out[item.name] = result
        return out


class _Compiler:
    """One statement's tree → closures, checked against the SQL version."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.variables: set[str] = set()
        self.functions: set[str] = set()

    def _needs_2016(self, what: str, node: Tree[Token] | Token) -> None:
        if self.version == DEFAULT_VERSION:
            line, column = _position(node)
            raise SqlParseError(
                f"{what} needs awsIotSqlVersion {V2016} (this rule runs {DEFAULT_VERSION}, "
                "the default when none is given)",
                line=line,
                column=column,
            )

    # -- statements -----------------------------------------------------------------------

    def select(self, value: Token | None, items: Tree[Token]) -> _Select:
        compiled: list[_Item] = []
        entries = [child for child in items.children if child is not None]
        for position, raw in enumerate(entries, start=1):
            if isinstance(raw, Tree) and raw.data == "star":
                compiled.append(_Item(None, "*"))
                continue
            entry = _tree(raw)
            expression, alias = entry.children
            name = str(alias) if alias is not None else _default_name(expression, position)
            compiled.append(_Item(self.expr(expression), name))
        if value is not None and len(compiled) != 1:
            line, column = _position(value)
            raise SqlParseError(
                "SELECT VALUE takes exactly one expression", line=line, column=column
            )
        return _Select(value is not None, tuple(compiled))

    # -- expressions ----------------------------------------------------------------------

    def expr(self, node: Tree[Token] | Token) -> Compiled:
        if isinstance(node, Token):  # pragma: no cover - the grammar wraps every token
            raise SqlParseError(f"unexpected {node!s}")
        kind = node.data
        children = node.children
        if kind == "number":
            return self._number(str(children[0]))
        if kind == "string":
            text = _unquote(str(children[0]))
            return lambda env: text
        if kind == "true":
            return lambda env: True
        if kind == "false":
            return lambda env: False
        if kind == "null":
            return lambda env: None
        if kind == "field":
            name = str(children[0])
            return lambda env: _member(env.doc, name)
        if kind == "var":
            return self._variable(children[0])
        if kind == "attr":
            base, key = self.expr(children[0]), str(children[1])
            return lambda env: _member(base(env), key)
        if kind == "index":
            return self._index(self.expr(children[0]), self.expr(children[1]))
        if kind == "call":
            return self._call(node)
        if kind == "cast":
            return self._cast(node)
        if kind == "neg":
            operand = self.expr(children[0])
            return lambda env: operators.negate(operand(env))
        if kind == "binary":
            left, right = self.expr(children[0]), self.expr(children[2])
            fn = operators.ARITHMETIC[str(children[1])]
            return lambda env: fn(left(env), right(env))
        if kind == "compare":
            return self._compare(node)
        if kind == "in_":
            left, right = self.expr(children[0]), self.expr(children[1])
            return lambda env: operators.contained(left(env), right(env))
        if kind == "and_":
            left, right = self.expr(children[0]), self.expr(children[1])
            return lambda env: operators.logical_and(left(env), right(env))
        if kind == "or_":
            left, right = self.expr(children[0]), self.expr(children[1])
            return lambda env: operators.logical_or(left(env), right(env))
        if kind == "not_":
            operand = self.expr(children[0])
            return lambda env: operators.logical_not(operand(env))
        if kind == "case":
            return self._case(node)
        if kind == "object":
            return self._object(node)
        if kind == "array":
            self._needs_2016("an array literal", node)
            elements = [self.expr(child) for child in children if child is not None]
            return lambda env: [e(env) for e in elements]
        if kind == "nested":
            return self._nested(node)
        line, column = _position(node)  # pragma: no cover - every rule is handled above
        raise SqlParseError(f"unsupported expression {kind}", line=line, column=column)

    def _compare(self, node: Tree[Token]) -> Compiled:
        left_node, operator, right_node = node.children
        left, right = self.expr(left_node), self.expr(right_node)
        test = operators.COMPARISONS[str(operator)]
        if (
            str(operator) == "=" and isinstance(right_node, Tree) and right_node.data == "string"
        ):  # the common ``field = 'text'``: no conversion table needed
            text = right(_NO_ENV)

            def equals_text(env: Env) -> Value:
                value = left(env)
                if value is UNDEFINED:
                    return UNDEFINED
                return type(value) is str and value == text

            return equals_text
        return lambda env: test(left(env), right(env))

    def _number(self, text: str) -> Compiled:
        if any(c in text for c in ".eE"):
            number: int | float = float(text)
            if (
                self.version != DEFAULT_VERSION
                and number == int(number)
                and "e" not in text.lower()
            ):
                number = int(number)
        else:
            number = int(text)
        return lambda env: number

    def _variable(self, token: Tree[Token] | Token) -> Compiled:
        name = str(token)
        if name not in self.variables:
            line, column = _position(token)
            raise SqlParseError(
                f"variable {name} is not SET before it is used", line=line, column=column
            )
        return lambda env: env.variables.get(name, UNDEFINED)

    @staticmethod
    def _index(base: Compiled, index: Compiled) -> Compiled:
        def run(env: Env) -> Value:
            container, at = base(env), index(env)
            if isinstance(container, list) and isinstance(at, int) and not isinstance(at, bool):
                return container[at] if 0 <= at < len(container) else UNDEFINED
            return UNDEFINED

        return run

    def _call(self, node: Tree[Token]) -> Compiled:
        name_token, arguments = node.children
        name = str(name_token).lower()
        line, column = _position(name_token)
        if name in REFUSED:
            raise SqlParseError(
                f"{name_token}() {REFUSED[name]}: lorafox does not call AWS services",
                line=line,
                column=column,
            )
        function = FUNCTIONS.get(name)
        if function is None:
            raise SqlParseError(f"unknown function {name_token}()", line=line, column=column)
        if function.needs_2016:
            self._needs_2016(f"{name_token}()", name_token)
        args: list[Compiled] = []
        if isinstance(arguments, Tree):
            for argument in arguments.children:
                if isinstance(argument, Tree) and argument.data == "star_argument":
                    args.append(lambda env: env.message.payload)
                else:
                    args.append(self.expr(argument))
        if not function.min_args <= len(args) <= function.max_args:
            wanted = (
                str(function.min_args)
                if function.min_args == function.max_args
                else f"{function.min_args} to {function.max_args}"
            )
            raise SqlParseError(
                f"{name_token}() takes {wanted} arguments, not {len(args)}",
                line=line,
                column=column,
            )
        if name == "get_dynamodb" and name in self.functions:
            raise SqlParseError(
                "get_dynamodb() may be called once per statement", line=line, column=column
            )
        self.functions.add(name)
        call = function.call
        if function.context:
            if function.takes_undefined:
                return lambda env: call(env, *(a(env) for a in args))

            def contextual(env: Env) -> Value:
                values = [a(env) for a in args]
                if any(v is UNDEFINED for v in values):
                    return UNDEFINED
                return call(env, *values)

            return contextual
        if function.takes_undefined:
            return lambda env: call(*(a(env) for a in args))
        if len(args) == 1:
            only = args[0]

            def unary(env: Env) -> Value:
                value = only(env)
                return UNDEFINED if value is UNDEFINED else call(value)

            return unary

        def plain(env: Env) -> Value:
            values = [a(env) for a in args]
            if any(v is UNDEFINED for v in values):
                return UNDEFINED
            return call(*values)

        return plain

    def _cast(self, node: Tree[Token]) -> Compiled:
        operand, type_token = node.children
        target = cast_type(str(type_token))
        if target is None:
            line, column = _position(type_token)
            raise SqlParseError(f"cannot cast to {type_token}", line=line, column=column)
        if str(type_token).lower() in ("decimal", "bool", "boolean"):
            self._needs_2016(f"cast to {type_token}", type_token)
        compiled = self.expr(operand)
        return lambda env: cast(compiled(env), target)

    def _case(self, node: Tree[Token]) -> Compiled:
        subject = self.expr(node.children[0])
        branches: list[tuple[Compiled, Compiled]] = []
        otherwise: Compiled | None = None
        for child in node.children[1:]:
            if isinstance(child, Tree) and child.data == "when":
                branches.append((self.expr(child.children[0]), self.expr(child.children[1])))
            elif child is not None:
                otherwise = self.expr(child)

        def run(env: Env) -> Value:
            value = subject(env)
            if value is UNDEFINED:
                return UNDEFINED
            for test, result in branches:
                if operators.COMPARISONS["="](value, test(env)) is True:
                    return result(env)
            return otherwise(env) if otherwise is not None else UNDEFINED

        return run

    def _object(self, node: Tree[Token]) -> Compiled:
        self._needs_2016("an object literal", node)
        pairs: list[tuple[str, Compiled]] = []
        for child in node.children:
            if child is None:
                continue
            pair = _tree(child)
            key_token, value = pair.children
            key = str(key_token)
            if isinstance(key_token, Token) and key_token.type == "STRING":
                key = _unquote(key)
            pairs.append((key, self.expr(value)))

        def run(env: Env) -> Value:
            out: dict[str, Value] = {}
            for key, compiled in pairs:
                value = compiled(env)
                if value is not UNDEFINED:
                    out[key] = value
            return out

        return run

    def _nested(self, node: Tree[Token]) -> Compiled:
        self._needs_2016("a nested SELECT", node)
        value, items, source, where = node.children
        items = _tree(items)
        select = self.select(value if isinstance(value, Token) else None, items)
        array = self.expr(source)
        condition = self.expr(where) if where is not None else None

        def run(env: Env) -> Value:
            elements = array(env)
            if not isinstance(elements, list):
                return UNDEFINED
            out: list[Value] = []
            for element in elements:
                inner = Env(env.message, element, env.version, env.variables)
                if condition is not None and not truthy(condition(inner)):
                    continue
                result = select.run(inner)
                if result is not UNDEFINED:
                    out.append(result)
            return out

        return run


def _path_of(node: Tree[Token] | Token) -> tuple[str, ...] | None:
    """The keys of a plain path (``a.b.c``), None for anything else."""
    if isinstance(node, Tree):
        if node.data == "field":
            return (str(node.children[0]),)
        if node.data == "attr":
            base = _path_of(node.children[0])
            return None if base is None else (*base, str(node.children[1]))
    return None


def _guard(node: Tree[Token] | Token | None) -> tuple[tuple[str, ...], str] | None:
    """A ``path = 'text'`` the WHERE clause needs to be true (alone, or ANDed with more):
    when the payload has no such text there, the rule cannot fire."""
    if not isinstance(node, Tree):
        return None
    if node.data == "and_":
        return _guard(node.children[0]) or _guard(node.children[1])
    if node.data == "compare" and str(node.children[1]) == "=":
        for path_node, text_node in (node.children[0::2], node.children[2::-2]):
            path = _path_of(path_node)
            if path is not None and isinstance(text_node, Tree) and text_node.data == "string":
                return path, _unquote(str(text_node.children[0]))
    return None


def _default_name(expression: Tree[Token] | Token, position: int) -> str:
    """An unaliased path is named by its last key, anything else ``_<position>``."""
    if isinstance(expression, Tree):
        if expression.data == "field":
            return str(expression.children[0])
        if expression.data == "attr":
            return str(expression.children[1])
    return f"_{position}"


@dataclass(slots=True, frozen=True)
class Statement:
    """One compiled rule statement."""

    sql: str
    version: str
    topic_filter: str
    functions: frozenset[str]
    variables: frozenset[str]
    """The names its SET clause gives (templates may use them)."""
    guard: tuple[tuple[str, ...], str] | None
    """A ``path = 'text'`` its WHERE needs (the engine skips payloads without it)."""
    _sets: tuple[tuple[str, Compiled], ...]
    _select: _Select
    _where: Compiled | None

    @property
    def reads_tables(self) -> bool:
        """Whether it calls ``get_dynamodb`` (its evaluation runs twice: to learn the read,
        then with the item)."""
        return "get_dynamodb" in self.functions

    @property
    def has_variables(self) -> bool:
        """Whether it SETs variables or reads tables (its evaluation state is then its own)."""
        return bool(self._sets) or self.reads_tables

    @property
    def whole_decimals(self) -> bool:
        """Whether payloads are read with whole-number decimals as Ints (2016-03-23)."""
        return self.version != DEFAULT_VERSION

    def env(
        self, message: MessageContext, doc: Value = None, lookups: dict[Any, Any] | None = None
    ) -> Env:
        """The evaluation state of ``message``: its document (``doc``: already parsed by
        ``values.from_json`` with ``whole_decimals``, shared by rules), the items read for
        ``get_dynamodb`` and the SET variables."""
        if doc is None:
            doc = from_json(message.payload, whole_decimals=self.whole_decimals)
        env = Env(message, doc, self.version, {}, lookups)
        for name, compiled in self._sets:
            env.variables[name] = compiled(env)
        return env

    def evaluate(self, message: MessageContext) -> Value:
        """The SELECT's result for ``message`` (bytes for a binary ``SELECT *``), ``NO_MATCH``
        when WHERE is not exactly true."""
        return self.run(self.env(message))

    def run(self, env: Env) -> Value:
        """``evaluate`` on an ``env`` made by ``Statement.env`` (templates then reuse it)."""
        if self._where is not None and not truthy(self._where(env)):
            return NO_MATCH
        return self._select.run(env)


MAX_DEPTH = 200
"""How deeply expressions may nest (deeper statements are refused, not run into Python's
recursion limit)."""


def _depth(tree: Tree[Token]) -> int:
    deepest = 0
    stack: list[tuple[Tree[Token], int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, Tree))
    return deepest


def _shallow(tree: Tree[Token]) -> Tree[Token]:
    if _depth(tree) > MAX_DEPTH:
        raise SqlParseError(f"the statement nests more than {MAX_DEPTH} levels deep")
    return tree


def compile_statement(sql: str, version: str | None = None) -> Statement:
    """Parse and compile ``sql`` under ``version`` (None: 2015-10-08, as AWS)."""
    version = version or DEFAULT_VERSION
    if version not in VERSIONS:
        raise SqlParseError(
            f"unknown awsIotSqlVersion {version!r}: use {V2016} or {DEFAULT_VERSION}"
        )
    tree = _shallow(_parse(sql))
    compiler = _Compiler(version)
    set_clause, value, items, topic, where = tree.children
    sets: list[tuple[str, Compiled]] = []
    if isinstance(set_clause, Tree):
        for child in set_clause.children:
            assignment = _tree(child)
            name_token, expression = assignment.children
            name = str(name_token)
            if name in compiler.variables:
                line, column = _position(name_token)
                raise SqlParseError(f"variable {name} is SET twice", line=line, column=column)
            sets.append((name, compiler.expr(expression)))
            compiler.variables.add(name)
    items = _tree(items)
    select = compiler.select(value if isinstance(value, Token) else None, items)
    if topic is None:
        raise SqlParseError("the statement needs a FROM 'topic/filter' clause")
    topic = _tree(topic)
    raw = str(topic.children[0])
    topic_filter = _unquote(raw) if raw[:1] in ("'", '"') else raw
    problem = check_filter(topic_filter)
    if problem is not None:
        line, column = _position(topic)
        raise SqlParseError(f"FROM {topic_filter!r}: {problem}", line=line, column=column)
    return Statement(
        sql=sql,
        version=version,
        topic_filter=topic_filter,
        functions=frozenset(compiler.functions),
        variables=frozenset(compiler.variables),
        guard=_guard(where),
        _sets=tuple(sets),
        _select=select,
        _where=compiler.expr(where) if where is not None else None,
    )


def compile_expression(
    text: str, version: str | None = None, variables: frozenset[str] = frozenset()
) -> Callable[[Env], Value]:
    """One expression (a substitution template's ``${…}``), compiled; ``variables``: the
    statement's SET variables it may use."""
    tree = _shallow(_parse(text, start="expression"))
    items = tree.children[2]
    items = _tree(items)
    entries = [c for c in items.children if c is not None]
    if len(entries) != 1 or not isinstance(entries[0], Tree) or entries[0].data != "item":
        raise SqlParseError(f"not one expression: {text!r}")
    compiler = _Compiler(version or DEFAULT_VERSION)
    compiler.variables.update(variables)
    return compiler.expr(entries[0].children[0])
