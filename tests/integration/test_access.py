"""Groups, users, API users and profiles over real HTTP: every route for every profile, group
isolation, paging, validation, passwords and credentials — on SQLite and on PostgreSQL.

One lorafox per database serves the whole module; the tree it is given:

    root ── A ── A1
         └─ B

with an API user per profile on root and on A, an ADMIN API user on B, and human users in A, B
and both. Tests that change things make their own objects.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from lorafox.auth.secretbox import SecretBox
from lorafox.domain import Profile
from tests.conftest import (
    ADMIN_PASSWORD,
    POSTGRES_URL,
    Running,
    free_port,
    make_settings,
    require_service,
    start_lorafox,
)
from tests.integration.helpers import basic_auth_operation

ADMIN = ("admin", ADMIN_PASSWORD)
PROFILES = [p.value for p in (Profile.ADMIN, Profile.DEVICE_MANAGER, Profile.VIEWER)]
Auth = tuple[str, str]


@dataclass
class World:
    lorafox: Running
    http: httpx.Client
    data_dir: Path
    database_url: str | None
    groups: dict[str, str] = field(default_factory=dict)  # name -> id
    keys: dict[str, Auth] = field(default_factory=dict)  # "A:VIEWER" -> (login, password)
    users: dict[str, str] = field(default_factory=dict)  # name -> id
    passwords: dict[str, Auth] = field(default_factory=dict)  # name -> (email, password)

    def call(self, method: str, url: str, auth: Auth | None, **kw: Any) -> httpx.Response:
        return self.http.request(method, url, auth=auth, **kw)

    def ok(self, method: str, url: str, status: int = 200, **kw: Any) -> Any:
        """As the root admin, expecting ``status``."""
        r = self.http.request(method, url, auth=self.keys["root:ADMIN"], **kw)
        assert r.status_code == status, (method, url, r.status_code, r.text)
        return r.json() if r.content else None

    def group(self, name: str, parent: str) -> str:
        body = {"name": name, "parentId": self.groups.get(parent, parent)}
        group_id: str = self.ok("POST", "/api/v2/groups", 201, json=body)["id"]
        return group_id

    def api_user(self, group: str, *profiles: str) -> Auth:
        body = {"groupId": self.groups.get(group, group), "name": "t", "profileIds": profiles}
        made = self.ok("POST", "/api/v2/api-users", 201, json=body)
        return made["id"], made["accessToken"]

    def user(self, email: str, roles: list[tuple[str, str]], password: str) -> str:
        body = {
            "email": email,
            "firstName": "Test",
            "lastName": email.split("@", maxsplit=1)[0],
            "password": password,
            "userRoles": [{"groupId": self.groups.get(g, g), "profileId": p} for g, p in roles],
        }
        user_id: str = self.ok("POST", "/api/v2/users", 201, json=body)["id"]
        return user_id


def _postgres_database() -> Iterator[str]:
    import asyncpg

    require_service("PostgreSQL", ("127.0.0.1", 5432))
    name = f"lorafox_access_{free_port()}_{secrets.token_hex(3)}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(POSTGRES_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    def run(sql: str) -> None:
        worker = threading.Thread(target=asyncio.run, args=(admin(sql),))
        worker.start()
        worker.join()

    run(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    databases = _postgres_database() if request.param == "postgres" else iter([None])
    database_url = next(databases)
    data_dir = tmp_path_factory.mktemp("access")
    lorafox = start_lorafox(make_settings(data_dir, database_url=database_url))
    try:
        with httpx.Client(base_url=lorafox.base_url, timeout=30) as http:
            w = World(lorafox, http, data_dir, database_url)
            groups = http.get("/api/v2/groups", auth=ADMIN).json()["data"]
            [root] = [g for g in groups if not g["path"]]
            w.groups["root"] = root["id"]
            made = http.post(
                "/api/v2/api-users",
                json={"groupId": root["id"], "name": "root admin", "profileIds": ["ADMIN"]},
                auth=ADMIN,
            ).json()
            w.keys["root:ADMIN"] = (made["id"], made["accessToken"])
            w.groups["A"] = w.group("Alpha", "root")
            w.groups["A1"] = w.group("Alpha One", "A")
            w.groups["B"] = w.group("Beta", "root")
            for group in ("root", "A"):
                for profile in PROFILES:
                    w.keys.setdefault(f"{group}:{profile}", w.api_user(group, profile))
            w.keys["B:ADMIN"] = w.api_user("B", "ADMIN")
            for name, roles in {
                "a-member": [("A", "VIEWER")],
                "b-member": [("B", "VIEWER")],
                "ab-member": [("A", "ADMIN"), ("B", "VIEWER")],
            }.items():
                email, password = f"{name}@example.com", f"{name}-password"
                w.users[name] = w.user(email, roles, password)
                w.passwords[name] = (email, password)
            yield w
    finally:
        lorafox.stop()
        for _ in databases:
            pass


# -- every route for every profile --------------------------------------------------------

Case = Callable[[World, Auth], httpx.Response]


def _fresh_group(w: World) -> str:
    return w.group(f"tmp {secrets.token_hex(3)}", "A")


def _fresh_user(w: World, *more: tuple[str, str]) -> str:
    roles = [("A", "VIEWER"), *more]
    return w.user(f"u{secrets.token_hex(4)}@example.com", roles, "fresh-password")


def _fresh_api_user(w: World) -> str:
    return w.api_user("A", "VIEWER", "DEVICE_MANAGER")[0]


def _role(w: World, group: str, profile: str) -> dict[str, Any]:
    return {"userRoles": [{"groupId": w.groups[group], "profileId": profile}]}


CASES: dict[str, tuple[Case, tuple[int, int, int]]] = {
    # name: (call, expected status for ADMIN, DEVICE_MANAGER, VIEWER of group A)
    "list groups": (lambda w, a: w.call("GET", "/api/v2/groups", a), (200, 200, 200)),
    "get group": (
        lambda w, a: w.call("GET", f"/api/v2/groups/{w.groups['A1']}", a),
        (200, 200, 200),
    ),
    "create group": (
        lambda w, a: w.call(
            "POST", "/api/v2/groups", a, json={"name": "new one", "parentId": w.groups["A"]}
        ),
        (201, 403, 403),
    ),
    "update group": (
        lambda w, a: w.call(
            "PUT", f"/api/v2/groups/{w.groups['A1']}", a, json={"description": "changed"}
        ),
        (204, 403, 403),
    ),
    "delete group": (
        lambda w, a: w.call("DELETE", f"/api/v2/groups/{_fresh_group(w)}", a),
        (204, 403, 403),
    ),
    "list users": (lambda w, a: w.call("GET", "/api/v2/users", a), (200, 200, 200)),
    "get user": (
        lambda w, a: w.call("GET", f"/api/v2/users/{w.users['a-member']}", a),
        (200, 200, 200),
    ),
    "create user": (
        lambda w, a: w.call(
            "POST",
            "/api/v2/users",
            a,
            json={
                "email": f"n{secrets.token_hex(4)}@example.com",
                "firstName": "N",
                "lastName": "N",
                "password": "a-good-password",
                **_role(w, "A1", "VIEWER"),
            },
        ),
        (201, 403, 403),
    ),
    "update user": (
        lambda w, a: w.call(
            "PUT", f"/api/v2/users/{w.users['a-member']}", a, json={"timezone": "Europe/Paris"}
        ),
        (204, 403, 403),
    ),
    "add user roles": (
        lambda w, a: w.call(
            "PUT",
            f"/api/v2/users/{w.users['a-member']}/profiles",
            a,
            json=_role(w, "A1", "DEVICE_MANAGER"),
        ),
        (204, 403, 403),
    ),
    "remove a user role": (
        lambda w, a: w.call(
            "DELETE",
            f"/api/v2/users/{_fresh_user(w, ('A1', 'DEVICE_MANAGER'))}/profiles/DEVICE_MANAGER",
            a,
            params={"groupId": w.groups["A1"]},
        ),
        (204, 403, 403),
    ),
    "reset a password": (
        lambda w, a: w.call(
            "PUT",
            f"/api/v2/users/{_fresh_user(w)}/password",
            a,
            json={"newPassword": "another-password"},
        ),
        (204, 403, 403),
    ),
    "delete user": (
        lambda w, a: w.call("DELETE", f"/api/v2/users/{_fresh_user(w)}", a),
        (204, 403, 403),
    ),
    "list API users": (lambda w, a: w.call("GET", "/api/v2/api-users", a), (200, 200, 200)),
    "get API user": (
        lambda w, a: w.call("GET", f"/api/v2/api-users/{w.keys['A:VIEWER'][0]}", a),
        (200, 200, 200),
    ),
    "create API user": (
        lambda w, a: w.call(
            "POST",
            "/api/v2/api-users",
            a,
            json={"groupId": w.groups["A1"], "name": "x", "profileIds": ["VIEWER"]},
        ),
        (201, 403, 403),
    ),
    "update API user": (
        lambda w, a: w.call(
            "PUT", f"/api/v2/api-users/{_fresh_api_user(w)}", a, json={"name": "y"}
        ),
        (204, 403, 403),
    ),
    "add API user profiles": (
        lambda w, a: w.call(
            "PUT",
            f"/api/v2/api-users/{_fresh_api_user(w)}/profiles",
            a,
            json={"profileIds": ["ADMIN"]},
        ),
        (204, 403, 403),
    ),
    "remove an API user profile": (
        lambda w, a: w.call("DELETE", f"/api/v2/api-users/{_fresh_api_user(w)}/profiles/VIEWER", a),
        (204, 403, 403),
    ),
    "renew a credential": (
        lambda w, a: w.call("PUT", f"/api/v2/api-users/{_fresh_api_user(w)}/renew-credential", a),
        (200, 403, 403),
    ),
    "delete API user": (
        lambda w, a: w.call("DELETE", f"/api/v2/api-users/{_fresh_api_user(w)}", a),
        (204, 403, 403),
    ),
    "list profiles": (lambda w, a: w.call("GET", "/api/v2/profiles", a), (200, 200, 200)),
    "get profile": (lambda w, a: w.call("GET", "/api/v2/profiles/VIEWER", a), (200, 200, 200)),
    # devices belong to the root group for now: nothing for callers of A
    "list messages": (lambda w, a: w.call("GET", "/api/v2/devices/1A/messages", a), (404,) * 3),
    "list downlinks": (lambda w, a: w.call("GET", "/api/v2/devices/1A/downlinks", a), (404,) * 3),
    "queue a downlink": (
        lambda w, a: w.call(
            "POST", "/api/v2/devices/1A/downlinks", a, json={"data": "0102030405060708"}
        ),
        (404,) * 3,
    ),
    "metrics": (lambda w, a: w.call("GET", "/metrics", a), (404,) * 3),
}


@pytest.mark.parametrize("profile_index", range(3), ids=PROFILES)
@pytest.mark.parametrize("case", list(CASES))
def test_every_route_for_every_profile_of_a_group(
    world: World, case: str, profile_index: int
) -> None:
    call, expected = CASES[case]
    auth = world.keys[f"A:{PROFILES[profile_index]}"]
    r = call(world, auth)
    assert r.status_code == expected[profile_index], r.text
    if r.status_code >= 400:
        assert r.json()["message"]
    if profile_index == 0:
        assert call(world, ("nobody", "wrong")).status_code == 401


def _queued(w: World) -> int:
    made = w.ok("POST", "/api/v2/devices/2B/downlinks", 201, json={"data": "0102030405060708"})
    downlink_id: int = made["id"]
    return downlink_id


ROOT_CASES: dict[str, tuple[Case, tuple[int, int, int]]] = {
    "list messages": (
        lambda w, a: w.call("GET", "/api/v2/devices/2B/messages", a),
        (200, 200, 200),
    ),
    "list downlinks": (
        lambda w, a: w.call("GET", "/api/v2/devices/2B/downlinks", a),
        (200, 200, 200),
    ),
    "queue a downlink": (
        lambda w, a: w.call(
            "POST", "/api/v2/devices/2B/downlinks", a, json={"data": "0102030405060708"}
        ),
        (201, 201, 403),
    ),
    "delete a downlink": (
        lambda w, a: w.call("DELETE", f"/api/v2/devices/2B/downlinks/{_queued(w)}", a),
        (204, 204, 403),
    ),
    "metrics": (lambda w, a: w.call("GET", "/metrics", a), (200, 403, 403)),
    "see group B": (
        lambda w, a: w.call("GET", f"/api/v2/groups/{w.groups['B']}", a),
        (200, 200, 200),
    ),
}


@pytest.mark.parametrize("profile_index", range(3), ids=PROFILES)
@pytest.mark.parametrize("case", list(ROOT_CASES))
def test_root_group_routes_for_every_profile(world: World, case: str, profile_index: int) -> None:
    call, expected = ROOT_CASES[case]
    r = call(world, world.keys[f"root:{PROFILES[profile_index]}"])
    assert r.status_code == expected[profile_index], r.text


# -- isolation: group A cannot see, change or guess group B --------------------------------

GUESSES: dict[str, Callable[[World, str], tuple[str, str, dict[str, Any]]]] = {
    # name: (world, id of an object of B or a made-up id) -> (method, url, request kwargs)
    "get group": lambda w, i: ("GET", f"/api/v2/groups/{i}", {}),
    "update group": lambda w, i: ("PUT", f"/api/v2/groups/{i}", {"json": {"name": "mine"}}),
    "delete group": lambda w, i: ("DELETE", f"/api/v2/groups/{i}", {}),
    "create below": lambda w, i: (
        "POST",
        "/api/v2/groups",
        {"json": {"name": "intruder", "parentId": i}},
    ),
    "list children": lambda w, i: ("GET", "/api/v2/groups", {"params": {"parentIds": i}}),
    "list members": lambda w, i: ("GET", "/api/v2/users", {"params": {"groupIds": i}}),
    "list API users": lambda w, i: ("GET", "/api/v2/api-users", {"params": {"groupIds": i}}),
    "create user there": lambda w, i: (
        "POST",
        "/api/v2/users",
        {
            "json": {
                "email": "spy@example.com",
                "firstName": "S",
                "lastName": "S",
                "password": "spy-password",
                "userRoles": [{"groupId": i, "profileId": "ADMIN"}],
            }
        },
    ),
    "create API user there": lambda w, i: (
        "POST",
        "/api/v2/api-users",
        {"json": {"groupId": i, "name": "spy", "profileIds": ["ADMIN"]}},
    ),
}
USER_GUESSES: dict[str, Callable[[World, str], tuple[str, str, dict[str, Any]]]] = {
    "get user": lambda w, i: ("GET", f"/api/v2/users/{i}", {}),
    "update user": lambda w, i: ("PUT", f"/api/v2/users/{i}", {"json": {"firstName": "X"}}),
    "delete user": lambda w, i: ("DELETE", f"/api/v2/users/{i}", {}),
    "reset password": lambda w, i: (
        "PUT",
        f"/api/v2/users/{i}/password",
        {"json": {"newPassword": "pwned-password"}},
    ),
    "grant roles": lambda w, i: (
        "PUT",
        f"/api/v2/users/{i}/profiles",
        {"json": {"userRoles": [{"groupId": w.groups["A"], "profileId": "ADMIN"}]}},
    ),
}
API_USER_GUESSES: dict[str, Callable[[World, str], tuple[str, str, dict[str, Any]]]] = {
    "get API user": lambda w, i: ("GET", f"/api/v2/api-users/{i}", {}),
    "update API user": lambda w, i: ("PUT", f"/api/v2/api-users/{i}", {"json": {"name": "X"}}),
    "delete API user": lambda w, i: ("DELETE", f"/api/v2/api-users/{i}", {}),
    "renew": lambda w, i: ("PUT", f"/api/v2/api-users/{i}/renew-credential", {}),
    "add profiles": lambda w, i: (
        "PUT",
        f"/api/v2/api-users/{i}/profiles",
        {"json": {"profileIds": ["ADMIN"]}},
    ),
}


@pytest.mark.parametrize(
    ("kind", "guess"),
    [("group", g) for g in GUESSES]
    + [("user", g) for g in USER_GUESSES]
    + [("api_user", g) for g in API_USER_GUESSES],
)
def test_objects_of_another_group_answer_like_missing_ones(
    world: World, kind: str, guess: str
) -> None:
    made_up = f"{secrets.token_hex(12)}"
    target, build = {
        "group": (world.groups["B"], GUESSES.get(guess)),
        "user": (world.users["b-member"], USER_GUESSES.get(guess)),
        "api_user": (world.keys["B:ADMIN"][0], API_USER_GUESSES.get(guess)),
    }[kind]
    assert build is not None
    admin_of_a = world.keys["A:ADMIN"]
    method, url, kw = build(world, target)
    real = world.call(method, url, admin_of_a, **kw)
    method, url, kw = build(world, made_up)
    missing = world.call(method, url, admin_of_a, **kw)
    assert real.status_code == missing.status_code == 404, real.text
    assert real.text.replace(target, "ID") == missing.text.replace(made_up, "ID")
    # and nothing changed
    assert (
        world.call("GET", f"/api/v2/groups/{world.groups['B']}", world.keys["B:ADMIN"]).json()[
            "name"
        ]
        == "Beta"
    )


def test_lists_show_only_what_the_caller_sees(world: World) -> None:
    a_viewer = world.keys["A:VIEWER"]
    a, a1_id = world.groups["A"], world.groups["A1"]
    everything = world.call("GET", "/api/v2/groups", a_viewer, params={"deep": True}).json()
    ids = {g["id"] for g in everything["data"]}
    assert {a, a1_id} <= ids and not ids & {world.groups["root"], world.groups["B"]}
    assert all(g["id"] == a or g["path"][-1]["id"] == a for g in everything["data"])
    children = world.call("GET", "/api/v2/groups", a_viewer).json()["data"]
    assert all(g["id"] == a or g["path"][0]["id"] == a for g in children)
    assert {a, a1_id} <= {g["id"] for g in children}
    a1 = next(g for g in everything["data"] if g["id"] == world.groups["A1"])
    assert [p["id"] for p in a1["path"]] == [world.groups["A"]]  # the root is not shown
    seen_by_root = world.ok("GET", f"/api/v2/groups/{world.groups['A1']}")
    assert [p["name"] for p in seen_by_root["path"]] == ["Alpha", "root"]
    assert seen_by_root["nameCI"] == "alpha one" and seen_by_root["creationTime"] > 0

    users = world.call("GET", "/api/v2/users", a_viewer, params={"limit": 100}).json()["data"]
    emails = {u["email"] for u in users}
    assert {"a-member@example.com", "ab-member@example.com"} <= emails
    assert not emails & {"b-member@example.com", "admin"}
    both = next(u for u in users if u["email"] == "ab-member@example.com")
    assert [(r["group"]["id"], r["profile"]["id"]) for r in both["userRoles"]] == [
        (world.groups["A"], "ADMIN")
    ]  # its role on B stays hidden
    api_users = world.call("GET", "/api/v2/api-users", a_viewer).json()["data"]
    assert {a["group"]["id"] for a in api_users} <= ids
    assert world.keys["B:ADMIN"][0] not in {a["id"] for a in api_users}
    assert all("accessToken" not in a for a in api_users)
    for key in ("root:VIEWER", "A:VIEWER"):
        assert world.call(
            "GET", f"/api/v2/groups/{world.groups['root']}", world.keys[key]
        ).status_code == (200 if key.startswith("root") else 404)


def test_an_admin_of_a_cannot_touch_a_user_who_also_has_a_role_on_b(world: World) -> None:
    admin_of_a, target = world.keys["A:ADMIN"], world.users["ab-member"]
    assert world.call("GET", f"/api/v2/users/{target}", admin_of_a).status_code == 200
    for method, url, kw in [
        ("PUT", f"/api/v2/users/{target}", {"json": {"firstName": "X"}}),
        ("DELETE", f"/api/v2/users/{target}", {}),
        ("PUT", f"/api/v2/users/{target}/password", {"json": {"newPassword": "pwned-password"}}),
    ]:
        assert world.call(method, url, admin_of_a, **kw).status_code == 403
    # nor make anyone an admin of a group it does not see, nor escape its subtree
    user = world.users["a-member"]
    r = world.call(
        "PUT",
        f"/api/v2/users/{user}",
        admin_of_a,
        json={"userRoles": [{"groupId": world.groups["B"], "profileId": "ADMIN"}]},
    )
    assert r.status_code == 404


# -- paging ---------------------------------------------------------------------------------


def test_paging_edges(world: World) -> None:
    parent = world.group("pages", "root")
    names = [f"page {i}" for i in range(5)]
    for name in reversed(names):
        world.group(name, parent)
    url = "/api/v2/groups"
    params = {"parentIds": parent, "sort": "name"}

    seen: list[str] = []
    page = world.ok("GET", url, params={**params, "limit": 1})
    pages = 1
    while True:
        assert len(page["data"]) == 1
        seen.extend(g["name"] for g in page["data"])
        if not page["paging"].get("next"):
            break
        page = world.ok("GET", page["paging"]["next"])
        pages += 1
    assert seen == names and pages == 5

    two = world.ok("GET", url, params={**params, "limit": 2, "offset": 3})
    assert [g["name"] for g in two["data"]] == names[3:]
    assert "next" not in two["paging"]
    exact = world.ok("GET", url, params={**params, "limit": 5})
    assert len(exact["data"]) == 5 and "next" not in exact["paging"]
    past = world.ok("GET", url, params={**params, "offset": 50})
    assert past == {"data": [], "paging": {}}
    for bad in ({"limit": 0}, {"limit": 101}, {"offset": -1}, {"sort": "size"}, {"limit": "x"}):
        r = world.call("GET", url, world.keys["root:ADMIN"], params={**params, **bad})
        assert r.status_code == 400, bad
        assert r.json()["errors"][0]["field"] == next(iter(bad))

    everyone = world.ok("GET", "/api/v2/users")["data"]
    paged: list[str] = []
    next_url: str | None = "/api/v2/users?limit=2"
    while next_url:
        page = world.ok("GET", next_url)
        paged.extend(u["id"] for u in page["data"])
        next_url = page["paging"].get("next")
    assert paged == [u["id"] for u in everyone]
    machines = world.ok("GET", "/api/v2/api-users", params={"limit": 3, "offset": 2})
    assert len(machines["data"]) == 3 and "offset=5" in machines["paging"]["next"]
    profiles = world.ok("GET", "/api/v2/profiles", params={"limit": 2})
    assert [p["id"] for p in profiles["data"]] == ["VIEWER", "DEVICE_MANAGER"]
    last = world.ok("GET", profiles["paging"]["next"])
    assert [p["id"] for p in last["data"]] == ["ADMIN"] and "next" not in last["paging"]


# -- validation and conflicts -------------------------------------------------------------------


def test_invalid_input_is_400_with_the_field(world: World) -> None:
    a = world.groups["A"]
    user = {"email": "v@example.com", "firstName": "V", "lastName": "V", "password": "password1"}
    role = {"userRoles": [{"groupId": a, "profileId": "VIEWER"}]}
    cases: list[tuple[str, str, dict[str, Any], str]] = [
        ("POST", "/api/v2/groups", {"name": "ab", "parentId": a}, "name"),
        ("POST", "/api/v2/groups", {"name": "okay", "parentId": a, "type": 3}, "type"),
        (
            "POST",
            "/api/v2/groups",
            {"name": "okay", "parentId": a, "timezone": "Mars/Base"},
            "timezone",
        ),
        ("POST", "/api/v2/groups", {"parentId": a}, "name"),
        ("PUT", f"/api/v2/groups/{a}", {"description": "x" * 301}, "description"),
        ("POST", "/api/v2/users", {**user, **role, "email": "nope"}, "email"),
        ("POST", "/api/v2/users", {**user, "userRoles": []}, "userRoles"),
        (
            "POST",
            "/api/v2/users",
            {**user, "userRoles": [{"groupId": a, "profileId": "BOSS"}]},
            "userRoles.profileId",
        ),
        ("POST", "/api/v2/users", {**user, **role, "password": "short"}, "password"),
        ("POST", "/api/v2/users", {**role, "email": "w@example.com"}, "firstName"),
        ("POST", "/api/v2/api-users", {"groupId": a, "name": "x", "profileIds": []}, "profileIds"),
        (
            "POST",
            "/api/v2/api-users",
            {"groupId": a, "name": "x", "profileIds": ["BOSS"]},
            "profileIds",
        ),
        ("POST", "/api/v2/api-users", {"name": "x", "profileIds": ["VIEWER"]}, "groupId"),
        (
            "PUT",
            f"/api/v2/users/{world.users['a-member']}/password",
            {"newPassword": "short"},
            "newPassword",
        ),
    ]
    for method, url, body, field_name in cases:
        r = world.call(method, url, world.keys["root:ADMIN"], json=body)
        assert r.status_code == 400, (body, r.text)
        error = r.json()
        assert error["message"] and error["errors"][0]["field"] == field_name, (body, error)
    r = world.call("POST", "/api/v2/groups", world.keys["root:ADMIN"], content=b"{not json")
    assert r.status_code == 400
    # what databases choke on is refused before it reaches them (no 5xx)
    root_admin = world.keys["root:ADMIN"]
    for url in ("/api/v2/groups/%00", "/api/v2/users/x%00", "/api/v2/api-users/NOT-AN-ID"):
        assert world.call("GET", url, root_admin).status_code == 404, url
    for url, params in (("/api/v2/users", {"text": "a\x00"}), ("/api/v2/groups", {"name": "\x00"})):
        assert world.call("GET", url, root_admin, params=params).status_code == 400, url
    r = world.call("POST", "/api/v2/groups", root_admin, json={"name": "nul\x00name"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "name"
    assert world.call("GET", "/api/v2/profiles", ("nul\x00login", "x")).status_code == 401


def test_conflicts_are_409(world: World) -> None:
    taken = world.passwords["a-member"][0]
    r = world.call(
        "POST",
        "/api/v2/users",
        world.keys["root:ADMIN"],
        json={
            "email": taken.upper(),
            "firstName": "D",
            "lastName": "D",
            "userRoles": [{"groupId": world.groups["A"], "profileId": "VIEWER"}],
        },
    )
    assert r.status_code == 409 and "already exists" in r.json()["message"]
    for group, word in (("A", "subgroups"), ("B", "users"), ("root", "root")):
        r = world.call("DELETE", f"/api/v2/groups/{world.groups[group]}", world.keys["root:ADMIN"])
        assert r.status_code == 409 and word in r.json()["message"]
    lonely = world.group("lonely", "root")
    world.api_user(lonely, "VIEWER")
    r = world.call("DELETE", f"/api/v2/groups/{lonely}", world.keys["root:ADMIN"])
    assert r.status_code == 409 and "API users" in r.json()["message"]


def test_creating_returns_the_location_and_takes_sigfox_paths(world: World) -> None:
    """Sigfox's specification spells the collections with a trailing slash."""
    r = world.call(
        "POST", "/api/v2/groups/", world.keys["A:ADMIN"], json={"name": "slashed"}
    )  # no parentId: the caller's only group
    assert r.status_code == 201
    assert r.headers["location"] == f"/api/v2/groups/{r.json()['id']}"
    created = world.ok("GET", r.headers["location"])
    assert created["path"][0]["id"] == world.groups["A"] and created["type"] == 2
    for collection in ("groups", "users", "api-users", "profiles"):
        assert (
            world.call("GET", f"/api/v2/{collection}/", world.keys["A:VIEWER"]).status_code == 200
        )
    r = world.call("POST", "/api/v2/groups", world.keys["root:ADMIN"], json={"name": "x" * 3})
    assert r.status_code == 201  # the root admin's only group is the root


