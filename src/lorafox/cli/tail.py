"""``lorafox tail``: what is happening right now — uplinks, downlink requests and events as they
cross the MQTT bus, one line each, filtered by device, device type or group.

The embedded broker shows a login only its own groups' traffic; ``--group`` narrows it further
to the devices of those groups (and their subgroups), read from the REST API with the same login
and read again every ``GROUP_REFRESH`` seconds for devices added meanwhile."""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlsplit

import httpx
import orjson
import paho.mqtt.client as mqtt
import typer
from paho.mqtt.enums import CallbackAPIVersion

from lorafox.cli.common import app, fail

__all__ = ["format_line", "tail"]

GROUP_REFRESH = 30.0
"""Seconds between two readings of the devices of ``--group``."""

_TOPICS = ("sigfox/uplink/+", "sigfox/downlink/+", "sigfox/downlink/+/rejected", "sigfox/events/+")


def format_line(topic: str, payload: bytes) -> str:
    """One line for a message of the bus: its kind, device and what matters in it."""
    try:
        body: Any = orjson.loads(payload)
    except orjson.JSONDecodeError:
        body = None
    parts = topic.split("/")
    device = parts[2] if len(parts) > 2 else "?"
    if not isinstance(body, dict):
        return f"{parts[1] if len(parts) > 1 else topic:<9} {device:<8} {payload[:120]!r}"
    if parts[1] == "uplink":
        seen = ", ".join(
            f"{name} {body[name]}"
            for name in ("seqNumber", "rssi", "snr", "station")
            if body.get(name) is not None
        )
        decoded = f" {orjson.dumps(body['decoded']).decode()}" if body.get("decoded") else ""
        bidir = " BIDIR" if body.get("ack") else ""
        return f"uplink    {device:<8} {body.get('data', '')}{bidir} ({seen}){decoded}"
    if parts[1] == "downlink":
        if parts[-1] == "rejected":
            return f"refused   {device:<8} {body.get('error', body)}"
        return f"downlink  {device:<8} {body.get('downlinkData', body)}"
    return (
        f"event     {device:<8} {body.get('type', '?')} [{body.get('severity', '')}] "
        f"{body.get('message', '')}"
    )


def _wanted(topic: str, payload: bytes, devices: set[str], device_types: set[str]) -> bool:
    parts = topic.split("/")
    if devices and (len(parts) < 3 or parts[2].upper().lstrip("0") not in devices):
        return False
    if device_types:
        try:
            body = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return False
        return isinstance(body, dict) and body.get("deviceTypeId") in device_types
    return True


class _GroupDevices:
    """The ids of the devices of some groups, read from the REST API."""

    def __init__(self, api: str, groups: list[str], login: tuple[str, str]) -> None:
        self._api = api
        self._groups = ",".join(groups)
        self._login = login
        self._ids: frozenset[str] = frozenset()

    def ids(self, also: set[str]) -> set[str]:
        """The group's device ids (with ``also``); a group without devices matches nothing."""
        found = self._ids | also
        return set(found) if found else {"-"}

    def read(self) -> None:
        ids: set[str] = set()
        offset = 0
        try:
            with httpx.Client(base_url=self._api, auth=self._login, timeout=10) as http:
                while True:
                    answer = http.get(
                        "/api/v2/devices",
                        params={"groupIds": self._groups, "limit": 100, "offset": offset},
                    )
                    if answer.status_code != 200:
                        message = answer.json().get("message", answer.text)
                        raise fail(f"--group {self._groups}: {message} (use --group, --username)")
                    page = answer.json()["data"]
                    ids.update(d["id"].upper().lstrip("0") for d in page)
                    if len(page) < 100:
                        break
                    offset += 100
        except httpx.HTTPError as exc:
            message = f"cannot read the devices of --group at {self._api}: {exc} (use --api-url)"
            raise fail(message) from exc
        self._ids = frozenset(ids)

    def follow(self, done: threading.Event) -> None:
        while not done.wait(GROUP_REFRESH):
            with contextlib.suppress(typer.Exit):  # keep the last list when a reading fails
                self.read()


