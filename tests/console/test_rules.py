"""The topic rules pages: the list, the editor with its errors by field, the dry run (in
Chromium too), and what a VIEWER may not do."""

from __future__ import annotations

from contextlib import closing
from typing import Any

import pytest

from tests.console.browsing import logged_in, no_serious_violation, shoot
from tests.console.conftest import ADMIN, World, csrf_of, log_in

REPUBLISH = '[{"republish": {"topic": "out/${device}"}}]'


def _make_rule(world: World, name: str, group: str = "A") -> None:
    """A rule of ``group``, made by its DEVICE_MANAGER through the console."""
    with closing(log_in(world.base_url, world.users[f"{group}:DEVICE_MANAGER"])) as http:
        form = http.get("/console/rules/new")
        body = {
            "csrf": csrf_of(form.text),
            "name": name,
            "sql": "SELECT data, device FROM 'sigfox/uplink/+' WHERE data <> '00'",
            "description": "hot",
            "actions": REPUBLISH,
            "enabled": "true",
        }
        made = http.post("/console/rules/new", data=body)
        assert made.status_code == 303, made.text
        assert made.headers["location"] == f"/console/rules/{name}?saved=1"


def test_a_manager_makes_a_rule_and_sees_its_errors_by_their_fields(world: World) -> None:
    _make_rule(world, "hot_a")
    found = world.ok("GET", "/api/v2/rules/hot_a")
    assert found["actions"] == [{"republish": {"topic": "out/${device}"}}]
    assert found["ruleDisabled"] is False
    with closing(log_in(world.base_url, world.users["A:DEVICE_MANAGER"])) as http:
        page = http.get("/console/rules/hot_a")
        token = csrf_of(page.text)
        base = {"csrf": token, "sql": "SELECT * FROM 'a/b'", "actions": "[]"}
        bad_sql = http.post("/console/rules/hot_a", data=base | {"sql": "SELEC * FROM 'a'"})
        assert bad_sql.status_code == 400 and 'id="sql-error"' in bad_sql.text
        assert "SELEC * FROM" in bad_sql.text  # kept as typed
        not_json = http.post("/console/rules/hot_a", data=base | {"actions": "[{republish"})
        assert not_json.status_code == 400 and 'id="actions-error"' in not_json.text
        assert "not JSON" in not_json.text
        bad_action = http.post("/console/rules/hot_a", data=base | {"actions": '[{"lambda": {}}]'})
        assert bad_action.status_code == 400 and 'id="actions-error"' in bad_action.text
        not_a_list = http.post("/console/rules/hot_a", data=base | {"actions": "{}"})
        assert not_a_list.status_code == 400 and "a JSON list" in not_a_list.text
        form = http.get("/console/rules/new")
        bad_name = http.post(
            "/console/rules/new",
            data=base | {"csrf": csrf_of(form.text), "name": "no spaces"},
        )
        assert bad_name.status_code == 400 and 'id="name-error"' in bad_name.text
        disabled = http.post("/console/rules/hot_a", data=base)  # no "enabled": unticked
        assert disabled.status_code == 303
        listing = http.get("/console/rules")
        assert "hot_a" in listing.text and "disabled" in listing.text
    found = world.ok("GET", "/api/v2/rules/hot_a")
    assert (found["sql"], found["ruleDisabled"], found["description"]) == (
        "SELECT * FROM 'a/b'",
        True,
        "",
    )


def test_the_dry_run_shows_the_output_and_the_actions_requests(world: World) -> None:
    _make_rule(world, "dry_a")
    device = world.devices["A"][0]
    world.uplink(device, 21, data="0a0b")
    with closing(log_in(world.base_url, world.users["A:VIEWER"])) as http:
        page = http.get("/console/rules/dry_a")
        assert f'<option value="{device}">' in page.text  # offered: heard last
        token = csrf_of(page.text)
        typed = http.post(
            "/console/rules/dry_a/dry-run",
            data={"csrf": token, "topic": "sigfox/uplink/1A", "payload": '{"data": "ff"}'},
            headers={"HX-Request": "true"},
        )
        assert typed.status_code == 200, typed.text
        assert "1 action would fire" in typed.text and "out/" in typed.text
        assert "&#34;ff&#34;" in typed.text or '"ff"' in typed.text
        filtered = http.post(
            "/console/rules/dry_a/dry-run",
            data={"csrf": token, "topic": "sigfox/uplink/1A", "payload": '{"data": "00"}'},
        )
        assert "WHERE is false" in filtered.text
        by_device = http.post(
            "/console/rules/dry_a/dry-run", data={"csrf": token, "device": device}
        )
        assert by_device.status_code == 200 and "0a0b" in by_device.text
        assert f"out/{device}" in by_device.text
        bad = http.post(
            "/console/rules/dry_a/dry-run",
            data={"csrf": token, "topic": "t", "payload": "{nope"},
        )
        assert bad.status_code == 400 and 'id="payload-error"' in bad.text
        nothing = http.post("/console/rules/dry_a/dry-run", data={"csrf": token})
        assert nothing.status_code == 400 and "give a device" in nothing.text
        unknown = http.post("/console/rules/dry_a/dry-run", data={"csrf": token, "device": "FFF1"})
        assert unknown.status_code == 400 and 'id="device-error"' in unknown.text
        no_csrf = http.post("/console/rules/dry_a/dry-run", data={"device": device})
        assert no_csrf.status_code == 403


def test_a_viewer_sees_no_edit_control_and_gets_403_when_posting(world: World) -> None:
    _make_rule(world, "guarded_a")
    with closing(log_in(world.base_url, world.users["A:VIEWER"])) as http:
        listing = http.get("/console/rules")
        assert "guarded_a" in listing.text and "/console/rules/new" not in listing.text
        page = http.get("/console/rules/guarded_a")
        assert page.status_code == 200 and 'id="rule-form"' not in page.text
        assert 'name="sql"' not in page.text
        token = csrf_of(page.text)
        body = {"csrf": token, "sql": "SELECT * FROM 'x'", "actions": "[]"}
        assert http.post("/console/rules/guarded_a", data=body).status_code == 403
        assert http.post("/console/rules/new", data=body | {"name": "v"}).status_code == 403
    with closing(log_in(world.base_url, world.users["B:DEVICE_MANAGER"])) as http:
        assert http.get("/console/rules/guarded_a").status_code == 404  # another group's
        assert "guarded_a" not in http.get("/console/rules").text
    assert world.ok("GET", "/api/v2/rules/guarded_a")["sql"].startswith("SELECT data")


@pytest.mark.browser
def test_in_the_browser_the_dry_run_shows_its_output(world: World, browser: Any) -> None:
    _make_rule(world, "shown_a")
    page = logged_in(browser, world.base_url, ADMIN[0], ADMIN[1])
    try:
        page.goto("/console/rules")
        page.get_by_role("link", name="shown_a").click()
        page.fill("#f-topic", "sigfox/uplink/BEEF")
        page.fill("#f-payload", '{"data": "0102", "device": "BEEF"}')
        page.click("#dry-run-form button[type=submit]")
        page.locator("#dry-run").get_by_text("out/BEEF").wait_for()
        assert "1 action would fire" in page.inner_text("#dry-run")
        assert page.url.endswith("/console/rules/shown_a")  # swapped in, not a new page
        shoot(page, "rule")
        no_serious_violation(page)
        page.goto("/console/rules")
        shoot(page, "rules")
        no_serious_violation(page)
    finally:
        page.context.close()
