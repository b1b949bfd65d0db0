"""AWS IoT SQL, table-driven: operators and type tables, versions, statements, parse errors.

The expected values follow AWS's type, operator and function definitions; where one of AWS's
printed examples disagrees with its own definition, the definition wins (noted per case)."""

from __future__ import annotations

import base64
import math
from typing import Any

import pytest

from lorafox.rules.errors import SqlParseError
from lorafox.rules.sql import NO_MATCH, UNDEFINED, MessageContext, compile_statement

V15 = "2015-10-08"
V16 = "2016-03-23"

DOC = {
    "a": 1,
    "b": 2.5,
    "s": "abc",
    "n": "12",
    "t": True,
    "z": None,
    "arr": [1, 2, 3],
    "obj": {"x": {"y": 5}, "k": "v"},
    "items": [{"v": 1, "name": "a"}, {"v": 5, "name": "b"}, {"v": 9, "name": "c"}],
}


def message(payload: bytes | None = None, topic: str = "lora/app/dev", **kw: Any) -> MessageContext:
    import orjson

    return MessageContext(
        topic=topic,
        payload=orjson.dumps(DOC) if payload is None else payload,
        timestamp=1_700_000_000_123,
        **kw,
    )


def value_of(expression: str, version: str = V16, **kw: Any) -> Any:
    """The value of ``expression`` on DOC (UNDEFINED when the item is left out)."""
    sql = "SELECT " + expression + " AS r FROM 'lora/#'"  # noqa: S608 - not a database's SQL
    result = compile_statement(sql, version).evaluate(message(**kw))
    return result.get("r", UNDEFINED)


OPERATORS = [
    # arithmetic: Int op Int stays Int, a Decimal makes a Decimal
    ("1 + 2", 3),
    ("7 / 2", 3),
    ("-7 / 2", -3),
    ("7 % 3", 1),
    ("-7 % 3", -1),
    ("a + b", 3.5),
    ("b * 2", 5.0),
    ("2.5 - 1", 1.5),
    ("'3' * 2", 6.0),  # a numeric String becomes a Decimal
    ("'x' * 2", UNDEFINED),
    ("t + 1", UNDEFINED),
    ("1 / 0", UNDEFINED),
    ("s + 1", "abc1"),  # + concatenates when either side is a String
    ("1 + s", "1abc"),
    ("s + t", "abctrue"),
    ("s + missing", UNDEFINED),
    ("-a", -1),
    ("-n", -12.0),
    ("2 + 3 * 4", 14),
    ("(2 + 3) * 4", 20),
    # comparisons: > >= < <= compare as Decimals
    ("a < b", True),
    ("n > 11", True),
    ("'x' > 1", UNDEFINED),
    ("a >= 1", True),
    # = : different types are false, <> true
    ("a = 1", True),
    ("a = 1.0", True),
    ("n = 12", False),
    ("n <> 12", True),
    ("s = 'abc'", True),
    ("arr = [1, 2, 3]", True),
    ("arr = [3, 2, 1]", False),
    ("obj = {'k': 'v', 'x': {'y': 5}}", True),
    ("z = NULL", True),
    ("z <> NULL", False),
    ("missing = 1", UNDEFINED),
    ("missing <> 1", UNDEFINED),
    # booleans take Booleans or "true"/"false"
    ("t AND true", True),
    ("t AND 'FALSE'", False),
    ("NOT t", False),
    ("NOT 'true'", False),
    ("t OR 1", UNDEFINED),
    ("NOT a = 2", True),  # NOT binds looser than =
    ("a = 1 OR a = 2 AND false", True),  # AND binds tighter than OR
    ("2 IN arr", True),
    ("5 IN arr", False),
]


@pytest.mark.parametrize(("expression", "expected"), OPERATORS)
def test_operators(expression: str, expected: Any) -> None:
    got = value_of(expression)
    assert got == expected and type(got) is type(expected), (expression, got)


