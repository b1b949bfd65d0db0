"""Parsing expressions into the syntax tree, and every error the parser itself raises."""

from __future__ import annotations

import pytest

from lorafox.tables.errors import ValidationException
from lorafox.tables.expressions import parse_condition, parse_projection, parse_update
from lorafox.tables.expressions.nodes import (
    AddAction,
    And,
    Arithmetic,
    Between,
    Call,
    Compare,
    DeleteAction,
    IfNotExists,
    In,
    ListAppend,
    Name,
    Not,
    Or,
    Path,
    Placeholder,
    RemoveAction,
    SetAction,
    Size,
)
from lorafox.tables.expressions.reserved import RESERVED_WORDS, is_reserved

A, B, C = Path(("a",)), Path(("b",)), Path(("c",))
V, W = Placeholder(":v"), Placeholder(":w")


def condition_error(text: str, kind: str = "ConditionExpression") -> str:
    with pytest.raises(ValidationException) as caught:
        parse_condition(text, kind)
    return caught.value.message


def update_error(text: str) -> str:
    with pytest.raises(ValidationException) as caught:
        parse_update(text)
    return caught.value.message


def projection_error(text: str) -> str:
    with pytest.raises(ValidationException) as caught:
        parse_projection(text)
    return caught.value.message


# --- conditions --------------------------------------------------------------------------------


@pytest.mark.parametrize("op", ["=", "<>", "<", "<=", ">", ">="])
def test_comparators(op: str) -> None:
    assert parse_condition(f"a {op} :v").root == Compare(op, A, V)
    assert parse_condition(f"a{op}:v").root == Compare(op, A, V)


def test_paths() -> None:
    parsed = parse_condition("a.#b[2].c_1[10][0] = :v")
    assert parsed.root == Compare("=", Path(("a", Name("#b"), 2, "c_1", 10, 0)), V)
    assert parsed.names == ("#b",)
    assert parsed.values == (":v",)
    assert parse_condition("a . b [ 1 ] = :v").root == Compare("=", Path(("a", "b", 1)), V)
    assert parse_condition("_x = :v").root == Compare("=", Path(("_x",)), V)


def test_between_in_and_functions() -> None:
    assert parse_condition("a BETWEEN :v AND :w").root == Between(A, V, W)
    assert parse_condition("a in (:v, :w, b)").root == In(A, (V, W, B))
    assert parse_condition("attribute_exists(a)").root == Call("attribute_exists", (A,))
    assert parse_condition("attribute_not_exists(a)").root == Call("attribute_not_exists", (A,))
    assert parse_condition("attribute_type(a, :v)").root == Call("attribute_type", (A, V))
    assert parse_condition("begins_with(a, :v)").root == Call("begins_with", (A, V))
    assert parse_condition("contains(a, b)").root == Call("contains", (A, B))
    assert parse_condition("size(a) > :v").root == Compare(">", Size(A), V)
    assert parse_condition(":v = size(a)").root == Compare("=", V, Size(A))


def test_precedence_not_and_or() -> None:
    # NOT binds tighter than AND, AND tighter than OR.
    parsed = parse_condition("NOT a = :v AND b = :v OR c = :w")
    assert parsed.root == Or(And(Not(Compare("=", A, V)), Compare("=", B, V)), Compare("=", C, W))
    parsed = parse_condition("a = :v OR b = :v AND c = :w")
    assert parsed.root == Or(Compare("=", A, V), And(Compare("=", B, V), Compare("=", C, W)))
    parsed = parse_condition("(a = :v OR b = :v) AND NOT (c = :w)")
    assert parsed.root == And(Or(Compare("=", A, V), Compare("=", B, V)), Not(Compare("=", C, W)))
    assert parse_condition("a BETWEEN :v AND :w AND b = :v").root == And(
        Between(A, V, W), Compare("=", B, V)
    )


def test_keywords_are_case_insensitive_and_whole_words() -> None:
    assert parse_condition("a = :v and b = :v").root == And(Compare("=", A, V), Compare("=", B, V))
    assert parse_condition("a BeTwEeN :v aNd :w").root == Between(A, V, W)
    assert parse_condition("notes = :v").root == Compare("=", Path(("notes",)), V)
    assert parse_condition("orange = :v").root == Compare("=", Path(("orange",)), V)
    assert parse_condition("android IN (:v)").root == In(Path(("android",)), (V,))


