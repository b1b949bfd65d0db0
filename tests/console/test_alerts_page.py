"""The alerts pages: creating an alert and its field errors, editing it, sending a test to a
real HTTP receiver (an apprise ``json://`` URL), deleting it; what a VIEWER may not do; and
the pages in Chromium (axe-core, screenshot)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from tests.console.browsing import logged_in, no_serious_violation, shoot
from tests.console.conftest import ADMIN, World, build_world, csrf_of, log_in
from tests.integration.helpers import serving
from tests.mqtt_helpers import wait_until

CALLBACKS = {"allowed_networks": "127.0.0.0/8"}
"""A receiver on this machine may be notified."""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("console-alerts") / "data"
    with serving(data_dir, console={"refresh_seconds": 0.5}, callbacks=CALLBACKS) as lorafox:
        made = build_world(lorafox)
        try:
            yield made
        finally:
            made.api.close()


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An HTTP server keeping the JSON bodies posted to it; its host:port and the bodies."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            received.append(json.loads(body))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def _alerts(world: World) -> dict[str, dict[str, Any]]:
    return {a["name"]: a for a in world.ok("GET", "/api/v2/alerts")["data"]}


def test_a_manager_creates_tests_edits_and_deletes_an_alert(
    world: World, receiver: tuple[str, list[dict[str, Any]]]
) -> None:
    where, received = receiver
    with closing(log_in(world.base_url, world.users["A:DEVICE_MANAGER"])) as http:
        token = csrf_of(http.get("/console/alerts/new").text)
        form = {
            "csrf": token,
            "name": "lost meters",
            "groupId": world.groups["A"],
            "eventTypes": "communication_lost",
            "urls": f"json://{where}/hook",
            "digestSeconds": "0",
            "maxPerHour": "10",
            "enabled": "true",
        }
        no_event = http.post("/console/alerts/new", data=form | {"eventTypes": []})
        assert no_event.status_code == 400 and 'id="eventTypes-error"' in no_event.text
        nowhere = http.post("/console/alerts/new", data=form | {"urls": ""})
        assert nowhere.status_code == 400 and 'id="emails-error"' in nowhere.text
        not_number = http.post("/console/alerts/new", data=form | {"maxPerHour": "many"})
        assert not_number.status_code == 400 and 'id="maxPerHour-error"' in not_number.text
        other_group = http.post("/console/alerts/new", data=form | {"groupId": world.groups["B"]})
        assert other_group.status_code in (403, 404)
        made = http.post("/console/alerts/new", data=form)
        assert made.status_code == 303
        alert = _alerts(world)["lost meters"]
        assert alert["urls"] == [f"json://{where}/hook"] and alert["digestSeconds"] == 0
        assert "lost meters" in http.get("/console/alerts").text
        tested = http.post(f"/console/alerts/{alert['id']}/test", data={"csrf": token})
        assert tested.status_code == 200 and "Notification URLs reached: 1" in tested.text
        wait_until(lambda: len(received) >= 1)
        edit = http.get(f"/console/alerts/{alert['id']}")
        assert edit.status_code == 200 and "communication_lost" in edit.text
        changed = http.post(
            f"/console/alerts/{alert['id']}",
            data=form | {"name": "lost or late", "maxPerHour": "5", "enabled": "false"},
        )
        assert changed.status_code == 303
        after = _alerts(world)["lost or late"]
        assert after["maxPerHour"] == 5 and after["enabled"] is False
        gone = http.post(f"/console/alerts/{alert['id']}/delete", data={"csrf": token})
        assert gone.status_code == 303 and "lost or late" not in _alerts(world)


def test_a_viewer_sees_no_control_and_a_forged_post_is_refused(world: World) -> None:
    body = {
        "name": "viewer sees me",
        "groupId": world.groups["A"],
        "eventTypes": ["communication_lost"],
        "emails": ["ops@example.com"],
    }
    made = world.ok("POST", "/api/v2/alerts", 201, json=body)
    with closing(log_in(world.base_url, world.users["A:VIEWER"])) as http:
        page = http.get("/console/alerts")
        assert page.status_code == 200 and "viewer sees me" in page.text
        assert "New alert" not in page.text and "Send a test" not in page.text
        token = csrf_of(page.text)
        forged = [
            http.post(f"/console/alerts/{made['id']}/delete", data={"csrf": token}),
            http.post(f"/console/alerts/{made['id']}/test", data={"csrf": token}),
            http.post(
                "/console/alerts/new",
                data={
                    "csrf": token,
                    "name": "forged",
                    "groupId": world.groups["A"],
                    "eventTypes": "communication_lost",
                    "emails": "ops@example.com",
                    "digestSeconds": "60",
                    "maxPerHour": "10",
                },
            ),
        ]
        assert [r.status_code for r in forged] == [403, 403, 403]
        assert http.get(f"/console/alerts/{made['id']}").status_code == 403
    assert "viewer sees me" in _alerts(world)


@pytest.mark.browser
def test_the_alerts_pages_in_chromium(world: World, browser: Any) -> None:
    from playwright.sync_api import expect

    page = logged_in(browser, world.base_url, ADMIN[0], ADMIN[1])
    try:
        page.get_by_role("navigation", name="Main").get_by_role("link", name="Alerts").click()
        page.get_by_role("link", name="New alert").click()
        page.get_by_label("Name", exact=True).fill("battery watch")
        page.get_by_label("Group", exact=True).select_option(label="group B")
        page.get_by_label("communication_lost").check()
        page.get_by_label("Emails, one per line").fill("ops@example.com")
        no_serious_violation(page)
        page.get_by_role("button", name="Save the alert").click()
        expect(page.get_by_role("status")).to_have_text("Saved.")
        expect(page.get_by_role("cell", name="battery watch", exact=True)).to_be_visible()
        no_serious_violation(page)
        shoot(page, "alerts")
    finally:
        page.context.close()
