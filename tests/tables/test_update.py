"""Update expressions applied to items: each action, the error paths, UPDATED_OLD/NEW."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from lorafox.tables.errors import ValidationException
from lorafox.tables.expressions import (
    apply_update,
    check_key_not_updated,
    parse_expressions,
    parse_update,
)

ITEM: dict[str, Any] = {
    "pk": {"S": "k"},
    "n": {"N": "10"},
    "s": {"S": "x"},
    "l": {"L": [{"S": "a"}, {"S": "b"}, {"S": "c"}, {"S": "d"}]},
    "m": {"M": {"a": {"N": "1"}, "l": {"L": [{"N": "1"}]}}},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2"]},
    "bs": {"BS": ["YQ==", "Yg=="]},
}


def run(
    expression: str,
    values: dict[str, Any] | None = None,
    item: dict[str, Any] | None = None,
    names: dict[str, str] | None = None,
) -> dict[str, Any]:
    parsed = parse_expressions(update=expression, values=values, names=names)
    assert parsed.update is not None
    source = ITEM if item is None else item
    before = copy.deepcopy(source)
    result = apply_update(parsed.update, source, parsed.names, parsed.values)
    assert source == before  # the input item is never changed
    return result.item


def failure(
    expression: str, values: dict[str, Any] | None = None, item: dict[str, Any] | None = None
) -> str:
    with pytest.raises(ValidationException) as caught:
        run(expression, values, item)
    return caught.value.message


def test_set_top_level_and_nested() -> None:
    new = run("SET s = :v, m.b = :v, m.l[0] = :v", {":v": {"S": "y"}})
    assert new["s"] == {"S": "y"}
    assert new["m"]["M"]["b"] == {"S": "y"}
    assert new["m"]["M"]["l"] == {"L": [{"S": "y"}]}


def test_set_creates_an_attribute_on_a_new_item() -> None:
    assert run("SET a = :v", {":v": {"N": "1"}}, item={}) == {"a": {"N": "1"}}
    parsed = parse_update("SET a = :v")
    assert apply_update(parsed, None, None, {":v": {"N": "1"}}).item == {"a": {"N": "1"}}


def test_set_past_the_end_of_a_list_appends_in_index_order() -> None:
    new = run("SET l[10] = :x, l[7] = :y", {":x": {"S": "x"}, ":y": {"S": "y"}})
    assert new["l"]["L"][4:] == [{"S": "y"}, {"S": "x"}]


def test_set_values_are_read_from_the_old_item() -> None:
    new = run("SET a = n, n = :v", {":v": {"N": "1"}})
    assert new["a"] == {"N": "10"} and new["n"] == {"N": "1"}


def test_arithmetic() -> None:
    assert run("SET n = n + :v", {":v": {"N": "0.5"}})["n"] == {"N": "10.5"}
    assert run("SET n = n - :v", {":v": {"N": "15"}})["n"] == {"N": "-5"}
    assert run("SET x = :v - n", {":v": {"N": "1"}})["x"] == {"N": "-9"}
    assert run("SET x = m.a + n")["x"] == {"N": "11"}
    assert run("SET n = if_not_exists(c, :z) + :v", {":z": {"N": "0"}, ":v": {"N": "1"}})["n"] == {
        "N": "1"
    }


def test_if_not_exists() -> None:
    assert run("SET n = if_not_exists(n, :v)", {":v": {"N": "1"}})["n"] == {"N": "10"}
    assert run("SET c = if_not_exists(c, :v)", {":v": {"N": "1"}})["c"] == {"N": "1"}
    assert run("SET c = if_not_exists(m.a, :v)", {":v": {"N": "5"}})["c"] == {"N": "1"}


def test_list_append() -> None:
    values = {":v": {"L": [{"S": "e"}]}}
    assert run("SET l = list_append(l, :v)", values)["l"]["L"][-1] == {"S": "e"}
    assert run("SET l = list_append(:v, l)", values)["l"]["L"][0] == {"S": "e"}
    new = run("SET x = list_append(if_not_exists(x, :empty), :v)", {**values, ":empty": {"L": []}})
    assert new["x"] == {"L": [{"S": "e"}]}


def test_remove() -> None:
    new = run("REMOVE s, m.a, absent, m.nope, l[9]")
    assert "s" not in new and "a" not in new["m"]["M"]
    assert new["l"] == ITEM["l"]


def test_remove_list_elements_by_their_original_positions() -> None:
    new = run("REMOVE l[1], l[2]")
    assert new["l"] == {"L": [{"S": "a"}, {"S": "d"}]}
    new = run("REMOVE l[2], l[0]")
    assert new["l"] == {"L": [{"S": "b"}, {"S": "d"}]}
    new = run("SET l[3] = :v REMOVE l[0]", {":v": {"S": "z"}})
    assert new["l"] == {"L": [{"S": "b"}, {"S": "c"}, {"S": "z"}]}


def test_add() -> None:
    assert run("ADD n :v", {":v": {"N": "-3"}})["n"] == {"N": "7"}
    assert run("ADD c :v", {":v": {"N": "5"}})["c"] == {"N": "5"}
    assert run("ADD m.a :v", {":v": {"N": "1"}})["m"]["M"]["a"] == {"N": "2"}
    assert run("ADD ss :v", {":v": {"SS": ["b", "c"]}})["ss"] == {"SS": ["a", "b", "c"]}
    assert run("ADD ns :v", {":v": {"NS": ["2.0", "3"]}})["ns"] == {"NS": ["1", "2", "3"]}
    assert run("ADD bs :v", {":v": {"BS": ["Yw=="]}})["bs"] == {"BS": ["YQ==", "Yg==", "Yw=="]}
    assert run("ADD fresh :v", {":v": {"SS": ["z"]}})["fresh"] == {"SS": ["z"]}


def test_delete() -> None:
    assert run("DELETE ss :v", {":v": {"SS": ["a", "z"]}})["ss"] == {"SS": ["b"]}
    assert "ss" not in run("DELETE ss :v", {":v": {"SS": ["a", "b"]}})
    assert run("DELETE ns :v", {":v": {"NS": ["1.0"]}})["ns"] == {"NS": ["2"]}
    assert "absent" not in run("DELETE absent :v", {":v": {"SS": ["a"]}})


def test_several_clauses_at_once() -> None:
    new = run(
        "SET a = :s REMOVE s ADD n :one DELETE ss :ss",
        {":s": {"S": "new"}, ":one": {"N": "1"}, ":ss": {"SS": ["a"]}},
    )
    assert new["a"] == {"S": "new"} and "s" not in new
    assert new["n"] == {"N": "11"} and new["ss"] == {"SS": ["b"]}


WRONG_TYPE = "An operand in the update expression has an incorrect data type"
INVALID_PATH = "The document path provided in the update expression is invalid for update"
MISSING = "The provided expression refers to an attribute that does not exist in the item"


@pytest.mark.parametrize(
    ("expression", "values", "message"),
    [
        ("SET x = s + :v", {":v": {"N": "1"}}, WRONG_TYPE),
        ("SET x = :v - ss", {":v": {"N": "1"}}, WRONG_TYPE),
        ("SET x = list_append(s, :v)", {":v": {"L": []}}, WRONG_TYPE),
        ("SET x = list_append(:v, n)", {":v": {"L": []}}, WRONG_TYPE),
        ("ADD s :v", {":v": {"N": "1"}}, WRONG_TYPE),
        ("ADD ss :v", {":v": {"NS": ["1"]}}, WRONG_TYPE),
        ("DELETE ss :v", {":v": {"NS": ["1"]}}, WRONG_TYPE),
        ("DELETE n :v", {":v": {"NS": ["1"]}}, WRONG_TYPE),
        ("SET x = absent", None, MISSING),
        ("SET x = absent + :v", {":v": {"N": "1"}}, MISSING),
        ("SET x = list_append(absent, :v)", {":v": {"L": []}}, MISSING),
        ("SET x = if_not_exists(a, b)", None, MISSING),
        ("SET absent.x = :v", {":v": {"N": "1"}}, INVALID_PATH),
        ("SET s.x = :v", {":v": {"N": "1"}}, INVALID_PATH),
        ("SET m[0] = :v", {":v": {"N": "1"}}, INVALID_PATH),
        ("SET l.x = :v", {":v": {"N": "1"}}, INVALID_PATH),
        ("SET absent[0] = :v", {":v": {"N": "1"}}, INVALID_PATH),
        ("REMOVE absent.x", None, INVALID_PATH),
        ("REMOVE s[0]", None, INVALID_PATH),
        ("ADD absent.x :v", {":v": {"N": "1"}}, INVALID_PATH),
        ("DELETE absent.x :v", {":v": {"SS": ["a"]}}, INVALID_PATH),
        (
            "SET n = :v + :v",
            {":v": {"N": "9E+125"}},
            (
                "Number overflow. Attempting to store a number with magnitude"
                " larger than supported range"
            ),
        ),
        (
            "SET n = n + :v",
            {":v": {"N": "9.9999999999999999999999999999999999999E+125"}},
            "Attempting to store more than 38 significant digits in a Number",
        ),
    ],
)
def test_update_errors(expression: str, values: dict[str, Any] | None, message: str) -> None:
    assert failure(expression, values) == message


def test_updates_respect_the_nesting_limit() -> None:
    value: dict[str, Any] = {"S": "leaf"}
    for _ in range(31):
        value = {"M": {"n": value}}
    parsed = parse_expressions(update="SET m.deep = :v", values={":v": value})
    assert parsed.update is not None
    with pytest.raises(ValidationException, match="Nesting Levels have exceeded supported limits"):
        apply_update(parsed.update, ITEM, parsed.names, parsed.values)
    shallower = parse_expressions(update="SET deep = :v", values={":v": value})
    assert shallower.update is not None
    apply_update(shallower.update, ITEM, shallower.names, shallower.values)


def test_updated_old_and_new() -> None:
    parsed = parse_expressions(
        update="SET m.a = :v, x = :v REMOVE s ADD n :v", values={":v": {"N": "1"}}
    )
    assert parsed.update is not None
    result = apply_update(parsed.update, ITEM, parsed.names, parsed.values)
    assert result.paths == (("m", "a"), ("x",), ("s",), ("n",))
    assert result.updated_new() == {
        "m": {"M": {"a": {"N": "1"}}},
        "x": {"N": "1"},
        "n": {"N": "11"},
    }
    assert result.updated_old(ITEM) == {
        "m": {"M": {"a": {"N": "1"}}},
        "s": {"S": "x"},
        "n": {"N": "10"},
    }
    assert result.updated_old(None) == {}


def test_keys_cannot_be_updated() -> None:
    for expression in ("SET pk = :v", "REMOVE pk", "ADD pk :v", "SET #k.x = :v"):
        parsed = parse_update(expression)
        with pytest.raises(ValidationException) as caught:
            check_key_not_updated(parsed, {"#k": "pk"}, ("pk", "sk"))
        assert caught.value.message == (
            "One or more parameter values were invalid: Cannot update attribute pk. "
            "This attribute is part of the key"
        )
    check_key_not_updated(parse_update("SET a = :v"), None, ("pk", "sk"))
