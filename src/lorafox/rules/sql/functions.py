"""The functions of AWS IoT SQL that need nothing outside lorafox.

Each entry of ``FUNCTIONS`` gives the arity, whether it needs SQL 2016-03-23, whether it takes
Undefined arguments (most give Undefined for one), and whether it reads the message context.
Arguments of the wrong type are converted by AWS's tables (``values.to_*``); what cannot be
converted gives Undefined. ``REFUSED`` lists the functions that call other AWS services: a rule
naming one is refused when it is created.
"""

from __future__ import annotations

import base64
import hashlib
import math
import random
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from lorafox.rules.sql.context import Env
from lorafox.rules.sql.md2 import md2
from lorafox.rules.sql.values import (
    UNDEFINED,
    Value,
    is_number,
    to_decimal,
    to_int,
    to_string,
)

__all__ = ["FUNCTIONS", "REFUSED", "Function"]


@dataclass(frozen=True, slots=True)
class Function:
    call: Callable[..., Value]
    min_args: int
    max_args: int
    needs_2016: bool = False
    takes_undefined: bool = False
    context: bool = False
    """``call`` gets the ``Env`` first."""


REFUSED = {
    "aws_lambda": "calls AWS Lambda",
    "get_thing_shadow": "reads an AWS IoT device shadow",
    "get_secret": "reads AWS Secrets Manager",
    "get_registry_data": "reads the AWS IoT thing registry",
    "machinelearning_predict": "calls Amazon Machine Learning",
}
"""Functions that call another AWS service: refused at rule creation, with the reason."""


# -- numbers ------------------------------------------------------------------------------


def _number(value: Value) -> Value:
    converted = to_decimal(value)
    return converted if is_number(converted) else UNDEFINED


def _math(fn: Callable[[float], float]) -> Callable[[Value], Value]:
    def call(value: Value) -> Value:
        number = _number(value)
        if number is UNDEFINED:
            return UNDEFINED
        try:
            return float(fn(float(number)))
        except (ValueError, OverflowError):
            return UNDEFINED

    return call


def _abs(value: Value) -> Value:
    number = _number(value)
    return UNDEFINED if number is UNDEFINED else abs(number)


def _rounding(fn: Callable[[float], int]) -> Callable[[Value], Value]:
    def call(value: Value) -> Value:
        number = _number(value)
        if number is UNDEFINED:
            return UNDEFINED
        if isinstance(number, int):
            return number
        return fn(number) if math.isfinite(number) else UNDEFINED

    return call


def _round_half_away(number: float) -> int:
    return math.floor(abs(number) + 0.5) * (1 if number >= 0 else -1)


def _sign(value: Value) -> Value:
    number = _number(value)
    if number is UNDEFINED:
        return UNDEFINED
    return (number > 0) - (number < 0)


def _trunc(value: Value, places: Value) -> Value:
    number, digits = _number(value), to_int(places)
    if number is UNDEFINED or not isinstance(digits, int) or isinstance(digits, bool):
        return UNDEFINED
    if isinstance(number, int) and digits >= 0:
        return number
    factor = 10.0**digits
    result = math.trunc(number * factor) / factor
    return int(result) if digits <= 0 else result


def _java_remainder(a: Value, b: Value) -> Value:
    x, y = _number(a), _number(b)
    if x is UNDEFINED or y is UNDEFINED or y == 0:
        return UNDEFINED
    if isinstance(x, int) and isinstance(y, int):
        return int(math.fmod(x, y)) if abs(x) < 2**53 else x - y * int(x / y)
    return math.fmod(x, y)


def _power(a: Value, b: Value) -> Value:
    x, y = _number(a), _number(b)
    if x is UNDEFINED or y is UNDEFINED:
        return UNDEFINED
    try:
        return float(math.pow(x, y))
    except (ValueError, OverflowError):
        return UNDEFINED


def _atan2(a: Value, b: Value) -> Value:
    x, y = _number(a), _number(b)
    if x is UNDEFINED or y is UNDEFINED:
        return UNDEFINED
    return math.atan2(x, y)


def _log(value: Value) -> Value:
    number = _number(value)
    if number is UNDEFINED or number <= 0:
        return UNDEFINED
    return math.log10(number)


def _ln(value: Value) -> Value:
    number = _number(value)
    if number is UNDEFINED or number <= 0:
        return UNDEFINED
    return math.log(number)


