"""The examples of the DynamoDB developer guide (expressions chapter), run through lorafox.

The items and expressions are those of the guide's ProductCatalog and Reply examples; each
expected result is the one the guide shows.
"""

from __future__ import annotations

from typing import Any

import pytest

from lorafox.tables.expressions import (
    apply_update,
    build_key_condition,
    evaluate_condition,
    key_conditions_from_expression,
    parse_expressions,
    project,
)
from lorafox.tables.keys import KeyAttribute, KeySchema

PRODUCT_123: dict[str, Any] = {
    "Id": {"N": "123"},
    "Title": {"S": "Bicycle 123"},
    "Description": {"S": "123 description"},
    "BicycleType": {"S": "Hybrid"},
    "Brand": {"S": "Brand-Company C"},
    "Price": {"N": "500"},
    "Color": {"SS": ["Red", "Black"]},
    "ProductCategory": {"S": "Bicycle"},
    "InStock": {"BOOL": True},
    "QuantityOnHand": {"NULL": True},
    "RelatedItems": {"L": [{"N": "341"}, {"N": "472"}, {"N": "649"}]},
    "Pictures": {
        "M": {
            "FrontView": {"S": "http://example.com/products/123_front.jpg"},
            "RearView": {"S": "http://example.com/products/123_rear.jpg"},
            "SideView": {"S": "http://example.com/products/123_left_side.jpg"},
        }
    },
    "ProductReviews": {
        "M": {
            "FiveStar": {
                "L": [
                    {"S": "Excellent! Can't recommend it highly enough! Buy it!"},
                    {"S": "Do yourself a favor and buy this."},
                ]
            },
            "OneStar": {"L": [{"S": "Terrible product! Do not buy this."}]},
        }
    },
    "Comment": {"S": "This product sells out quickly during the summer"},
    "Safety.Warning": {"S": "Always wear a helmet"},
}

PRODUCT_456: dict[str, Any] = {
    "Id": {"N": "456"},
    "ProductCategory": {"S": "Sporting Goods"},
    "Price": {"N": "650"},
}


def holds(item: dict[str, Any], condition: str, **placeholders: Any) -> bool:
    parsed = parse_expressions(
        condition=condition,
        names=placeholders.get("names"),
        values=placeholders.get("values"),
    )
    assert parsed.condition is not None
    return evaluate_condition(parsed.condition, item, parsed.names, parsed.values)


def test_projection_example() -> None:
    parsed = parse_expressions(projection="Description, RelatedItems[0], ProductReviews.FiveStar")
    assert parsed.projection is not None
    assert project(parsed.projection, PRODUCT_123) == {
        "Description": {"S": "123 description"},
        "RelatedItems": {"L": [{"N": "341"}]},
        "ProductReviews": {"M": {"FiveStar": PRODUCT_123["ProductReviews"]["M"]["FiveStar"]}},
    }


def test_attribute_names_with_dots_and_reserved_words() -> None:
    parsed = parse_expressions(
        projection="#sw, #c", names={"#sw": "Safety.Warning", "#c": "Comment"}
    )
    assert parsed.projection is not None
    assert project(parsed.projection, PRODUCT_123, parsed.names) == {
        "Safety.Warning": {"S": "Always wear a helmet"},
        "Comment": PRODUCT_123["Comment"],
    }
    parsed = parse_expressions(
        projection="#pr.#1star", names={"#pr": "ProductReviews", "#1star": "OneStar"}
    )
    assert parsed.projection is not None
    assert project(parsed.projection, PRODUCT_123, parsed.names) == {
        "ProductReviews": {"M": {"OneStar": PRODUCT_123["ProductReviews"]["M"]["OneStar"]}}
    }


def test_comparison_examples() -> None:
    assert holds(PRODUCT_123, "Price <= :p", values={":p": {"N": "500"}})
    assert holds(
        PRODUCT_123, "ProductCategory IN (:cat1, :cat2)",
        values={":cat1": {"S": "Bicycle"}, ":cat2": {"S": "Sporting Goods"}},
    )  # fmt: skip
    assert holds(
        PRODUCT_123, "Price BETWEEN :lo AND :hi", values={":lo": {"N": "500"}, ":hi": {"N": "600"}}
    )


@pytest.mark.parametrize(
    ("condition", "values", "expected"),
    [
        ("attribute_exists(#Pictures.#SideView)", None, True),
        ("attribute_not_exists(Manufacturer)", None, True),
        ("attribute_type(ProductReviews.FiveStar, :v_sub)", {":v_sub": {"S": "L"}}, True),
        ("begins_with(Pictures.FrontView, :v_sub)", {":v_sub": {"S": "http://"}}, True),
        ("contains(Color, :v_sub)", {":v_sub": {"S": "Red"}}, True),
        ("size(Brand) <= :v_sub", {":v_sub": {"N": "20"}}, True),
        ("size(Color) < :v_sub", {":v_sub": {"N": "3"}}, True),
        ("size(ProductReviews.OneStar) > :v_sub", {":v_sub": {"N": "3"}}, False),
    ],
)
def test_function_examples(condition: str, values: dict[str, Any] | None, expected: bool) -> None:
    names = {"#Pictures": "Pictures", "#SideView": "SideView"} if "#" in condition else None
    assert holds(PRODUCT_123, condition, names=names, values=values) is expected