def test_parenthesised_operands() -> None:
    assert parse_condition("(a) = (:v)").root == Compare("=", A, V)
    assert parse_condition("(a = :v)").root == Compare("=", A, V)


def test_parses_are_cached() -> None:
    assert parse_condition("a = :cached") is parse_condition("a = :cached")
    assert parse_update("SET a = :cached") is parse_update("SET a = :cached")
    assert parse_projection("a, cached") is parse_projection("a, cached")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The expression can not be empty;"),
        ("a = ", 'Syntax error; token: "<EOF>", near: "= "'),
        ("a", 'Syntax error; token: "<EOF>", near: "a"'),
        ("a = :v AND b", 'Syntax error; token: "<EOF>", near: "b"'),
        ("a AND b = :v", 'Syntax error; token: "AND", near: "a AND b"'),
        ("a == :v", 'Syntax error; token: "=", near: "== :v"'),
        ("a = :v :w", 'Syntax error; token: ":w", near: ":v :w"'),
        ("a = $", 'Syntax error; token: "$", near: "= $"'),
        ("a-b = :v", 'Syntax error; token: "-", near: "a-b"'),
        ("a = : v", 'Syntax error; token: ":", near: "= : v"'),
        ("# = :v", 'Syntax error; token: "#", near: "# ="'),
        ("a[x] = :v", 'Syntax error; token: "x", near: "[x]"'),
        ("1a = :v", 'Syntax error; token: "1a", near: "1a ="'),
        ("a IN ()", 'Syntax error; token: ")", near: "()"'),
        ("(a = :v) = :w", 'Syntax error; token: "=", near: ") = :w"'),
        ("size(a = :v) = :w", 'Syntax error; token: "=", near: "a = :v"'),
        ("size(NOT a) = :w", 'Syntax error; token: "NOT", near: "(NOT a"'),
        ("size(a OR b) = :w", 'Syntax error; token: "OR", near: "a OR b"'),
        ("NOT", 'Syntax error; token: "<EOF>", near: "NOT"'),
        ("((a = :v))", "The expression has redundant parentheses;"),
        ("((a)) = :v", "The expression has redundant parentheses;"),
        ("NOT ((a = :v))", "The expression has redundant parentheses;"),
        ("foo(a)", "Invalid function name; function: foo"),
        ("ATTRIBUTE_EXISTS(a)", "Invalid function name; function: ATTRIBUTE_EXISTS"),
        ("if_not_exists(a, :v) = :v", "Invalid function name; function: if_not_exists"),
        (
            "size(a)",
            "The function is not allowed to be used this way in an expression; function: size",
        ),
        (
            "attribute_exists(a) = :v",
            (
                "The function is not allowed to be used this way in an "
                "expression; function: attribute_exists"
            ),
        ),
        (
            "a IN (contains(a, :v))",
            "The function is not allowed to be used this way in an expression; function: contains",
        ),
        ("status = :v", "Attribute name is a reserved keyword; reserved keyword: status"),
        ("a.Size = :v", "Attribute name is a reserved keyword; reserved keyword: Size"),
        (
            "a = :v AND b[1].Data = :w",
            "Attribute name is a reserved keyword; reserved keyword: Data",
        ),
        (
            "begins_with(a)",
            "Incorrect number of operands for operator or function; "
            "operator or function: begins_with, number of operands: 1",
        ),
        (
            "attribute_exists(a, b)",
            "Incorrect number of operands for operator or function; "
            "operator or function: attribute_exists, number of operands: 2",
        ),
        (
            "size(a, b) = :v",
            "Incorrect number of operands for operator or function; "
            "operator or function: size, number of operands: 2",
        ),
        (
            "attribute_not_exists(:v)",
            (
                "Operator or function requires a document path; operator or "
                "function: attribute_not_exists"
            ),
        ),
        (
            "a IN (" + ", ".join(f":v{i}" for i in range(101)) + ")",
            "The IN operator is provided with too many operands; number of operands: 101",
        ),
    ],
)
def test_condition_errors(text: str, message: str) -> None:
    assert condition_error(text) == f"Invalid ConditionExpression: {message}"


