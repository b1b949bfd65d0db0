"""AWS IoT SQL: the grammar, the values and their conversions, the functions, the compiler."""

from lorafox.rules.sql.compiler import (
    DEFAULT_VERSION,
    NO_MATCH,
    VERSIONS,
    Statement,
    compile_expression,
    compile_statement,
)
from lorafox.rules.sql.context import Env, MessageContext
from lorafox.rules.sql.values import UNDEFINED, to_json

__all__ = [
    "DEFAULT_VERSION",
    "NO_MATCH",
    "UNDEFINED",
    "VERSIONS",
    "Env",
    "MessageContext",
    "Statement",
    "compile_expression",
    "compile_statement",
    "to_json",
]