def _sqrt(value: Value) -> Value:
    number = _number(value)
    if number is UNDEFINED or number < 0:
        return UNDEFINED
    return math.sqrt(number)


def _nanvl(value: Value, fallback: Value) -> Value:
    if isinstance(value, float) and math.isnan(value):
        return fallback
    return value


def _bits(fn: Callable[[int, int], int]) -> Callable[[Value, Value], Value]:
    def call(a: Value, b: Value) -> Value:
        x, y = to_int(a), to_int(b)
        if not isinstance(x, int) or not isinstance(y, int):
            return UNDEFINED
        return fn(x, y)

    return call


def _bitnot(value: Value) -> Value:
    x = to_int(value)
    return ~x if isinstance(x, int) and not isinstance(x, bool) else UNDEFINED


# -- strings ------------------------------------------------------------------------------


def _string_fn(fn: Callable[[str], Value]) -> Callable[[Value], Value]:
    def call(value: Value) -> Value:
        text = to_string(value)
        return UNDEFINED if text is UNDEFINED else fn(text)

    return call


def _concat(*args: Value) -> Value:
    if any(arg is UNDEFINED for arg in args):
        return UNDEFINED
    if any(isinstance(arg, list) for arg in args):
        out: list[Any] = []
        for arg in args:
            if isinstance(arg, list):
                out.extend(arg)
            else:
                out.append(arg)
        return out
    texts = [to_string(arg) for arg in args]
    if any(text is UNDEFINED for text in texts):
        return UNDEFINED
    return "".join(texts)


def _substring(value: Value, start: Value, end: Value = None) -> Value:
    text, begin = to_string(value), to_int(start)
    if text is UNDEFINED or not isinstance(begin, int):
        return UNDEFINED
    stop = len(text) if end is None else to_int(end)
    if not isinstance(stop, int):
        return UNDEFINED
    begin = min(max(begin, 0), len(text))
    stop = min(max(stop, 0), len(text))
    return text[begin:stop] if stop > begin else ""


def _length(value: Value) -> Value:
    if isinstance(value, list | str):
        return len(value)
    text = to_string(value)
    return UNDEFINED if text is UNDEFINED else len(text)


def _pad(left: bool) -> Callable[[Value, Value], Value]:
    def call(value: Value, count: Value) -> Value:
        text, n = to_string(value), to_int(count)
        if text is UNDEFINED or not isinstance(n, int):
            return UNDEFINED
        padding = " " * min(max(n, 0), 1000)
        return padding + text if left else text + padding

    return call


def _replace(value: Value, old: Value, new: Value) -> Value:
    texts = [to_string(v) for v in (value, old, new)]
    if any(t is UNDEFINED for t in texts):
        return UNDEFINED
    return texts[0].replace(texts[1], texts[2])


def _regex(pattern: Value) -> re.Pattern[str] | None:
    text = to_string(pattern)
    if text is UNDEFINED:
        return None
    try:
        return re.compile(text)
    except re.error:
        return None


def _regexp_matches(value: Value, pattern: Value) -> Value:
    text, regex = to_string(value), _regex(pattern)
    if text is UNDEFINED or regex is None:
        return UNDEFINED
    return regex.search(text) is not None


def _regexp_replace(value: Value, pattern: Value, replacement: Value) -> Value:
    text, regex, repl = to_string(value), _regex(pattern), to_string(replacement)
    if text is UNDEFINED or regex is None or repl is UNDEFINED:
        return UNDEFINED
    python_repl = re.sub(r"\$(\d+)", r"\\g<\1>", repl.replace("\\", "\\\\"))
    try:
        return regex.sub(python_repl, text)
    except (re.error, IndexError):
        return UNDEFINED


def _regexp_substr(value: Value, pattern: Value) -> Value:
    text, regex = to_string(value), _regex(pattern)
    if text is UNDEFINED or regex is None:
        return UNDEFINED
    found = regex.search(text)
    return found.group(0) if found else ""


def _two_strings(fn: Callable[[str, str], Value]) -> Callable[[Value, Value], Value]:
    def call(a: Value, b: Value) -> Value:
        x, y = to_string(a), to_string(b)
        if x is UNDEFINED or y is UNDEFINED:
            return UNDEFINED
        return fn(x, y)

    return call


