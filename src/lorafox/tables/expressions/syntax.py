"""Running the Lark grammars, and DynamoDB's syntax errors.

``parse_tree`` parses one expression with the LALR parser of its kind and turns any parser
failure into DynamoDB's message: ``Invalid <kind>: Syntax error; token: "<t>", near: "<n>"``,
where ``<t>`` is the offending token (``<EOF>`` at the end) and ``<n>`` the source text from the
token before it to the token after it, spacing included (``ADD hits : incr`` gives token ``:``
near ``hits : incr``). It also applies the 4 KB limit and refuses the empty expression.
"""

from __future__ import annotations

import re

from lark import Lark, Token, Tree
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

from lorafox.tables.errors import ValidationException
from lorafox.tables.expressions import grammar

__all__ = ["MAX_EXPRESSION_BYTES", "parse_tree", "syntax_error"]

MAX_EXPRESSION_BYTES = 4096
"""DynamoDB's limit on the length of one expression string (UTF-8)."""

_SCAN = re.compile(r"[#:]?[A-Za-z0-9_]+|<>|<=|>=|\S")

_PARSERS = {
    name: Lark(source, parser="lalr", propagate_positions=True, maybe_placeholders=False)
    for name, source in (
        ("condition", grammar.CONDITION),
        ("update", grammar.UPDATE),
        ("projection", grammar.PROJECTION),
    )
}


def syntax_error(kind: str, text: str, pos: int | None) -> ValidationException:
    """DynamoDB's syntax error: the offending token and the tokens either side of it."""
    spans = [match.span() for match in _SCAN.finditer(text)]
    index = next((i for i, (_, end) in enumerate(spans) if pos is not None and end > pos), None)
    if index is None:
        token, near = "<EOF>", text[spans[-1][0] :] if spans else ""
    else:
        start, end = spans[index]
        token = text[start:end]
        first = spans[index - 1][0] if index > 0 else start
        last = spans[index + 1][1] if index + 1 < len(spans) else end
        near = text[first:last]
    return ValidationException(f'Invalid {kind}: Syntax error; token: "{token}", near: "{near}"')


def parse_tree(which: str, kind: str, text: str) -> Tree[Token]:
    """The parse tree of ``text`` with the ``which`` grammar ("condition", "update"…)."""
    if text == "":
        raise ValidationException(f"Invalid {kind}: The expression can not be empty;")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_EXPRESSION_BYTES:
        raise ValidationException(
            f"Invalid {kind}: Expression size has exceeded the maximum allowed size; "
            f"expression size: {size}"
        )
    try:
        return _PARSERS[which].parse(text)
    except UnexpectedCharacters as exc:
        raise syntax_error(kind, text, exc.pos_in_stream) from None
    except UnexpectedToken as exc:
        at_end = exc.token.type == "$END"
        raise syntax_error(kind, text, None if at_end else exc.token.start_pos) from None
    except UnexpectedEOF:
        raise syntax_error(kind, text, None) from None
    except LarkError:  # pragma: no cover - any other parser failure is still a syntax error
        raise syntax_error(kind, text, 0) from None
