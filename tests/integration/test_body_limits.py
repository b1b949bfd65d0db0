"""Request bodies are bounded before authentication: 413 with a JSON body, over real sockets."""

from __future__ import annotations

import http.client
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import orjson

from tests.conftest import ADMIN_PASSWORD, Running

ADMIN = ("admin", ADMIN_PASSWORD)
CHUNK = b"x" * 65536


def _head_only(port: int, path: str, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    """Send only the head of a request (no byte of its body) and read the answer."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        connection.putrequest("POST", path)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, orjson.loads(response.read())
    finally:
        connection.close()


def test_declared_large_bodies_are_refused_unread(lorafox_factory: Callable[..., Running]) -> None:
    lorafox = lorafox_factory()
    for path in ("/api/v2/devices", "/sigfox/uplink"):
        status, body = _head_only(
            lorafox.http_port,
            path,
            {"Content-Type": "application/json", "Content-Length": "100000000"},
        )
        assert status == 413, (path, status, body)
        assert "body larger than" in str(body["message"])


def _stream(megabytes: int) -> Iterator[bytes]:
    for _ in range(megabytes * 16):
        yield CHUNK


def test_streamed_bodies_stop_at_the_limit(lorafox_factory: Callable[..., Running]) -> None:
    lorafox = lorafox_factory(api_max_body_bytes=256 * 1024)
    with httpx.Client(base_url=lorafox.base_url, timeout=30) as http:
        small = http.post("/api/v2/devices", json={"id": "1"}, auth=ADMIN)
        assert small.status_code != 413
        try:
            answer = http.post(
                "/api/v2/devices",
                content=_stream(8),  # chunked: no Content-Length to look at
                headers={"content-type": "application/json"},
                auth=ADMIN,
            )
        except httpx.TransportError:
            return  # the server closed the connection while the client still wrote: refused
        assert answer.status_code == 413
        assert answer.json()["message"] == "body larger than 262144 bytes"


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_unauthenticated_large_posts_do_not_grow_memory(
    lorafox_factory: Callable[..., Running],
) -> None:
    """Eight parallel 64 MB unauthenticated uploads: the server (in this process) reads at most
    its limit of each, so its memory does not follow the uploads' size."""
    lorafox = lorafox_factory()
    before = _rss_kib()

    def upload(path: str) -> int:
        try:
            with httpx.Client(base_url=lorafox.base_url, timeout=60) as http:
                return http.post(path, content=_stream(64)).status_code
        except httpx.TransportError:
            return 413  # closed by the server before the client finished writing

    paths = ["/api/v2/devices", "/api/v2/groups", "/sigfox/uplink", "/api/v2/users"] * 2
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(upload, paths))
    assert all(s in (401, 413) for s in statuses), statuses
    grown_mib = (_rss_kib() - before) / 1024
    assert grown_mib < 100, f"RSS grew by {grown_mib:.0f} MiB for 512 MB of uploads"
