"""Saving a device type over real HTTP compiles its payload format and its DIRECT template: a bad
one is a 400 whose JSON names the field and the character, a good one is saved as sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.integration.helpers import ADMIN, serving

TEMPLATE_NAMES = "{time}, {tapId} or {rssi}"


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    with (
        serving(tmp_path_factory.mktemp("formats")) as lorafox,
        httpx.Client(base_url=lorafox.base_url, auth=ADMIN, timeout=30) as client,
    ):
        yield client


def refused(field: str, message: str) -> dict[str, Any]:
    return {"message": message, "errors": [{"field": field, "message": message}]}


BAD: list[tuple[dict[str, Any], str]] = [
    # the fields sent (the last one is wrong) and the message naming it
    (
        {"payloadType": 3, "payloadConfig": "temp::uint:12"},
        'payloadConfig: field "temp" at character 12: unknown type "uint:12" '
        "(expected 8, 16, 24 or 32)",
    ),
    (
        {"payloadType": 3, "payloadConfig": "a::uint:8 a::bool:0"},
        'payloadConfig: field "a" at character 11: '
        "the name is already used by the field at character 1",
    ),
    (
        {"payloadType": 3, "payloadConfig": "flags::bool:8"},
        'payloadConfig: field "flags" at character 13: unknown type "bool:8" '
        "(expected a bit from 0 to 7)",
    ),
    (
        {"payloadType": 3, "payloadConfig": "s::char:10 n::uint:32"},
        'payloadConfig: field "n" at character 15: uint:32 needs bytes 10 to 13, '
        "past the 12-byte maximum",
    ),
    (
        {"payloadType": 3, "payloadConfig": "  x:12:uint:8"},  # characters counted as sent
        'payloadConfig: field "x" at character 5: byte index 12 is past the last byte (11) '
        "of a 12-byte payload",
    ),
    (
        {"downlinkMode": 0, "downlinkDataString": "{time}{station}0000"},
        'downlinkDataString: at character 7: unknown variable "{station}" '
        f"(expected {TEMPLATE_NAMES})",
    ),
    (
        {"downlinkMode": 0, "downlinkDataString": "{time}{tapId}0"},
        'downlinkDataString: at character 14: "0" is an odd number of hex digits (2 a byte)',
    ),
    (
        {"downlinkMode": 0, "downlinkDataString": "{time}{tapId}00ff00"},
        "downlinkDataString: at character 18: byte 9 is past the 8 bytes of a downlink",
    ),
    (
        {"downlinkMode": 0, "downlinkDataString": "{time}00ff"},
        "downlinkDataString: at character 11: the template ends after 6 bytes; "
        f"a downlink is exactly 8 (hex bytes and {TEMPLATE_NAMES})",
    ),
]


@pytest.mark.parametrize(("fields", "message"), BAD, ids=[str(f) for f, _ in BAD])
def test_a_bad_format_or_template_is_refused_naming_the_character(
    http: httpx.Client, fields: dict[str, Any], message: str
) -> None:
    r = http.post("/api/v2/device-types", json={"name": "refused", **fields})
    assert (r.status_code, r.json()) == (400, refused(list(fields)[-1], message))


def test_good_formats_and_templates_are_saved_as_sent(http: httpx.Client) -> None:
    body = {
        "name": "sensors",
        "payloadType": 3,
        "payloadConfig": "Temp::float:32 AccX::uint:16:little-endian Battery::uint:8 "
        "Alarm::bool:7 Door::bool:6",
        "downlinkMode": 0,
        "downlinkDataString": "{time} {tapId} {rssi}",
    }
    r = http.post("/api/v2/device-types", json=body)
    assert r.status_code == 201, r.text
    url = f"/api/v2/device-types/{r.json()['id']}"
    saved = http.get(url).json()
    assert {k: saved[k] for k in body} == body

    changed = {
        "payloadConfig": "code::char:4 level::uint:24",
        "downlinkDataString": "00ff{time}{rssi}",
    }
    assert http.put(url, json=changed).status_code == 204
    assert {k: http.get(url).json()[k] for k in changed} == changed


def test_a_bad_change_leaves_the_device_type_as_it_was(http: httpx.Client) -> None:
    body = {"name": "strings", "payloadType": 5, "downlinkMode": 1}
    url = f"/api/v2/device-types/{http.post('/api/v2/device-types', json=body).json()['id']}"

    r = http.put(url, json={"payloadType": 3, "payloadConfig": "t::int:8"})
    assert (r.status_code, r.json()) == (
        400,
        refused(
            "payloadConfig",
            'payloadConfig: field "t" at character 4: unknown type "int" '
            "(expected bool, char, float or uint)",
        ),
    )
    r = http.put(url, json={"downlinkMode": 0, "downlinkDataString": "{time}{tapid}0000"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "downlinkDataString"
    kept = http.get(url).json()
    assert (kept["payloadType"], kept["downlinkMode"]) == (5, 1)
    assert kept.get("payloadConfig") is None and kept.get("downlinkDataString") is None


def test_other_payload_types_ignore_their_config_as_the_sigfox_back_end_does(
    http: httpx.Client,
) -> None:
    for payload_type in (2, 5):
        body = {"name": "raw", "payloadType": payload_type, "payloadConfig": "not a format"}
        assert http.post("/api/v2/device-types", json=body).status_code == 201
    body = {"name": "custom", "payloadType": 3, "payloadConfig": "not a format"}
    r = http.post("/api/v2/device-types", json=body)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "payloadConfig"
