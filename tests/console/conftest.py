"""Fixtures of the console tests: a lorafox per module with two groups (A and B), a device type
and devices in each, users of each profile; an httpx client logged in as one of them; and, for
the browser tests, Debian's Chromium driven by Playwright (one browser for their module).

Without ``/usr/bin/chromium`` the browser tests skip, except under ``CI=true`` where they fail.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ADMIN_PASSWORD, SIGFOX_PASSWORD, SIGFOX_USER, Running
from tests.integration.helpers import serving

ADMIN = ("admin", ADMIN_PASSWORD)
SIGFOX = (SIGFOX_USER, SIGFOX_PASSWORD)
PASSWORD = "console-test-pw-1"
PAC = "0123456789ABCDEF"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class World:
    """A running lorafox and what the module made in it."""

    lorafox: Running
    api: httpx.Client  # as the admin, Basic auth
    groups: dict[str, str] = field(default_factory=dict)  # name -> id
    types: dict[str, str] = field(default_factory=dict)  # group name -> device type id
    devices: dict[str, list[str]] = field(default_factory=dict)  # group name -> device ids
    users: dict[str, str] = field(default_factory=dict)  # "A:VIEWER" -> email

    @property
    def base_url(self) -> str:
        return self.lorafox.base_url

    def ok(self, method: str, url: str, status: int = 200, **kw: Any) -> Any:
        r = self.api.request(method, url, **kw)
        assert r.status_code == status, (method, url, r.status_code, r.text)
        return r.json() if r.content else None

    def device(self, group: str, name: str, device_id: str | None = None) -> str:
        made = device_id or (secrets.token_hex(4).upper().lstrip("0") or "1")
        body = {"id": made, "name": name, "deviceTypeId": self.types[group], "pac": PAC}
        self.ok("POST", "/api/v2/devices", 201, json=body)
        self.devices.setdefault(group, []).append(made)
        return made

    def uplink(self, device: str, seq: int, data: str = "0102", **extra: Any) -> None:
        """A DATA callback of ``device`` now (time in seconds, as Sigfox sends it)."""
        body = {"device": device, "time": int(time.time()), "seqNumber": seq, "data": data}
        r = self.api.post("/sigfox/uplink", json=body | extra, auth=SIGFOX)
        assert r.status_code == 204, r.text


def build_world(lorafox: Running) -> World:
    """Groups A and B under the root, a device type and two devices in each, and a user per
    profile in each group (``A:VIEWER``…), all with ``PASSWORD``."""
    world = World(lorafox, httpx.Client(base_url=lorafox.base_url, auth=ADMIN, timeout=30))
    [root] = [g for g in world.ok("GET", "/api/v2/groups")["data"] if not g["path"]]
    for name in ("A", "B"):
        body = {"name": f"group {name}", "parentId": root["id"]}
        world.groups[name] = world.ok("POST", "/api/v2/groups", 201, json=body)["id"]
        body = {"name": f"sensors {name}", "groupId": world.groups[name]}
        world.types[name] = world.ok("POST", "/api/v2/device-types", 201, json=body)["id"]
        for n in (1, 2):
            world.device(name, f"{name.lower()}-meter-{n}")
        for profile in ("VIEWER", "DEVICE_MANAGER"):
            email = f"{profile.lower()}.{name.lower()}@example.com"
            body = {
                "email": email,
                "firstName": profile,
                "lastName": name,
                "password": PASSWORD,
                "userRoles": [{"groupId": world.groups[name], "profileId": profile}],
            }
            world.ok("POST", "/api/v2/users", 201, json=body)
            world.users[f"{name}:{profile}"] = email
    return world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("console") / "data"
    with serving(data_dir, console={"refresh_seconds": 0.5}) as lorafox:
        made = build_world(lorafox)
        try:
            yield made
        finally:
            made.api.close()


def login_token(page: str) -> str:
    found = re.search(r'name="login_token" value="([^"]+)"', page)
    assert found, "no login form"
    return found.group(1)


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF token in the page"
    return found.group(1)


def log_in(base_url: str, login: str, password: str = PASSWORD) -> httpx.Client:
    """An httpx client holding a console session of ``login``."""
    client = httpx.Client(base_url=base_url, timeout=30)
    form = client.get("/console/login")
    answer = client.post(
        "/console/login",
        data={"login_token": login_token(form.text), "email": login, "password": password},
    )
    assert answer.status_code == 303, answer.text
    return client


# -- the browser ------------------------------------------------------------------------------


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"{CHROMIUM} is missing (apt-get install -y chromium)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless (never ``playwright install``), one for the module's tests.

    Not one for the whole session: Playwright's sync API runs an event loop in the main thread
    while it is started, and the asyncio tests collected after the browser tests must not find
    it there."""
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