def _device_filter(
    device: list[str] | None,
    group: list[str] | None,
    api_url: str,
    login: tuple[str, str],
    done: threading.Event,
) -> Callable[[], set[str]]:
    """The device ids to show now (an empty set: all)."""
    named = {d.upper().lstrip("0") for d in device or ()}
    if not group:
        return lambda: named
    api = (os.environ.get("LORAFOX_TAIL_API_URL") or api_url).rstrip("/")
    members = _GroupDevices(api, list(group), login)
    members.read()  # once now: a wrong group or login is one line, before anything else
    threading.Thread(target=members.follow, args=(done,), daemon=True).start()
    return lambda: members.ids(named)


@app.command()
def tail(
    mqtt_url: Annotated[
        str,
        typer.Option(help="The broker: mqtt://host:port [LORAFOX_TAIL_URL]."),
    ] = "mqtt://127.0.0.1:1883",
    username: Annotated[
        str | None,
        typer.Option(help="Login of a user or API user: it sees its groups [LORAFOX_TAIL_USER]."),
    ] = None,
    password: Annotated[
        str | None, typer.Option(help="MQTT password [LORAFOX_TAIL_PASSWORD].")
    ] = None,
    device: Annotated[list[str] | None, typer.Option(help="Only this device (repeatable).")] = None,
    device_type: Annotated[
        list[str] | None, typer.Option(help="Only this deviceTypeId (repeatable).")
    ] = None,
    group: Annotated[
        list[str] | None,
        typer.Option(help="Only the devices of this group and its subgroups (repeatable)."),
    ] = None,
    api_url: Annotated[
        str,
        typer.Option(
            help="Where --group reads the devices: http://host:port [LORAFOX_TAIL_API_URL]."
        ),
    ] = "http://127.0.0.1:8080",
    count: Annotated[int, typer.Option(min=0, help="Stop after this many lines (0: never).")] = 0,
) -> None:
    """Follow uplinks, downlink requests and device events live, one line each."""
    url = urlsplit(os.environ.get("LORAFOX_TAIL_URL") or mqtt_url)
    if url.scheme not in ("mqtt", "") or not url.hostname:
        raise fail(f"--mqtt-url: expected mqtt://host:port, got {mqtt_url!r}")
    username = username or os.environ.get("LORAFOX_TAIL_USER") or url.username
    password = password or os.environ.get("LORAFOX_TAIL_PASSWORD") or url.password
    types = set(device_type or ())
    done = threading.Event()
    devices = _device_filter(device, group, api_url, (username or "", password or ""), done)
    shown = 0
    refused: list[str] = []

    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    if username:
        client.username_pw_set(username, password)

    def on_connect(c: mqtt.Client, _u: object, _f: object, reason: Any, _p: object) -> None:
        if reason.is_failure:
            refused.append(str(reason))
            done.set()
            return
        c.subscribe([(topic, 0) for topic in _TOPICS])

    def on_message(_c: mqtt.Client, _u: object, message: mqtt.MQTTMessage) -> None:
        nonlocal shown
        payload = bytes(message.payload)
        if not _wanted(message.topic, payload, devices(), types):
            return
        typer.echo(format_line(message.topic, payload))
        shown += 1
        if count and shown >= count:
            done.set()

    client.on_connect = on_connect
    client.on_message = on_message
    try:
        client.connect(url.hostname, url.port or 1883)
    except OSError as exc:
        raise fail(f"cannot reach the broker at {url.hostname}:{url.port or 1883}: {exc}") from exc
    client.loop_start()
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        client.loop_stop()
        client.disconnect()
    if refused:
        raise fail(f"the broker refused the login: {refused[0]} (use --username/--password)")
