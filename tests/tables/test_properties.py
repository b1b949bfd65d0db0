"""Property tests: random items and expressions, lorafox against the naive reference model.

Each test draws an item and a random condition or update (``specs``), renders it as an
expression string with ``#name``/``:value`` placeholders, and checks that lorafox and
``reference`` agree on whether DynamoDB would refuse the request and on the result. The parser
is also fed random and grammar-shaped strings: it may only answer with a ValidationException.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra.lark import from_lark
from lark import Lark

from lorafox.tables.errors import ValidationException
from lorafox.tables.expressions import (
    ParsedExpressions,
    apply_update,
    evaluate_condition,
    grammar,
    parse_condition,
    parse_expressions,
    parse_projection,
    parse_update,
)
from tests.tables import reference
from tests.tables.specs import (
    CONDITIONS,
    LEAF_CONDITIONS,
    UPDATES,
    Renderer,
    resolve,
    resolve_update,
)
from tests.tables.strategies import items

PROPERTY = settings(max_examples=400, deadline=None)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
GRAMMAR_FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
ITEMS = items()


def _parse(**kwargs: Any) -> tuple[ParsedExpressions | None, str | None]:
    """The parsed expressions, or DynamoDB's refusal."""
    try:
        return parse_expressions(**kwargs), None
    except ValidationException as exc:
        return None, exc.message


def _parse_as_the_reference(
    kind: str, render: Callable[[Renderer], str], valid: bool
) -> tuple[str, ParsedExpressions | None]:
    """The expression ``render`` writes, given as ``kind``, and its parsing (None when refused);
    lorafox must accept it exactly when the reference finds it ``valid``."""
    renderer = Renderer()
    text = render(renderer)
    parsed, refusal = _parse(
        **{kind: text}, names=renderer.names or None, values=renderer.values or None
    )
    if parsed is None:
        assert not valid, f"{text!r} refused: {refusal}"
        event("refused")
    else:
        assert valid, f"{text!r} accepted"
    return text, parsed


def _check_condition(spec: tuple[Any, ...], item: dict[str, Any]) -> None:
    text, parsed = _parse_as_the_reference(
        "condition", lambda r: r.condition(spec), reference.cond_valid(spec)
    )
    if parsed is None:
        return
    assert parsed.condition is not None
    expected = reference.eval_cond(spec, reference.from_wire_item(item))
    actual = evaluate_condition(parsed.condition, item, parsed.names, parsed.values)
    assert actual == expected, text
    event(f"condition is {actual}")


@PROPERTY
@given(st.data())
def test_conditions_agree_with_the_reference(data: st.DataObject) -> None:
    item = data.draw(ITEMS, label="item")
    _check_condition(resolve(data.draw(CONDITIONS, label="condition"), item), item)


@PROPERTY
@given(st.data())
def test_single_conditions_agree_with_the_reference(data: st.DataObject) -> None:
    item = data.draw(ITEMS, label="item")
    _check_condition(resolve(data.draw(LEAF_CONDITIONS, label="condition"), item), item)


@PROPERTY
@given(st.data())
def test_updates_agree_with_the_reference(data: st.DataObject) -> None:
    item = data.draw(ITEMS, label="item")
    actions = resolve_update(data.draw(UPDATES, label="actions"), item)
    text, parsed = _parse_as_the_reference(
        "update", lambda r: r.update(actions), reference.update_valid(actions)
    )
    if parsed is None:
        return
    assert parsed.update is not None
    try:
        expected = reference.update_apply(actions, reference.from_wire_item(item))
    except reference.RefError:
        expected = None
    failure = None
    try:
        result = apply_update(parsed.update, item, parsed.names, parsed.values)
    except ValidationException as exc:
        failure = exc.message
    if failure is not None:
        assert expected is None, f"{text!r} failed: {failure}"
        event("failed when applied")
        return
    assert expected is not None, f"{text!r} should have failed"
    assert reference.from_wire_item(result.item) == expected, text
    event("applied")


# --- the parser never fails with anything but a ValidationException ---------------------------

_ALPHABET = " \t\n()[].,#:=<>!+-_$'\"aAnNdDoOrRtTsSeEiIzZbB0123456789é"
_TOKENS = [
    "a", "b.c", "x[0]", "#n", ":v", "(", ")", ",", "=", "<>", "<", ">=", "AND", "OR", "NOT",
    "BETWEEN", "IN", "SET", "REMOVE", "ADD", "DELETE", "size(", "contains(", "begins_with(",
    "attribute_exists(", "if_not_exists(", "list_append(", "+", "-", "status", "[", "]", ".",
]  # fmt: skip
_SOUPS = st.one_of(
    st.text(alphabet=_ALPHABET, max_size=30),
    st.lists(st.sampled_from(_TOKENS), max_size=12).map(" ".join),
    st.lists(st.sampled_from(_TOKENS), max_size=12).map("".join),
    st.text(max_size=12),
)


def _parse_everything(text: str) -> None:
    for parse in (
        lambda: parse_condition(text),
        lambda: parse_condition(text, "KeyConditionExpression"),
        lambda: parse_update(text),
        lambda: parse_projection(text),
        lambda: parse_expressions(condition=text, update=text, projection=text,
                                  names={"#n": "n"}, values={":v": {"N": "1"}}),
    ):  # fmt: skip
        with contextlib.suppress(ValidationException):
            parse()


@FUZZ
@given(_SOUPS)
def test_the_parser_only_raises_validation_errors(text: str) -> None:
    _parse_everything(text)


def _grammar_strings(source: str) -> st.SearchStrategy[str]:
    return from_lark(Lark(source, parser="lalr"))


@GRAMMAR_FUZZ
@given(
    st.one_of(
        _grammar_strings(grammar.CONDITION),
        _grammar_strings(grammar.UPDATE),
        _grammar_strings(grammar.PROJECTION),
    )
)
def test_grammar_shaped_strings_only_raise_validation_errors(text: str) -> None:
    _parse_everything(text)
