"""The problem pages: MQTT downlink requests rejected, topic rules failing, registrations
refused — each listed newest first with its fix, filterable by device, only for the groups
the user sees; a DEVICE_MANAGER registers a refused device from the list (in Chromium too)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import orjson
import pytest

from tests.console.browsing import logged_in, no_serious_violation, shoot
from tests.console.conftest import ADMIN, PAC, SIGFOX, World, build_world, csrf_of, log_in
from tests.integration.helpers import new_api_user, serving
from tests.mqtt_helpers import Recorder, wait_until


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The console's world, refusing unknown devices, a rule failing at its second failure."""
    data_dir = tmp_path_factory.mktemp("problems") / "data"
    with serving(
        data_dir,
        console={"refresh_seconds": 0.5},
        sigfox={"unknown_devices": "refuse"},
        rules={"failing_after": 2},
    ) as lorafox:
        made = build_world(lorafox)
        try:
            yield made
        finally:
            made.api.close()


def _mqtt(world: World, key: str, *filters: str) -> Recorder:
    """An MQTT client of an API user of ``key`` ("A:DEVICE_MANAGER"), or the admin's."""
    assert world.lorafox.mqtt_port
    login, secret = ADMIN
    if key != "admin":
        group, profile = key.split(":")
        login, secret = new_api_user(world.api, world.groups[group], f"mqtt {key}", profile)
    return Recorder("127.0.0.1", world.lorafox.mqtt_port, *filters, username=login, password=secret)


def _events(world: World, device: str, kind: str) -> list[dict[str, Any]]:
    found = world.ok("GET", f"/api/v2/devices/{device}/events")["data"]
    return [e for e in found if e["type"] == kind]


def test_a_rejected_downlink_request_is_kept_and_shown_with_its_fix(world: World) -> None:
    a, b = world.devices["A"][0], world.devices["B"][0]
    client = _mqtt(world, "A:DEVICE_MANAGER", "sigfox/downlink/#")
    try:
        bad = {"downlinkData": "not hex", "requestId": "req-42"}
        client.publish(f"sigfox/downlink/{a}", orjson.dumps(bad))
        [answer] = client.wait_for(f"sigfox/downlink/{a}/rejected")
        assert "downlinkData" in answer["error"]
        client.publish(f"sigfox/downlink/{b}", orjson.dumps({"downlinkData": "0102030405060708"}))
        client.wait_for(f"sigfox/downlink/{b}/rejected")
    finally:
        client.close()
    [kept] = wait_until(lambda: _events(world, a, "downlink_rejected"))
    assert kept["data"]["requestId"] == "req-42"
    assert kept["data"]["topic"] == f"sigfox/downlink/{a}"
    assert kept["data"]["field"] == "downlinkData"
    wait_until(lambda: _events(world, b, "downlink_rejected"))
    with closing(log_in(world.base_url, world.users["A:VIEWER"])) as http:
        page = http.get("/console/problems/downlinks")
        assert page.status_code == 200, page.text
        assert f"sigfox/downlink/{a}" in page.text and "req-42" in page.text
        assert "Correct the request&#39;s downlinkData field" in page.text
        assert f"sigfox/downlink/{b}" not in page.text  # group B's device
        overview = http.get("/console/problems")
        assert overview.status_code == 200 and "Rejected downlinks" in overview.text
        badge = http.get("/console/problems/count")
        assert badge.status_code == 200 and 'id="problem-count"' in badge.text
        assert 'hx-get="/console/problems/count"' in overview.text  # in the navigation
        filtered = http.get("/console/problems/downlinks", params={"device": b})
        assert "req-42" not in filtered.text and "Nothing failed for this device" in filtered.text
        bad_filter = http.get("/console/problems/downlinks", params={"device": "xyz!"})
        assert bad_filter.status_code == 400 and 'id="device-error"' in bad_filter.text
        assert http.get("/console/problems/nonsense").status_code in (400, 404)
        spoof = http.get("/console/problems/registrations", params={"registered": "<b>x</b>"})
        assert spoof.status_code == 400
    with closing(log_in(world.base_url, world.users["B:VIEWER"])) as http:
        page = http.get("/console/problems/downlinks")
        assert f"sigfox/downlink/{b}" in page.text and "Register the device" in page.text
        assert "req-42" not in page.text
    with closing(log_in(world.base_url, ADMIN[0], ADMIN[1])) as http:
        page = http.get("/console/problems/downlinks", params={"device": a})
        assert "req-42" in page.text and f"sigfox/downlink/{b}" not in page.text


def test_a_flood_of_rejections_keeps_a_bounded_number_of_events(world: World) -> None:
    device = world.devices["A"][1]
    client = _mqtt(world, "admin", f"sigfox/downlink/{device}/rejected")
    try:
        for _ in range(30):
            client.publish(f"sigfox/downlink/{device}", b"not json")
        client.wait_for(f"sigfox/downlink/{device}/rejected", 30)  # every one answered
    finally:
        client.close()
    time.sleep(0.5)  # the events are stored in batches
    kept = wait_until(lambda: _events(world, device, "downlink_rejected"))
    assert len(kept) == 10  # per device and minute


