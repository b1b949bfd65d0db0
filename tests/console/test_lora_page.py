"""The LoRa integrations pages: creating a ChirpStack HTTP integration whose token is shown
once and works on its endpoint, a broker integration out of reach shown down, editing one (a
secret left out keeps its value), the field errors, deleting; what a VIEWER may not do; and
the pages in Chromium (axe-core, screenshot)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import closing
from typing import Any

import httpx
import pytest

from tests.conftest import free_port
from tests.console.browsing import logged_in, no_serious_violation, shoot
from tests.console.conftest import ADMIN, World, build_world, csrf_of, log_in
from tests.integration.helpers import serving
from tests.integration.test_lora_http import sample
from tests.mqtt_helpers import wait_until

_TOKEN = re.compile(r'id="secret-token">([^<]+)<')


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("console-lora") / "data"
    lora = {"integration_down_seconds": 1}
    with serving(data_dir, console={"refresh_seconds": 0.5}, lora=lora) as lorafox:
        made = build_world(lorafox)
        try:
            yield made
        finally:
            made.api.close()


def _integrations(world: World) -> dict[str, dict[str, Any]]:
    return {i["name"]: i for i in world.ok("GET", "/api/v2/lora/integrations")["data"]}


def test_a_manager_creates_an_integration_whose_token_is_shown_once(world: World) -> None:
    with closing(log_in(world.base_url, world.users["A:DEVICE_MANAGER"])) as http:
        token = csrf_of(http.get("/console/lora/new").text)
        form = {"csrf": token, "name": "chirp", "kind": "chirpstack", "groupId": world.groups["A"]}
        not_json = http.post("/console/lora/new", data=form | {"config": "{nope"})
        assert not_json.status_code == 400 and 'id="config-error"' in not_json.text
        bad_kind = http.post("/console/lora/new", data=form | {"kind": "zigbee", "config": ""})
        assert bad_kind.status_code == 400 and 'id="kind-error"' in bad_kind.text
        made = http.post("/console/lora/new", data=form | {"config": ""})
        assert made.status_code == 200
        shown = _TOKEN.search(made.text)
        assert shown, "the token is not on the page"
        integration = _integrations(world)["chirp"]
        up = sample("chirpstack_up.json")
        url = f"/lora/chirpstack/{integration['id']}"
        with httpx.Client(base_url=world.base_url, timeout=10) as ns:
            wrong = ns.post(
                url, params={"event": "up"}, json=up, headers={"authorization": "Bearer x"}
            )
            assert wrong.status_code == 401
            right = {"authorization": f"Bearer {shown.group(1)}"}
            assert ns.post(url, params={"event": "up"}, json=up, headers=right).status_code == 200
        listing = http.get("/console/lora")
        assert "chirp" in listing.text and shown.group(1) not in listing.text
        assert 'id="secret-token"' not in listing.text
        gone = http.post(f"/console/lora/{integration['id']}/delete", data={"csrf": token})
        assert gone.status_code == 303 and "chirp" not in _integrations(world)


def test_a_broker_out_of_reach_is_down_and_a_secret_left_out_is_kept(world: World) -> None:
    with closing(log_in(world.base_url, world.users["A:DEVICE_MANAGER"])) as http:
        token = csrf_of(http.get("/console/lora/new").text)
        closed = f"mqtt://127.0.0.1:{free_port()}"
        config = {"mqttUrl": closed, "applicationId": "app-1"}
        form = {"csrf": token, "name": "broker", "kind": "chirpstack", "groupId": world.groups["A"]}
        assert (
            http.post("/console/lora/new", data=form | {"config": json.dumps(config)}).status_code
            == 200
        )
        wait_until(lambda: "down: broker" in http.get("/console/lora").text, timeout=20)
        made = _integrations(world)["broker"]
        tts_form = {
            "csrf": token,
            "name": "things",
            "kind": "tts",
            "groupId": world.groups["A"],
            "config": json.dumps(
                {"downlinkPushUrl": "https://tts.example.com/push", "downlinkApiKey": "k-secret"}
            ),
        }
        assert http.post("/console/lora/new", data=tts_form).status_code == 200
        tts = _integrations(world)["things"]
        assert tts["secrets"] == ["downlinkApiKey"]
        edit = http.get(f"/console/lora/{tts['id']}")
        assert edit.status_code == 200 and "k-secret" not in edit.text
        changed = http.post(
            f"/console/lora/{tts['id']}",
            data={
                "csrf": token,
                "name": "things renamed",
                "appEui": "",
                "config": json.dumps({"downlinkPushUrl": "https://tts.example.com/push2"}),
            },
        )
        assert changed.status_code == 303
        after = _integrations(world)["things renamed"]
        assert after["secrets"] == ["downlinkApiKey"]
        assert after["config"]["downlinkPushUrl"] == "https://tts.example.com/push2"
        for i in (made, after):
            assert (
                http.post(f"/console/lora/{i['id']}/delete", data={"csrf": token}).status_code
                == 303
            )


def test_a_viewer_sees_no_control_and_a_forged_post_is_refused(world: World) -> None:
    body = {"name": "seen", "kind": "chirpstack", "groupId": world.groups["A"]}
    made = world.ok("POST", "/api/v2/lora/integrations", 201, json=body)
    with closing(log_in(world.base_url, world.users["A:VIEWER"])) as http:
        page = http.get("/console/lora")
        assert page.status_code == 200 and "seen" in page.text
        assert "New integration" not in page.text and "Delete" not in page.text
        token = csrf_of(page.text)
        forged = [
            http.post(f"/console/lora/{made['id']}/delete", data={"csrf": token}),
            http.post(
                f"/console/lora/{made['id']}", data={"csrf": token, "name": "x", "config": ""}
            ),
            http.post("/console/lora/new", data=body | {"csrf": token, "config": ""}),
        ]
        assert [r.status_code for r in forged] == [403, 403, 403]
    assert "seen" in _integrations(world)
    world.ok("DELETE", f"/api/v2/lora/integrations/{made['id']}", 204)


@pytest.mark.browser
def test_the_lora_pages_in_chromium(world: World, browser: Any) -> None:
    from playwright.sync_api import expect

    page = logged_in(browser, world.base_url, ADMIN[0], ADMIN[1])
    try:
        page.get_by_role("navigation", name="Main").get_by_role("link", name="LoRa").click()
        page.get_by_role("link", name="New integration").click()
        page.get_by_label("Name", exact=True).fill("field network")
        page.get_by_label("Kind").select_option("chirpstack")
        page.get_by_label("Group", exact=True).select_option(label="group B")
        no_serious_violation(page)
        page.get_by_role("button", name="Save the integration").click()
        expect(page.locator("#secret-token")).to_have_text(re.compile(r"^\S{20,}$"))
        no_serious_violation(page)
        shoot(page, "lora-integrations")
        page.goto("/console/lora")
        expect(page.get_by_role("cell", name="field network", exact=True)).to_be_visible()
        expect(page.locator("#secret-token")).to_have_count(0)
    finally:
        page.context.close()