# -- passwords and credentials -----------------------------------------------------------------


def test_a_user_changes_its_password_and_an_admin_resets_it(world: World) -> None:
    email, first = "changer@example.com", "first-password"
    user_id = world.user(email, [("A", "VIEWER")], first)
    me = world.call("GET", f"/api/v2/users/{user_id}", (email, first))
    assert me.status_code == 200 and me.json()["lastLoginTime"] > 0
    assert me.json()["userRoles"][0]["profile"] == {"id": "VIEWER", "name": "VIEWER [R]"}
    url = f"/api/v2/users/{user_id}/password"
    for current in (None, "wrong-password"):
        body = {"newPassword": "second-password"} | (
            {"currentPassword": current} if current else {}
        )
        r = world.call("PUT", url, (email, first), json=body)
        assert r.status_code == 400 and r.json()["errors"][0]["field"] == "currentPassword"
    r = world.call(
        "PUT",
        url,
        (email, first),
        json={"currentPassword": first, "newPassword": "second-password"},
    )
    assert r.status_code == 204
    # the verified old password was cached: it stops working at once anyway
    assert world.call("GET", f"/api/v2/users/{user_id}", (email, first)).status_code == 401
    assert (
        world.call("GET", f"/api/v2/users/{user_id}", (email, "second-password")).status_code == 200
    )
    # a viewer cannot reset another's; an admin of the group can
    other = world.users["a-member"]
    r = world.call(
        "PUT",
        f"/api/v2/users/{other}/password",
        (email, "second-password"),
        json={"newPassword": "x" * 10},
    )
    assert r.status_code == 403
    r = world.call("PUT", url, world.keys["A:ADMIN"], json={"newPassword": "third-password"})
    assert r.status_code == 204
    assert world.call("GET", "/api/v2/profiles", (email, "second-password")).status_code == 401
    assert world.call("GET", "/api/v2/profiles", (email, "third-password")).status_code == 200
    # the login is the email, in any case; a deleted user is gone at once
    assert (
        world.call("GET", "/api/v2/profiles", (email.upper(), "third-password")).status_code == 200
    )
    assert (
        world.call("DELETE", f"/api/v2/users/{user_id}", world.keys["A:ADMIN"]).status_code == 204
    )
    assert world.call("GET", "/api/v2/profiles", (email, "third-password")).status_code == 401


