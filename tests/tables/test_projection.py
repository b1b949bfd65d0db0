"""Projections and document path lookups."""

from __future__ import annotations

from typing import Any

from lorafox.tables.expressions import get_value, parse_expressions, project, project_paths
from lorafox.tables.expressions.paths import format_path

ITEM: dict[str, Any] = {
    "a": {"S": "x"},
    "m": {"M": {"k": {"N": "1"}, "j": {"M": {"deep": {"S": "d"}}}, "z": {"S": "z"}}},
    "l": {"L": [{"S": "l0"}, {"M": {"k": {"S": "in list"}}}, {"S": "l2"}, {"S": "l3"}]},
}


def projected(text: str, names: dict[str, str] | None = None) -> dict[str, Any]:
    parsed = parse_expressions(projection=text, names=names)
    assert parsed.projection is not None
    return project(parsed.projection, ITEM, parsed.names)


def test_top_level() -> None:
    assert projected("a") == {"a": {"S": "x"}}
    assert projected("a, absent") == {"a": {"S": "x"}}
    assert projected("#x", {"#x": "a"}) == {"a": {"S": "x"}}


def test_nested_maps_keep_their_shape() -> None:
    assert projected("m.k, m.j.deep") == {
        "m": {"M": {"k": {"N": "1"}, "j": {"M": {"deep": {"S": "d"}}}}}
    }
    assert projected("m.nope") == {}


def test_list_elements_are_compacted_in_index_order() -> None:
    assert projected("l[3], l[1].k, l[9]") == {
        "l": {"L": [{"M": {"k": {"S": "in list"}}}, {"S": "l3"}]}
    }


def test_project_paths_tolerates_an_enclosing_path() -> None:
    assert project_paths(ITEM, [("m",), ("m", "k")]) == {"m": ITEM["m"]}


def test_get_value() -> None:
    assert get_value(ITEM, ("l", 1, "k")) == {"S": "in list"}
    assert get_value(ITEM, ("l", "k")) is None
    assert get_value(ITEM, ("a", 0)) is None
    assert get_value(ITEM, (0,)) is None
    assert format_path(("a", 1, "b")) == "[a, [1], b]"
