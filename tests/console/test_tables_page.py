"""The tables pages: the tables of the session's groups with their keys and counts, a table's
items a page at a time and found by key, bad searches refused on the page, tables of other
groups invisible; and both pages in Chromium (axe-core, screenshot)."""

from __future__ import annotations

import re
from contextlib import closing
from typing import Any

import pytest

from tests.console.browsing import logged_in, no_serious_violation, shoot
from tests.console.conftest import ADMIN, World, log_in
from tests.integration.helpers import boto3_client

_ITEM = re.compile(r'<tr class="item">')
_NEXT = re.compile(r'href="(/console/tables/meters-a\?[^"]*start=[^"]+)">Next items<')


def _api_user(world: World, group: str) -> tuple[str, str]:
    body = {"groupId": world.groups[group], "name": f"tables {group}", "profileIds": ["ADMIN"]}
    made = world.ok("POST", "/api/v2/api-users", 201, json=body)
    return made["id"], made["accessToken"]


@pytest.fixture(scope="module")
def tables(world: World) -> None:
    """``meters-a`` in group A (device S, time N: 20 items of dev-1, 10 of dev-2) and
    ``meters-b`` in group B (one item), made through the DynamoDB API."""
    a = boto3_client(world.lorafox, *_api_user(world, "A"))
    b = boto3_client(world.lorafox, *_api_user(world, "B"))
    a.create_table(
        TableName="meters-a",
        KeySchema=[
            {"AttributeName": "device", "KeyType": "HASH"},
            {"AttributeName": "time", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "device", "AttributeType": "S"},
            {"AttributeName": "time", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for n in range(30):
        device = "dev-1" if n < 20 else "dev-2"
        item = {"device": {"S": device}, "time": {"N": str(1000 + n)}, "temp": {"N": "21.5"}}
        a.put_item(TableName="meters-a", Item=item)
    b.create_table(
        TableName="meters-b",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    b.put_item(TableName="meters-b", Item={"id": {"S": "only"}})


def test_the_list_shows_the_tables_of_the_users_groups_only(world: World, tables: None) -> None:
    with closing(log_in(world.base_url, *ADMIN)) as admin:
        listing = admin.get("/console/tables")
        assert listing.status_code == 200
        assert "meters-a" in listing.text and "meters-b" in listing.text
        assert "device (S)" in listing.text and "time (N)" in listing.text
        assert re.search(r'<td class="num">30</td>', listing.text), "no item count of 30"
    with closing(log_in(world.base_url, world.users["A:VIEWER"])) as viewer:
        listing = viewer.get("/console/tables")
        assert "meters-a" in listing.text and "meters-b" not in listing.text
        assert viewer.get("/console/tables/meters-b").status_code == 404
        assert viewer.get("/console/tables/meters-a").status_code == 200


def test_a_table_is_browsed_a_page_at_a_time_and_searched_by_key(
    world: World, tables: None
) -> None:
    with closing(log_in(world.base_url, world.users["A:VIEWER"])) as http:
        first = http.get("/console/tables/meters-a")
        assert len(_ITEM.findall(first.text)) == 25
        link = _NEXT.search(first.text)
        assert link, "no link to the next items"
        rest = http.get(link.group(1).replace("&amp;", "&"))
        assert rest.status_code == 200 and len(_ITEM.findall(rest.text)) == 5
        assert _NEXT.search(rest.text) is None

        by_device = http.get("/console/tables/meters-a", params={"pk": "dev-2"})
        assert len(_ITEM.findall(by_device.text)) == 10
        assert ">dev-1<" not in by_device.text and ">dev-2<" in by_device.text
        one = http.get("/console/tables/meters-a", params={"pk": "dev-1", "sk": "1005"})
        assert len(_ITEM.findall(one.text)) == 1 and "{&#34;N&#34;:&#34;1005&#34;}" in one.text
        none = http.get("/console/tables/meters-a", params={"pk": "nobody"})
        assert none.status_code == 200 and "No item." in none.text

        not_a_number = http.get("/console/tables/meters-a", params={"pk": "dev-1", "sk": "soon"})
        assert not_a_number.status_code == 400 and 'id="query-error"' in not_a_number.text
        forged = http.get("/console/tables/meters-a", params={"start": "not-a-key!"})
        assert forged.status_code == 400
        assert "not one this page gave" in forged.text
        too_long = http.get("/console/tables/meters-a", params={"pk": "x" * 3000})
        assert too_long.status_code == 400 and "at most 2048" in too_long.text


@pytest.mark.browser
def test_the_tables_pages_in_chromium(world: World, tables: None, browser: Any) -> None:
    from playwright.sync_api import expect

    page = logged_in(browser, world.base_url, ADMIN[0], ADMIN[1])
    try:
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Tables").click()
        expect(page.get_by_role("heading", name="Tables", level=1)).to_be_visible()
        no_serious_violation(page)
        page.get_by_role("link", name="meters-a").click()
        page.get_by_label("device (partition key)").fill("dev-2")
        page.get_by_label("time (sort key, optional)").press("Enter")
        expect(page.get_by_role("heading", name="Items with device = dev-2")).to_be_visible()
        expect(page.locator("tr.item")).to_have_count(10)
        no_serious_violation(page)
        shoot(page, "tables")
    finally:
        page.context.close()
