"""The callbacks pages of a device type: the form and its errors, enabling and the downlink
callback, deliveries not made to a real HTTP receiver answering 500 and their retry (in
Chromium too), and what a VIEWER may not do."""

from __future__ import annotations

import re
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

CALLBACKS = {"allowed_networks": "127.0.0.0/8", "retry_for_seconds": 0}
"""A receiver on this machine may be called; a failed delivery is given up at once."""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = tmp_path_factory.mktemp("console-callbacks") / "data"
    with serving(data_dir, console={"refresh_seconds": 0.5}, callbacks=CALLBACKS) as lorafox:
        made = build_world(lorafox)
        try:
            yield made
        finally:
            made.api.close()


@pytest.fixture(scope="module")
def failing_receiver() -> Iterator[str]:
    """An HTTP server answering every request 500; its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(500)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _callbacks_url(world: World, group: str = "A") -> str:
    return f"/console/device-types/{world.types[group]}/callbacks"


def _form(url: str, **fields: str) -> dict[str, str]:
    return {
        "channel": "URL",
        "kind": "0:2",
        "url": url,
        "httpMethod": "POST",
        "headers": "X-Token: t1",
        "contentType": "application/json",
        "bodyTemplate": '{"device": "{device}", "data": "{data}"}',
        "enabled": "true",
    } | fields


def test_a_manager_makes_a_callback_and_sees_its_errors_by_their_fields(
    world: World, failing_receiver: str
) -> None:
    base = _callbacks_url(world)
    with closing(log_in(world.base_url, world.users["A:DEVICE_MANAGER"])) as http:
        form = http.get(base + "/new")
        assert form.status_code == 200
        token = csrf_of(form.text)
        bad_url = http.post(base + "/new", data=_form("ftp://x") | {"csrf": token})
        assert bad_url.status_code == 400 and 'id="url-error"' in bad_url.text
        bad_header = http.post(
            base + "/new", data=_form(failing_receiver, headers="no colon") | {"csrf": token}
        )
        assert bad_header.status_code == 400 and 'id="headers-error"' in bad_header.text
        bad_body = http.post(
            base + "/new",
            data=_form(failing_receiver, bodyTemplate="{nope}") | {"csrf": token},
        )
        assert bad_body.status_code == 400 and 'id="bodyTemplate-error"' in bad_body.text
        made = http.post(
            base + "/new", data=_form(failing_receiver + "/bidir", kind="0:3") | {"csrf": token}
        )
        assert made.status_code == 303
        [found] = [
            c
            for c in world.ok("GET", f"/api/v2/device-types/{world.types['A']}/callbacks")["data"]
            if c["urlPattern"].endswith("/bidir")
        ]
        assert found["headers"] == {"X-Token": "t1"} and found["callbackSubtype"] == 3
        listing = http.get(base)
        assert "DATA BIDIR" in listing.text and "Use as the downlink callback" in listing.text
        token = csrf_of(listing.text)
        hook = http.post(f"{base}/{found['id']}/downlink", data={"csrf": token})
        assert hook.status_code == 303
        off = http.post(f"{base}/{found['id']}/enable", data={"csrf": token, "enabled": "false"})
        assert off.status_code == 303
        edit = http.get(f"{base}/{found['id']}")
        changed = http.post(
            f"{base}/{found['id']}",
            data=_form(failing_receiver + "/bidir2", headers="") | {"csrf": csrf_of(edit.text)},
        )
        assert changed.status_code == 303
        gone = http.post(f"{base}/{found['id']}/delete", data={"csrf": token})
        assert gone.status_code == 303
        assert http.get(f"{base}/{found['id']}").status_code == 404
    after = world.ok("GET", f"/api/v2/device-types/{world.types['A']}/callbacks")["data"]
    assert found["id"] not in [c["id"] for c in after]


def test_a_failed_delivery_is_listed_and_retried(world: World, failing_receiver: str) -> None:
    base = _callbacks_url(world, "B")
    device = world.devices["B"][0]
    with closing(log_in(world.base_url, world.users["B:DEVICE_MANAGER"])) as http:
        form = http.get(base + "/new")
        made = http.post(base + "/new", data=_form(failing_receiver) | {"csrf": csrf_of(form.text)})
        assert made.status_code == 303
        world.uplink(device, 5, data="c0ffee")
        not_delivered = f"/api/v2/device-types/{world.types['B']}/callbacks-not-delivered"

        def given_up(attempts: int) -> bool:
            found = world.ok("GET", not_delivered)["data"]
            return (
                bool(found) and found[0]["state"] == "failed" and found[0]["attempts"] >= attempts
            )

        wait_until(lambda: given_up(1), timeout=20)
        page = http.get(base)
        assert device in page.text and "HTTP 500" in page.text and "given up" in page.text
        [action] = re.findall(r'action="([^"]*/not-delivered/[^"]*)"', page.text)
        retried = http.post(action, data={"csrf": csrf_of(page.text)})
        assert retried.status_code == 303, (action, retried.text[-1500:])
        assert retried.headers["location"].endswith("done=retried")
        wait_until(lambda: given_up(2), timeout=20)  # attempted again, refused again
        unknown = http.post(base + "/not-delivered/999999/retry", data={"csrf": csrf_of(page.text)})
        assert unknown.status_code == 404


def test_a_viewer_sees_no_edit_control_and_gets_403_when_posting(
    world: World, failing_receiver: str
) -> None:
    base = _callbacks_url(world)
    with closing(log_in(world.base_url, world.users["A:VIEWER"])) as http:
        page = http.get(base)
        assert page.status_code == 200 and "Not delivered" in page.text
        for control in (
            "New callback",
            "Retry now",
            "Disable",
            "Delete",
            'method="post" action="/console/device-types',
        ):
            assert control not in page.text
        token = csrf_of(page.text)
        assert http.get(base + "/new").status_code == 403
        refused = http.post(base + "/new", data=_form(failing_receiver) | {"csrf": token})
        assert refused.status_code == 403
        assert http.post(base + "/not-delivered/1/retry", data={"csrf": token}).status_code == 403
    with closing(log_in(world.base_url, world.users["A:DEVICE_MANAGER"])) as http:
        page = http.get(base)
        no_csrf = http.post(base + "/new", data=_form(failing_receiver))
        assert no_csrf.status_code == 403 and "CSRF" in no_csrf.text
        assert http.get(_callbacks_url(world, "B")).status_code == 404  # another group's


@pytest.mark.browser
def test_in_the_browser_a_callback_answering_500_is_listed_as_not_delivered(
    world: World, browser: Any, failing_receiver: str
) -> None:
    device = world.devices["A"][1]
    page = logged_in(browser, world.base_url, ADMIN[0], ADMIN[1])
    try:
        page.goto(_callbacks_url(world))
        page.get_by_role("link", name="New callback").click()
        page.get_by_label("Channel").select_option("URL")
        page.get_by_label("Type", exact=True).select_option("0:2")
        page.get_by_label("URL pattern").fill(failing_receiver + "/browser/{device}")
        page.click("#callback-form button[type=submit]")
        page.get_by_text("Saved.").wait_for()
        world.uplink(device, 9, data="beef")
        for _ in range(40):  # a plain page: reload until the failure is listed
            page.reload()
            if page.locator("#not-delivered").get_by_text(f"/browser/{device}").count():
                break
            page.wait_for_timeout(500)
        row = page.locator("#not-delivered tr", has_text=f"/browser/{device}")
        assert "HTTP 500" in row.inner_text()
        shoot(page, "callbacks")
        no_serious_violation(page)
        row.get_by_role("button", name="Retry now").click()
        page.get_by_text("The delivery will be attempted again now.").wait_for()
        page.goto(_callbacks_url(world) + "/new")
        shoot(page, "callback")
        no_serious_violation(page)
    finally:
        page.context.close()


def test_bad_values_are_4xx_never_500(world: World, failing_receiver: str) -> None:
    base = _callbacks_url(world)
    with closing(log_in(world.base_url, world.users["A:DEVICE_MANAGER"])) as http:
        token = csrf_of(http.get(base + "/new").text)
        for fields in (
            {"kind": "9:9"},
            {"kind": "x"},
            {"channel": "FOO"},
            {"httpMethod": "DELETE"},
            {"channel": "EMAIL", "recipient": "not an address"},
            {"url": "http://" + "a" * 3000},
        ):
            answer = http.post(
                base + "/new", data=_form(failing_receiver) | fields | {"csrf": token}
            )
            assert 400 <= answer.status_code < 500, (fields, answer.status_code)
        for path in ("/not-delivered/x/retry", "/not-delivered/99999999999999999999999/retry"):
            answer = http.post(base + path, data={"csrf": token})
            assert 400 <= answer.status_code < 500, (path, answer.status_code)
        answer = http.post(base + "/nope/enable", data={"csrf": token, "enabled": "true"})
        assert answer.status_code == 404
        types = "/console/device-types"
        token = csrf_of(http.get(types + "/new").text)
        for fields in (
            {"keepAlive": "9" * 30},
            {"downlinkMode": "7"},
            {"payloadType": "4"},
            {"groupId": "ffffffffffffffffffffffff"},
            {"downlinkMode": "0", "downlinkDataString": "zz"},
            {"name": ""},
        ):
            body = {"csrf": token, "name": "t", "groupId": world.groups["A"]} | fields
            answer = http.post(types + "/new", data=body)
            assert 400 <= answer.status_code < 500, (fields, answer.status_code)
        preview = http.get(types + "/preview", params={"payloadType": "x", "id": "zz"})
        assert 400 <= preview.status_code < 500
        token = csrf_of(http.get("/console/rules/new").text)
        for fields in (
            {"name": "r" * 300},
            {"sql": ""},
            {"actions": "[1]"},
            {"actions": '[{"lambda": {"functionArn": "x"}}]'},
        ):
            body = {"csrf": token, "name": "r1", "sql": "SELECT * FROM 'a'", "actions": "[]"}
            answer = http.post("/console/rules/new", data=body | fields)
            assert 400 <= answer.status_code < 500, (fields, answer.status_code)
        assert http.get("/console/rules/nope").status_code == 404