def test_api_user_credentials(world: World) -> None:
    made = world.call(
        "POST",
        "/api/v2/api-users",
        world.keys["A:ADMIN"],
        json={
            "groupId": world.groups["A1"],
            "name": "sensor script",
            "profileIds": ["DEVICE_MANAGER", "VIEWER"],
            "timezone": "Europe/Paris",
        },
    )
    assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
    login, password = made.json()["id"], made.json()["accessToken"]
    assert len(login) == 24 and len(password) == 32
    me = world.call("GET", f"/api/v2/api-users/{login}", (login, password))  # works at once
    assert me.status_code == 200
    assert me.json() == {
        "id": login,
        "name": "sensor script",
        "timezone": "Europe/Paris",
        "group": {"id": world.groups["A1"], "name": "Alpha One", "type": 2, "level": 2},
        "creationTime": me.json()["creationTime"],
        "profiles": [
            {"id": "DEVICE_MANAGER", "name": "DEVICE MANAGER [W]"},
            {"id": "VIEWER", "name": "VIEWER [R]"},
        ],
    }
    assert world.call("GET", "/api/v2/profiles", (login, "wrong")).status_code == 401
    renewed = world.call(
        "PUT", f"/api/v2/api-users/{login}/renew-credential", world.keys["A:ADMIN"]
    )
    assert renewed.status_code == 200 and set(renewed.json()) == {"accessToken"}
    new = renewed.json()["accessToken"]
    assert new != password
    assert world.call("GET", "/api/v2/profiles", (login, password)).status_code == 401
    assert world.call("GET", "/api/v2/profiles", (login, new)).status_code == 200
    # a profile change applies at the next request
    assert (
        world.call(
            "PUT",
            f"/api/v2/api-users/{login}",
            world.keys["A:ADMIN"],
            json={"profileIds": ["VIEWER"]},
        ).status_code
        == 204
    )
    r = world.call("POST", "/api/v2/groups", (login, new), json={"name": "nope"})
    assert r.status_code == 403
    assert (
        world.call("DELETE", f"/api/v2/api-users/{login}", world.keys["A:ADMIN"]).status_code == 204
    )
    assert world.call("GET", "/api/v2/profiles", (login, new)).status_code == 401