def test_error_order_follows_dynamodb() -> None:
    # Redundant parentheses first, then unknown functions, misused functions, reserved words.
    assert condition_error("((status = :v)) AND foo(a)").endswith("redundant parentheses;")
    assert condition_error("status = :v AND foo(a)").endswith("function: foo")
    assert condition_error("status = :v AND size(a)").endswith("function: size")
    assert condition_error("begins_with(status)").endswith("reserved keyword: status")


def test_kind_names_the_parameter() -> None:
    assert (
        condition_error("", "FilterExpression")
        == "Invalid FilterExpression: The expression can not be empty;"
    )
    assert condition_error("a", "KeyConditionExpression").startswith(
        "Invalid KeyConditionExpression: Syntax"
    )
    assert parse_condition("a = :v", "FilterExpression").root == Compare("=", A, V)


def test_expressions_are_limited_to_4_kb() -> None:
    longest = ("a = :v AND " * 371 + "b = :v").ljust(4096)
    parse_condition(longest)
    assert condition_error(longest + "x", "FilterExpression") == (
        "Invalid ConditionExpression: Expression size has exceeded the maximum allowed size; "
        "expression size: 4097"
    ).replace("ConditionExpression", "FilterExpression")
    assert update_error("SET é = :v" + " " * 4090).endswith("expression size: 4101")


def test_long_chains_and_deep_nesting() -> None:
    chain = parse_condition(" AND ".join(f"a{i} = :v" for i in range(300)))
    depth, node = 0, chain.root
    while isinstance(node, And):
        depth, node = depth + 1, node.left
    assert depth < 10  # balanced, not 300 deep
    assert parse_condition("NOT NOT a = :v").root == Compare("=", A, V)
    assert parse_condition("NOT NOT NOT a = :v").root == Not(Compare("=", A, V))
    assert parse_condition("NOT " * 1000 + "a = :v").root == Compare("=", A, V)
    assert condition_error("(" * 2000 + "a = :v" + ")" * 2000).endswith("redundant parentheses;")
    too_deep = "Invalid ConditionExpression: The expression has too many levels of nesting;"
    assert condition_error("(a = :v AND " * 120 + "b = :v" + ")" * 120) == too_deep
    assert condition_error("size(" * 120 + "a" + ")" * 120 + " = :v") == too_deep
    assert parse_update("SET a = " + "(" * 1000 + "b" + ")" * 1000).set == (SetAction(A, B),)
    with pytest.raises(ValidationException, match="too many levels of nesting"):
        parse_update("SET a = " + "list_append(" * 120 + "b" + ", c)" * 120)


def test_in_accepts_100_operands() -> None:
    parsed = parse_condition("a IN (" + ", ".join(f":v{i}" for i in range(100)) + ")")
    assert isinstance(parsed.root, In)
    assert len(parsed.root.choices) == 100


# --- updates -----------------------------------------------------------------------------------


def test_update_clauses() -> None:
    parsed = parse_update("SET a = :v, b = c + :w REMOVE d, e[1] ADD f :v, g :w DELETE h :v")
    assert parsed.set == (SetAction(A, V), SetAction(B, Arithmetic("+", C, Placeholder(":w"))))
    assert parsed.remove == (RemoveAction(Path(("d",))), RemoveAction(Path(("e", 1))))
    assert parsed.add == (AddAction(Path(("f",)), V), AddAction(Path(("g",)), W))
    assert parsed.delete == (DeleteAction(Path(("h",)), V),)
    assert parsed.values == (":v", ":w", ":v", ":w", ":v")
    assert [p.elements for p in parsed.paths] == [
        ("a",),
        ("b",),
        ("d",),
        ("e", 1),
        ("f",),
        ("g",),
        ("h",),
    ]