def test_conditional_write_examples() -> None:
    # PutItem that must not overwrite, DeleteItem guarded by category and price.
    assert not holds(PRODUCT_456, "attribute_not_exists(Id)")
    guard = "(ProductCategory IN (:cat1, :cat2)) and (Price between :lo and :hi)"
    values = {
        ":cat1": {"S": "Sporting Goods"},
        ":cat2": {"S": "Gardening Supplies"},
        ":lo": {"N": "500"},
        ":hi": {"N": "600"},
    }
    assert not holds(PRODUCT_456, guard, values=values)
    assert holds({**PRODUCT_456, "Price": {"N": "550"}}, guard, values=values)
    assert holds(PRODUCT_456, "Price > :limit", values={":limit": {"N": "500"}})


def test_update_expression_walkthrough() -> None:
    item: dict[str, Any] = {
        "Id": {"N": "789"},
        "ProductCategory": {"S": "Home Improvement"},
        "Price": {"N": "52"},
        "InStock": {"BOOL": True},
        "Brand": {"S": "Acme"},
    }
    steps: list[tuple[str, dict[str, str] | None, dict[str, Any]]] = [
        (
            "SET ProductCategory = :c, Price = :p",
            None,
            {":c": {"S": "Hardware"}, ":p": {"N": "60"}},
        ),
        (
            "SET RelatedItems = :ri, ProductReviews = :pr",
            None,
            {
                ":ri": {"L": [{"S": "Hammer"}]},
                ":pr": {"M": {"FiveStar": {"L": [{"S": "Best product ever!"}]}}},
            },
        ),
        ("SET RelatedItems[1] = :ri", None, {":ri": {"S": "Nails"}}),
        (
            "SET #pr.#5star[1] = :r5, #pr.#3star = :r3",
            {"#pr": "ProductReviews", "#5star": "FiveStar", "#3star": "ThreeStar"},
            {
                ":r5": {"S": "Very happy with my purchase"},
                ":r3": {"L": [{"S": "Just OK - not that great"}]},
            },
        ),
        ("SET Price = Price - :p", None, {":p": {"N": "15"}}),
        ("SET Price = Price + :p", None, {":p": {"N": "5"}}),
        (
            "SET #ri = list_append(#ri, :vals)",
            {"#ri": "RelatedItems"},
            {":vals": {"L": [{"S": "Screwdriver"}, {"S": "Hacksaw"}]}},
        ),
        (
            "SET #ri = list_append(:vals, #ri)",
            {"#ri": "RelatedItems"},
            {":vals": {"L": [{"S": "Chisel"}]}},
        ),
        ("SET Price = if_not_exists(Price, :p)", None, {":p": {"N": "100"}}),
        ("REMOVE Brand, InStock, QuantityOnHand", None, {}),
        ("REMOVE RelatedItems[1], RelatedItems[2]", None, {}),
        ("ADD QuantityOnHand :q", None, {":q": {"N": "5"}}),
        ("ADD Color :c", None, {":c": {"SS": ["Orange", "Purple"]}}),
        ("DELETE Color :p", None, {":p": {"SS": ["Yellow", "Purple"]}}),
    ]
    for expression, names, values in steps:
        parsed = parse_expressions(update=expression, names=names, values=values or None)
        assert parsed.update is not None
        item = apply_update(parsed.update, item, parsed.names, parsed.values).item
    assert item == {
        "Id": {"N": "789"},
        "ProductCategory": {"S": "Hardware"},
        "Price": {"N": "50"},
        "RelatedItems": {"L": [{"S": "Chisel"}, {"S": "Screwdriver"}, {"S": "Hacksaw"}]},
        "ProductReviews": {
            "M": {
                "FiveStar": {
                    "L": [{"S": "Best product ever!"}, {"S": "Very happy with my purchase"}]
                },
                "ThreeStar": {"L": [{"S": "Just OK - not that great"}]},
            }
        },
        "QuantityOnHand": {"N": "5"},
        "Color": {"SS": ["Orange"]},
    }


def test_key_condition_examples() -> None:
    schema = KeySchema(KeyAttribute("Id", "S"), KeyAttribute("ReplyDateTime", "S"))
    values = {":id": {"S": "Amazon DynamoDB#DynamoDB Thread 1"}, ":dt": {"S": "2015-09"}}
    parsed = parse_expressions(
        key_condition="Id = :id and begins_with(ReplyDateTime, :dt)", values=values
    )
    assert parsed.key_condition is not None
    condition = build_key_condition(
        key_conditions_from_expression(parsed.key_condition, parsed.names, parsed.values), schema
    )
    reply = {"Id": values[":id"], "ReplyDateTime": {"S": "2015-09-22T19:58:22.947Z"}}
    assert condition.matches(reply)
    assert not condition.matches({**reply, "ReplyDateTime": {"S": "2015-10-01T00:00:00Z"}})
    parsed = parse_expressions(
        key_condition="#yr = :yyyy",
        names={"#yr": "year"},
        values={":yyyy": {"N": "1985"}},
    )
    assert parsed.key_condition is not None
    movies = KeySchema(KeyAttribute("year", "N"), KeyAttribute("title", "S"))
    condition = build_key_condition(
        key_conditions_from_expression(parsed.key_condition, parsed.names, parsed.values), movies
    )
    assert condition.matches({"year": {"N": "1985"}, "title": {"S": "Back to the Future"}})
