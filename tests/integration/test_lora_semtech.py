"""The Semtech customer-server socket over real TCP: split, joined, empty and broken frames,
short EUIs, metadata, ``ackreq``, the MQTT message of the AWS bridge, and a downlink queued by
MQTT reaching the socket and coming back ``acked``."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import ADMIN_PASSWORD, Running, free_port
from tests.integration.helpers import PAC, created
from tests.mqtt_helpers import Recorder, wait_until

ADMIN = ("admin", ADMIN_PASSWORD)
DEVICE = "0000000009372163"
APP = "0000037817737f13"
TOPIC = f"lora/{APP}/{DEVICE}"


def _uplink(
    seqno: int, payload: str = "Af4=", eui: str = "9372163", gateway: str = "b827ebfffe000001"
) -> bytes:
    body = {
        "app": {
            "moteeui": eui,
            "dir": "up",
            "seqno": seqno,
            "userdata": {"port": 1, "payload": payload},
            "motetx": {"freq": 868.1, "datr": "SF7BW125", "codr": "4/5", "adr": True},
            "gwrx": [{"eui": gateway, "chan": 0, "rfch": 0, "rssi": -57, "lsnr": 9.5}],
        }
    }
    return orjson.dumps(body) + b"\0"


class _Peer:
    """The network server's side of the socket."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)
        time.sleep(0.02)  # let TCP deliver this piece alone

    def read_frame(self) -> dict[str, Any]:
        while b"\0" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("connection closed")
            self.buffer += chunk
        frame, _, self.buffer = self.buffer.partition(b"\0")
        found: dict[str, Any] = orjson.loads(frame)
        return found

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def server(lorafox_factory: Callable[..., Running]) -> Running:
    return lorafox_factory(semtech_port=free_port())


@pytest.fixture
def http(server: Running) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, auth=ADMIN, timeout=10) as client:
        yield client


def _integration(http: httpx.Client, addresses: list[str]) -> str:
    [root] = [g for g in http.get("/api/v2/groups").json()["data"] if not g["path"]]
    body = {
        "name": "semtech",
        "kind": "semtech",
        "groupId": root["id"],
        "appEui": "37817737f13",
        "config": {"addresses": addresses},
    }
    return str(created(http, "/api/v2/lora/integrations", body)["id"])


def test_frames_however_tcp_cuts_them(server: Running, http: httpx.Client) -> None:
    _integration(http, ["127.0.0.0/8"])
    assert server.mqtt_port is not None
    recorder = Recorder("127.0.0.1", server.mqtt_port, "lora/#")
    port = server.service.semtech_port
    assert port is not None
    peer = _Peer(port)
    try:
        peer.send(b"\0")  # keep-alive
        first = _uplink(1)
        peer.send(first[:10])
        peer.send(first[10:50])
        peer.send(first[50:])  # one frame in three pieces
        peer.send(_uplink(2) + _uplink(3, "AQID") + b"\0")  # two frames and a keep-alive at once
        peer.send(b'{"app":{"moteeui":"1"' + b"\0")  # broken: skipped, the connection stays
        peer.send(b'{"app":{"moteeui":"9372163","dir":"up","gwrx":[{"rssi":-80}]}}\0')
        peer.send(_uplink(2, gateway="b827ebfffe000002"))  # another gateway's copy: stored once
        peer.send(b'{"join":{"moteeui":"9372163","accept":true}}\0')
        peer.send(b'{"ackreq":17}\0')
        assert peer.read_frame() == {"ack": 17}
        published = recorder.wait_for(TOPIC, 3)
        assert [m["fCnt"] for m in published] == [1, 2, 3]
        assert published[0]["port1_bytes"] == [1, 254]
        assert published[2]["port1_bytes"] == [1, 2, 3]
        assert published[0]["gateways"] == [{"id": "b827ebfffe000001", "rssi": -57, "snr": 9.5}]
        assert published[0]["frequency"] == 868_100_000
        messages = http.get(f"/api/v2/devices/{DEVICE}/messages").json()["data"]
        assert sorted(m["seqNumber"] for m in messages) == [1, 2, 3]
        [second] = [m for m in messages if m["seqNumber"] == 2]
        gateways = [g["id"] for g in second["extra"]["gateways"]]
        assert gateways == ["b827ebfffe000001", "b827ebfffe000002"]  # merged
        device = http.get(f"/api/v2/devices/{DEVICE}")
        assert device.status_code == 200, device.text  # provisioned on its first uplink

        def events() -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = http.get(f"/api/v2/devices/{DEVICE}/events").json()[
                "data"
            ]
            return [e for e in found if e["type"] == "lora"]

        [join] = wait_until(events)
        assert join["data"]["event"] == "join"
        assert join["data"]["accept"] is True
    finally:
        peer.close()
        recorder.close()


