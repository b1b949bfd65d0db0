"""Sigfox's ``fields`` query parameter over real HTTP: references expanded on request, the
selections Sigfox allows accepted, anything else refused with 400 in the Sigfox error shape."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.integration.helpers import ADMIN, serving


@dataclass
class Seeded:
    http: httpx.Client
    group: str
    device_type: str
    device: str
    user: str
    api_user: str


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    with (
        serving(tmp_path_factory.mktemp("fields")) as running,
        httpx.Client(base_url=running.base_url, auth=ADMIN, timeout=10) as http,
    ):

        def made(url: str, body: dict[str, Any]) -> str:
            r = http.post(url, json=body)
            assert r.status_code == 201, r.text
            new_id: str = r.json()["id"]
            return new_id

        [root] = [g for g in http.get("/api/v2/groups").json()["data"] if not g["path"]]
        group = made("/api/v2/groups", {"name": "Fields", "parentId": root["id"]})
        device_type = made("/api/v2/device-types", {"name": "Meters", "groupId": group})
        device = made(
            "/api/v2/devices",
            {"id": "F1E1D", "name": "m1", "deviceTypeId": device_type, "pac": "00" * 8},
        )
        made(
            "/api/v2/devices",
            {"id": "F1E1E", "name": "m2", "deviceTypeId": device_type, "pac": "00" * 8},
        )
        user = made(
            "/api/v2/users",
            {
                "email": "fields@example.com",
                "firstName": "F",
                "lastName": "S",
                "password": "fields-secret-pw",
                "userRoles": [{"groupId": group, "profileId": "VIEWER"}],
            },
        )
        api_user = made(
            "/api/v2/api-users",
            {"groupId": group, "name": "fields", "profileIds": ["DEVICE_MANAGER"]},
        )
        yield Seeded(http, group, device_type, device, user, api_user)


def get(s: Seeded, url: str, fields: str | None = None, **params: Any) -> Any:
    if fields is not None:
        params["fields"] = fields
    r = s.http.get(url, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def refused(s: Seeded, url: str, fields: str) -> dict[str, Any]:
    r = s.http.get(url, params={"fields": fields})
    assert r.status_code == 400, r.text
    body: dict[str, Any] = r.json()
    assert body["message"].startswith("fields: ")
    assert body["errors"] == [{"field": "fields", "message": body["message"]}]
    return body


def test_device_type_of_a_device_is_an_id_until_asked(seeded: Seeded) -> None:
    url = f"/api/v2/devices/{seeded.device}"
    assert get(seeded, url)["deviceType"] == {"id": seeded.device_type}
    expanded = get(seeded, url, "deviceType(name)")
    assert expanded["deviceType"] == {"id": seeded.device_type, "name": "Meters"}
    assert expanded["group"]["id"] == seeded.group and expanded["group"]["name"] == "Fields"
    listed = get(
        seeded,
        "/api/v2/devices",
        "deviceType(name),group(name,type,level)",
        deviceTypeId=seeded.device_type,
        limit=1,
    )
    assert [d["deviceType"]["name"] for d in listed["data"]] == ["Meters"]
    assert "fields=deviceType%28name%29" in listed["paging"]["next"]  # kept on the next page
    following = seeded.http.get(listed["paging"]["next"]).json()
    assert [d["deviceType"]["name"] for d in following["data"]] == ["Meters"]


def test_selections_lorafox_has_no_data_for_are_accepted(seeded: Seeded) -> None:
    device = get(seeded, f"/api/v2/devices/{seeded.device}", "contract(name),modemCertificate")
    assert "contract" not in device and "modemCertificate" not in device
    device_type = get(
        seeded, f"/api/v2/device-types/{seeded.device_type}", "contract(name),group(name)"
    )
    assert "contract" not in device_type and device_type["group"]["name"] == "Fields"
    groups = get(seeded, "/api/v2/groups", "path(name)", parentIds=seeded.group)
    assert groups["data"] == []  # no subgroup
    assert get(seeded, f"/api/v2/groups/{seeded.group}", "paths(name)")["path"]
    assert get(seeded, "/api/v2/profiles", "roles(name)")["data"]


def test_profile_roles_are_given_when_asked(seeded: Seeded) -> None:
    user_url = f"/api/v2/users/{seeded.user}"
    [role] = get(seeded, user_url)["userRoles"]
    assert role["profile"] == {"id": "VIEWER", "name": "VIEWER [R]"}
    [role] = get(seeded, user_url, "userRoles(profile(name,roles(name)))")["userRoles"]
    assert role["group"]["id"] == seeded.group
    assert role["profile"]["roles"] and all(r["id"] and r["name"] for r in role["profile"]["roles"])

    api_url = f"/api/v2/api-users/{seeded.api_user}"
    [profile] = get(seeded, api_url)["profiles"]
    assert "roles" not in profile
    [profile] = get(seeded, api_url, "profiles(roles)")["profiles"]
    viewer_roles = {r["id"] for r in role["profile"]["roles"]}
    assert viewer_roles < {r["id"] for r in profile["roles"]}  # DEVICE_MANAGER allows more
    listed = get(seeded, "/api/v2/api-users", "profiles(name,roles(name)),group(name)")
    assert all(p["roles"] for a in listed["data"] for p in a["profiles"])


@pytest.mark.parametrize(
    ("url", "fields", "says"),
    [
        ("/api/v2/devices", "pac", "unknown field 'pac'"),
        ("/api/v2/devices/{device}", "deviceType(pac)", "unknown field deviceType.'pac'"),
        ("/api/v2/devices/{device}", "deviceType(name", "missing ')'"),
        ("/api/v2/devices", "deviceType(name)),x", "unexpected ')'"),
        ("/api/v2/devices", "group(name;type)", "unexpected character ';'"),
        ("/api/v2/device-types", "deviceType(name)", "unknown field 'deviceType'"),
        ("/api/v2/device-types/{device_type}", "geolocPayloadConfig(id,name)", "'id'"),
        ("/api/v2/groups", "paths(name)", "unknown field 'paths'"),
        ("/api/v2/groups/{group}", "path(name,description)", "'description'"),
        ("/api/v2/users", "userRoles(group(email))", "unknown field userRoles.group.'email'"),
        ("/api/v2/users/{user}", "email", "unknown field 'email'"),
        ("/api/v2/api-users", "profiles(roles(perms(id)))", "'id'"),
        ("/api/v2/api-users/{api_user}", ",", "a field name expected"),
        ("/api/v2/profiles", "users", "unknown field 'users'"),
    ],
)
def test_other_selections_are_refused(seeded: Seeded, url: str, fields: str, says: str) -> None:
    ids = {
        "device": seeded.device,
        "device_type": seeded.device_type,
        "group": seeded.group,
        "user": seeded.user,
        "api_user": seeded.api_user,
    }
    body = refused(seeded, url.format(**ids), fields)
    assert says in body["message"]


def test_a_refused_selection_still_needs_credentials(seeded: Seeded) -> None:
    r = seeded.http.get("/api/v2/devices", params={"fields": "nope"}, auth=("admin", "wrong"))
    assert r.status_code == 401
    too_long = seeded.http.get("/api/v2/devices", params={"fields": "a," * 600})
    assert too_long.status_code == 400 and too_long.json()["errors"][0]["field"] == "fields"
