"""Substitution templates: ``${expr}`` inside an action's parameters (``${topic(2)}/${topic(3)}``).

Each ``${…}`` is an AWS IoT SQL expression evaluated against the original message (SET
variables are visible, SELECT aliases are not); Undefined renders as the empty string, a String
as itself and anything else as its JSON text. ``$$`` writes one ``$`` (republish's ``$$aws/…``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lorafox.rules.errors import RuleInvalid, SqlParseError
from lorafox.rules.sql import UNDEFINED, Env, compile_expression, to_json

__all__ = ["Template", "compile_template"]


@dataclass(slots=True, frozen=True)
class Template:
    """A compiled template; ``render(env)`` gives its text for one message."""

    text: str
    _parts: tuple[str | Callable[[Env], object], ...]

    @property
    def constant(self) -> bool:
        return all(isinstance(part, str) for part in self._parts)

    def render(self, env: Env) -> str:
        out: list[str] = []
        for part in self._parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = part(env)
            if value is UNDEFINED:
                continue
            out.append(value if isinstance(value, str) else to_json(value).decode())
        return "".join(out)


def _closing(text: str, start: int) -> int:
    """The index of the ``}`` closing the ``${`` opened before ``start`` (quotes and nested
    braces skipped), -1 when there is none."""
    depth, quote = 0, ""
    for i in range(start, len(text)):
        char = text[i]
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "{":
            depth += 1
        elif char == "}":
            if depth == 0:
                return i
            depth -= 1
    return -1


def compile_template(
    text: str, version: str | None, where: str, variables: frozenset[str] = frozenset()
) -> Template:
    """Compile ``text``; ``where`` names the parameter in error messages, ``variables`` are
    the statement's SET variables."""
    parts: list[str | Callable[[Env], object]] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$$", i):
            literal.append("$")
            i += 2
        elif text.startswith("${", i):
            end = _closing(text, i + 2)
            if end < 0:
                raise RuleInvalid(f"{where}: '${{' at {i} is never closed by '}}'", field=where)
            try:
                compiled = compile_expression(text[i + 2 : end], version, variables)
            except SqlParseError as exc:
                raise RuleInvalid(f"{where}: {exc.message}", field=where) from None
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(compiled)
            i = end + 1
        else:
            literal.append(text[i])
            i += 1
    if literal:
        parts.append("".join(literal))
    return Template(text, tuple(parts))
