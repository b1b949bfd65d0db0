"""``lorafox tail``: what is happening right now — uplinks, downlink requests and events as they
cross the MQTT bus, one line each, filtered by device or device type."""

from __future__ import annotations

import os
import threading
from typing import Annotated, Any
from urllib.parse import urlsplit

import orjson
import paho.mqtt.client as mqtt
import typer
from paho.mqtt.enums import CallbackAPIVersion

from lorafox.cli.common import app, fail

__all__ = ["format_line", "tail"]

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


@app.command()
def tail(
    mqtt_url: Annotated[
        str,
        typer.Option(help="The broker: mqtt://host:port [LORAFOX_TAIL_URL]."),
    ] = "mqtt://127.0.0.1:1883",
    username: Annotated[
        str | None,
        typer.Option(help="MQTT login (an ADMIN of the root group) [LORAFOX_TAIL_USER]."),
    ] = None,
    password: Annotated[
        str | None, typer.Option(help="MQTT password [LORAFOX_TAIL_PASSWORD].")
    ] = None,
    device: Annotated[list[str] | None, typer.Option(help="Only this device (repeatable).")] = None,
    device_type: Annotated[
        list[str] | None, typer.Option(help="Only this deviceTypeId (repeatable).")
    ] = None,
    count: Annotated[int, typer.Option(min=0, help="Stop after this many lines (0: never).")] = 0,
) -> None:
    """Follow uplinks, downlink requests and device events live, one line each."""
    url = urlsplit(os.environ.get("LORAFOX_TAIL_URL") or mqtt_url)
    if url.scheme not in ("mqtt", "") or not url.hostname:
        raise fail(f"--mqtt-url: expected mqtt://host:port, got {mqtt_url!r}")
    username = username or os.environ.get("LORAFOX_TAIL_USER") or url.username
    password = password or os.environ.get("LORAFOX_TAIL_PASSWORD") or url.password
    devices = {d.upper().lstrip("0") for d in device or ()}
    types = set(device_type or ())
    done = threading.Event()
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
        if not _wanted(message.topic, payload, devices, types):
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
