"""Devices imported from a CSV file on the devices list: the file is bounded and checked, a
progress bar advances by polling, the lines refused are listed, the others are devices (in
Chromium too); only a DEVICE_MANAGER of the device type's group may import."""

from __future__ import annotations

import re
import secrets
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.console.browsing import logged_in, no_serious_violation, shoot
from tests.console.conftest import PAC, PASSWORD, World, csrf_of, log_in


def _csv(count: int, bad: dict[int, str]) -> tuple[str, list[str]]:
    """A CSV of ``count`` devices with a header, the lines of ``bad`` (line number → text)
    in place of devices; and the ids of the good lines."""
    prefix = secrets.token_hex(2).upper()
    rows, good = ["id;pac;name;lat;lng"], []
    for n in range(2, count + 2):
        if n in bad:
            rows.append(bad[n])
            continue
        device = f"{prefix}{n:04X}"
        rows.append(f"{device};{PAC};meter {n};48,85;2,35")
        good.append(device)
    return "\n".join(rows) + "\n", good


def _upload(http: httpx.Client, token: str, text: str | bytes, type_id: str) -> httpx.Response:
    return http.post(
        "/console/devices/import",
        data={"csrf": token, "deviceTypeId": type_id},
        files={"file": ("devices.csv", text, "text/csv")},
    )


def _wait_done(http: httpx.Client, page: httpx.Response) -> httpx.Response:
    found = re.search(r"/console/devices/import/([0-9a-f]+)", page.text)
    assert found, page.text
    deadline = time.monotonic() + 30
    while 'data-done="true"' not in page.text:
        assert time.monotonic() < deadline, page.text
        time.sleep(0.1)
        page = http.get(f"/console/devices/import/{found.group(1)}")
        assert page.status_code == 200
    return page


def test_a_manager_imports_a_csv_and_sees_the_lines_refused(world: World) -> None:
    bad = {5: "XYZ;nope;bad", 9: f"1;{PAC};a;b;c;d;e", 12: f"ABC;{PAC};x;north;2"}
    text, good = _csv(40, bad)
    with closing(log_in(world.base_url, world.users["A:DEVICE_MANAGER"])) as http:
        listing = http.get("/console/devices")
        assert 'id="import-form"' in listing.text and world.types["A"] in listing.text
        assert world.types["B"] not in listing.text.split('id="import-form"')[1].split("</form>")[0]
        token = csrf_of(listing.text)
        started = _upload(http, token, text, world.types["A"])
        assert started.status_code == 200, started.text
        done = _wait_done(http, started)
        assert 'value="100"' in done.text
        assert f"{len(good)} devices created, 3 lines refused" in done.text
        for line in bad:
            assert f'<td class="num">{line}</td>' in done.text
        assert "north" in done.text and "7 columns, 5 expected" in done.text
        again = _wait_done(http, _upload(http, token, text, world.types["A"]))
        assert "0 devices created" in again.text and "already" in again.text.lower()
        elsewhere = _upload(http, token, text, world.types["B"])
        assert elsewhere.status_code == 404  # another group's device type
        nothing = _upload(http, token, "", world.types["A"])
        assert nothing.status_code == 400 and "choose the CSV file" in nothing.text
        long = "\n".join(f"{n:X};{PAC}" for n in range(1, 10_003))
        too_long = _upload(http, token, long, world.types["A"])
        assert too_long.status_code == 400 and "more than 10000 lines" in too_long.text
        binary = _upload(http, token, b"\xff\xfe\x00id", world.types["A"])
        assert binary.status_code == 400 and "not UTF-8" in binary.text
        huge = _upload(http, token, "x" * (1024 * 1024 + 1), world.types["A"])
        assert huge.status_code == 413
        no_csrf = http.post(
            "/console/devices/import",
            data={"deviceTypeId": world.types["A"]},
            files={"file": ("d.csv", text, "text/csv")},
        )
        assert no_csrf.status_code == 403
    made = world.ok("GET", f"/api/v2/devices/{good[0]}")
    assert made["deviceType"]["id"] == world.types["A"] and made["name"] == "meter 2"
    assert made["location"] == {"lat": 48.85, "lng": 2.35}
    with closing(log_in(world.base_url, world.users["A:VIEWER"])) as http:
        listing = http.get("/console/devices")
        assert 'id="import-form"' not in listing.text
        refused = _upload(http, csrf_of(listing.text), text, world.types["A"])
        assert refused.status_code == 403


@pytest.mark.browser
def test_in_the_browser_the_progress_bar_reaches_100(
    world: World, browser: Any, tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    bad = {n: f"BAD{n};short" for n in (10, 77, 150, 260)}
    text, good = _csv(300, bad)
    path = tmp_path / "devices.csv"
    path.write_text(text)
    page = logged_in(browser, world.base_url, world.users["A:DEVICE_MANAGER"], PASSWORD)
    try:
        page.get_by_text("Import devices from a CSV file").click()
        page.get_by_label("CSV file").set_input_files(str(path))
        page.get_by_label("Device type of the devices").select_option(world.types["A"])
        page.get_by_role("button", name="Import").click()
        expect(page.locator("#import-job[data-done=true]")).to_be_attached(timeout=60_000)
        expect(page.locator("#import-progress")).to_have_attribute("value", "100")
        expect(page.locator("#import-job [role=status]")).to_have_text(
            f"{len(good)} devices created, 4 lines refused."
        )
        expect(page.locator("#import-errors tbody tr")).to_have_count(4)
        assert page.url.endswith("/console/devices")  # swapped in, not a new page
        shoot(page, "devices-import")
        no_serious_violation(page)
    finally:
        page.context.close()
    assert world.ok("GET", f"/api/v2/devices/{good[-1]}")["name"] == "meter 301"
