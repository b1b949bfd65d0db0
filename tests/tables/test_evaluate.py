"""Conditions evaluated against items: each construct, DynamoDB's semantics."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from lorafox.tables.errors import ValidationException
from lorafox.tables.expressions import evaluate_condition, parse_condition, parse_expressions
from lorafox.tables.expressions.evaluate import compare_values
from lorafox.tables.expressions.nodes import Compare, Path, Placeholder


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


ITEM: dict[str, Any] = {
    "s": {"S": "hello"},
    "n": {"N": "10"},
    "neg": {"N": "-2.5"},
    "b": {"B": b64(b"\x01\x02\x03")},
    "t": {"BOOL": True},
    "z": {"NULL": True},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2"]},
    "bs": {"BS": [b64(b"x")]},
    "l": {"L": [{"S": "a"}, {"N": "1"}, {"M": {"k": {"S": "v"}}}]},
    "m": {
        "M": {"k": {"S": "v"}, "inside": {"M": {"deep": {"N": "3"}}}, "lst": {"L": [{"N": "7"}]}}
    },
    "unicode": {"S": "é😀"},
}

VALUES: dict[str, Any] = {
    ":hello": {"S": "hello"},
    ":he": {"S": "he"},
    ":ell": {"S": "ell"},
    ":a": {"S": "a"},
    ":z": {"S": "z"},
    ":five": {"N": "5"},
    ":ten": {"N": "10.0"},
    ":eleven": {"N": "11"},
    ":one": {"N": "1"},
    ":two": {"N": "2"},
    ":three": {"N": "3"},
    ":seven": {"N": "7"},
    ":b12": {"B": b64(b"\x01\x02")},
    ":b23": {"B": b64(b"\x02\x03")},
    ":bx": {"B": b64(b"x")},
    ":true": {"BOOL": True},
    ":null": {"NULL": True},
    ":ss": {"SS": ["b", "a"]},
    ":ns": {"NS": ["2", "1"]},
    ":m": {"M": {"k": {"S": "v"}}},
    ":l": {"L": [{"S": "a"}, {"N": "1"}, {"M": {"k": {"S": "v"}}}]},
    ":S": {"S": "S"},
    ":N": {"N": "0"},
    ":typeN": {"S": "N"},
    ":typeSS": {"S": "SS"},
    ":typeL": {"S": "L"},
    ":typeM": {"S": "M"},
    ":typeNULL": {"S": "NULL"},
    ":typeBOOL": {"S": "BOOL"},
}


def holds(text: str, item: dict[str, Any] | None = None) -> bool:
    parsed = parse_condition(text)
    used = {key: VALUES[key] for key in parsed.values}
    return evaluate_condition(parsed, ITEM if item is None else item, None, used)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # equality: any type, numbers by value, sets unordered, lists and maps deep
        ("s = :hello", True),
        ("n = :ten", True),
        ("n <> :ten", False),
        ("n = :hello", False),
        ("ss = :ss", True),
        ("ns = :ns", True),
        ("l = :l", True),
        ("l[2] = :m", True),
        ("m.k = :a", False),
        ("t = :true", True),
        ("z = :null", True),
        # order: same type among N, S, B only
        ("n > :five", True),
        ("n >= :ten", True),
        ("n < :eleven", True),
        ("n <= :five", False),
        ("neg < :one", True),
        ("s > :a", True),
        ("s < :z", True),
        ("b > :b12", True),
        ("b < :b23", True),
        ("n > :hello", False),
        ("ss > :a", False),
        ("t < :true", False),
        # absent attributes
        ("absent = :one", False),
        ("absent <> :one", True),
        ("absent < :one", False),
        ("absent <> nothing_here", False),
        ("m.nope.deeper = :one", False),
        ("s.k = :a", False),
        ("l[7] = :a", False),
        ("m[0] = :a", False),
        ("l.k = :a", False),
        # paths
        ("m.inside.deep = :three", True),
        ("m.lst[0] = :seven", True),
        ("l[0] = :a", True),
        ("l[2].k = :a", False),
        # BETWEEN and IN
        ("n BETWEEN :five AND :eleven", True),
        ("n BETWEEN :ten AND :ten", True),
        ("n BETWEEN :eleven AND :ten", False),
        ("n BETWEEN :a AND :z", False),
        ("s BETWEEN :a AND :z", True),
        ("absent BETWEEN :one AND :two", False),
        ("n IN (:one, :ten)", True),
        ("n IN (:one, :two)", False),
        ("absent IN (:one)", False),
        ("ss IN (:ss)", True),
        # functions
        ("attribute_exists(s)", True),
        ("attribute_exists(m.inside.deep)", True),
        ("attribute_exists(m.inside.nope)", False),
        ("attribute_not_exists(absent)", True),
        ("attribute_not_exists(l[3])", True),
        ("attribute_type(s, :S)", True),
        ("attribute_type(n, :typeN)", True),
        ("attribute_type(ss, :typeSS)", True),
        ("attribute_type(l, :typeL)", True),
        ("attribute_type(m, :typeM)", True),
        ("attribute_type(z, :typeNULL)", True),
        ("attribute_type(t, :typeBOOL)", True),
        ("attribute_type(n, :S)", False),
        ("attribute_type(absent, :S)", False),
        ("begins_with(s, :he)", True),
        ("begins_with(s, :ell)", False),
        ("begins_with(b, :b12)", True),
        ("begins_with(b, :b23)", False),
        ("begins_with(n, :he)", False),
        ("begins_with(absent, :he)", False),
        ("contains(s, :ell)", True),
        ("contains(s, :z)", False),
        ("contains(ss, :a)", True),
        ("contains(ss, :z)", False),
        ("contains(ns, :one)", True),
        ("contains(ns, :a)", False),
        ("contains(bs, :bx)", True),
        ("contains(b, :b23)", True),
        ("contains(l, :a)", True),
        ("contains(l, :one)", True),
        ("contains(l, :m)", True),
        ("contains(l, :z)", False),
        ("contains(n, :one)", False),
        ("contains(m, :a)", False),
        ("contains(absent, :a)", False),
        ("contains(s, :hello)", True),
        # size
        ("size(s) = :five", True),
        ("size(unicode) = :two", True),
        ("size(b) = :three", True),
        ("size(ss) = :two", True),
        ("size(ns) = :two", True),
        ("size(bs) = :one", True),
        ("size(l) = :three", True),
        ("size(m) = :three", True),
        ("size(n) = :two", False),
        ("size(n) <> :two", True),
        ("size(t) > :one", False),
        ("size(absent) = :one", False),
        ("size(m.inside) = :one", True),
        # logic
        ("n = :ten AND s = :hello", True),
        ("n = :ten AND s = :a", False),
        ("n = :one OR s = :hello", True),
        ("NOT n = :one", True),
        ("NOT (n = :ten OR s = :a)", False),
        ("NOT NOT attribute_exists(s)", True),
    ],
)
def test_conditions(text: str, expected: bool) -> None:
    assert holds(text) is expected


def test_no_item_is_an_empty_item() -> None:
    parsed = parse_condition("attribute_not_exists(pk)")
    assert evaluate_condition(parsed, None) is True
    assert evaluate_condition(parse_condition("attribute_exists(pk)"), None) is False


def test_names_are_resolved() -> None:
    parsed = parse_expressions(
        names={"#s": "status", "#m": "map.with.dots"},
        values={":v": {"S": "on"}},
        condition="#s = :v AND attribute_exists(#m)",
    )
    assert parsed.condition is not None
    item = {"status": {"S": "on"}, "map.with.dots": {"M": {}}}
    assert evaluate_condition(parsed.condition, item, parsed.names, parsed.values)
    assert not evaluate_condition(
        parsed.condition, {"status": {"S": "on"}}, parsed.names, parsed.values
    )


def test_undefined_placeholders_at_evaluation_are_errors() -> None:
    with pytest.raises(ValidationException, match="attribute name: #x"):
        evaluate_condition(parse_condition("#x = :v"), {}, {}, {":v": {"S": "a"}})
    with pytest.raises(ValidationException, match="attribute value: :v"):
        evaluate_condition(parse_condition("a = :v"), {"a": {"S": "a"}}, {}, {})


def test_a_bare_condition_node_can_be_evaluated() -> None:
    node = Compare("=", Path(("a",)), Placeholder(":v"))
    assert evaluate_condition(node, {"a": {"N": "1"}}, None, {":v": {"N": "1.0"}})


def test_compare_values() -> None:
    assert compare_values({"N": "2"}, {"N": "10"}) == -1
    assert compare_values({"S": "2"}, {"S": "10"}) == 1
    assert compare_values({"S": "a"}, {"N": "1"}) is None
    assert compare_values({"BOOL": True}, {"BOOL": True}) is None