def test_secrets_at_rest(world: World) -> None:
    login, password = world.api_user("A", "VIEWER")
    email, user_password = world.passwords["a-member"]
    query_api = "SELECT secret FROM api_users WHERE id = $1"
    query_user = "SELECT password_hash FROM users WHERE email = $1"
    if world.database_url is None:
        db = sqlite3.connect(world.data_dir / "lorafox.db")
        try:
            [(secret,)] = db.execute(query_api.replace("$1", "?"), (login,))
            [(hashed,)] = db.execute(query_user.replace("$1", "?"), (email,))
        finally:
            db.close()
    else:
        import asyncpg

        async def read() -> tuple[str, str]:
            conn = await asyncpg.connect(world.database_url)
            try:
                return await conn.fetchval(query_api, login), await conn.fetchval(query_user, email)
            finally:
                await conn.close()

        result: list[tuple[str, str]] = []
        worker = threading.Thread(target=lambda: result.append(asyncio.run(read())))
        worker.start()
        worker.join()
        [(secret, hashed)] = result
    assert password not in secret
    assert SecretBox.from_data_dir(world.data_dir).decrypt(secret) == password  # key not in the DB
    assert hashed.startswith("$argon2id$") and user_password not in hashed


def test_the_profiles(world: World) -> None:
    listed = world.ok("GET", "/api/v2/profiles")["data"]
    assert [(p["id"], p["name"]) for p in listed] == [
        ("VIEWER", "VIEWER [R]"),
        ("DEVICE_MANAGER", "DEVICE MANAGER [W]"),
        ("ADMIN", "ADMIN [W]"),
    ]
    admin = world.ok("GET", "/api/v2/profiles/ADMIN")
    assert {"id": "users:write", "name": "users:write"} in admin["roles"]
    assert world.call("GET", "/api/v2/profiles/BOSS", world.keys["A:VIEWER"]).status_code == 404


