"""The Lark grammars of DynamoDB's expression language (LALR(1), contextual lexer).

Three grammars share the terminals and the document path rule:

* ``CONDITION`` — ConditionExpression, FilterExpression and KeyConditionExpression. Precedence
  from loosest to tightest: ``OR``, ``AND``, ``NOT``, then a comparison, ``BETWEEN``, ``IN`` or a
  function. Operands and conditions share one ``atom`` rule (a parenthesised condition and a
  parenthesised operand look the same to an LR(1) parser); the parser module refuses an operand
  where a condition belongs and the reverse, as DynamoDB does, with a syntax error.
* ``UPDATE`` — clauses ``SET``, ``REMOVE``, ``ADD``, ``DELETE`` in any order.
* ``PROJECTION`` — a comma-separated list of document paths.

Keywords are case-insensitive and are whole words only (``notes`` is an attribute, ``NOT`` is
not); function names are case-sensitive; reserved words are checked after parsing.
"""

from __future__ import annotations

__all__ = ["CONDITION", "PROJECTION", "UPDATE"]

_COMMON = r"""
path: name (_DOT name | _LBRACKET INDEX _RBRACKET)*
name: IDENT | NAME

IDENT: /[A-Za-z_][A-Za-z0-9_]*/
NAME: /#[A-Za-z0-9_]+/
VALUE: /:[A-Za-z0-9_]+/
INDEX: /[0-9]+/
_DOT: "."
_LBRACKET: "["
_RBRACKET: "]"
_LPAR: "("
_RPAR: ")"
_COMMA: ","

%import common.WS
%ignore WS
"""

_WORD_END = r"(?![A-Za-z0-9_])"

CONDITION = (
    r"""
?start: or_expr
?or_expr: and_expr
        | or_expr OR and_expr -> or_
?and_expr: not_expr
         | and_expr AND not_expr -> and_
?not_expr: NOT not_expr -> not_
         | predicate
?predicate: atom
          | atom COMPARATOR atom -> compare
          | atom BETWEEN atom AND atom -> between
          | atom IN _LPAR arguments _RPAR -> in_
?atom: path
     | VALUE -> value
     | IDENT _LPAR arguments _RPAR -> call
     | _LPAR or_expr _RPAR -> parens
arguments: or_expr (_COMMA or_expr)*

COMPARATOR: "<>" | "<=" | ">=" | "=" | "<" | ">"
"""
    + "\n".join(
        f"{word}.2: /{word.lower()}{_WORD_END}/i" for word in ("OR", "AND", "NOT", "BETWEEN", "IN")
    )
    + _COMMON
)

UPDATE = (
    r"""
start: clause+
?clause: SET set_action (_COMMA set_action)* -> set_clause
       | REMOVE path (_COMMA path)* -> remove_clause
       | ADD path VALUE (_COMMA path VALUE)* -> add_clause
       | DELETE path VALUE (_COMMA path VALUE)* -> delete_clause
set_action: path _EQUALS set_value
?set_value: operand
          | operand ARITH operand -> arithmetic
?operand: path
        | VALUE -> value
        | IDENT _LPAR operand (_COMMA operand)* _RPAR -> call
        | _LPAR set_value _RPAR -> parens

_EQUALS: "="
ARITH: "+" | "-"
"""
    + "\n".join(
        f"{word}.2: /{word.lower()}{_WORD_END}/i" for word in ("SET", "REMOVE", "ADD", "DELETE")
    )
    + _COMMON
)

PROJECTION = (
    r"""
start: path (_COMMA path)*
"""
    + _COMMON
)