def _chr(value: Value) -> Value:
    code = to_int(value)
    if not isinstance(code, int) or not 0 <= code <= 0x10FFFF:
        return UNDEFINED
    return chr(code)


def _hash(name: str) -> Callable[[Value], Value]:
    def digest(data: bytes) -> str:
        return md2(data).hex() if name == "md2" else hashlib.new(name, data).hexdigest()

    def call(value: Value) -> Value:
        text = to_string(value)
        if text is UNDEFINED:
            return UNDEFINED
        return digest(text.encode())

    return call


# -- structure and encodings --------------------------------------------------------------


def _is_null(value: Value) -> Value:
    return value is None


def _is_undefined(value: Value) -> Value:
    return value is UNDEFINED


def _get(container: Value, key: Value) -> Value:
    if isinstance(container, list):
        index = to_int(key)
        if isinstance(index, int) and 0 <= index < len(container):
            return container[index]
        return UNDEFINED
    if isinstance(container, str):
        index = to_int(key)
        if isinstance(index, int) and 0 <= index < len(container):
            return container[index]
        return UNDEFINED
    if isinstance(container, dict):
        name = to_string(key)
        return container.get(name, UNDEFINED) if isinstance(name, str) else UNDEFINED
    return UNDEFINED


def _get_or_default(value: Value, default: Value) -> Value:
    return default if value is UNDEFINED or value is None else value


def _numbytes(value: Value) -> Value:
    text = to_string(value)
    return UNDEFINED if text is UNDEFINED else len(text.encode())


def _encode(value: Value, scheme: Value) -> Value:
    if to_string(scheme) != "base64":
        return UNDEFINED
    if isinstance(value, bytes):
        raw = value
    elif isinstance(value, str):
        raw = value.encode()
    elif value is UNDEFINED:
        return UNDEFINED
    else:
        raw = orjson.dumps(value)
    return base64.b64encode(raw).decode()


def _decode(value: Value, scheme: Value) -> Value:
    if to_string(scheme) != "base64" or not isinstance(value, str):
        return UNDEFINED
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError:
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return None


def _transform(mode: Value, obj: Value, array: Value) -> Value:
    if mode != "enrichArray" or not isinstance(obj, dict) or not isinstance(array, list):
        return UNDEFINED
    return [{**element, **obj} for element in array if isinstance(element, dict)]


# -- time ---------------------------------------------------------------------------------

_JODA = re.compile(r"'[^']*'|y+|M+|d+|H+|h+|m+|s+|S+|a|Z+|z+|E+|.", re.DOTALL)
_JODA_FIELDS = {
    "yyyy": "%Y",
    "yy": "%y",
    "MMMM": "%B",
    "MMM": "%b",
    "MM": "%m",
    "dd": "%d",
    "HH": "%H",
    "hh": "%I",
    "mm": "%M",
    "ss": "%S",
    "a": "%p",
    "Z": "%z",
    "ZZ": "%z",
    "z": "%Z",
    "EEEE": "%A",
    "EEE": "%a",
}


def _strftime_pattern(pattern: str) -> tuple[str, int] | None:
    """A Joda/JDK date pattern as strftime's, and how many fraction digits (``S``) it shows."""
    out: list[str] = []
    fraction = 0
    for token in _JODA.findall(pattern):
        if token.startswith("'"):
            out.append(token[1:-1].replace("%", "%%") or "'")
        elif token.startswith("S"):
            fraction = len(token)
            out.append("\ue000")
        elif token in _JODA_FIELDS:
            out.append(_JODA_FIELDS[token])
        elif token[0] in "yMdHhmsZzE":
            single = {"M": "%m", "d": "%d", "H": "%H", "h": "%I", "m": "%M", "s": "%S"}
            if token in single:
                out.append(single[token])
            elif token[0] == "y":
                out.append("%Y")
            else:
                return None
        else:
            out.append(token.replace("%", "%%"))
    return "".join(out), fraction


