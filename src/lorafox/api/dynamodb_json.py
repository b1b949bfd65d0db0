"""A DynamoDB request body read as JSON, or a ``SerializationException`` saying where it is not.

DynamoDB answers a body that is not JSON with HTTP 400 ``SerializationException`` and a message
in the words of its JSON parser: the problem and its position. lorafox says the same things:

- a truncated body: ``Unexpected end-of-input: expected close marker for OBJECT (start marker
  at line 1, column 1) at line 1, column 18`` (``ARRAY`` in a list; ``… in a string value`` when
  the body stops inside a string);
- a character that cannot be there: ``Unexpected character ('x' (code 120)) at line 1, column
  10: expected a string key``;
- anything else the parser refuses (a bad literal, an escape, bytes that are not UTF-8):
  ``Invalid JSON at line 1, column 7: invalid literal, expected 'true'``, ``Invalid JSON at
  line 1, column 1: the body is not valid UTF-8``.

Lines and columns count characters from 1, as the parser reads them.
"""

from __future__ import annotations

from typing import Any

import orjson

from lorafox.tables.errors import SerializationException

__all__ = ["describe_json_error", "parse_request"]

_END = "unexpected end of data"
_CHARACTER = ("unexpected character", "unexpected content after document")


def parse_request(body: bytes) -> Any:
    """The parameters of a request: its JSON body (an empty body is no parameters)."""
    if not body:
        return {}
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise SerializationException(describe_json_error(body, exc)) from None


def describe_json_error(body: bytes, error: orjson.JSONDecodeError) -> str:
    """The message naming what is wrong with ``body`` and where."""
    at = f"at line {error.lineno}, column {error.colno}"
    text = body.decode("utf-8", "replace")
    if error.msg.startswith(_END):
        innermost = _open_at_end(text)
        if innermost is None:
            return f"Unexpected end-of-input {at}"
        kind, line, column = innermost
        if kind == "STRING":
            return (
                f"Unexpected end-of-input in a string value (started at line {line}, column "
                f"{column}) {at}"
            )
        return (
            f"Unexpected end-of-input: expected close marker for {kind} (start marker at line "
            f"{line}, column {column}) {at}"
        )
    if error.msg.startswith(_CHARACTER) and 0 <= error.pos < len(text):
        found = text[error.pos]
        shown = found if found.isprintable() else repr(found)[1:-1]
        detail = error.msg.split(", ", 1)[1] if ", " in error.msg else error.msg
        return f"Unexpected character ('{shown}' (code {ord(found)})) {at}: {detail}"
    if "UTF-8" in error.msg:
        return f"Invalid JSON {at}: the body is not valid UTF-8"
    return f"Invalid JSON {at}: {error.msg}"


def _open_at_end(text: str) -> tuple[str, int, int] | None:
    """The innermost OBJECT, ARRAY or STRING still open at the end of ``text``, with the line
    and column where it starts."""
    stack: list[tuple[str, int, int]] = []
    string: tuple[str, int, int] | None = None
    escaped = False
    line, column = 1, 0
    for character in text:
        column += 1
        if character == "\n":
            line, column = line + 1, 0
        if string is not None:
            if escaped:
                escaped = False
            elif character == "\\":
                escaped = True
            elif character == '"':
                string = None
            continue
        if character == '"':
            string = ("STRING", line, column)
        elif character in "{[":
            stack.append(("OBJECT" if character == "{" else "ARRAY", line, column))
        elif character in "}]" and stack:
            stack.pop()
    if string is not None:
        return string
    return stack[-1] if stack else None
