"""The console's login, sessions, CSRF and access rules, over real HTTP (httpx) against a
running lorafox, on SQLite or PostgreSQL."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.conftest import ADMIN_PASSWORD, Running, execute_sql
from tests.console.conftest import PASSWORD, World, build_world, csrf_of, log_in, login_token


def test_a_page_without_a_session_goes_to_the_login_page(world: World) -> None:
    with httpx.Client(base_url=world.base_url) as http:
        home = http.get("/", headers={"Accept": "text/html"})
        assert home.status_code == 307 and home.headers["location"] == "/console"
        page = http.get("/console/devices?name=meter")
        assert page.status_code == 303
        assert page.headers["location"] == "/console/login?next=%2Fconsole%2Fdevices%3Fname%3Dmeter"
        fragment = http.get("/console/devices", headers={"HX-Request": "true"})
        assert fragment.status_code == 401 and fragment.headers["hx-redirect"] == "/console/login"
        login = http.get("/console/login")
        assert login.status_code == 200 and "Log in to lorafox" in login.text
        assert "content-security-policy" in login.headers
        assert login.headers["x-frame-options"] == "DENY"


def test_login_opens_a_session_with_a_safe_cookie_and_logout_ends_it(world: World) -> None:
    with httpx.Client(base_url=world.base_url) as http:
        form = http.get("/console/login?next=/console/devices/1234")
        answer = http.post(
            "/console/login",
            data={
                "login_token": login_token(form.text),
                "email": world.users["A:VIEWER"],
                "password": PASSWORD,
                "next": "/console/devices?name=a",
            },
        )
        assert answer.status_code == 303 and answer.headers["location"] == "/console/devices?name=a"
        cookie = next(
            c for c in answer.headers.get_list("set-cookie") if c.startswith("lorafox_session=")
        )
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
        assert "Secure" not in cookie  # plain HTTP and console.cookie_secure unset
        page = http.get("/console/devices")
        assert page.status_code == 200 and world.users["A:VIEWER"] in page.text
        out = http.post("/console/logout", data={"csrf": csrf_of(page.text)})
        assert out.status_code == 303 and out.headers["location"] == "/console/login"
        again = http.get("/console/devices")
        assert again.status_code == 303  # the session is gone from the database


def test_a_session_is_not_kept_after_logout_even_with_the_old_cookie(world: World) -> None:
    http = log_in(world.base_url, world.users["B:VIEWER"])
    token = http.cookies["lorafox_session"]
    page = http.get("/console/devices")
    http.post("/console/logout", data={"csrf": csrf_of(page.text)})
    with httpx.Client(base_url=world.base_url, cookies={"lorafox_session": token}) as replay:
        assert replay.get("/console/devices").status_code == 303
    http.close()


def test_a_failed_login_says_the_same_for_an_unknown_email_and_a_wrong_password(
    world: World,
) -> None:
    with httpx.Client(base_url=world.base_url) as http:
        answers = []
        for email, password in (
            (world.users["A:VIEWER"], "wrong password"),
            ("nobody@example.com", PASSWORD),
        ):
            form = http.get("/console/login")
            answers.append(
                http.post(
                    "/console/login",
                    data={
                        "login_token": login_token(form.text),
                        "email": email,
                        "password": password,
                    },
                )
            )
        for answer in answers:
            assert answer.status_code == 401
            assert "Wrong email or password." in answer.text
            assert "lorafox_session" not in answer.headers.get("set-cookie", "")


def test_a_login_without_its_form_token_is_refused(world: World) -> None:
    with httpx.Client(base_url=world.base_url) as http:
        answer = http.post("/console/login", data={"email": "admin", "password": ADMIN_PASSWORD})
        assert answer.status_code == 403
        assert "the login form expired" in answer.text
        assert "lorafox_session" not in answer.headers.get("set-cookie", "")


def test_the_database_holds_only_a_hash_of_the_session_id(world: World) -> None:
    http = log_in(world.base_url, world.users["A:DEVICE_MANAGER"])
    token = http.cookies["lorafox_session"]
    data_dir = world.lorafox.service.settings.data_dir
    execute_sql(data_dir, f"DELETE FROM console_sessions WHERE id_hash = '{token}'")  # noqa: S608
    assert http.get("/console/devices").status_code == 200  # no row held the id itself
    digest = hashlib.sha256(token.encode()).hexdigest()
    execute_sql(data_dir, f"DELETE FROM console_sessions WHERE id_hash = '{digest}'")  # noqa: S608
    assert http.get("/console/devices").status_code == 303
    http.close()


def test_a_post_without_the_csrf_token_is_refused_with_a_clear_message(world: World) -> None:
    device = world.devices["A"][0]
    http = log_in(world.base_url, world.users["A:DEVICE_MANAGER"])
    page = http.get(f"/console/devices/{device}")
    token = csrf_of(page.text)
    url = f"/console/devices/{device}/downlinks"
    missing = http.post(url, data={"data": "0102030405060708"})
    assert missing.status_code == 403
    assert "CSRF token is missing or wrong" in missing.text
    wrong = http.post(
        url,
        data={
            "data": "0102030405060708",
            "csrf": token[:-1] + ("1" if token.endswith("0") else "0"),
        },
    )
    assert wrong.status_code == 403
    htmx = http.post(
        url, data={"data": "0102030405060708"}, headers={"HX-Request": "true", "X-CSRF-Token": "x"}
    )
    assert htmx.status_code == 403 and htmx.headers["hx-retarget"] == "#alert"
    assert "CSRF" in htmx.text
    assert world.ok("GET", f"/api/v2/devices/{device}/downlinks")["data"] == []
    done = http.post(url, data={"data": "0102030405060708", "csrf": token})
    assert done.status_code == 303
    by_header = http.post(
        url,
        data={"data": "1112131415161718"},
        headers={"HX-Request": "true", "X-CSRF-Token": token},
    )
    assert by_header.status_code == 200 and "1112131415161718" in by_header.text
    queued = world.ok("GET", f"/api/v2/devices/{device}/downlinks")["data"]
    assert [d["data"] for d in queued] == ["0102030405060708", "1112131415161718"]
    assert {d["source"] for d in queued} == {"console"}
    http.close()


def test_a_viewer_sees_no_edit_control_and_gets_403_when_posting_anyway(world: World) -> None:
    device = world.devices["A"][1]
    http = log_in(world.base_url, world.users["A:VIEWER"])
    page = http.get(f"/console/devices/{device}")
    assert page.status_code == 200
    assert "Queue the downlink" not in page.text
    listing = http.get("/console/devices")
    assert 'name="ids"' not in listing.text and "With the ticked devices" not in listing.text
    token = csrf_of(page.text)
    queued = http.post(
        f"/console/devices/{device}/downlinks", data={"data": "0102030405060708", "csrf": token}
    )
    assert queued.status_code == 403
    assert "is needed to do this; you hold VIEWER" in queued.text
    bulk = http.post(
        "/console/devices/bulk", data={"action": "delete", "ids": device, "csrf": token}
    )
    assert bulk.status_code == 403
    assert world.ok("GET", f"/api/v2/devices/{device}")["id"] == device
    http.close()


def test_a_user_sees_only_its_groups_devices(world: World) -> None:
    http = log_in(world.base_url, world.users["A:VIEWER"])
    listing = http.get("/console/devices")
    for device in world.devices["A"]:
        assert f"/console/devices/{device}" in listing.text
    for device in world.devices["B"]:
        assert f"/console/devices/{device}" not in listing.text
        assert http.get(f"/console/devices/{device}").status_code == 404
        assert http.get(f"/console/devices/{device}/messages").status_code == 404
        assert http.get(f"/console/devices/{device}/statistics.json").status_code == 404
    other_type = http.get(f"/console/devices?type={world.types['B']}")
    assert other_type.status_code == 200 and "No device matches." in other_type.text
    http.close()


def test_a_manager_moves_and_deletes_devices_in_bulk_within_its_groups(world: World) -> None:
    made = [world.device("A", f"bulk-{n}") for n in range(3)]
    http = log_in(world.base_url, world.users["A:DEVICE_MANAGER"])
    token = csrf_of(http.get("/console/devices").text)
    moved = http.post(
        "/console/devices/bulk",
        data={
            "csrf": token,
            "action": "move",
            "target_type": world.types["B"],  # not its group: each one fails
            "ids": made[:2],
            "back": "name=bulk",
        },
    )
    assert moved.status_code == 303
    assert moved.headers["location"] == "/console/devices?name=bulk&done=moved&count=0&failed=2"
    deleted = http.post(
        "/console/devices/bulk",
        data={"csrf": token, "action": "delete", "ids": [made[0], world.devices["B"][0]]},
    )
    notice = http.get(deleted.headers["location"])
    assert "1 device deleted. 1 could not be" in notice.text
    assert world.api.get(f"/api/v2/devices/{made[0]}").status_code == 404
    assert world.ok("GET", f"/api/v2/devices/{world.devices['B'][0]}")["id"]
    http.close()


def test_the_list_filters_sorts_and_pages(world: World) -> None:
    heard = world.device("A", "filter-heard")
    world.uplink(heard, 1)
    http = log_in(world.base_url, "admin", ADMIN_PASSWORD)
    by_name = http.get("/console/devices?name=FILTER-heard")
    assert f"/console/devices/{heard}" in by_name.text
    assert f"/console/devices/{world.devices['B'][1]}" not in by_name.text
    silent = http.get("/console/devices?seen=silent24h")
    assert f"/console/devices/{heard}" not in silent.text
    assert f"/console/devices/{world.devices['B'][1]}" in silent.text  # never heard
    recent = http.get("/console/devices?seen=1h")
    assert f"/console/devices/{heard}" in recent.text
    assert f"/console/devices/{world.devices['B'][1]}" not in recent.text
    by_id = http.get(f"/console/devices?id={heard.lower()}")
    assert f"/console/devices/{heard}" in by_id.text
    bad_id = http.get("/console/devices?id=not-hex")
    assert bad_id.status_code == 200 and 'role="alert"' in bad_id.text
    table = http.get(
        "/console/devices?sort=-name", headers={"HX-Request": "true", "HX-Target": "device-table"}
    )
    assert table.text.lstrip().startswith("<table") or "<table" in table.text[:400]
    names = [n for n in ("filter-heard", "b-meter-2", "a-meter-1") if n in table.text]
    assert names == sorted(names, reverse=True) and names
    http.close()


def test_an_idle_session_ends(lorafox_factory: Callable[..., Running]) -> None:
    lorafox = lorafox_factory(console={"idle_minutes": 0.02})  # 1.2 s
    http = log_in(lorafox.base_url, "admin", ADMIN_PASSWORD)
    assert http.get("/console/devices").status_code == 200
    time.sleep(1.5)
    assert http.get("/console/devices").status_code == 303
    http.close()


def test_a_session_ends_at_its_absolute_expiry_even_when_active(
    lorafox_factory: Callable[..., Running],
) -> None:
    lorafox = lorafox_factory(console={"session_hours": 0.001})  # 3.6 s
    http = log_in(lorafox.base_url, "admin", ADMIN_PASSWORD)
    token = http.cookies["lorafox_session"]
    http.close()
    with httpx.Client(base_url=lorafox.base_url, cookies={"lorafox_session": token}) as active:
        for _ in range(3):
            assert active.get("/console/devices").status_code == 200
            time.sleep(0.3)
        time.sleep(3)  # the server ends it, whatever the browser keeps
        assert active.get("/console/devices").status_code == 303


def test_a_deleted_user_loses_its_session(lorafox_factory: Callable[..., Running]) -> None:
    lorafox = lorafox_factory()
    world = build_world(lorafox)
    email = world.users["B:DEVICE_MANAGER"]
    http = log_in(lorafox.base_url, email)
    assert http.get("/console/devices").status_code == 200
    [user] = [u for u in world.ok("GET", "/api/v2/users?limit=100")["data"] if u["email"] == email]
    world.ok("DELETE", f"/api/v2/users/{user['id']}", 204)
    assert http.get("/console/devices").status_code == 303
    http.close()
    world.api.close()


def test_the_cookie_is_secure_when_configured(lorafox_factory: Callable[..., Running]) -> None:
    lorafox = lorafox_factory(console={"cookie_secure": True})  # TLS ends at a proxy
    with httpx.Client(base_url=lorafox.base_url) as http:
        form = http.get("/console/login")
        assert "Secure" in form.headers["set-cookie"]
        token = login_token(form.text)
        answer = http.post(
            "/console/login",
            data={"login_token": token, "email": "admin", "password": ADMIN_PASSWORD},
            headers={"Cookie": f"lorafox_login={token}"},  # as the browser sends it over HTTPS
        )
        cookie = next(
            c for c in answer.headers.get_list("set-cookie") if c.startswith("lorafox_session=")
        )
        assert "Secure" in cookie and "HttpOnly" in cookie


def test_sessions_survive_in_the_database_for_another_instance(
    lorafox_factory: Callable[..., Running], tmp_path: Path
) -> None:
    data_dir = tmp_path / "shared"
    first = lorafox_factory(data_dir=data_dir)
    http = log_in(first.base_url, "admin", ADMIN_PASSWORD)
    token = http.cookies["lorafox_session"]
    http.close()
    first.stop()
    second = lorafox_factory(data_dir=data_dir)
    with httpx.Client(base_url=second.base_url, cookies={"lorafox_session": token}) as again:
        assert again.get("/console/devices").status_code == 200
    execute_sql(data_dir, "DELETE FROM console_sessions")
    with httpx.Client(base_url=second.base_url, cookies={"lorafox_session": token}) as again:
        assert again.get("/console/devices").status_code == 303


def test_logins_are_throttled_as_on_the_api(lorafox_factory: Callable[..., Running]) -> None:
    lorafox = lorafox_factory(login_failures_per_address=3)
    with httpx.Client(base_url=lorafox.base_url) as http:
        statuses = []
        for _ in range(4):
            form = http.get("/console/login")
            answer = http.post(
                "/console/login",
                data={"login_token": login_token(form.text), "email": "admin", "password": "no"},
            )
            statuses.append(answer.status_code)
        assert statuses == [401, 401, 401, 429]
        assert "Too many wrong passwords: try again in" in answer.text
        form = http.get("/console/login")
        right = http.post(
            "/console/login",
            data={
                "login_token": login_token(form.text),
                "email": "admin",
                "password": ADMIN_PASSWORD,
            },
        )
        assert right.status_code == 429  # even the right password, until the lock-out ends
        basic = http.get("/api/v2/groups", auth=("admin", ADMIN_PASSWORD))
        assert basic.status_code == 429  # one throttle for the API and the console


def test_bad_addresses_get_clear_error_pages(world: World) -> None:
    http = log_in(world.base_url, world.users["A:VIEWER"])
    missing = http.get("/console/no-such-page")
    assert missing.status_code == 404 and "There is no such page." in missing.text
    bad = http.get("/console/devices/not-an-id")
    assert bad.status_code == 400 and "<h1" in bad.text
    chart = http.get(f"/console/devices/{world.devices['A'][0]}/statistics.json?bucket=year")
    assert chart.status_code == 400
    form = http.post(
        f"/console/devices/{world.devices['A'][0]}/downlinks",
        content=b'{"data": "00"}',
        headers={"content-type": "application/json"},
    )
    assert form.status_code == 400 and "x-www-form-urlencoded" in form.text
    http.close()