def _zone(name: Value) -> Any:
    if name is None or name is UNDEFINED:
        return UTC
    if not isinstance(name, str):
        return None
    try:
        return UTC if name.upper() in ("UTC", "Z") else ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def _parse_time(pattern: Value, millis: Value, zone: Value = None) -> Value:
    ms, tz = to_int(millis), _zone(zone)
    if not isinstance(pattern, str) or not isinstance(ms, int) or tz is None:
        return UNDEFINED
    converted = _strftime_pattern(pattern)
    if converted is None:
        return UNDEFINED
    strf, fraction = converted
    try:
        moment = datetime.fromtimestamp(ms / 1000, tz)
    except (OverflowError, OSError, ValueError):
        return UNDEFINED
    text = moment.strftime(strf)
    if fraction:
        text = text.replace("\ue000", f"{ms % 1000:03d}"[:fraction].ljust(fraction, "0"))
    return text


def _time_to_epoch(value: Value, pattern: Value) -> Value:
    if not isinstance(value, str) or not isinstance(pattern, str):
        return UNDEFINED
    converted = _strftime_pattern(pattern)
    if converted is None:
        return UNDEFINED
    strf, fraction = converted
    try:
        moment = datetime.strptime(value, strf.replace("\ue000", "%f"))
    except ValueError:
        return UNDEFINED
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    del fraction
    return int(moment.timestamp() * 1000)


# -- the message's context ----------------------------------------------------------------


def _topic(env: Env, level: Value = UNDEFINED) -> Value:
    topic = env.message.topic
    if level is UNDEFINED:
        return topic
    n = to_int(level)
    if not isinstance(n, int):
        return UNDEFINED
    parts = topic.split("/")
    return parts[n - 1] if 1 <= n <= len(parts) else UNDEFINED


def _clientid(env: Env) -> Value:
    return env.message.client_id or "n/a"


def _principal(env: Env) -> Value:
    return env.message.principal if env.message.principal is not None else UNDEFINED


def _sourceip(env: Env) -> Value:
    return env.message.source_ip if env.message.source_ip is not None else UNDEFINED


def _traceid(env: Env) -> Value:
    return env.message.trace_id if env.message.trace_id is not None else UNDEFINED


def _get_dynamodb(env: Env, table: Value, *rest: Value) -> Value:
    """``get_dynamodb(table, hashName, hashValue[, rangeName, rangeValue], roleArn)`` on
    lorafox's own tables: the item read before evaluation (``Env.lookups``); the first time,
    the read is asked for (``Env.pending``) and the value is Undefined."""
    if len(rest) not in (3, 5):
        return UNDEFINED
    names_values = rest[:-1]  # the roleArn is ignored: a rule reads as its group
    key: list[tuple[str, Any]] = []
    for i in range(0, len(names_values), 2):
        name, value = names_values[i], names_values[i + 1]
        if not isinstance(name, str) or not (isinstance(value, str) or is_number(value)):
            return UNDEFINED
        key.append((name, value))
    if not isinstance(table, str):
        return UNDEFINED
    wanted = (table, tuple(key))
    if env.lookups is None:
        return UNDEFINED
    if wanted in env.lookups:
        return env.lookups[wanted]
    env.pending.append(wanted)
    return UNDEFINED


def _mqtt_property(env: Env, name: Value) -> Value:
    if not isinstance(name, str):
        return UNDEFINED
    return env.message.properties.get(name, UNDEFINED)


def _user_properties(env: Env, name: Value = UNDEFINED) -> Value:
    pairs = env.message.properties.get("user_properties", [])
    if name is UNDEFINED:
        return [{k: v} for k, v in pairs]
    return [v for k, v in pairs if k == name]