PATHS_AND_LITERALS = [
    ("obj.x.y", 5),
    ("obj.x.missing", UNDEFINED),
    ("arr[1]", 2),
    ("arr[7]", UNDEFINED),
    ("items[2].name", "c"),
    ("'it''s'", "it's"),
    ('"dq"', "dq"),
    ("10.0", 10),  # 2016-03-23 reads a whole-number Decimal as an Int
    ("1e2", 100.0),
    ("{'a': 1, 'b': missing}", {"a": 1}),
    ("[1, 'x', NULL]", [1, "x", None]),
    ("CASE s WHEN 'x' THEN 1 WHEN 'abc' THEN 2 ELSE 3 END", 2),
    ("CASE s WHEN 'x' THEN 1 END", UNDEFINED),
    ("CASE missing WHEN 'x' THEN 1 ELSE 2 END", UNDEFINED),
    ("CASE a WHEN 1.0 THEN 'one' END", "one"),
    ("(SELECT VALUE v FROM items WHERE v > 2)", [5, 9]),
    ("(SELECT name FROM items WHERE v < 6)", [{"name": "a"}, {"name": "b"}]),
    ("get(arr, 0)", 1),
    ("get(obj, 'k')", "v"),
    ("get('abc', 1)", "b"),  # AWS's example says "a"; get() is 0-based by its own table
    ("get_or_default(missing, 7)", 7),
    ("get_or_default(z, 7)", 7),
    ("get_or_default(a, 7)", 1),
]


@pytest.mark.parametrize(("expression", "expected"), PATHS_AND_LITERALS)
def test_paths_literals_case_nested(expression: str, expected: Any) -> None:
    assert value_of(expression) == expected


def _sha(name: str, text: str) -> str:
    import hashlib

    return hashlib.new(name, text.encode()).hexdigest()


