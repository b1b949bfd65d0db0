"""The AWS IoT SQL grammar (Lark, LALR).

Reconstructed from AWS's SQL reference: ``[SET @v = expr, …] SELECT [VALUE] item, … [FROM
'filter'] [WHERE cond]``; keywords and function names in any case; strings in single or double
quotes; a trailing comma before ``FROM`` and an unquoted topic filter are accepted, as AWS's own
examples use them. Precedence (undocumented by AWS) is SQL's: ``.`` and ``[]``, unary ``-``,
``* / %``, ``+ -``, comparisons and ``IN``, ``NOT``, ``AND``, ``OR``.
"""

from __future__ import annotations

__all__ = ["GRAMMAR"]

GRAMMAR = r"""
?start: statement

statement: [set_clause] _SELECT [VALUE] select_list [_FROM topic] [_WHERE expr]
set_clause: _SET assignment ("," assignment)*
assignment: VAR "=" expr

select_list: select_item ("," select_item)* [","]
select_item: "*"                      -> star
           | expr [_AS NAME]           -> item

topic: STRING | BARE_TOPIC

?expr: or_expr
?or_expr: or_expr _OR and_expr        -> or_
        | and_expr
?and_expr: and_expr _AND not_expr     -> and_
         | not_expr
?not_expr: _NOT not_expr              -> not_
         | comparison
?comparison: sum COMPARE sum          -> compare
           | sum _IN sum              -> in_
           | sum
?sum: sum ADD_OP product              -> binary
    | product
?product: product MUL_OP unary        -> binary
        | unary
?unary: "-" unary                     -> neg
      | "+" unary
      | postfix
?postfix: postfix "." NAME            -> attr
        | postfix "[" expr "]"        -> index
        | atom
?atom: NUMBER                         -> number
     | STRING                         -> string
     | _TRUE                          -> true
     | _FALSE                         -> false
     | _NULL                          -> null
     | NAME                           -> field
     | VAR                            -> var
     | NAME "(" [arguments] ")"       -> call
     | _CAST "(" expr _AS NAME ")"    -> cast
     | "(" expr ")"
     | "(" nested ")"
     | _CASE expr when+ [_ELSE expr] _END -> case
     | "{" [pair ("," pair)*] "}"     -> object
     | "[" [expr ("," expr)*] "]"     -> array

arguments: argument ("," argument)*
?argument: expr
         | "*"                        -> star_argument

nested: _SELECT [VALUE] select_list _FROM expr [_WHERE expr]
when: _WHEN expr _THEN expr
pair: (STRING | NAME) ":" expr

VALUE.2: /value\b/i
_SELECT.2: /select\b/i
_FROM.2: /from\b/i
_WHERE.2: /where\b/i
_SET.2: /set\b/i
_AS.2: /as\b/i
_OR.2: /or\b/i
_AND.2: /and\b/i
_NOT.2: /not\b/i
_IN.2: /in\b/i
_TRUE.2: /true\b/i
_FALSE.2: /false\b/i
_NULL.2: /null\b/i
_CAST.2: /cast\b/i
_CASE.2: /case\b/i
_WHEN.2: /when\b/i
_THEN.2: /then\b/i
_ELSE.2: /else\b/i
_END.2: /end\b/i

COMPARE: "<>" | "!=" | "<=" | ">=" | "=" | "<" | ">"
ADD_OP: "+" | "-"
MUL_OP: "*" | "/" | "%"
NAME: /[A-Za-z_][A-Za-z0-9_]*/
VAR: /@[A-Za-z0-9_]{1,64}/
NUMBER: /(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?/
STRING: /'(?:[^'\\]|\\.|'')*'/ | /"(?:[^"\\]|\\.)*"/
BARE_TOPIC: /[^\s'",()]+/

%ignore /\s+/
"""
