"""The errors of rules: a statement that does not parse, a rule that cannot be made."""

from __future__ import annotations

from lorafox.errors import InvalidInput, LorafoxError

__all__ = ["ActionFailed", "RuleInvalid", "SqlParseError"]


class SqlParseError(InvalidInput):
    """A statement AWS IoT SQL does not accept; ``line`` and ``column`` are 1-based."""

    def __init__(self, message: str, *, line: int | None = None, column: int | None = None) -> None:
        where = f" at line {line}, column {column}" if line is not None else ""
        super().__init__(f"{message}{where}", field="sql")
        self.line = line
        self.column = column


class RuleInvalid(InvalidInput):
    """A rule's other parameters are wrong (its name, an action)."""


class ActionFailed(LorafoxError):
    """An action could not be made for one message (its ``errorMessage``)."""
