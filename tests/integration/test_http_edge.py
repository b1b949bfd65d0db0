"""The HTTP edge over real sockets: request heads are bounded in size and in time, connections
in number, and a well-behaved client notices none of it."""

from __future__ import annotations

import http.client
import logging
import selectors
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager, suppress
from pathlib import Path
from typing import BinaryIO

import httpx
import orjson
import pytest

from tests.conftest import Running, free_port
from tests.integration.test_cli import serve, until_sigterm

PARTIAL_HEAD = b"GET /healthz HTTP/1.1\r\nHost: lorafox\r\nX-Slow: "
REQUEST = b"GET /healthz HTTP/1.1\r\nHost: lorafox\r\n\r\n"
GENEROUS = 30.0  # seconds a test waits for an outcome before giving up on it


def _connect(lorafox: Running) -> socket.socket:
    return socket.create_connection(("127.0.0.1", lorafox.http_port), timeout=GENEROUS)


def _read_to_end(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (a reset ends it too)."""
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _parse(raw: bytes) -> tuple[int, dict[str, str], dict[str, object]]:
    """Status, headers and JSON body of one complete response."""
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *lines = head.decode().split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    assert len(body) == int(headers["content-length"]), raw
    return int(status_line.split()[1]), headers, orjson.loads(body)


def _read_response(reader: BinaryIO) -> bytes:
    """One keep-alive response to a ``GET /healthz`` (head and its Content-Length body), read
    from a buffered reader so that pipelined responses arriving in one segment stay apart."""
    head = b""
    while not head.endswith(b"\r\n\r\n"):
        line = reader.readline()
        assert line, f"closed after {head!r}"
        head += line
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    return head + reader.read(length)


def _healthy(lorafox: Running) -> bool:
    return httpx.get(f"{lorafox.base_url}/healthz", timeout=GENEROUS).status_code == 200


def test_an_oversize_head_gets_431_and_others_are_still_served(
    lorafox_factory: Callable[..., Running],
) -> None:
    lorafox = lorafox_factory()
    with closing(_connect(lorafox)) as sock:
        sock.sendall(PARTIAL_HEAD + b"a" * 20_000 + b"\r\n\r\n")
        status, headers, body = _parse(_read_to_end(sock))
    assert status == 431
    assert headers["content-type"] == "application/json"
    assert headers["connection"] == "close"
    assert body["message"] == "request headers larger than 16384 bytes"
    assert _healthy(lorafox)
    # a large head under the limit is served
    large = httpx.get(
        f"{lorafox.base_url}/healthz", headers={"x-large": "b" * 12_000}, timeout=GENEROUS
    )
    assert large.status_code == 200


def test_the_head_size_is_checked_as_the_bytes_arrive(
    lorafox_factory: Callable[..., Running],
) -> None:
    """The head never ends: the answer comes once the limit is passed, not at its end."""
    lorafox = lorafox_factory(http_max_header_bytes=4096)
    with closing(_connect(lorafox)) as sock:
        sock.sendall(PARTIAL_HEAD)
        for _ in range(10):
            sock.sendall(b"c" * 512)
        status, _, body = _parse(_read_to_end(sock))
    assert status == 431
    assert body["message"] == "request headers larger than 4096 bytes"


def test_a_trickled_head_is_closed_at_the_deadline(
    lorafox_factory: Callable[..., Running],
) -> None:
    """One header byte every 0.3 s keeps the connection busy but does not extend its time."""
    lorafox = lorafox_factory(http_header_timeout_seconds=1)
    answer = b""
    with closing(_connect(lorafox)) as sock:
        sock.sendall(PARTIAL_HEAD[:3])
        sock.settimeout(0.3)
        trickle = iter(PARTIAL_HEAD[3:] + b"x" * 1000)
        for _ in range(int(GENEROUS / 0.3)):
            try:
                sock.sendall(bytes([next(trickle)]))
                chunk = sock.recv(65536)
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
            if not chunk:
                break
            answer += chunk
        else:
            pytest.fail("the trickling connection was never closed")
    status, headers, body = _parse(answer)
    assert status == 408
    assert headers["content-type"] == "application/json"
    assert body["message"] == "request headers not complete within 1 s"
    assert _healthy(lorafox)


def test_a_silent_connection_is_closed_without_an_answer(
    lorafox_factory: Callable[..., Running],
) -> None:
    lorafox = lorafox_factory(http_header_timeout_seconds=1)
    with closing(_connect(lorafox)) as sock:
        assert _read_to_end(sock) == b""


def test_a_keep_alive_client_is_unaffected(lorafox_factory: Callable[..., Running]) -> None:
    """Requests spread over more than the head timeout, on one connection, all answered."""
    lorafox = lorafox_factory(http_header_timeout_seconds=1, http_max_connections=20)
    connection = http.client.HTTPConnection("127.0.0.1", lorafox.http_port, timeout=GENEROUS)
    try:
        ports = set()
        for n in range(6):
            if n % 2:
                connection.request(
                    "POST",
                    "/api/v2/devices",
                    body=b"{" + b" " * 100_000 + b"}",
                    headers={"content-type": "application/json"},
                )
                response = connection.getresponse()
                assert response.status == 401
            else:
                connection.request("GET", "/healthz")
                response = connection.getresponse()
                assert response.status == 200
            response.read()
            assert connection.sock is not None
            ports.add(connection.sock.getsockname()[1])
            time.sleep(0.4)
        assert len(ports) == 1, "the connection was not kept"
    finally:
        connection.close()


def test_pipelined_requests_are_all_answered(lorafox_factory: Callable[..., Running]) -> None:
    lorafox = lorafox_factory(http_max_header_bytes=1024)
    with closing(_connect(lorafox)) as sock:
        sock.sendall(REQUEST * 3)
        reader = sock.makefile("rb")
        for _ in range(3):
            status, _, body = _parse(_read_response(reader))
            assert status == 200, body


@contextmanager
def _held(lorafox: Running, count: int) -> Iterator[list[socket.socket]]:
    """``count`` idle keep-alive connections, each known to the server (one request answered)."""
    socks = []
    try:
        for _ in range(count):
            sock = _connect(lorafox)
            socks.append(sock)
            sock.sendall(REQUEST)
            assert _parse(_read_response(sock.makefile("rb")))[0] == 200
        yield socks
    finally:
        for sock in socks:
            sock.close()


def _refused(lorafox: Running) -> None:
    """A new connection is refused: 503 with a JSON body and Retry-After, then closed."""
    with closing(_connect(lorafox)) as sock:
        sock.sendall(REQUEST)
        status, headers, body = _parse(_read_to_end(sock))
    assert status == 503
    assert headers["retry-after"] == "5"
    assert body["message"] == "too many open connections, try again later"


def test_connections_beyond_the_cap_are_refused(
    lorafox_factory: Callable[..., Running], caplog: pytest.LogCaptureFixture
) -> None:
    lorafox = lorafox_factory(http_max_connections=20)
    with caplog.at_level(logging.WARNING, logger="lorafox.api.http_protocol"), _held(lorafox, 20):
        for _ in range(3):
            _refused(lorafox)
    notes = [r for r in caplog.records if r.name == "lorafox.api.http_protocol"]
    assert len(notes) == 1, "refusals are logged once a minute at most"
    assert "20 HTTP connections open" in notes[0].getMessage()
    # the held connections are gone: new ones are served again
    for _ in range(int(GENEROUS / 0.1)):
        if _healthy(lorafox):
            break
        time.sleep(0.1)
    else:
        pytest.fail("no connection served after the others closed")


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_half_open_connections_beyond_the_cap_do_not_grow_memory(tmp_path: Path) -> None:
    """2,000 connections that each send 15 KB of a head and stop, against the default cap of
    1,024: a ``lorafox serve`` process holds 1,024 of them, refuses the rest, stays small."""
    http_port = free_port()
    server = serve(
        tmp_path,
        http_port,
        free_port(),
        env={"LORAFOX_HTTP_HEADER_TIMEOUT_SECONDS": "120"},
    )
    with until_sigterm(server, http_port):
        _hold_half_open_heads(server.pid, http_port)


def _hold_half_open_heads(pid: int, http_port: int) -> None:
    with closing(socket.create_connection(("127.0.0.1", http_port), timeout=GENEROUS)) as sock:
        sock.sendall(REQUEST.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n"))
        assert _parse(_read_to_end(sock))[0] == 200  # warmed up, and this connection closed
    before = _rss_kib(pid)
    head = PARTIAL_HEAD + b"d" * 15_000
    socks: list[socket.socket] = []
    try:
        for _ in range(2_000):
            sock = socket.create_connection(("127.0.0.1", http_port), timeout=GENEROUS)
            socks.append(sock)
            with suppress(BrokenPipeError, ConnectionResetError):  # refused already
                sock.sendall(head)
        refused: set[int] = set()  # answered or closed by the server
        with selectors.DefaultSelector() as selector:
            for sock in socks:
                selector.register(sock, selectors.EVENT_READ)
            deadline = time.monotonic() + GENEROUS
            while len(refused) < 2_000 - 1_024 and time.monotonic() < deadline:
                for key, _ in selector.select(0.1):
                    selector.unregister(key.fileobj)
                    refused.add(key.fd)
        grown_mib = (_rss_kib(pid) - before) / 1024
        # the cap holds; a connection of an earlier request may still count for a moment
        assert 2_000 - 1_024 <= len(refused) <= 2_000 - 1_000, f"{len(refused)} refused"
        print(f"RSS grew by {grown_mib:.1f} MiB holding 1,024 half-open heads of 15 KB")
        assert grown_mib < 100, f"RSS grew by {grown_mib:.0f} MiB"
    finally:
        for sock in socks:
            sock.close()
