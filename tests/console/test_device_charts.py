"""The device page's charts: payload bytes, the temperature and battery of STATUS reports and
the uplinks' frequency per bucket, from the statistics the store keeps (in Chromium too)."""

from __future__ import annotations

import time
from contextlib import closing
from typing import Any

import pytest

from tests.console.browsing import logged_in, no_serious_violation, shoot
from tests.console.conftest import ADMIN, SIGFOX, World, log_in


def _status(world: World, device: str, at: int, temp: str, batt: str) -> None:
    body = {"device": device, "time": at, "temp": temp, "batt": batt}
    answer = world.api.post("/sigfox/service", json=body, auth=SIGFOX)
    assert answer.status_code == 200, answer.text


def _charted(world: World) -> str:
    device = world.device("A", "charted")
    world.uplink(device, 1, data="01020304", freq=868_100_000, rssi=-120, snr=12)
    world.uplink(device, 2, data="0102", freq=868_300_000)
    now = int(time.time())
    _status(world, device, now - 1, "20.0", "3.2")  # a report a second (one per time is kept)
    _status(world, device, now, "24.0", "3.0")
    return device


def test_the_chart_data_has_bytes_temperature_battery_and_frequency(world: World) -> None:
    device = _charted(world)
    quiet = world.devices["A"][1]
    with closing(log_in(world.base_url, world.users["A:VIEWER"])) as http:
        for bucket in ("hour", "day"):
            answer = http.get(
                f"/console/devices/{device}/statistics.json", params={"bucket": bucket}
            )
            assert answer.status_code == 200
            series = answer.json()["series"]
            assert sum(series["messages"]["values"][0]) == 2
            assert sum(series["bytes"]["values"][0]) == 6  # 4 + 2 payload bytes
            temperature = [v for line in series["temperature"]["values"] for v in line if v]
            assert sorted(temperature) == [20.0, 22.0, 24.0]  # min, mean, max
            assert series["temperature"]["labels"] == [
                "temperature (avg)",
                "temperature lowest",
                "temperature highest",
            ]
            assert series["radio"]["values"][1] == [12]  # the SNR's mean
            battery = [v for line in series["battery"]["values"] for v in line if v]
            assert sorted(battery) == pytest.approx([3.0, 3.1, 3.2])
            [frequency] = [v for v in series["frequency"]["values"][0] if v]
            assert frequency == pytest.approx(868.2)  # MHz
            assert series["frequency"]["unit"] == "MHz"
        nothing = http.get(f"/console/devices/{quiet}/statistics.json").json()["series"]
        assert all(v is None for line in nothing["temperature"]["values"] for v in line)
    with closing(log_in(world.base_url, world.users["B:VIEWER"])) as http:
        assert http.get(f"/console/devices/{device}/statistics.json").status_code == 404


@pytest.mark.browser
def test_in_the_browser_the_device_page_draws_the_new_charts(world: World, browser: Any) -> None:
    from playwright.sync_api import expect

    device = _charted(world)
    page = logged_in(browser, world.base_url, ADMIN[0], ADMIN[1])
    try:
        page.goto(f"/console/devices/{device}")
        for name in ("messages", "radio", "bytes", "temperature", "battery", "frequency"):
            expect(page.locator(f".chart[data-series={name}] canvas")).to_have_count(1)
        no_serious_violation(page)
        shoot(page, "device-charts")
        page.goto(f"/console/devices/{world.devices['B'][1]}")
        expect(page.locator(".chart[data-series=temperature]")).to_contain_text(
            "no value in this period"
        )
    finally:
        page.context.close()