def test_a_downlink_by_mqtt_goes_out_on_the_socket_and_comes_back_acked(
    server: Running, http: httpx.Client
) -> None:
    _integration(http, ["127.0.0.1"])
    assert server.mqtt_port is not None and server.service.semtech_port is not None
    recorder = Recorder("127.0.0.1", server.mqtt_port, "lora/#")
    peer = _Peer(server.service.semtech_port)
    try:
        peer.send(_uplink(1) + b'{"ackreq":1}\0')
        assert peer.read_frame() == {"ack": 1}
        body = {"data": "cafe", "fPort": 3, "confirmed": True}
        recorder.publish(f"lora/downlink/{DEVICE}", orjson.dumps(body))
        frame = peer.read_frame()
        app = frame["app"]
        assert (app["moteeui"], app["dir"], app["userdata"]) == (
            "9372163",
            "dn",
            {"port": 3, "payload": "yv4="},
        )

        def state() -> str:
            found = http.get(f"/api/v2/devices/{DEVICE}/downlinks").json()["data"]
            return str(found[-1]["state"])

        assert state() == "queued"
        peer.send(
            orjson.dumps({"mote": {"eui": "9372163", "app": True, "msgsent": app["token"]}}) + b"\0"
        )
        wait_until(lambda: state() == "sent")
        peer.send(b'{"mote":{"eui":"9372163","ackrx":""}}\0')
        wait_until(lambda: state() == "acked")
        answer = http.post(
            f"/api/v2/devices/{DEVICE}/downlinks", json={"bytes": [1, 2], "fPort": 2}
        )
        assert answer.status_code == 201, answer.text
        assert answer.json()["fPort"] == 2
        assert peer.read_frame()["app"]["userdata"] == {"port": 2, "payload": "AQI="}
        bad = http.post(f"/api/v2/devices/{DEVICE}/downlinks", json={"data": "cafe"})
        assert bad.status_code == 400, bad.text  # no fPort
        recorder.publish(f"lora/downlink/{DEVICE}", b'{"data":"zz","fPort":1}')
        [rejected] = recorder.wait_for(f"lora/downlink/{DEVICE}/rejected")
        assert rejected["field"] == "data"
    finally:
        peer.close()
        recorder.close()


def test_an_address_no_integration_lists_is_refused(server: Running, http: httpx.Client) -> None:
    _integration(http, ["10.1.2.3"])
    assert server.service.semtech_port is not None
    peer = _Peer(server.service.semtech_port)
    try:
        peer.sock.sendall(_uplink(1))
        assert peer.sock.recv(100) == b""  # closed
    except ConnectionResetError:
        pass
    finally:
        peer.close()