def test_the_openapi_document(world: World) -> None:
    spec = world.http.get("/api/openapi.json").json()
    paths = spec["paths"]
    for path, method in [
        ("/api/v2/groups", "post"),
        ("/api/v2/groups/{group_id}", "delete"),
        ("/api/v2/users", "get"),
        ("/api/v2/users/{user_id}/password", "put"),
        ("/api/v2/api-users", "post"),
        ("/api/v2/api-users/{api_user_id}/renew-credential", "put"),
        ("/api/v2/profiles/{profile_id}", "get"),
        ("/api/v2/devices/{device_id}/downlinks", "post"),
    ]:
        basic_auth_operation(spec, path, method)
    assert "/api/v2/groups/" not in paths  # the slashed spellings are not listed twice
    assert spec["components"]["securitySchemes"]["HTTPBasic"]["scheme"] == "basic"
    created = paths["/api/v2/api-users"]["post"]["responses"]["201"]["content"]
    schema = created["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert "accessToken" in spec["components"]["schemas"][schema]["properties"]
    # validation errors answer 400 in the Sigfox shape, and say so
    assert all("422" not in op["responses"] for ops in paths.values() for op in ops.values())
    assert "400" in paths["/api/v2/groups"]["post"]["responses"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    # the callbacks, served outside FastAPI, are described too
    uplink = paths["/sigfox/uplink"]["post"]
    assert uplink["security"] == [{"sigfoxBasic": []}]
    assert set(uplink["responses"]) == {"204", "400", "401", "403", "503"}
    bidir = paths["/sigfox/bidir"]["post"]["responses"]["200"]["content"]["application/json"]
    assert bidir["example"] == {"1A2B3C": {"downlinkData": "0102030405060708"}}
    assert {p["name"] for p in paths["/sigfox/bidir"]["get"]["parameters"]} >= {"device", "ack"}
    for path in ("status", "acknowledge", "data-advanced"):
        service = paths[f"/sigfox/service/{path}"]["post"]
        assert service["security"] == [{"sigfoxBasic": []}]
        assert "200" in service["responses"], path
    advanced = paths["/sigfox/service/data-advanced"]["post"]["requestBody"]["content"]
    variables = advanced["application/json"]["schema"]["properties"]
    assert variables["duplicates"]["type"] == "array"
    ack_get = {p["name"] for p in paths["/sigfox/service/acknowledge"]["get"]["parameters"]}
    assert ack_get >= {"device", "time", "infoCode", "downlinkAck"}
    assert paths["/sigfox/error"]["post"]["requestBody"]["content"]["application/json"]


def test_the_admin_is_a_user_of_the_root_group(world: World) -> None:
    admins = world.ok("GET", "/api/v2/users", params={"text": "admin", "profileId": "ADMIN"})
    [admin] = [u for u in admins["data"] if u["email"] == "admin"]
    assert admin["userRoles"] == [
        {
            "group": {"id": world.groups["root"], "name": "root", "type": 0, "level": 0},
            "profile": {"id": "ADMIN", "name": "ADMIN [W]"},
        }
    ]
    assert world.call("GET", "/metrics", ADMIN).status_code == 200
