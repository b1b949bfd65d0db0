"""The device types pages: the list, the form and its validation, the live decode preview
(in Chromium), and what a VIEWER may not do."""

from __future__ import annotations

from contextlib import closing
from typing import Any

import pytest

from tests.console.browsing import logged_in, no_serious_violation, shoot
from tests.console.conftest import ADMIN, World, csrf_of, log_in


def test_the_list_shows_the_types_the_user_sees(world: World) -> None:
    with closing(log_in(world.base_url, world.users["A:DEVICE_MANAGER"])) as http:
        page = http.get("/console/device-types")
    assert page.status_code == 200
    assert "sensors A" in page.text and "sensors B" not in page.text
    assert 'href="/console/device-types/new"' in page.text


def test_a_manager_creates_and_changes_a_type_and_sees_its_errors_by_their_fields(
    world: World,
) -> None:
    with closing(log_in(world.base_url, world.users["A:DEVICE_MANAGER"])) as http:
        form = http.get("/console/device-types/new")
        assert form.status_code == 200 and world.groups["A"] in form.text
        body = {
            "csrf": csrf_of(form.text),
            "name": "trackers",
            "groupId": world.groups["A"],
            "keepAlive": "0",
            "downlinkMode": "2",
            "payloadType": "3",
            "payloadConfig": "temp::uint:17",
        }
        refused = http.post("/console/device-types/new", data=body)
        assert refused.status_code == 400
        assert 'id="payloadConfig-error"' in refused.text and "uint" in refused.text
        assert "temp::uint:17" in refused.text  # what was typed is kept

        made = http.post("/console/device-types/new", data=body | {"payloadConfig": "t::uint:8"})
        assert made.status_code == 303
        location = made.headers["location"].split("?")[0]
        type_id = location.rsplit("/", 1)[1]
        assert world.ok("GET", f"/api/v2/device-types/{type_id}")["payloadConfig"] == "t::uint:8"

        page = http.get(location)
        bad_keep_alive = {**body, "csrf": csrf_of(page.text), "keepAlive": "12"}
        bad_keep_alive["payloadConfig"] = "t::uint:8"
        refused = http.post(location, data=bad_keep_alive)
        assert refused.status_code == 400 and 'id="keepAlive-error"' in refused.text
        not_a_number = http.post(location, data=bad_keep_alive | {"keepAlive": "soon"})
        assert not_a_number.status_code == 400 and "a whole number" in not_a_number.text
        saved = http.post(location, data=bad_keep_alive | {"keepAlive": "3600", "name": "t2"})
        assert saved.status_code == 303
    found = world.ok("GET", f"/api/v2/device-types/{type_id}")
    assert (found["name"], found["keepAlive"]) == ("t2", 3600)


def test_the_preview_decodes_the_last_messages_with_the_typed_format(world: World) -> None:
    device = world.devices["A"][0]
    world.uplink(device, 7, data="1742")
    type_id = world.types["A"]
    with closing(log_in(world.base_url, world.users["A:VIEWER"])) as http:
        one = http.get(
            "/console/device-types/preview",
            params={"id": type_id, "payloadType": "3", "payloadConfig": "temp::uint:16"},
            headers={"HX-Request": "true"},
        )
        assert one.status_code == 200 and "temp" in one.text and "5954" in one.text
        two = http.get(
            "/console/device-types/preview",
            params={"id": type_id, "payloadType": "3", "payloadConfig": "temp::uint:8 hum::uint:8"},
        )
        assert ">23<" in two.text and "hum" in two.text and ">66<" in two.text
        bad = http.get(
            "/console/device-types/preview",
            params={"id": type_id, "payloadType": "3", "payloadConfig": "temp::float:16"},
        )
        assert bad.status_code == 200 and "does not compile" in bad.text
        other = http.get("/console/device-types/preview", params={"id": world.types["B"]})
        assert other.status_code == 404  # not the viewer's


def test_a_viewer_sees_no_edit_control_and_gets_403_when_posting(world: World) -> None:
    type_id = world.types["A"]
    with closing(log_in(world.base_url, world.users["A:VIEWER"])) as http:
        listing = http.get("/console/device-types")
        assert "sensors A" in listing.text and "/console/device-types/new" not in listing.text
        page = http.get(f"/console/device-types/{type_id}")
        assert page.status_code == 200
        assert '<form method="post" action="/console/device-types' not in page.text
        assert 'name="payloadConfig"' not in page.text
        token = csrf_of(page.text)  # the logout form's
        body = {"csrf": token, "name": "taken over", "payloadType": "2"}
        assert http.post(f"/console/device-types/{type_id}", data=body).status_code == 403
        assert http.post("/console/device-types/new", data=body).status_code == 403
        assert http.get("/console/device-types/new").status_code == 403
    assert world.ok("GET", f"/api/v2/device-types/{type_id}")["name"] == "sensors A"


def test_a_post_without_the_csrf_token_is_refused(world: World) -> None:
    type_id = world.types["A"]
    with closing(log_in(world.base_url, world.users["A:DEVICE_MANAGER"])) as http:
        answer = http.post(f"/console/device-types/{type_id}", data={"name": "x"})
        assert answer.status_code == 403 and "CSRF" in answer.text
    assert world.ok("GET", f"/api/v2/device-types/{type_id}")["name"] == "sensors A"


def _type(page: Any, text: str) -> None:
    """Type ``text`` into the format as a user would (keys, so keyup fires)."""
    box = page.locator("#f-payloadConfig")
    box.fill("")
    box.press_sequentially(text)


@pytest.mark.browser
def test_in_the_browser_the_preview_follows_the_format_as_it_is_typed(
    world: World, browser: Any
) -> None:
    device = world.devices["A"][1]
    world.uplink(device, 3, data="1742")
    page = logged_in(browser, world.base_url, ADMIN[0], ADMIN[1])
    try:
        page.goto(f"/console/device-types/{world.types['A']}")
        page.select_option("#f-payloadType", "3")
        _type(page, "temp::uint:16")
        preview = page.locator("#preview")
        preview.locator("dd", has_text="5954").first.wait_for()
        _type(page, "temp::uint:8 hum::uint:8")
        preview.locator("dt", has_text="hum").first.wait_for()
        assert "66" in preview.inner_text() and "5954" not in preview.inner_text()
        _type(page, "temp::uint:8 hum")
        preview.get_by_text("does not compile").wait_for()
        _type(page, "temp::uint:8 hum::uint:8")
        preview.locator("dt", has_text="hum").first.wait_for()
        shoot(page, "device-type")
        no_serious_violation(page)
        page.click("#device-type-form button[type=submit]")
        page.get_by_text("Saved.").wait_for()
        saved = world.ok("GET", f"/api/v2/device-types/{world.types['A']}")
        assert saved["payloadConfig"] == "temp::uint:8 hum::uint:8"
        page.goto("/console/device-types")
        shoot(page, "device-types")
        no_serious_violation(page)
    finally:
        page.context.close()