def test_deleting_the_integration_closes_its_connections(
    server: Running, http: httpx.Client
) -> None:
    integration = _integration(http, ["127.0.0.1"])
    assert server.service.semtech_port is not None
    peer = _Peer(server.service.semtech_port)
    try:
        peer.send(_uplink(1) + b'{"ackreq":1}\0')
        assert peer.read_frame() == {"ack": 1}
        assert http.delete(f"/api/v2/lora/integrations/{integration}").status_code == 204
        time.sleep(1.2)
        peer.send(_uplink(2) + b'{"ackreq":2}\0')
        with pytest.raises((AssertionError, ConnectionResetError)):
            peer.read_frame()  # closed, not answered
        messages = http.get(f"/api/v2/devices/{DEVICE}/messages").json()["data"]
        assert [m["seqNumber"] for m in messages] == [1]
    finally:
        peer.close()


def test_frames_of_one_read_are_stored_together_and_acked_once_stored(
    server: Running, http: httpx.Client
) -> None:
    """Many uplinks in one write: each device's messages stored once (a second gateway's copy
    in the same read merged), published, and the ``ackreq`` behind them answered after."""
    _integration(http, ["127.0.0.1"])
    assert server.mqtt_port is not None and server.service.semtech_port is not None
    recorder = Recorder("127.0.0.1", server.mqtt_port, "lora/#")
    peer = _Peer(server.service.semtech_port)
    devices = [format(0x9372163 + n, "x") for n in range(20)]
    try:
        stream = b"".join(_uplink(seq, eui=eui) for seq in range(1, 51) for eui in devices)
        stream += _uplink(1, gateway="b827ebfffe000002")  # another gateway's copy of (1, first)
        peer.sock.sendall(stream + b'{"ackreq":9}\0')
        assert peer.read_frame() == {"ack": 9}
        for eui in (devices[0], devices[-1]):
            found = http.get(
                f"/api/v2/devices/{eui.rjust(16, '0')}/messages", params={"limit": 100}
            )
            assert sorted(m["seqNumber"] for m in found.json()["data"]) == list(range(1, 51))
        [first] = [
            m
            for m in http.get(f"/api/v2/devices/{DEVICE}/messages", params={"limit": 100}).json()[
                "data"
            ]
            if m["seqNumber"] == 1
        ]
        gateways = [g["id"] for g in first["extra"]["gateways"]]
        assert gateways == ["b827ebfffe000001", "b827ebfffe000002"]
        wait_until(lambda: len(recorder.messages) >= 1000)
        assert len(recorder.messages) == 1000  # the copy is not published again
    finally:
        peer.close()
        recorder.close()


def test_an_uplink_refused_in_a_batch_leaves_the_others_stored(
    server: Running, http: httpx.Client
) -> None:
    """The integration's group may not operate a device registered in another group: that
    device's frames are not stored, the frames read with them are."""
    [root] = [g for g in http.get("/api/v2/groups").json()["data"] if not g["path"]]
    groups = [
        created(http, "/api/v2/groups", {"name": name, "parentId": root["id"]})["id"]
        for name in ("network", "elsewhere")
    ]
    kind = created(http, "/api/v2/device-types", {"name": "other", "groupId": groups[1]})
    other = "0000000009372199"
    body = {"id": other, "name": "not theirs", "deviceTypeId": kind["id"], "pac": PAC}
    created(http, "/api/v2/devices", body)
    integration = {
        "name": "semtech",
        "kind": "semtech",
        "groupId": groups[0],
        "config": {"addresses": ["127.0.0.1"]},
    }
    created(http, "/api/v2/lora/integrations", integration)
    assert server.service.semtech_port is not None
    peer = _Peer(server.service.semtech_port)
    try:
        stream = _uplink(1) + _uplink(1, eui="9372199") + _uplink(2) + b'{"ackreq":3}\0'
        peer.sock.sendall(stream)
        assert peer.read_frame() == {"ack": 3}
        mine = http.get(f"/api/v2/devices/{DEVICE}/messages").json()["data"]
        assert sorted(m["seqNumber"] for m in mine) == [1, 2]
        assert http.get(f"/api/v2/devices/{other}/messages").json()["data"] == []
    finally:
        peer.close()
