"""The groups and API users pages: the group tree, creating, renaming and deleting a group
(and the refusal to delete one that is not empty); creating an API user and renewing its
password, shown once and never again, the password working on the API; what a VIEWER may not
do; and both pages in Chromium (axe-core, screenshots)."""

from __future__ import annotations

import re
from contextlib import closing
from typing import Any

import httpx
import pytest

from tests.console.browsing import logged_in, no_serious_violation, shoot
from tests.console.conftest import ADMIN, World, csrf_of, log_in

_ROW = re.compile(
    r'<td style="padding-left: ([0-9.]+)em">(?:<span aria-hidden="true">└ </span>)?([^<]+)<'
)
"""A row of the group tree: its indentation (em) and the group's name."""
_PASSWORD = re.compile(r'id="secret-password">([0-9a-f]{32})<')


def _groups(world: World) -> dict[str, dict[str, Any]]:
    listed = world.ok("GET", "/api/v2/groups", params={"deep": "true", "limit": 100})
    return {g["name"]: g for g in listed["data"]}


def test_an_admin_creates_renames_and_deletes_a_group_below_another(world: World) -> None:
    with closing(log_in(world.base_url, *ADMIN)) as http:
        listing = http.get("/console/groups")
        assert listing.status_code == 200
        assert "group A" in listing.text and "group B" in listing.text
        token = csrf_of(listing.text)
        blank = http.post(
            "/console/groups/new", data={"csrf": token, "name": "", "parentId": world.groups["A"]}
        )
        assert blank.status_code == 400 and 'id="name-error"' in blank.text
        made = http.post(
            "/console/groups/new",
            data={"csrf": token, "name": "site north", "parentId": world.groups["A"]},
        )
        assert made.status_code == 303
        north = _groups(world)["site north"]
        assert north["path"][0]["id"] == world.groups["A"]
        tree = http.get("/console/groups").text
        rows = [(float(depth), name) for depth, name in _ROW.findall(tree)]
        names = [name for _, name in rows]
        parent, child = names.index("group A"), names.index("site north")
        assert child == parent + 1 and rows[child][0] > rows[parent][0]
        renamed = http.post(
            f"/console/groups/{north['id']}/rename", data={"csrf": token, "name": "site south"}
        )
        assert renamed.status_code == 303 and "site south" in _groups(world)
        refused = http.post(f"/console/groups/{world.groups['A']}/delete", data={"csrf": token})
        assert refused.status_code == 409 and "The group was not deleted" in refused.text
        assert "group A" in _groups(world)
        gone = http.post(f"/console/groups/{north['id']}/delete", data={"csrf": token})
        assert gone.status_code == 303 and "site south" not in _groups(world)


def test_an_api_users_password_is_shown_once_and_works_on_the_api(world: World) -> None:
    with closing(log_in(world.base_url, *ADMIN)) as http:
        token = csrf_of(http.get("/console/api-users").text)
        form = {"csrf": token, "name": "importer", "groupId": world.groups["B"]}
        made = http.post("/console/api-users", data=form | {"profileId": "DEVICE_MANAGER"})
        assert made.status_code == 200
        found = _PASSWORD.search(made.text)
        assert found, "the password is not on the page"
        [created] = [
            a for a in world.ok("GET", "/api/v2/api-users")["data"] if a["name"] == "importer"
        ]
        login = created["id"]
        with httpx.Client(base_url=world.base_url, auth=(login, found.group(1))) as machine:
            assert machine.get("/api/v2/devices").status_code == 200
        again = http.get("/console/api-users")
        assert "importer" in again.text and found.group(1) not in again.text
        assert 'id="secret-password"' not in again.text
        renewed = http.post(f"/console/api-users/{login}/renew", data={"csrf": token})
        fresh = _PASSWORD.search(renewed.text)
        assert renewed.status_code == 200 and fresh and fresh.group(1) != found.group(1)
        with httpx.Client(base_url=world.base_url, auth=(login, found.group(1))) as machine:
            assert machine.get("/api/v2/devices").status_code == 401
        with httpx.Client(base_url=world.base_url, auth=(login, fresh.group(1))) as machine:
            assert machine.get("/api/v2/devices").status_code == 200
        assert fresh.group(1) not in http.get("/console/api-users").text
        bad = http.post("/console/api-users", data=form | {"profileId": "OWNER"})
        assert bad.status_code == 400 and 'id="profileId-error"' in bad.text
        gone = http.post(f"/console/api-users/{login}/delete", data={"csrf": token})
        assert gone.status_code == 303
        assert "importer" not in http.get("/console/api-users").text


def test_a_viewer_sees_no_control_and_a_forged_post_is_refused(world: World) -> None:
    [b_api_user] = [
        world.ok(
            "POST",
            "/api/v2/api-users",
            201,
            json={"name": "b-reader", "groupId": world.groups["B"], "profileIds": ["VIEWER"]},
        )
    ]
    with closing(log_in(world.base_url, world.users["A:VIEWER"])) as http:
        groups = http.get("/console/groups")
        assert groups.status_code == 200 and "group A" in groups.text
        assert "group B" not in groups.text
        assert "Rename" not in groups.text and "New group" not in groups.text
        api_users = http.get("/console/api-users")
        assert api_users.status_code == 200 and "b-reader" not in api_users.text
        assert "Renew" not in api_users.text and "New API user" not in api_users.text
        token = csrf_of(groups.text)
        a = world.groups["A"]
        forged = [
            http.post("/console/groups/new", data={"csrf": token, "name": "x", "parentId": a}),
            http.post(f"/console/groups/{a}/rename", data={"csrf": token, "name": "x"}),
            http.post(f"/console/groups/{a}/delete", data={"csrf": token}),
            http.post(
                "/console/api-users",
                data={"csrf": token, "name": "x", "groupId": a, "profileId": "VIEWER"},
            ),
        ]
        assert [r.status_code for r in forged] == [403, 403, 403, 403]
        other = http.post(f"/console/api-users/{b_api_user['id']}/renew", data={"csrf": token})
        assert other.status_code == 404
        no_csrf = http.post(f"/console/groups/{a}/delete")
        assert no_csrf.status_code == 403
    assert "group A" in _groups(world)


@pytest.mark.browser
def test_the_admin_pages_in_chromium(world: World, browser: Any) -> None:
    from playwright.sync_api import expect

    page = logged_in(browser, world.base_url, ADMIN[0], ADMIN[1])
    try:
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Groups").click()
        expect(page.get_by_role("heading", name="Groups", level=1)).to_be_visible()
        page.get_by_label("Name", exact=True).fill("warehouse")
        page.get_by_label("Parent group").select_option(label="group B")
        page.get_by_label("Name", exact=True).press("Enter")
        expect(page.get_by_role("status")).to_have_text("Saved.")
        expect(page.get_by_role("cell", name="warehouse", exact=True)).to_be_visible()
        no_serious_violation(page)
        shoot(page, "groups")

        page.get_by_role("navigation", name="Main").get_by_role("link", name="API users").click()
        page.get_by_label("Name", exact=True).fill("dashboard")
        page.get_by_label("Group").select_option(label="group B")
        page.get_by_label("Profile").select_option("VIEWER")
        page.get_by_role("button", name="Create the API user").click()
        secret = page.locator("#secret-password")
        expect(secret).to_have_text(re.compile(r"^[0-9a-f]{32}$"))
        no_serious_violation(page)
        shoot(page, "api-users")
        page.goto("/console/api-users")
        expect(page.get_by_role("cell", name="dashboard", exact=True)).to_be_visible()
        expect(page.locator("#secret-password")).to_have_count(0)
    finally:
        page.context.close()
