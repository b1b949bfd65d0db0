"""The machine's ceiling for benchmark (c): the least an ASGI app can do with an uplink.

A raw ASGI callable (no framework, no auth, no storage, no MQTT): it reads the request body,
parses it with ``orjson.loads`` and answers ``204 No Content`` (``400`` if the body is not JSON).
``bench/uplink.py`` serves it with uvicorn using the same options as lorafox
(``--loop uvloop --http httptools --no-access-log``) and drives it with the same wrk load as the
real ``POST /sigfox/uplink``; the ratio of the two rates is lorafox's share of the ceiling.

Run it by hand with::

    .venv/bin/uvicorn bare_app:app --app-dir bench --loop uvloop --http httptools --no-access-log
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

__all__ = ["app"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_NO_CONTENT: Message = {"type": "http.response.start", "status": 204, "headers": []}
_BAD_REQUEST: Message = {
    "type": "http.response.start",
    "status": 400,
    "headers": [(b"content-type", b"text/plain"), (b"content-length", b"11")],
}
_EMPTY_BODY: Message = {"type": "http.response.body", "body": b""}
_BAD_BODY: Message = {"type": "http.response.body", "body": b"bad request"}


async def _lifespan(receive: Receive, send: Send) -> None:
    """Acknowledge startup and shutdown (nothing to set up)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _read_body(receive: Receive) -> bytes:
    """The whole request body (one chunk in the common case)."""
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return body
    chunks = [body]
    while message.get("more_body", False):
        message = await receive()
        chunks.append(message.get("body", b""))
    return b"".join(chunks)


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """Read the body, parse it as JSON, answer 204 (400 when it is not JSON)."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
        return
    if scope["type"] != "http":
        return
    body = await _read_body(receive)
    if body:
        try:
            orjson.loads(body)
        except orjson.JSONDecodeError:
            await send(_BAD_REQUEST)
            await send(_BAD_BODY)
            return
    await send(_NO_CONTENT)
    await send(_EMPTY_BODY)
