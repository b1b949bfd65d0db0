"""The users page: creating a user, changing its role, deleting it; setting a password, which
ends every console session of that user whichever way it changes (this page, the API, one's
own change, which keeps the browser it was made in); what a VIEWER may not do; and the page
in Chromium (axe-core, screenshot)."""

from __future__ import annotations

from contextlib import closing
from typing import Any

import httpx
import pytest

from tests.console.browsing import logged_in, no_serious_violation, shoot
from tests.console.conftest import ADMIN, PASSWORD, World, csrf_of, log_in


def _user(world: World, email: str) -> dict[str, Any]:
    listed: list[dict[str, Any]] = world.ok("GET", "/api/v2/users", params={"text": email})["data"]
    [found] = [u for u in listed if u["email"] == email]
    return found


def _sent_to_login(http: httpx.Client) -> bool:
    answer = http.get("/console/users")
    return answer.status_code == 303 and "/console/login" in answer.headers["location"]


def _new_user(world: World, email: str, group: str = "A") -> str:
    body = {
        "email": email,
        "firstName": "Pat",
        "lastName": "Doe",
        "password": PASSWORD,
        "userRoles": [{"groupId": world.groups[group], "profileId": "VIEWER"}],
    }
    made: str = world.ok("POST", "/api/v2/users", 201, json=body)["id"]
    return made


def test_an_admin_creates_a_user_changes_its_role_and_deletes_it(world: World) -> None:
    with closing(log_in(world.base_url, *ADMIN)) as http:
        token = csrf_of(http.get("/console/users").text)
        form = {
            "csrf": token,
            "email": "new.person@example.com",
            "firstName": "New",
            "lastName": "Person",
            "groupId": world.groups["A"],
            "profileId": "VIEWER",
        }
        short = http.post("/console/users", data=form | {"password": "x"})
        assert short.status_code == 400 and 'id="password-error"' in short.text
        bad_email = http.post(
            "/console/users", data=form | {"email": "nope", "password": "a-long-password-1"}
        )
        assert bad_email.status_code == 400 and 'id="email-error"' in bad_email.text
        made = http.post("/console/users", data=form | {"password": "a-long-password-1"})
        assert made.status_code == 303
        user = _user(world, "new.person@example.com")
        assert [(r["group"]["id"], r["profile"]["id"]) for r in user["userRoles"]] == [
            (world.groups["A"], "VIEWER")
        ]
        with closing(log_in(world.base_url, "new.person@example.com", "a-long-password-1")):
            pass
        role = http.post(
            f"/console/users/{user['id']}/role",
            data={"csrf": token, "groupId": world.groups["B"], "profileId": "DEVICE_MANAGER"},
        )
        assert role.status_code == 303
        changed = _user(world, "new.person@example.com")
        assert [(r["group"]["id"], r["profile"]["id"]) for r in changed["userRoles"]] == [
            (world.groups["B"], "DEVICE_MANAGER")
        ]
        gone = http.post(f"/console/users/{user['id']}/delete", data={"csrf": token})
        assert gone.status_code == 303
        listed = world.ok("GET", "/api/v2/users", params={"text": "new.person"})["data"]
        assert listed == []


def test_a_password_set_by_an_admin_here_or_on_the_api_ends_the_users_sessions(
    world: World,
) -> None:
    email = "rotated@example.com"
    user_id = _new_user(world, email)
    first, second = log_in(world.base_url, email), log_in(world.base_url, email)
    with closing(first), closing(second), closing(log_in(world.base_url, *ADMIN)) as admin:
        assert first.get("/console/users").status_code == 200
        token = csrf_of(admin.get("/console/users").text)
        short = admin.post(
            f"/console/users/{user_id}/password", data={"csrf": token, "password": "x"}
        )
        assert short.status_code == 400 and "The password was not changed" in short.text
        assert not _sent_to_login(first)
        done = admin.post(
            f"/console/users/{user_id}/password",
            data={"csrf": token, "password": "rotated-password-2"},
        )
        assert done.status_code == 303
        assert _sent_to_login(first) and _sent_to_login(second)
        assert admin.get("/console/users").status_code == 200
    third = log_in(world.base_url, email, "rotated-password-2")
    with closing(third):
        body = {"newPassword": "rotated-password-3"}
        world.ok("PUT", f"/api/v2/users/{user_id}/password", 204, json=body)
        assert _sent_to_login(third)


def test_changing_ones_own_password_keeps_this_browser_and_ends_the_others(
    world: World,
) -> None:
    email = "own@example.com"
    _new_user(world, email)
    here, there = log_in(world.base_url, email), log_in(world.base_url, email)
    with closing(here), closing(there):
        token = csrf_of(here.get("/console/users").text)
        wrong = here.post(
            "/console/password",
            data={"csrf": token, "currentPassword": "wrong", "newPassword": "own-password-2"},
        )
        assert wrong.status_code == 400 and "Your password was not changed" in wrong.text
        assert not _sent_to_login(there)
        done = here.post(
            "/console/password",
            data={"csrf": token, "currentPassword": PASSWORD, "newPassword": "own-password-2"},
        )
        assert done.status_code == 303
        assert _sent_to_login(there)
        kept = here.get("/console/users?done=own-password")
        assert kept.status_code == 200 and "your other console sessions ended" in kept.text
    with closing(log_in(world.base_url, email, "own-password-2")):
        pass


def test_a_viewer_sees_no_control_and_a_forged_post_is_refused(world: World) -> None:
    target = _new_user(world, "target@example.com")
    with closing(log_in(world.base_url, world.users["A:VIEWER"])) as http:
        page = http.get("/console/users")
        assert page.status_code == 200 and "target@example.com" in page.text
        assert "device_manager.b@example.com" not in page.text
        assert "Set the role" not in page.text and "New user" not in page.text
        token = csrf_of(page.text)
        forged = [
            http.post(
                f"/console/users/{target}/password", data={"csrf": token, "password": "p" * 12}
            ),
            http.post(
                f"/console/users/{target}/role",
                data={"csrf": token, "groupId": world.groups["A"], "profileId": "ADMIN"},
            ),
            http.post(f"/console/users/{target}/delete", data={"csrf": token}),
            http.post(
                "/console/users",
                data={
                    "csrf": token,
                    "email": "x@example.com",
                    "password": "p" * 12,
                    "groupId": world.groups["A"],
                    "profileId": "ADMIN",
                },
            ),
        ]
        assert [r.status_code for r in forged] == [403, 403, 403, 403]
    assert _user(world, "target@example.com")["userRoles"][0]["profile"]["id"] == "VIEWER"


@pytest.mark.browser
def test_the_users_page_in_chromium(world: World, browser: Any) -> None:
    from playwright.sync_api import expect

    page = logged_in(browser, world.base_url, ADMIN[0], ADMIN[1])
    try:
        nav = page.get_by_role("navigation", name="Main")
        nav.get_by_role("link", name="Users", exact=True).click()
        page.get_by_label("Email", exact=True).fill("browser.made@example.com")
        page.get_by_label("First name").fill("Browser")
        page.get_by_label("Last name").fill("Made")
        page.get_by_label("Password", exact=True).fill("browser-made-pw-1")
        page.get_by_label("Group", exact=True).select_option(label="group B")
        page.get_by_label("Profile", exact=True).select_option("DEVICE_MANAGER")
        page.get_by_role("button", name="Create the user").click()
        expect(page.get_by_role("status")).to_have_text("Saved.")
        made = page.get_by_role("cell", name="browser.made@example.com", exact=True)
        expect(made).to_be_visible()
        no_serious_violation(page)
        shoot(page, "users")
    finally:
        page.context.close()