FUNCTIONS_CASES = [
    ("abs(-5)", 5),
    ("abs(-5.5)", 5.5),
    ("abs('-2')", 2.0),
    ("abs(t)", UNDEFINED),
    ("ceil(1.2)", 2),
    ("ceil(-1.2)", -1),
    ("floor(1.8)", 1),
    ("floor(-1.2)", -2),
    ("round(1.5)", 2),
    ("round(-1.5)", -2),  # half away from zero, as the examples show
    ("round(1.4)", 1),
    ("trunc(2.3456, 2)", 2.34),
    ("trunc(-2.3456, 1)", -2.3),
    ("sign(-3)", -1),
    ("sign(0)", 0),
    ("sign(2.5)", 1),
    ("mod(8, 3)", 2),
    ("mod(-8, 3)", -2),
    ("remainder(8, 3)", 2),
    ("power(2, 10)", 1024.0),
    ("sqrt(16)", 4.0),
    ("sqrt(-1)", UNDEFINED),
    ("ln(1)", 0.0),
    ("log(100)", 2.0),
    ("exp(0)", 1.0),
    ("cos(0)", 1.0),
    ("sin(0)", 0.0),
    ("tan(0)", 0.0),
    ("acos(1)", 0.0),
    ("asin(0)", 0.0),
    ("atan(0)", 0.0),
    ("atan2(0, 1)", 0.0),
    ("cosh(0)", 1.0),
    ("sinh(0)", 0.0),
    ("tanh(0)", 0.0),
    ("nanvl(5, 0)", 5),
    ("bitand(13, 5)", 5),
    ("bitor(13, 5)", 13),
    ("bitxor(13, 5)", 8),  # AWS prints this example as bitor(13,5)=8
    ("bitnot(13)", -14),  # AWS prints 2; two's complement of 13 is -14
    ("bitand(13.2, '5')", 5),
    ("cast(a AS String)", "1"),
    ("cast('12.7' AS Int)", 12),
    ("cast(12.7 AS Int)", 12),
    ("cast(-12.7 AS Int)", -13),
    ("cast(t AS Int)", 1),
    ("cast(a AS Decimal)", 1.0),
    ("cast(0 AS Boolean)", False),
    ("cast('TRUE' AS Bool)", True),
    ("cast(z AS Int)", UNDEFINED),
    ("cast(arr AS String)", "[1,2,3]"),
    ("isNull(z)", True),
    ("isNull(missing)", False),
    ("isUndefined(missing)", True),
    ("IsUndefined(a) = False", True),
    ("chr(65)", "A"),
    ("concat('a', 1, t)", "a1true"),
    ("concat(arr, 4)", [1, 2, 3, 4]),
    ("concat(1)", "1"),
    ("substring('012345', 2)", "2345"),
    ("substring('012345', 1, 3)", "12"),
    ("substring('012345', -1, 30)", "012345"),
    ("substring('012345', 5, 2)", ""),
    ("length('abc')", 3),
    ("length(arr)", 3),
    ("lower('AbC')", "abc"),
    ("upper(s)", "ABC"),
    ("trim('  h i  ')", "h i"),
    ("ltrim(' h i ')", "h i "),  # AWS prints "hi " and loses the inner space
    ("rtrim(' h i ')", " h i"),
    ("lpad('ab', 3)", "   ab"),
    ("rpad('ab', 2)", "ab  "),
    ("lpad('ab', -1)", "ab"),
    ("replace('abcab', 'ab', 'x')", "xcx"),
    ("regexp_matches('aaxbb', 'x')", True),
    ("regexp_matches('aabb', 'x')", False),
    ("regexp_replace('abc123', '([a-z]+)([0-9]+)', '$2-$1')", "123-abc"),
    ("regexp_substr('abc123def', '[0-9]+')", "123"),
    ("regexp_matches('a', '(')", UNDEFINED),
    ("startswith('abc', 'ab')", True),
    ("endswith('abc', 'bc')", True),
    ("indexof('abcd', 'cd')", 2),
    ("indexof('abcd', 'x')", -1),
    ("numbytes('é')", 2),
    ("md2('abc')", "da853b0d3f88d99b30283a69e6ded6bb"),
    ("md5('hello')", "5d41402abc4b2a76b9719d911017c592"),
    ("sha1('hello')", _sha("sha1", "hello")),
    ("sha224('hello')", _sha("sha224", "hello")),
    ("sha256('hello')", _sha("sha256", "hello")),
    ("sha384('hello')", _sha("sha384", "hello")),
    ("sha512('hello')", _sha("sha512", "hello")),
    ("encode('hi', 'base64')", "aGk="),
    ("decode('aGk=', 'base64')", "hi"),
    ("decode(encode({'a': 1}, 'base64'), 'base64').a", 1),
    ("parse_time('yyyy-MM-dd HH:mm:ss.SSS', 1700000000123)", "2023-11-14 22:13:20.123"),
    ("parse_time(\"yyyy-MM-dd'T'HH:mm:ss\", 0, 'Europe/Paris')", "1970-01-01T01:00:00"),
    ("time_to_epoch('2023-11-14 22:13:20', 'yyyy-MM-dd HH:mm:ss')", 1700000000000),
    (
        "transform('enrichArray', {'k': 1}, [{'a': 1}, {'a': 2}])",
        [{"a": 1, "k": 1}, {"a": 2, "k": 1}],
    ),
    ("topic()", "lora/app/dev"),
    ("topic(2)", "app"),
    ("topic(9)", UNDEFINED),
    ("timestamp()", 1_700_000_000_123),
    ("clientid()", "n/a"),
    ("principal()", UNDEFINED),
    ("sql_version()", V16),
    ("traceid()", UNDEFINED),
    ("accountid()", "000000000000"),
    ("get_mqtt_property('content_type')", UNDEFINED),
]


@pytest.mark.parametrize(("expression", "expected"), FUNCTIONS_CASES)
def test_functions(expression: str, expected: Any) -> None:
    got = value_of(expression)
    if isinstance(expected, float):
        assert isinstance(got, float) and math.isclose(got, expected, abs_tol=1e-12), got
    else:
        assert got == expected and type(got) is type(expected), (expression, got)


