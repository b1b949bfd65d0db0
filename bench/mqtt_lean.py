"""Lean MQTT load clients for ``mqtt_broker.py``: bare sockets that only frame packets.

Both speak MQTT 3.1.1 or MQTT 5 with the same work per message: the subscriber cuts the stream
into packets, counts the PUBLISH packets and acknowledges QoS 1 ones (reading the packet id
after the topic, never the properties); the publisher sends pre-built PUBLISH packets (MQTT 5:
an empty property block) within a window of 1,000 unacknowledged messages (QoS 1: PUBACKs;
QoS 0: a PINGREQ after every batch, whose PINGRESP the broker sends once it has routed the
batch). So a run measures the broker, not the client library.

Each is run as a process of its own (``python bench/mqtt_lean.py subscriber|publisher ...``) and
prints one JSON line when done (the subscriber prints READY once subscribed first).
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import time

TOPIC = "bench/device/uplink"
BATCH = 100
WINDOW = 1000
"""Messages the publisher may have sent and not seen acknowledged (or PINGREQ-ed)."""
IDLE = 2.0
"""A subscriber that has received nothing for this long reports what it has."""
_PINGREQ = b"\xc0\x00"


def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        digit = n & 0x7F
        n >>= 7
        if n:
            out.append(digit | 0x80)
        else:
            out.append(digit)
            return bytes(out)


def _packet(first: int, body: bytes) -> bytes:
    return bytes((first,)) + _length(len(body)) + body


def _string(text: str) -> bytes:
    raw = text.encode()
    return len(raw).to_bytes(2, "big") + raw


def connect_packet(client_id: str, protocol: int) -> bytes:
    """CONNECT, clean session, keep-alive 60 s; MQTT 5 with no properties."""
    body = _string("MQTT") + bytes((protocol, 0x02)) + (60).to_bytes(2, "big")
    if protocol == 5:
        body += b"\x00"
    return _packet(0x10, body + _string(client_id))


def subscribe_packet(topic: str, qos: int, protocol: int) -> bytes:
    body = (1).to_bytes(2, "big") + (b"\x00" if protocol == 5 else b"") + _string(topic)
    return _packet(0x82, body + bytes((qos,)))


def publish_packet(topic: str, payload: bytes, qos: int, packet_id: int, protocol: int) -> bytes:
    body = _string(topic)
    if qos:
        body += packet_id.to_bytes(2, "big")
    if protocol == 5:
        body += b"\x00"
    return _packet(0x30 | (qos << 1), body + payload)


def frames(data: bytes) -> tuple[list[tuple[int, int, int]], int]:
    """((first byte, body start, body end) of each whole packet in ``data``, bytes used)."""
    out: list[tuple[int, int, int]] = []
    size = len(data)
    pos = 0
    while pos < size:
        index = pos + 1
        length = 0
        shift = 0
        while True:
            if index >= size:
                return out, pos
            byte = data[index]
            index += 1
            length |= (byte & 0x7F) << shift
            if byte < 0x80:
                break
            shift += 7
        end = index + length
        if end > size:
            return out, pos
        out.append((data[pos], index, end))
        pos = end
    return out, pos


def _open(port: int, client_id: str, protocol: int, hello: bytes, answers: int) -> socket.socket:
    """A connected socket that sent ``hello`` and read ``answers`` packets back."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(connect_packet(client_id, protocol) + hello)
    data = b""
    seen = 0
    while seen < answers:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the broker closed the connection")
        data += chunk
        found, used = frames(data)
        for first, start, _end in found:
            if first == 0x20 and data[start + 1]:
                raise ConnectionError(f"CONNACK {data[start + 1]:#x}")
        seen += len(found)
        data = data[used:]
    return sock


def run_subscriber(port: int, qos: int, count: int, protocol: int) -> None:
    """Subscribe, say READY, count messages, print a JSON report."""
    sock = _open(port, "bench-lean-subscriber", protocol, subscribe_packet(TOPIC, qos, protocol), 2)
    print("READY", flush=True)
    received = 0
    first_at = last_at = 0.0
    rest = b""
    sock.settimeout(IDLE)
    with contextlib.suppress(TimeoutError):
        while received < count:
            data = sock.recv(1 << 20)
            if not data:
                break
            last_at = time.monotonic()
            if not received:
                first_at = last_at
            if rest:
                data = rest + data
            acks = []
            size = len(data)
            pos = 0
            while pos < size:  # frames(), inlined: this loop is the subscriber's whole cost
                index = pos + 1
                length = 0
                shift = 0
                while index < size:
                    byte = data[index]
                    index += 1
                    length |= (byte & 0x7F) << shift
                    if byte < 0x80:
                        break
                    shift += 7
                else:
                    break
                end = index + length
                if end > size:
                    break
                first = data[pos]
                if first & 0xF0 == 0x30:
                    received += 1
                    if first & 0x06:
                        at = index + 2 + ((data[index] << 8) | data[index + 1])
                        acks.append(b"\x40\x02" + data[at : at + 2])
                pos = end
            rest = data[pos:]
            if acks:
                sock.sendall(b"".join(acks))
    print(json.dumps({"received": received, "first": first_at, "last": last_at}), flush=True)
    sock.close()


def run_publisher(port: int, qos: int, count: int, payload_size: int, protocol: int) -> None:
    """Publish ``count`` messages as fast as the window allows; print a JSON report."""
    sock = _open(port, "bench-lean-publisher", protocol, b"", 1)
    payload = b"p" * payload_size
    if qos:
        packets = [
            publish_packet(TOPIC, payload, qos, n % 0xFFFF + 1, protocol) for n in range(count)
        ]
    else:
        packets = [publish_packet(TOPIC, payload, 0, 0, protocol)] * count
    started = time.monotonic()
    sent = settled = 0
    rest = b""
    while settled < count:
        while sent < count and sent - settled < WINDOW:
            batch = packets[sent : sent + BATCH]
            sent += len(batch)
            sock.sendall(b"".join(batch) + (b"" if qos else _PINGREQ))
        data = sock.recv(65536)
        if not data:
            break
        data = rest + data
        found, used = frames(data)
        rest = data[used:]
        for first, _start, _end in found:
            if first == 0x40:
                settled += 1
            elif first == 0xD0:  # PINGRESP: the batch before its PINGREQ is routed
                settled = min(settled + BATCH, sent)
    print(json.dumps({"start": started, "end": time.monotonic()}), flush=True)
    sock.sendall(b"\xe0\x00")
    sock.close()


if __name__ == "__main__":
    role, args = sys.argv[1], [int(arg) for arg in sys.argv[2:]]
    if role == "subscriber":
        run_subscriber(*args)
    elif role == "publisher":
        run_publisher(*args)
    else:
        raise SystemExit(f"unknown role {role!r}")
