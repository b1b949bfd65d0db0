"""The embedded broker's pre-login limits, measured on a ``lorafox serve`` process."""

from __future__ import annotations

import signal
import socket
import time
from contextlib import closing, suppress
from pathlib import Path

from tests.conftest import free_port
from tests.integration.test_cli import serve, wait_healthy
from tests.integration.test_http_edge import GENEROUS, _rss_kib


def test_mqtt_connections_before_login_do_not_grow_memory(tmp_path: Path) -> None:
    """900 clients that announce a CONNECT of almost 1 MiB and send 200 KB of it: each is
    refused as soon as its packet announces more than the pre-login size (64 KiB), so a
    ``lorafox serve`` process stays small (before that limit it grew by 173 MiB here)."""
    http_port, mqtt_port = free_port(), free_port()
    # (the refusals are logged one per client: ERROR keeps them out of the unread pipe)
    server = serve(tmp_path, http_port, mqtt_port, "--log-level", "ERROR")
    socks: list[socket.socket] = []
    try:
        wait_healthy(http_port, server)
        before = _rss_kib(server.pid)
        # a CONNECT whose remaining length says 1,000,000 bytes, then 200 KB of it
        header = bytes((0x10, 0xC0, 0x84, 0x3D))
        chunk = header + b"x" * 200_000
        for _ in range(900):
            sock = socket.create_connection(("127.0.0.1", mqtt_port), timeout=GENEROUS)
            socks.append(sock)
            with suppress(OSError):  # refused already
                sock.sendall(chunk)
        time.sleep(2)
        grown_mib = (_rss_kib(server.pid) - before) / 1024
        print(f"RSS grew by {grown_mib:.1f} MiB with 900 clients sending 1 MiB CONNECTs")
        assert grown_mib < 60, f"RSS grew by {grown_mib:.0f} MiB"
        # and the broker still takes a real client
        with closing(socket.create_connection(("127.0.0.1", mqtt_port), timeout=10)) as client:
            client.sendall(bytes.fromhex("101000044d5154540402003c000474657374"))
            answer = client.recv(4)
            assert answer[:1] == b"\x20"  # CONNACK (a refusal: no login given)
    finally:
        for sock in socks:
            sock.close()
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