FUNCTIONS: dict[str, Function] = {
    # math
    "abs": Function(_abs, 1, 1),
    "acos": Function(_math(math.acos), 1, 1),
    "asin": Function(_math(math.asin), 1, 1),
    "atan": Function(_math(math.atan), 1, 1),
    "atan2": Function(_atan2, 2, 2),
    "ceil": Function(_rounding(math.ceil), 1, 1),
    "cos": Function(_math(math.cos), 1, 1),
    "cosh": Function(_math(math.cosh), 1, 1),
    "exp": Function(_math(math.exp), 1, 1),
    "floor": Function(_rounding(math.floor), 1, 1),
    "ln": Function(_ln, 1, 1),
    "log": Function(_log, 1, 1),
    "mod": Function(_java_remainder, 2, 2),
    "remainder": Function(_java_remainder, 2, 2),
    "nanvl": Function(_nanvl, 2, 2, takes_undefined=True),
    "power": Function(_power, 2, 2),
    "rand": Function(random.random, 0, 0),
    "round": Function(_rounding(_round_half_away), 1, 1),
    "sign": Function(_sign, 1, 1),
    "sin": Function(_math(math.sin), 1, 1),
    "sinh": Function(_math(math.sinh), 1, 1),
    "sqrt": Function(_sqrt, 1, 1),
    "tan": Function(_math(math.tan), 1, 1),
    "tanh": Function(_math(math.tanh), 1, 1),
    "trunc": Function(_trunc, 2, 2),
    # bits
    "bitand": Function(_bits(lambda a, b: a & b), 2, 2),
    "bitor": Function(_bits(lambda a, b: a | b), 2, 2),
    "bitxor": Function(_bits(lambda a, b: a ^ b), 2, 2),
    "bitnot": Function(_bitnot, 1, 1),
    # types
    "isnull": Function(_is_null, 1, 1, takes_undefined=True),
    "isundefined": Function(_is_undefined, 1, 1, needs_2016=True, takes_undefined=True),
    # strings
    "chr": Function(_chr, 1, 1),
    "concat": Function(_concat, 1, 100, takes_undefined=True),
    "endswith": Function(_two_strings(lambda a, b: a.endswith(b)), 2, 2),
    "indexof": Function(_two_strings(lambda a, b: a.find(b)), 2, 2, needs_2016=True),
    "length": Function(_length, 1, 1, needs_2016=True),
    "lower": Function(_string_fn(str.lower), 1, 1),
    "upper": Function(_string_fn(str.upper), 1, 1),
    "lpad": Function(_pad(left=True), 2, 2),
    "rpad": Function(_pad(left=False), 2, 2),
    "ltrim": Function(_string_fn(lambda s: s.lstrip()), 1, 1),
    "rtrim": Function(_string_fn(lambda s: s.rstrip()), 1, 1),
    "trim": Function(_string_fn(lambda s: s.strip()), 1, 1),
    "numbytes": Function(_numbytes, 1, 1, needs_2016=True),
    "regexp_matches": Function(_regexp_matches, 2, 2),
    "regexp_replace": Function(_regexp_replace, 3, 3),
    "regexp_substr": Function(_regexp_substr, 2, 2),
    "replace": Function(_replace, 3, 3),
    "startswith": Function(_two_strings(lambda a, b: a.startswith(b)), 2, 2),
    "substring": Function(_substring, 2, 3),
    # hashes (md2 is lorafox's own: OpenSSL no longer ships it)
    "md2": Function(_hash("md2"), 1, 1),
    "md5": Function(_hash("md5"), 1, 1),
    "sha1": Function(_hash("sha1"), 1, 1),
    "sha224": Function(_hash("sha224"), 1, 1),
    "sha256": Function(_hash("sha256"), 1, 1),
    "sha384": Function(_hash("sha384"), 1, 1),
    "sha512": Function(_hash("sha512"), 1, 1),
    # structure and encodings
    "encode": Function(_encode, 2, 2, needs_2016=True),
    "decode": Function(_decode, 2, 2, needs_2016=True),
    "get": Function(_get, 2, 2),
    "get_or_default": Function(_get_or_default, 2, 2, takes_undefined=True),
    "transform": Function(_transform, 3, 3, needs_2016=True),
    # time
    "parse_time": Function(_parse_time, 2, 3, needs_2016=True),
    "time_to_epoch": Function(_time_to_epoch, 2, 2, needs_2016=True),
    "timestamp": Function(lambda env: env.message.timestamp, 0, 0, context=True),
    # context
    "accountid": Function(lambda env: env.message.account, 0, 0, context=True),
    "clientid": Function(_clientid, 0, 0, context=True),
    "newuuid": Function(lambda env: str(uuid.uuid4()), 0, 0, context=True),
    "principal": Function(_principal, 0, 0, context=True),
    "sourceip": Function(_sourceip, 0, 0, context=True),
    "sql_version": Function(lambda env: env.version, 0, 0, context=True),
    "topic": Function(_topic, 0, 1, context=True),
    "traceid": Function(_traceid, 0, 0, context=True),
    "get_dynamodb": Function(_get_dynamodb, 4, 6, needs_2016=True, context=True),
    "get_mqtt_property": Function(_mqtt_property, 1, 1, context=True),
    "get_user_properties": Function(_user_properties, 0, 1, context=True, takes_undefined=True),
}
