"""Device and device type statistics over real HTTP, fed by real Sigfox callbacks (DATA, BIDIR,
STATUS, DATA_ADVANCED, ACKNOWLEDGE): figures, buckets, ranges, validation and group isolation —
on SQLite and on PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.integration.test_access import World, world  # noqa: F401
from tests.integration.test_devices import SIGFOX, new_device, new_type

HOUR = 3_600_000
DAY = 24 * HOUR
NOW = int(time.time() * 1000)
TODAY = NOW - NOW % DAY  # this UTC day: the BIDIR's downlink is sent now


def post(w: World, path: str, **body: Any) -> None:
    r = w.http.post(path, json=body, auth=SIGFOX)
    assert r.status_code in (200, 204), (path, r.status_code, r.text)


def uplink(w: World, device: str, at: int, seq: int, path: str = "uplink", **extra: Any) -> None:
    """A DATA callback ``at`` ms after TODAY (Sigfox sends seconds)."""
    post(w, f"/sigfox/{path}", device=device, time=(TODAY + at) // 1000, seqNumber=seq, **extra)


def stats(w: World, path: str, status: int = 200, **params: Any) -> Any:
    return w.ok("GET", path, status, params=params)


@pytest.fixture(scope="module")
def fleet(world: World) -> dict[str, str]:  # noqa: F811
    """Device D (type T, group A) with three uplinks, a DATA_ADVANCED, a STATUS and an
    acknowledged downlink; E in T with one uplink; F in another type with one uplink."""
    t, other = new_type(world, "A"), new_type(world, "A")
    d, e, f = new_device(world, t), new_device(world, t), new_device(world, other)
    world.ok("POST", f"/api/v2/devices/{d}/downlinks", 201, json={"data": "0102030405060708"})
    minute = 60_000
    uplink(world, d, minute, 1, "bidir", ack=True, data="0102", snr=10, rssi=-100)
    uplink(world, d, 2 * minute, 2, data="01020304", snr=20, rssi=-120, freq=868_130_000)
    uplink(world, d, 2 * HOUR, 3, data="", snr=3, rssi=-130)
    uplink(world, e, 3 * minute, 1, data="aa", snr=30, rssi=-90)
    uplink(world, f, 3 * minute, 1, data="aa", snr=99, rssi=-10)
    at = (TODAY + minute) // 1000
    post(
        world,
        "/sigfox/service/data-advanced",
        device=d,
        time=at,
        seqNumber=1,
        lqi="GOOD",
        linkQuality=2,
        duplicates=[{"bsId": "1A2B", "rssi": -100, "snr": 10, "nbRep": 3}, {"bsId": "3C4D"}],
    )
    post(world, "/sigfox/service/acknowledge", device=d, time=at, infoCode=0, downlinkAck=True)
    post(world, "/sigfox/service/status", device=d, time=(TODAY + 30_000) // 1000, temp=21.5,
         batt=3.25)  # fmt: skip
    return {"type": t, "other": other, "d": d, "e": e, "f": f}


def test_device_statistics_per_hour_and_per_day(world: World, fleet: dict[str, str]) -> None:  # noqa: F811
    url = f"/api/v2/devices/{fleet['d']}/statistics"
    found = stats(world, url, bucket="hour", since=TODAY, before=TODAY + DAY)
    assert (found["bucket"], found["since"], found["before"]) == ("hour", TODAY, TODAY + DAY)
    starts = [b["start"] for b in found["data"]]
    assert starts == sorted(starts)
    assert [b["start"] for b in found["data"] if b["messages"]] == [TODAY, TODAY + 2 * HOUR]
    first = found["data"][0]
    assert (first["messages"], first["bytes"]) == (2, 6)
    assert first["snr"] == {"count": 2, "avg": 15.0, "min": 10.0, "max": 20.0}
    assert first["rssi"] == {"count": 2, "avg": -110.0, "min": -120.0, "max": -100.0}
    assert first["frequency"] == {
        "count": 1,
        "avg": 868_130_000.0,
        "min": 868_130_000.0,
        "max": 868_130_000.0,
    }
    assert first["linkQuality"] == {"LIMIT": 0, "AVERAGE": 0, "GOOD": 1, "EXCELLENT": 0, "NA": 0}
    assert first["baseStations"] == {"count": 1, "avg": 2.0, "min": 2.0, "max": 2.0}
    assert first["baseStationCounts"] == {"1": 0, "2": 1, "3+": 0}
    assert first["statusReports"] == 1
    assert first["temperature"] == {"count": 1, "avg": 21.5, "min": 21.5, "max": 21.5}
    assert first["battery"] == {"count": 1, "avg": 3.25, "min": 3.25, "max": 3.25}
    total = found["total"]
    assert (total["messages"], total["bytes"], total["statusReports"]) == (3, 6, 1)
    # the downlink went out now (the BIDIR) and was acknowledged now
    assert total["downlinks"] == {"sent": 1, "acked": 1, "failed": 0, "expired": 0}
    assert total["snr"] == {"count": 3, "avg": 11.0, "min": 3.0, "max": 20.0}
    days = stats(world, url, bucket="day", since=TODAY, before=TODAY + DAY)
    assert [(b["start"], b["messages"]) for b in days["data"]] == [(TODAY, 3)]
    assert days["total"] == total
    # since inclusive, before exclusive
    later = stats(world, url, bucket="hour", since=TODAY + 2 * 60_000, before=TODAY + 2 * HOUR)
    assert later["total"]["messages"] == 1 and later["total"]["statusReports"] == 0


def test_device_type_statistics_add_up_the_devices_in_it(
    world: World,  # noqa: F811
    fleet: dict[str, str],
) -> None:
    url = f"/api/v2/device-types/{fleet['type']}/statistics"
    found = stats(world, url, since=TODAY, before=TODAY + DAY)
    assert found["bucket"] == "day"
    [day] = found["data"]
    assert day["messages"] == 4  # D's three and E's one, not F's
    assert day["snr"] == {"count": 4, "avg": 15.75, "min": 3.0, "max": 30.0}
    assert found["total"]["downlinks"]["acked"] == 1
    other = stats(world, f"/api/v2/device-types/{fleet['other']}/statistics", since=TODAY,
                  before=TODAY + DAY)  # fmt: skip
    assert other["total"]["messages"] == 1 and other["total"]["snr"]["max"] == 99.0
    empty = stats(world, url, since=TODAY - 3 * DAY, before=TODAY)
    assert empty["data"] == [] and empty["total"]["messages"] == 0
    assert empty["total"]["snr"] is None and empty["total"]["linkQuality"]["GOOD"] == 0


def test_default_range_ends_now(world: World, fleet: dict[str, str]) -> None:  # noqa: F811
    url = f"/api/v2/devices/{fleet['d']}/statistics"
    day = stats(world, url)
    assert day["bucket"] == "day" and day["before"] - day["since"] == 30 * DAY
    assert day["before"] >= NOW
    hour = stats(world, url, bucket="hour", before=TODAY + DAY)
    assert hour["since"] == TODAY and hour["total"]["messages"] == 3


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"bucket": "week"}, "bucket"),
        ({"since": 10, "before": 10}, "since"),
        ({"since": 20, "before": 10}, "since"),
        ({"bucket": "hour", "since": 0, "before": 31 * DAY + 1}, "since"),
        ({"bucket": "day", "since": 0, "before": 366 * DAY + 1}, "since"),
        ({"since": -1}, "since"),
        ({"before": "yesterday"}, "before"),
    ],
)
def test_bad_parameters_are_400(
    world: World,  # noqa: F811
    fleet: dict[str, str],
    params: dict[str, Any],
    field: str,
) -> None:
    for url in (
        f"/api/v2/devices/{fleet['d']}/statistics",
        f"/api/v2/device-types/{fleet['type']}/statistics",
    ):
        r = world.call("GET", url, world.keys["root:VIEWER"], params=params)
        assert r.status_code == 400, r.text
        body = r.json()
        assert body["message"] and any(field in (e.get("field") or "") for e in body["errors"])


def test_the_longest_ranges_are_accepted(world: World, fleet: dict[str, str]) -> None:  # noqa: F811
    url = f"/api/v2/devices/{fleet['d']}/statistics"
    hours = stats(world, url, bucket="hour", since=TODAY - 30 * DAY, before=TODAY + DAY)
    assert hours["total"]["messages"] == 3
    days = stats(world, url, bucket="day", since=TODAY - 365 * DAY, before=TODAY + DAY)
    assert days["total"]["messages"] == 3


def test_viewers_of_the_group_read_them_others_get_404(
    world: World,  # noqa: F811
    fleet: dict[str, str],
) -> None:
    device_url = f"/api/v2/devices/{fleet['d']}/statistics"
    type_url = f"/api/v2/device-types/{fleet['type']}/statistics"
    for key in ("A:VIEWER", "A:DEVICE_MANAGER", "root:VIEWER"):
        for url in (device_url, type_url):
            assert world.call("GET", url, world.keys[key]).status_code == 200, (key, url)
    for url in (device_url, type_url):
        r = world.call("GET", url, world.keys["B:ADMIN"])
        assert r.status_code == 404 and r.json()["message"]
        assert world.call("GET", url, None).status_code == 401
    # an id nobody registered counts as the root group's
    unregistered = "/api/v2/devices/ABCD12/statistics"
    assert world.call("GET", unregistered, world.keys["A:VIEWER"]).status_code == 404
    unknown = world.call("GET", unregistered, world.keys["root:VIEWER"])
    assert unknown.status_code == 200 and unknown.json()["data"] == []
    bad_id = world.call("GET", "/api/v2/devices/XYZ/statistics", world.keys["root:VIEWER"])
    assert bad_id.status_code == 400
    missing = "/api/v2/device-types/" + "0" * 24 + "/statistics"
    assert world.call("GET", missing, world.keys["root:VIEWER"]).status_code == 404


def test_statistics_are_in_the_openapi_document(world: World) -> None:  # noqa: F811
    paths = world.http.get("/api/openapi.json").json()["paths"]
    for path in (
        "/api/v2/devices/{device_id}/statistics",
        "/api/v2/device-types/{device_type_id}/statistics",
    ):
        assert set(paths[path]) == {"get"}
        assert "400" in paths[path]["get"]["responses"]
