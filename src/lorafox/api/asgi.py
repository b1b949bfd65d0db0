"""The few ASGI helpers the bare handlers need."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from lorafox.errors import PayloadTooLarge

__all__ = [
    "ASGIApp",
    "Receive",
    "Scope",
    "Send",
    "declared_length",
    "limit_body",
    "read_body",
    "respond",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body; ``PayloadTooLarge`` past ``limit`` bytes (nothing more is read)."""
    message = await receive()
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        if len(body) > limit:
            raise PayloadTooLarge(f"body larger than {limit} bytes")
        return body
    chunks = [body]
    size = len(body)
    while message.get("more_body", False):
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def declared_length(scope: Scope) -> int | None:
    """The request's ``Content-Length``, None when absent or not a number."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def limit_body(app: ASGIApp, limit: int, answer: Callable[[Send, int], Awaitable[None]]) -> ASGIApp:
    """``app`` with request bodies bounded to ``limit`` bytes before it runs: a larger
    ``Content-Length`` is answered by ``answer`` at once (nothing read, nothing authenticated);
    a streamed body that grows past the limit ends the request the same way."""

    async def bounded(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        length = declared_length(scope)
        if length is not None and length > limit:
            await answer(send, limit)
            return
        seen = 0
        answered = False

        async def counted() -> Message:
            nonlocal seen, answered
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit and not answered:
                answered = True  # the app's own answer to the error that follows is dropped
                await answer(send, limit)
            if answered:
                raise PayloadTooLarge(f"body larger than {limit} bytes")
            return message

        async def guarded(message: Message) -> None:
            if not answered:
                await send(message)

        try:
            await app(scope, counted, guarded)
        except PayloadTooLarge:
            if not answered:
                raise

    return bounded


async def respond(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