def test_update_functions_and_case() -> None:
    parsed = parse_update("set #a = list_append(if_not_exists(#a, :empty), :v) remove b")
    assert parsed.set == (
        SetAction(
            Path((Name("#a"),)),
            ListAppend(IfNotExists(Path((Name("#a"),)), Placeholder(":empty")), V),
        ),
    )
    assert parsed.names == ("#a", "#a")
    assert parse_update("REMOVE a SET b = :v").set == (SetAction(B, V),)
    assert parse_update("SET a = (b - :v)").set == (SetAction(A, Arithmetic("-", B, V)),)
    assert parse_update("SET a = (b) - (:v)").set == (SetAction(A, Arithmetic("-", B, V)),)
    assert parse_update("SET a=b-:v").set == (SetAction(A, Arithmetic("-", B, V)),)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The expression can not be empty;"),
        ("ADD hits : incr", 'Syntax error; token: ":", near: "hits : incr"'),
        ("INVALID SYNTAX HERE", 'Syntax error; token: "INVALID", near: "INVALID SYNTAX"'),
        ("SET a = :v, ", 'Syntax error; token: "<EOF>", near: ", "'),
        ("SET a = :v, #,", 'Syntax error; token: "#", near: ", #,"'),
        ("SET a = b + c + d", 'Syntax error; token: "+", near: "c + d"'),
        ("SET a = (b + c) + d", 'Syntax error; token: "+", near: ") + d"'),
        ("SET a = list_append(b + c, d)", 'Syntax error; token: "+", near: "b + c"'),
        ("SET a", 'Syntax error; token: "<EOF>", near: "a"'),
        ("REMOVE", 'Syntax error; token: "<EOF>", near: "REMOVE"'),
        ("ADD a b", 'Syntax error; token: "b", near: "a b"'),
        ("DELETE a", 'Syntax error; token: "<EOF>", near: "a"'),
        (
            "SET a = :v SET b = :v",
            'The "SET" section can only be used once in an update expression;',
        ),
        (
            "remove a REMOVE b",
            'The "REMOVE" section can only be used once in an update expression;',
        ),
        ("SET a = foo(b)", "Invalid function name; function: foo"),
        ("SET a = size(b)", "Invalid function name; function: size"),
        ("SET status = :v", "Attribute name is a reserved keyword; reserved keyword: status"),
        (
            "SET a = if_not_exists(b, :v, :w)",
            (
                "Incorrect number of operands for operator or function; "
                "operator or function: if_not_exists, number of operands: 3"
            ),
        ),
        (
            "SET a = list_append(b)",
            (
                "Incorrect number of operands for operator or function; "
                "operator or function: list_append, number of operands: 1"
            ),
        ),
        (
            "SET a = if_not_exists(:v, b)",
            "Operator or function requires a document path; operator or function: if_not_exists",
        ),
    ],
)
def test_update_errors(text: str, message: str) -> None:
    assert update_error(text) == f"Invalid UpdateExpression: {message}"


def test_update_error_order() -> None:
    assert update_error("SET status = foo(a) SET b = :v").endswith("reserved keyword: status")
    assert update_error("SET a = foo(b) SET b = :v").endswith("function: foo")


# --- projections -------------------------------------------------------------------------------


def test_projection() -> None:
    parsed = parse_projection("a, b.c[2], #d")
    assert parsed.paths == (A, Path(("b", "c", 2)), Path((Name("#d"),)))
    assert parsed.names == ("#d",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "The expression can not be empty;"),
        ("a,", 'Syntax error; token: "<EOF>", near: ","'),
        ("a b", 'Syntax error; token: "b", near: "a b"'),
        ("a-b", 'Syntax error; token: "-", near: "a-b"'),
        ("a, status", "Attribute name is a reserved keyword; reserved keyword: status"),
        ("a = :v", 'Syntax error; token: "=", near: "a = :v"'),
    ],
)
def test_projection_errors(text: str, message: str) -> None:
    assert projection_error(text) == f"Invalid ProjectionExpression: {message}"


def test_reserved_words() -> None:
    assert len(RESERVED_WORDS) == 573
    assert is_reserved("status")
    assert is_reserved("Date")
    assert not is_reserved("notes")
    assert {"AND", "OR", "NOT", "BETWEEN", "IN", "SET", "ADD", "DELETE", "SIZE"} <= RESERVED_WORDS
