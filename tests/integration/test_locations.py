"""``/api/v2/devices/{id}/locations`` over real HTTP, fed by real Sigfox callbacks: the
position set by a user, DATA_ADVANCED computed locations, the callbacks' lat/lng and estimates
from the base stations; paging and group isolation — on SQLite and on PostgreSQL."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.integration.test_access import World, world  # noqa: F401
from tests.integration.test_devices import SIGFOX, new_device, new_type

T0 = 1_700_000_000  # seconds, as Sigfox sends them


def post(w: World, path: str, **body: Any) -> None:
    r = w.http.post(path, json=body, auth=SIGFOX)
    assert r.status_code in (200, 204), (path, r.status_code, r.text)


def uplink(w: World, device: str, seq: int, **extra: Any) -> None:
    post(w, "/sigfox/uplink", device=device, time=T0 + 60 * seq, seqNumber=seq, data="01", **extra)


def advanced(w: World, device: str, seq: int, *stations: str, **extra: Any) -> None:
    duplicates = [{"bsId": s, "rssi": -120, "snr": 10, "nbRep": 3} for s in stations]
    post(
        w,
        "/sigfox/service/data-advanced",
        device=device,
        time=T0 + 60 * seq,
        seqNumber=seq,
        lqi="GOOD",
        duplicates=duplicates,
        **extra,
    )


def rounding_radius(lat: float) -> float:
    """Half the diagonal of a one-degree cell at ``lat``, in metres."""
    half = math.pi * 6_371_000 / 360
    return math.hypot(half, half * math.cos(math.radians(lat)))


@pytest.fixture(scope="module")
def placed(world: World) -> str:  # noqa: F811
    """A device with a user-set position and messages telling its position in every way."""
    device = new_device(world, new_type(world, "A"), lat=48.85, lng=2.35)
    uplink(world, device, 1, station="1A2B", lat=43.0, lng=1.0)  # message
    uplink(world, device, 2, station="1A2B")  # stations: 1A2B is known from seq 1
    uplink(world, device, 3, station="3C4D")  # computed
    computed = {"lat": 43.6, "lng": 1.44, "radius": 1500, "source": 6, "status": 1}
    advanced(world, device, 3, "3C4D", "1A2B", computedLocation=computed)
    uplink(world, device, 4, station="5E6F")  # no known station: nothing
    uplink(world, device, 5, station="3c4d", lat=44.0, lng=2.0)  # message
    uplink(world, device, 6)  # stations from DATA_ADVANCED only: 1A2B and 3C4D
    advanced(world, device, 6, "1A2B", "3C4D", "5E6F")
    return device


def test_every_source_newest_first(world: World, placed: str) -> None:  # noqa: F811
    found = world.ok("GET", f"/api/v2/devices/{placed}/locations")
    assert found["paging"].get("next") is None
    data = found["data"]
    assert [(x["source"], x["seqNumber"]) for x in data] == [
        ("user", None),
        ("stations", 6),
        ("message", 5),
        ("computed", 3),
        ("stations", 2),
        ("message", 1),
    ]
    for x in data:  # Sigfox API v2's location fields are all there
        assert {"time", "valid", "lat", "lng", "radius", "source", "placeIds"} <= set(x)
        assert x["valid"] is True and x["placeIds"] == []
    user, both, own, computed, one, first = data
    assert (user["lat"], user["lng"], user["radius"]) == (48.85, 2.35, None)
    assert user["baseStations"] == []
    # the centre of the two known stations (5E6F is unknown), reaching both, plus the rounding
    assert (both["lat"], both["lng"]) == (43.5, 1.5)
    assert both["time"] == (T0 + 360) * 1000
    assert both["baseStations"] == [
        {"id": "1A2B", "lat": 43.0, "lng": 1.0},
        {"id": "3C4D", "lat": 44.0, "lng": 2.0},
        {"id": "5E6F", "lat": None, "lng": None},
    ]
    assert 68_000 + rounding_radius(43.5) < both["radius"] < 72_000 + rounding_radius(43.5)
    assert (own["lat"], own["lng"], own["radius"]) == (44.0, 2.0, None)
    assert own["baseStations"] == [{"id": "3C4D", "lat": 44.0, "lng": 2.0}]
    assert (computed["lat"], computed["lng"], computed["radius"]) == (43.6, 1.44, 1500)
    assert computed["sigfoxSource"] == 6
    assert [s["id"] for s in computed["baseStations"]] == ["3C4D", "1A2B"]
    assert (one["lat"], one["lng"]) == (43.0, 1.0)
    assert one["radius"] == round(rounding_radius(43.0))
    assert (first["lat"], first["lng"], first["sigfoxSource"]) == (43.0, 1.0, None)


def test_paging_across_sources(world: World, placed: str) -> None:  # noqa: F811
    url = f"/api/v2/devices/{placed}/locations"
    everything = world.ok("GET", url)["data"]
    seen: list[Any] = []
    page = world.ok("GET", url, params={"limit": 4})
    while True:
        seen += page["data"]
        if not page["paging"].get("next"):
            break
        page = world.ok("GET", page["paging"]["next"])
    assert seen == everything
    assert world.ok("GET", url, params={"offset": 3, "limit": 2})["data"] == everything[3:5]
    assert world.ok("GET", url, params={"offset": 6})["data"] == []
    assert world.call("GET", url, world.keys["root:VIEWER"], params={"limit": 0}).status_code == 400


def test_a_device_without_positions_has_none(world: World) -> None:  # noqa: F811
    device = new_device(world, new_type(world, "A"))
    uplink(world, device, 1, station="7777")
    uplink(world, device, 2)
    assert world.ok("GET", f"/api/v2/devices/{device}/locations")["data"] == []


def test_group_isolation(world: World, placed: str) -> None:  # noqa: F811
    url = f"/api/v2/devices/{placed}/locations"
    assert world.call("GET", url, world.keys["A:VIEWER"]).status_code == 200
    assert world.call("GET", url, world.keys["B:ADMIN"]).status_code == 404
    assert world.call("GET", url, None).status_code == 401