def test_context_functions_read_the_message() -> None:
    statement = compile_statement(
        "SELECT clientid() AS c, principal() AS p, sourceip() AS ip, traceid() AS tr, "
        "newuuid() AS u, rand() AS r, get_mqtt_property('content_type') AS ct FROM '#'",
        V16,
    )
    out = statement.evaluate(
        message(
            client_id="dev-1",
            principal="api:42",
            source_ip="10.0.0.1",
            trace_id="t-1",
            properties={"content_type": "application/json"},
        )
    )
    assert out["c"] == "dev-1" and out["p"] == "api:42" and out["ip"] == "10.0.0.1"
    assert out["tr"] == "t-1" and out["ct"] == "application/json"
    assert len(out["u"]) == 36 and 0 <= out["r"] < 1


def test_undefined_items_are_left_out_and_where_fires_on_exactly_true() -> None:
    statement = compile_statement("SELECT a, missing, s FROM 'lora/#' WHERE n", V16)
    assert statement.evaluate(message()) is NO_MATCH  # "12" is not true
    statement = compile_statement("SELECT a, missing, s FROM 'lora/#' WHERE 'TRUE'", V16)
    assert statement.evaluate(message()) == {"a": 1, "s": "abc"}
    assert compile_statement("SELECT a FROM '#' WHERE missing", V16).evaluate(message()) is NO_MATCH


def test_select_star_value_and_binary_payloads() -> None:
    assert compile_statement("SELECT * FROM 'lora/#'").evaluate(message()) == DOC
    both = compile_statement("SELECT *, 15 AS speed FROM 'lora/#'").evaluate(message())
    assert both == {**DOC, "speed": 15}
    raw = b"\x00\xffnot json"
    assert compile_statement("SELECT * FROM 'lora/#'").evaluate(message(raw)) == raw
    encoded = compile_statement("SELECT encode(*, 'base64') AS e FROM '#'", V16).evaluate(
        message(raw)
    )
    assert encoded == {"e": base64.b64encode(raw).decode()}
    assert compile_statement("SELECT VALUE arr FROM '#'", V16).evaluate(message()) == [1, 2, 3]
    assert compile_statement("select value s from '#'", V16).evaluate(message()) == "abc"


def test_set_variables() -> None:
    statement = compile_statement(
        "SET @x = a + 1, @y = @x * 10 SELECT @y AS y FROM '#' WHERE @x = 2", V16
    )
    assert statement.evaluate(message()) == {"y": 20}


def test_names_of_unaliased_items() -> None:
    out = compile_statement("SELECT obj.k, a, topic(2), 1 + 1 FROM '#'").evaluate(message())
    assert out == {"k": "v", "a": 1, "_3": "app", "_4": 2}


def test_the_aws_sigfox_template_statement_parses_with_its_newline_and_no_version() -> None:
    sql = (
        "SELECT downlinkData as downlinkData, topic(3) as id, timestamp() as timestamp, "
        "principal() as sender FROM 'sigfox/downlink/+'\n"
    )
    statement = compile_statement(sql)
    assert statement.version == V15 and statement.topic_filter == "sigfox/downlink/+"
    out = statement.evaluate(
        message(
            b'{"downlinkData": "0102030405060708"}', topic="sigfox/downlink/12AB", principal="p"
        )
    )
    assert out == {
        "downlinkData": "0102030405060708",
        "id": "12AB",
        "timestamp": 1_700_000_000_123,
        "sender": "p",
    }


def test_2015_10_08_is_the_default_and_lacks_the_2016_features() -> None:
    assert compile_statement("SELECT sql_version() AS v FROM '#'").evaluate(message()) == {"v": V15}
    assert value_of("10.0", V15) == 10.0 and isinstance(value_of("10.0", V15), float)
    assert value_of("b", V15) == 2.5
    for needs_2016 in (
        "isUndefined(a)",
        "encode(s, 'base64')",
        "{'a': 1}",
        "[1]",
        "(SELECT VALUE v FROM items)",
        "cast(a AS Decimal)",
        "length(s)",
        "get_dynamodb('t', 'k', a, 'r')",
    ):
        with pytest.raises(SqlParseError, match="2016-03-23"):
            compile_statement("SELECT " + needs_2016 + " AS r FROM '#'")  # noqa: S608
    assert value_of("cast(a AS String)", V15) == "1"