def test_a_failing_rule_is_shown_with_the_message_that_triggered_it(world: World) -> None:
    name = "failing_a"
    with closing(log_in(world.base_url, world.users["A:DEVICE_MANAGER"])) as http:
        form = http.get("/console/rules/new")
        body = {
            "csrf": csrf_of(form.text),
            "name": name,
            "sql": "SELECT data FROM 'sigfox/uplink/+'",
            "actions": '[{"http": {"url": "https://unreachable.example.invalid/in"}}]',
            "enabled": "true",
        }
        assert http.post("/console/rules/new", data=body).status_code == 303
    device = world.devices["A"][0]
    for seq in (1, 2, 3):
        world.uplink(device, seq, data=f"0{seq}")

    def listed() -> Any:
        with closing(log_in(world.base_url, world.users["A:VIEWER"])) as http:
            page = http.get("/console/problems/rules")
            return page if f'href="/console/rules/{name}"' in page.text else None

    page = wait_until(listed, timeout=30)
    assert "HttpAction" in page.text and "recovers by itself" in page.text
    assert f"sigfox/uplink/{device}" in page.text  # the message that triggered it
    with closing(log_in(world.base_url, world.users["A:VIEWER"])) as http:
        other = http.get("/console/problems/rules", params={"device": world.devices["A"][1]})
        assert f"sigfox/uplink/{device}" not in other.text
    with closing(log_in(world.base_url, world.users["B:VIEWER"])) as http:
        assert name not in http.get("/console/problems/rules").text
    with closing(log_in(world.base_url, world.users["A:DEVICE_MANAGER"])) as http:
        http.post(
            f"/console/rules/{name}",
            data={
                "csrf": csrf_of(http.get(f"/console/rules/{name}").text),
                "sql": "SELECT 1 FROM 'x'",
                "actions": "[]",
            },
        )


def _refused(world: World, device: str, type_id: str | None = None) -> None:
    body: dict[str, Any] = {
        "device": device,
        "time": int(time.time()),
        "seqNumber": 1,
        "data": "01",
    }
    if type_id is not None:
        body["deviceTypeId"] = type_id
    answer = world.api.post("/sigfox/uplink", json=body, auth=SIGFOX)
    assert answer.status_code == 404, answer.text


def test_a_refused_registration_is_shown_and_a_manager_registers_the_device(
    world: World,
) -> None:
    _refused(world, "C0FFEE", world.types["A"])
    _refused(world, "B0B0B0", world.types["B"])
    with closing(log_in(world.base_url, world.users["A:DEVICE_MANAGER"])) as http:
        page = wait_until(
            lambda: (p := http.get("/console/problems/registrations")) and "C0FFEE" in p.text and p
        )
        assert "B0B0B0" not in page.text  # group B's device type
        assert "Register the device" in page.text
        assert 'href="/console/problems/registrations?register=C0FFEE#register"' in page.text
        form = http.get("/console/problems/registrations", params={"register": "C0FFEE"})
        assert 'value="C0FFEE"' in form.text
        token = csrf_of(form.text)
        body = {"csrf": token, "id": "C0FFEE", "pac": "nope", "deviceTypeId": world.types["A"]}
        wrong = http.post("/console/problems/registrations/register", data=body)
        assert wrong.status_code == 400 and 'id="pac-error"' in wrong.text
        other = http.post(
            "/console/problems/registrations/register",
            data=body | {"pac": PAC, "deviceTypeId": world.types["B"]},
        )
        assert other.status_code == 404  # another group's device type
        made = http.post("/console/problems/registrations/register", data=body | {"pac": PAC})
        assert made.status_code == 303, made.text
        assert "registered=C0FFEE" in made.headers["location"]
    assert world.ok("GET", "/api/v2/devices/C0FFEE")["deviceType"]["id"] == world.types["A"]
    world.uplink("C0FFEE", 2)  # accepted now
    with closing(log_in(world.base_url, world.users["A:VIEWER"])) as http:
        page = http.get("/console/problems/registrations")
        assert "C0FFEE" in page.text and 'id="register-form"' not in page.text
        token = csrf_of(page.text)
        body = {"csrf": token, "id": "C0FFE1", "pac": PAC, "deviceTypeId": world.types["A"]}
        refused = http.post("/console/problems/registrations/register", data=body)
        assert refused.status_code == 403


@pytest.mark.browser
def test_in_the_browser_the_problem_pages_list_and_register(world: World, browser: Any) -> None:
    _refused(world, "D00D", world.types["A"])
    page = logged_in(browser, world.base_url, world.users["A:DEVICE_MANAGER"], "console-test-pw-1")
    try:
        from playwright.sync_api import expect

        expect(page.locator("header nav #problem-count")).to_be_visible()
        page.get_by_role("link", name="Problems").click()
        page.wait_for_url("**/console/problems")
        shoot(page, "problems")
        no_serious_violation(page)
        page.get_by_role("link", name="Refused registrations").first.click()
        page.get_by_role("link", name="Register D00D").click()
        page.get_by_label("PAC (16 hex digits)").fill(PAC)
        page.get_by_label("Device type").select_option(world.types["A"])
        page.get_by_role("button", name="Register").click()
        page.get_by_text("Device D00D is registered.").wait_for()
        shoot(page, "problems-registrations")
        no_serious_violation(page)
        page.goto("/console/problems/downlinks")
        no_serious_violation(page)
        page.goto("/console/problems/rules")
        no_serious_violation(page)
    finally:
        page.context.close()
    assert world.ok("GET", "/api/v2/devices/D00D")["id"] == "D00D"
