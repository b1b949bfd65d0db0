"""The dry run of the rule as typed in the editor (not saved): its statement and actions are
run, a statement or action that is refused is said so, and the saved rule is unchanged; in
Chromium, the dry run takes what is typed without saving it."""

from __future__ import annotations

from contextlib import closing
from typing import Any

import pytest

from tests.console.browsing import logged_in, no_serious_violation, shoot
from tests.console.conftest import ADMIN, World, csrf_of, log_in

SAVED_SQL = "SELECT data FROM 'sigfox/uplink/+' WHERE data = 'ff'"


def _rule(world: World, name: str) -> None:
    body = {"name": name, "sql": SAVED_SQL, "actions": [{"republish": {"topic": "saved/out"}}]}
    world.ok("POST", "/api/v2/rules", 201, json=body)


def test_the_dry_run_runs_the_statement_and_actions_as_typed(world: World) -> None:
    _rule(world, "typed_a")
    message = {"topic": "sigfox/uplink/1A", "payload": '{"data": "01", "device": "1A"}'}
    with closing(log_in(world.base_url, ADMIN[0], ADMIN[1])) as http:
        token = csrf_of(http.get("/console/rules/typed_a").text)
        base = message | {"csrf": token}
        saved = http.post("/console/rules/typed_a/dry-run", data=base)
        assert saved.status_code == 200 and "WHERE is false" in saved.text  # the saved rule
        typed = http.post(
            "/console/rules/typed_a/dry-run",
            data=base
            | {
                "sql": "SELECT data, device FROM 'sigfox/uplink/+' WHERE data = '01'",
                "actions": '[{"republish": {"topic": "typed/${device}"}}]',
            },
        )
        assert typed.status_code == 200, typed.text
        assert "1 action would fire" in typed.text and "typed/1A" in typed.text
        assert "saved/out" not in typed.text
        bad_sql = http.post(
            "/console/rules/typed_a/dry-run",
            data=base | {"sql": "SELEC data FROM", "actions": "[]"},
        )
        assert bad_sql.status_code == 400
        assert "the rule as typed:" in bad_sql.text and 'role="alert"' in bad_sql.text
        bad_actions = http.post(
            "/console/rules/typed_a/dry-run", data=base | {"sql": SAVED_SQL, "actions": "[{"}
        )
        assert bad_actions.status_code == 400 and "actions: not JSON" in bad_actions.text
        unknown_action = http.post(
            "/console/rules/typed_a/dry-run",
            data=base | {"sql": SAVED_SQL, "actions": '[{"lambda": {}}]'},
        )
        assert unknown_action.status_code == 400 and "the rule as typed:" in unknown_action.text
    assert world.ok("GET", "/api/v2/rules/typed_a")["sql"] == SAVED_SQL  # nothing saved


@pytest.mark.browser
def test_in_the_browser_the_dry_run_takes_the_unsaved_statement(world: World, browser: Any) -> None:
    _rule(world, "typed_b")
    page = logged_in(browser, world.base_url, ADMIN[0], ADMIN[1])
    try:
        page.goto("/console/rules/typed_b")
        page.fill("#f-sql", "SELECT data AS value FROM 'sigfox/uplink/+'")
        page.fill("#f-topic", "sigfox/uplink/BEEF")
        page.fill("#f-payload", '{"data": "0102"}')
        page.click("#dry-run-form button[type=submit]")
        page.locator("#dry-run").get_by_text('"value"').wait_for()
        assert "1 action would fire" in page.inner_text("#dry-run")
        page.fill("#f-sql", "SELECT FROM WHERE")
        page.click("#dry-run-form button[type=submit]")
        page.locator("#dry-run").get_by_text("the rule as typed:").wait_for()
        shoot(page, "rule-dry-run-typed")
        no_serious_violation(page)
    finally:
        page.context.close()
    assert world.ok("GET", "/api/v2/rules/typed_b")["sql"] == SAVED_SQL