def test_whole_decimals_in_payloads_are_ints_in_2016() -> None:
    assert value_of("x", V16, payload=b'{"x": 10.0}') == 10
    assert isinstance(value_of("x", V15, payload=b'{"x": 10.0}'), float)


def test_keywords_and_functions_in_any_case_trailing_comma_and_unquoted_topic() -> None:
    statement = compile_statement("select Upper(s) as u, ROUND(b) as r, from iot/rules where TRUE")
    assert statement.topic_filter == "iot/rules"
    assert statement.evaluate(message(topic="iot/rules")) == {"u": "ABC", "r": 3}


@pytest.mark.parametrize(
    ("sql", "fragment", "line", "column"),
    [
        ("SELECT a FROM 'x' WHERE (", "end of the statement", 1, 26),
        ("SELECT a,\n  b FROM 'x' WHERE a = = 1", "'='", 2, 24),
        ("SELECT a FROM 'x' WHERE a ~ 1", "'~'", 1, 27),
        ("SELECT nope(a) FROM 'x'", "unknown function nope()", 1, 8),
        ("SELECT aws_lambda('arn', *) FROM 'x'", "AWS Lambda", 1, 8),
        ("SELECT get_secret('s', 'r') FROM 'x'", "Secrets Manager", 1, 8),
        (
            "SELECT get_dynamodb('t', 'k', a, 'r') AS x, get_dynamodb('t', 'k', b, 'r') AS y "
            "FROM 'x'",
            "once per statement",
            1,
            45,
        ),
        ("SELECT topic(1, 2) FROM 'x'", "0 to 1 arguments", 1, 8),
        ("SELECT @v FROM 'x'", "not SET", 1, 8),
        ("SELECT cast(a AS Float) FROM 'x'", "cannot cast", 1, 18),
        ("SELECT a FROM 'x/#/y'", "'#'", 1, 15),
    ],
)
def test_parse_errors_name_their_position(sql: str, fragment: str, line: int, column: int) -> None:
    with pytest.raises(SqlParseError) as caught:
        compile_statement(sql, V16)
    assert fragment in caught.value.message
    assert (caught.value.line, caught.value.column) == (line, column), caught.value.message


def test_missing_from_and_unknown_version() -> None:
    with pytest.raises(SqlParseError, match="FROM"):
        compile_statement("SELECT a")
    with pytest.raises(SqlParseError, match="awsIotSqlVersion"):
        compile_statement("SELECT a FROM 'x'", "2020-01-01")


def test_ints_beyond_64_bits() -> None:
    from lorafox.rules.sql import to_json

    big = 2**70
    assert value_of(f"{big} + 1") == big + 1
    assert to_json({"a": big}) == b'{"a":1180591620717411303424}'


