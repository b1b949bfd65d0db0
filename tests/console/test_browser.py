"""The console in a real browser (Debian's Chromium through Playwright): logging in, filtering
the device list, a device page that shows an uplink and a downlink's states as the callbacks
arrive (without a reload), a VIEWER's read-only pages; axe-core finds no serious or critical
accessibility violation on any page; screenshots of the main pages go to ``docs/console/``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN_PASSWORD
from tests.console.conftest import PASSWORD, SIGFOX, World

pytestmark = pytest.mark.browser

AXE = Path(__file__).with_name("axe.min.js")
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "console"
WAIT_MS = 15_000
"""How long an expectation waits for the page (the live parts refresh every 0.5 s here)."""


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookie) and page; CSP bypassed only so axe can be injected."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, bypass_csp=True)
    context.set_default_timeout(WAIT_MS)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()


def log_in(page: Any, world: World, login: str, password: str) -> None:
    page.goto(world.base_url + "/console")
    page.get_by_label("Email").fill(login)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/console/devices")


def no_serious_violation(page: Any) -> None:
    """axe-core on the page as it is: no serious or critical violation."""
    page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => await axe.run(document)")
    bad = [
        (v["id"], v["impact"], v["help"], [n["target"] for n in v["nodes"]][:3])
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], bad


def shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_log_in_filter_open_a_device_and_follow_an_uplink_and_a_downlink(
    page: Any, world: World
) -> None:
    from playwright.sync_api import expect

    body = {
        "name": "meters with a format",
        "groupId": world.groups["A"],
        "payloadType": 3,
        "payloadConfig": "count::uint:8 temp::uint:16",
    }
    world.types["A-decoded"] = world.ok("POST", "/api/v2/device-types", 201, json=body)["id"]
    device = world.device("A-decoded", "browser-meter", "B10C")
    world.uplink(device, 10, "0a0b0c")
    status = {"device": device, "time": int(time.time()), "temp": 21.5, "batt": 3.1}
    assert world.api.post("/sigfox/service/status", json=status, auth=SIGFOX).status_code == 200
    page.goto(world.base_url + "/console")
    expect(page.get_by_role("heading", name="Log in to lorafox")).to_be_visible()
    no_serious_violation(page)
    shoot(page, "login")
    page.get_by_label("Email").fill("admin")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("alert").filter(has_text="Wrong email or password.")).to_be_visible()

    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/console/devices")
    expect(page.get_by_role("heading", name="Devices")).to_be_visible()
    no_serious_violation(page)

    page.get_by_label("Name contains").fill("browser")
    page.get_by_role("button", name="Filter").click()
    table = page.locator("#device-table")
    expect(table.get_by_role("link", name=device)).to_be_visible()
    expect(table.get_by_role("link", name=world.devices["B"][0])).to_have_count(0)
    assert "name=browser" in page.url  # the filter is in the address bar
    page.get_by_label("Name contains").fill("")
    page.get_by_role("button", name="Filter").click()
    expect(table.get_by_role("link", name=world.devices["B"][0])).to_be_visible()
    shoot(page, "devices")

    page.get_by_text("Columns", exact=True).click()
    page.get_by_role("checkbox", name="Group").uncheck()
    expect(page.locator("th[data-col=group]")).to_be_hidden()
    page.reload()
    expect(page.locator("th[data-col=group]")).to_be_hidden()  # remembered by the browser
    page.get_by_text("Columns", exact=True).click()
    page.get_by_role("checkbox", name="Group").check()

    page.goto(world.base_url + "/console/devices?name=browser")
    page.locator("#device-table").get_by_role("link", name=device).click()
    page.wait_for_url(f"**/console/devices/{device}")
    expect(page.get_by_role("heading", name=f"browser-meter {device}")).to_be_visible()
    messages = page.locator("#messages")
    expect(messages.locator("tr[data-seq='10']")).to_contain_text("0a0b0c")
    expect(messages.locator("tr[data-seq='10']")).to_contain_text("count: 10")  # decoded
    expect(page.get_by_role("region", name="Last status")).to_contain_text("21.5 °C")

    world.uplink(  # arrives while the page is open
        device, 11, "1122334455", station="1A2B", rssi=-121.5, snr=14.2, lat=45.0, lng=5.0
    )
    expect(messages.locator("tr[data-seq='11']")).to_contain_text("1122334455")
    expect(messages.locator("tr[data-seq='11']")).to_contain_text("1A2B (-121.5 dBm)")

    page.get_by_label("Payload").fill("0102030405060708")
    page.get_by_role("button", name="Queue the downlink").click()
    downlinks = page.locator("#downlinks")
    expect(downlinks.locator("[data-state=queued]")).to_have_count(1)
    expect(downlinks).to_contain_text("0102030405060708")
    expect(page.get_by_label("Payload")).to_have_value("")
    no_serious_violation(page)

    when = int(time.time())
    bidir = world.api.post(
        "/sigfox/bidir",
        json={"device": device, "time": when, "seqNumber": 12, "data": "00", "ack": True},
        auth=SIGFOX,
    )
    assert bidir.json() == {device: {"downlinkData": "0102030405060708"}}
    expect(downlinks.locator("[data-state=sent]")).to_have_count(1)
    acknowledge = world.api.post(
        "/sigfox/service/acknowledge",
        json={
            "device": device,
            "time": when,
            "infoCode": 0,
            "infoMessage": "Acked",
            "downlinkAck": True,
            "downlinkOverusage": False,
        },
        auth=SIGFOX,
    )
    assert acknowledge.status_code == 200, acknowledge.text
    expect(downlinks.locator("[data-state=acked]")).to_have_count(1)
    expect(messages.locator("tr[data-seq='12']")).to_be_visible()
    expect(page.locator("#map .leaflet-interactive").first).to_be_attached()
    expect(page.locator(".chart canvas").first).to_be_attached()
    with page.expect_response(lambda r: "statistics.json?bucket=day" in r.url) as answer:
        page.get_by_role("button", name="Last 30 days, per day").click()
    assert sum(answer.value.json()["series"]["messages"]["values"][0]) == 3  # the 3 uplinks
    expect(page.get_by_role("button", name="Last 30 days, per day")).to_have_attribute(
        "aria-pressed", "true"
    )
    # uplinks, RSSI and SNR, bytes, temperature and battery: the uplinks carry no frequency
    expect(page.locator(".chart canvas")).to_have_count(5)
    expect(page.locator(".chart[data-series=frequency]")).to_contain_text("no value")
    page.reload()  # the map is drawn at load: now with the position uplink 11 carried
    expect(page.locator("#map path.leaflet-interactive[stroke='#0b5cad']").first).to_be_attached()
    expect(page.locator(".chart canvas")).to_have_count(5)
    shoot(page, "device")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/console/login")
    page.goto(world.base_url + f"/console/devices/{device}")
    page.wait_for_url("**/console/login?next=*")


def test_a_viewer_finds_no_edit_control(page: Any, world: World) -> None:
    from playwright.sync_api import expect

    device = world.devices["A"][0]
    log_in(page, world, world.users["A:VIEWER"], PASSWORD)
    expect(page.get_by_role("link", name=device)).to_be_visible()
    expect(page.get_by_role("link", name=world.devices["B"][0])).to_have_count(0)
    expect(page.get_by_role("checkbox", name=f"Tick {device}")).to_have_count(0)
    expect(page.get_by_role("button", name="Apply")).to_have_count(0)
    page.get_by_role("link", name=device).click()
    page.wait_for_url(f"**/console/devices/{device}")
    expect(page.get_by_role("heading", name="Downlinks")).to_be_visible()
    expect(page.get_by_role("button", name="Queue the downlink")).to_have_count(0)
    expect(page.get_by_role("button", name="Remove")).to_have_count(0)
    expect(page.get_by_label("Payload")).to_have_count(0)
    no_serious_violation(page)
    page.goto(world.base_url + f"/console/devices/{world.devices['B'][0]}")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    no_serious_violation(page)
