"""MQTT access control on the embedded broker, through a local TCP forwarder standing in for
the TLS proxy: each client reads its own groups' uplinks, only lorafox publishes uplinks, and
downlinks are queued only by those who may operate the device."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from tests.conftest import Running
from tests.integration.helpers import ADMIN, SIGFOX, group_with_a_device, new_api_user
from tests.integration.test_sigfox_flow import body
from tests.mqtt_helpers import Forwarder, Recorder


@dataclass
class Fleet:
    lorafox: Running
    http: httpx.Client
    proxy: Forwarder
    types: dict[str, str]  # group name -> device type id
    devices: dict[str, str]  # group name -> device id
    keys: dict[str, tuple[str, str]]  # "A:VIEWER" -> (login, secret)

    def recorder(self, key: str, *filters: str) -> Recorder:
        login, secret = ADMIN if key == "admin" else self.keys[key]
        return Recorder("127.0.0.1", self.proxy.port, *filters, username=login, password=secret)

    def uplink(self, group: str, seq: int) -> None:
        device = self.devices[group]
        answer = self.http.post(
            "/sigfox/uplink", json=body(device, seq, deviceTypeId=self.types[group]), auth=SIGFOX
        )
        assert answer.status_code == 204, answer.text

    def queued(self, group: str) -> list[dict[str, object]]:
        answer = self.http.get(f"/api/v2/devices/{self.devices[group]}/downlinks", auth=ADMIN)
        assert answer.status_code == 200
        data: list[dict[str, object]] = answer.json()["data"]
        return data


@pytest.fixture
def fleet(lorafox_factory: Callable[..., Running]) -> Iterator[Fleet]:
    lorafox = lorafox_factory()
    assert lorafox.mqtt_port
    proxy = Forwarder(lorafox.mqtt_port)
    with httpx.Client(base_url=lorafox.base_url, auth=ADMIN, timeout=10) as http:
        root = next(g for g in http.get("/api/v2/groups").json()["data"] if not g["path"])
        groups, types, devices = {}, {}, {}
        for name in ("A", "B"):
            groups[name], types[name], devices[name] = group_with_a_device(
                http, root["id"], f"group {name}", name
            )
        keys = {}
        for key in ("A:VIEWER", "A:DEVICE_MANAGER", "B:VIEWER"):
            group, profile = key.split(":")
            keys[key] = new_api_user(http, groups[group], key, profile)
        try:
            yield Fleet(lorafox, http, proxy, types, devices, keys)
        finally:
            proxy.close()


def _topics(recorder: Recorder) -> list[str]:
    return [topic for topic, _ in recorder.messages]


def test_each_client_reads_only_its_groups_uplinks(fleet: Fleet) -> None:
    admin = fleet.recorder("admin", "#")
    viewer_a = fleet.recorder("A:VIEWER", "#")
    viewer_b = fleet.recorder("B:VIEWER", "sigfox/#")
    try:
        fleet.uplink("B", 1)
        fleet.uplink("A", 1)
        fleet.uplink("B", 2)
        a, b = fleet.devices["A"], fleet.devices["B"]
        assert len(admin.wait_for(f"sigfox/uplink/{b}", 2)) == 2
        admin.wait_for(f"sigfox/uplink/{a}")
        # in order on each connection: once the later message is in, an earlier one would be too
        viewer_a.wait_for(f"sigfox/uplink/{a}")
        assert len(viewer_b.wait_for(f"sigfox/uplink/{b}", 2)) == 2
        assert all(b not in topic for topic in _topics(viewer_a))
        assert all(a not in topic for topic in _topics(viewer_b))
    finally:
        for recorder in (admin, viewer_a, viewer_b):
            recorder.close()


def test_only_lorafox_publishes_uplinks(fleet: Fleet) -> None:
    """A forged (and retained) uplink from a client is dropped: no one receives or keeps it."""
    admin = fleet.recorder("admin", "sigfox/uplink/#", "marker")
    manager = fleet.recorder("A:DEVICE_MANAGER", "marker")
    try:
        forged = orjson.dumps({"device": fleet.devices["B"], "data": "ff"})
        info = manager.client.publish(f"sigfox/uplink/{fleet.devices['B']}", forged, 1, True)
        info.wait_for_publish(10)
        manager.publish("marker", b"{}")
        admin.wait_for("marker")
        assert _topics(admin) == ["marker"]
        late = fleet.recorder("admin", "sigfox/uplink/#", "marker")
        try:
            manager.publish("marker", b"{}")
            late.wait_for("marker")
            assert _topics(late) == ["marker"]  # nothing retained
        finally:
            late.close()
    finally:
        admin.close()
        manager.close()


def test_downlinks_only_for_devices_one_may_operate(fleet: Fleet) -> None:
    manager = fleet.recorder("A:DEVICE_MANAGER", "sigfox/downlink/#")
    viewer = fleet.recorder("A:VIEWER", "sigfox/downlink/#", "marker")
    other = fleet.recorder("B:VIEWER", "sigfox/downlink/#")
    try:
        a, b = fleet.devices["A"], fleet.devices["B"]
        # a viewer may not queue a downlink: its publish is dropped by the broker
        viewer.publish(f"sigfox/downlink/{a}", orjson.dumps({"downlinkData": "0102030405060708"}))
        viewer.publish("marker", b"{}")
        viewer.wait_for("marker")
        # a device manager of A may not reach B's device: refused on .../rejected, to it
        manager.publish(f"sigfox/downlink/{b}", orjson.dumps({"downlinkData": "1112131415161718"}))
        [rejected] = manager.wait_for(f"sigfox/downlink/{b}/rejected")
        assert rejected["error"] == "device not found"
        # its own device: queued before the PUBACK came back, so visible at once
        manager.publish(f"sigfox/downlink/{a}", orjson.dumps({"downlinkData": "2122232425262728"}))
        assert [d["data"] for d in fleet.queued("A")] == ["2122232425262728"]
        assert fleet.queued("B") == []
        # what A's clients publish, and lorafox's answers to them, stay within A
        viewer.wait_for(f"sigfox/downlink/{b}/rejected")
        time.sleep(0.2)
        assert _topics(other) == []
    finally:
        for recorder in (manager, viewer, other):
            recorder.close()


def test_a_client_id_belongs_to_its_login(fleet: Fleet) -> None:
    viewer_a = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="dashboard", clean_session=False)
    viewer_a.username_pw_set(*fleet.keys["A:VIEWER"])
    accepted = threading.Event()

    def on_connect(_c: object, _u: object, _f: object, reason: ReasonCode, _p: object) -> None:
        if not reason.is_failure:
            accepted.set()

    viewer_a.on_connect = on_connect
    assert viewer_a.connect("127.0.0.1", fleet.proxy.port) == 0
    viewer_a.loop_start()
    try:
        assert accepted.wait(10)  # the session is A's before B tries its client id
        other = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="dashboard", clean_session=False)
        other.username_pw_set(*fleet.keys["B:VIEWER"])
        codes: list[int] = []
        other.on_connect = lambda _c, _u, _f, reason, _p: codes.append(reason.value)
        other.connect("127.0.0.1", fleet.proxy.port)
        deadline = time.monotonic() + 10
        while not codes and time.monotonic() < deadline:
            other.loop(0.1)
        assert codes and codes[0] != 0  # not authorized: another login's session
        other.disconnect()
        assert viewer_a.is_connected()
    finally:
        viewer_a.loop_stop()
        viewer_a.disconnect()