def test_every_function_has_a_case() -> None:
    import re

    from lorafox.rules.sql.functions import FUNCTIONS

    text = (
        " ".join(e for e, _ in FUNCTIONS_CASES) + " " + " ".join(e for e, _ in PATHS_AND_LITERALS)
    )
    called = {m.lower() for m in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\(", text)}
    covered_elsewhere = {"newuuid", "rand", "get_user_properties", "get_dynamodb", "sourceip"}
    assert set(FUNCTIONS) - called - covered_elsewhere == set()


RFC_1319_VECTORS = [
    ("", "8350e5a3e24c153df2275c9f80692773"),
    ("a", "32ec01ec4a6dac72c0ab96fb34c0b5d1"),
    ("abc", "da853b0d3f88d99b30283a69e6ded6bb"),
    ("message digest", "ab4f496bfb2a530b219ff33031fe06b0"),
    ("abcdefghijklmnopqrstuvwxyz", "4e8ddff3650292ab5a4108c3aa47940b"),
    (
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
        "da33def2a42df13975352846c30338cd",
    ),
    ("1234567890" * 8, "d5976f79d83d3a0dc9806c3c66f3efd8"),
]


@pytest.mark.parametrize(("text", "digest"), RFC_1319_VECTORS)
def test_md2_gives_the_rfc_1319_test_vectors(text: str, digest: str) -> None:
    assert value_of(f"md2('{text}')") == digest
    assert value_of(f"md2('{text}')", version="2015-10-08") == digest


def test_md2_converts_its_argument_like_the_other_hashes() -> None:
    assert value_of("md2(123)") == value_of("md2('123')")
    assert value_of("md2(a)", payload=b'{"a": "abc"}') == "da853b0d3f88d99b30283a69e6ded6bb"
    assert value_of("md2(missing)") is UNDEFINED
    # 16 bytes exactly still gets a whole block of padding
    assert len(value_of("md2('0123456789abcdef')")) == 32


TRANSFORM_CASES = [
    # the one mode AWS documents: each element gets the object's attributes
    ("transform('enrichArray', {'k': 1}, [])", []),
    ("transform('enrichArray', {}, [{'a': 1}])", [{"a": 1}]),
    ("transform('enrichArray', {'a': 9}, [{'a': 1, 'b': 2}])", [{"a": 9, "b": 2}]),
    ("transform('enrichArray', {'k': {'n': [1]}}, [{'a': 1}])", [{"a": 1, "k": {"n": [1]}}]),
    # elements that are not objects have no attributes to enrich: they are left out
    ("transform('enrichArray', {'k': 1}, [1, 'x', NULL, [2], {'a': 1}])", [{"a": 1, "k": 1}]),
    # any other mode is Undefined (the mode is case-sensitive)
    ("transform('enricharray', {'k': 1}, [{'a': 1}])", UNDEFINED),
    ("transform('other', {'k': 1}, [{'a': 1}])", UNDEFINED),
    ("transform(1, {'k': 1}, [{'a': 1}])", UNDEFINED),
    # an Object that is not an object, an Array that is not an array: Undefined
    ("transform('enrichArray', [1], [{'a': 1}])", UNDEFINED),
    ("transform('enrichArray', 'k', [{'a': 1}])", UNDEFINED),
    ("transform('enrichArray', NULL, [{'a': 1}])", UNDEFINED),
    ("transform('enrichArray', missing, [{'a': 1}])", UNDEFINED),
    ("transform('enrichArray', {'k': 1}, {'a': 1})", UNDEFINED),
    ("transform('enrichArray', {'k': 1}, '[{\"a\": 1}]')", UNDEFINED),
    ("transform('enrichArray', {'k': 1}, missing)", UNDEFINED),
]


@pytest.mark.parametrize(("expression", "expected"), TRANSFORM_CASES)
def test_transform_edge_cases(expression: str, expected: Any) -> None:
    assert value_of(expression) == expected


def test_transform_enriches_a_payload_array_as_in_aws_example() -> None:
    payload = b'{"attributes": {"site": "A"}, "values": [{"v": 1}, {"v": 2}]}'
    got = compile_statement(
        "SELECT transform('enrichArray', attributes, values) AS r FROM 't'", V16
    ).evaluate(message(payload, topic="t"))
    assert got == {"r": [{"v": 1, "site": "A"}, {"v": 2, "site": "A"}]}


def test_user_properties_and_nanvl_on_nan() -> None:
    statement = compile_statement(
        "SELECT get_user_properties('k') AS k, get_user_properties() AS all, "
        "nanvl(power(-1, 0.5), 7) AS n FROM '#'",
        V16,
    )
    out = statement.evaluate(message(properties={"user_properties": [("k", "1"), ("j", "2")]}))
    assert out["k"] == ["1"] and out["all"] == [{"k": "1"}, {"j": "2"}]
    assert out.get("n", UNDEFINED) is UNDEFINED  # power(-1, 0.5) is no number: Undefined


@pytest.mark.parametrize(
    "expression",
    [
        "+".join(["a"] * 3000),
        "-" * 3000 + "1",
        "abs(" * 3000 + "1" + ")" * 3000,
        "NOT " * 3000 + "t",
    ],
)
def test_deep_nesting_is_refused(expression: str) -> None:
    with pytest.raises(SqlParseError, match="nests more than"):
        compile_statement("SELECT " + expression + " AS x FROM 't'")  # noqa: S608
    assert value_of("+".join(["1"] * 150)) == 150
    assert value_of("(" * 3000 + "1" + ")" * 3000) == 1  # parentheses leave no level
