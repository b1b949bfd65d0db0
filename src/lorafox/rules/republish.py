"""The republish action's MQTT 5 ``headers``, in AWS's shape.

``headers`` is an object of ``payloadFormatIndicator`` (``UNSPECIFIED_BYTES`` or
``UTF8_DATA``), ``contentType``, ``responseTopic``, ``correlationData`` (base64),
``messageExpiry`` (seconds) and ``userProperties`` (``[{"key", "value"}]``), every value a
substitution template. ``compile_headers`` checks them when the rule is made (a constant value
that could never be sent is refused then, ``RuleInvalid``); ``RepublishHeaders.render`` gives
the values for one message in AWS's names (what the dry run shows; ``ActionFailed`` for a value
that rendered wrong) and ``publish_properties`` turns them into the bus's ``PublishProperties``.
A header that renders empty is left out.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from lorafox.ports.bus import PublishProperties
from lorafox.rules.errors import ActionFailed, RuleInvalid
from lorafox.rules.sql import Env
from lorafox.rules.templates import Template, compile_template

__all__ = ["RepublishHeaders", "compile_headers", "publish_properties"]

MAX_TEMPLATE = 1024
"""The longest header value (its template) AWS takes."""
MAX_USER_PROPERTIES = 100
MAX_EXPIRY = 0xFFFF_FFFF
"""MQTT 5's message expiry interval is a four-byte integer of seconds."""
_FORMATS = {"UNSPECIFIED_BYTES": 0, "UTF8_DATA": 1}
_STRING_BYTES = 0xFFFF


def _text(name: str, value: str) -> str:
    if "\x00" in value or len(value.encode("utf-8", "surrogatepass")) > _STRING_BYTES:
        raise ActionFailed(f"republish.headers.{name} is not a valid MQTT string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ActionFailed(f"republish.headers.{name} is not valid UTF-8") from None
    return value


def _format(value: str) -> str:
    if value not in _FORMATS:
        raise ActionFailed(
            f"republish.headers.payloadFormatIndicator {value!r} is neither "
            "UNSPECIFIED_BYTES nor UTF8_DATA"
        )
    return value


def _topic(value: str) -> str:
    if "+" in value or "#" in value:
        raise ActionFailed(f"republish.headers.responseTopic {value!r} has a wildcard")
    return _text("responseTopic", value)


def _correlation(value: str) -> str:
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ActionFailed("republish.headers.correlationData must be base64") from None
    return value


def _expiry(value: str) -> int:
    try:
        seconds = int(value.strip())
    except ValueError:
        raise ActionFailed(
            f"republish.headers.messageExpiry {value!r} is not a whole number of seconds"
        ) from None
    if not 0 <= seconds <= MAX_EXPIRY:
        raise ActionFailed(f"republish.headers.messageExpiry must be 0 to {MAX_EXPIRY} seconds")
    return seconds


_CHECKS: dict[str, Callable[[str], Any]] = {
    "payloadFormatIndicator": _format,
    "contentType": lambda value: _text("contentType", value),
    "responseTopic": _topic,
    "correlationData": _correlation,
    "messageExpiry": _expiry,
}


@dataclass(slots=True, frozen=True)
class RepublishHeaders:
    """The compiled ``headers`` of one republish action."""

    templates: dict[str, Template]
    user_properties: tuple[tuple[Template, Template], ...]

    def render(self, env: Env) -> dict[str, Any]:
        """The headers for one message, in AWS's names (``ActionFailed`` for a bad value)."""
        out: dict[str, Any] = {}
        for name, template in self.templates.items():
            text = template.render(env)
            if text:
                out[name] = _CHECKS[name](text)
        pairs = []
        for key, value in self.user_properties:
            pair = {
                "key": _text("userProperties", key.render(env)),
                "value": _text("userProperties", value.render(env)),
            }
            if pair["key"]:
                pairs.append(pair)
        if pairs:
            out["userProperties"] = pairs
        return out


def _check_constant(name: str, template: Template) -> None:
    if not template.constant:
        return
    text = template.render(cast(Env, None))  # a constant reads nothing from the message
    if text:
        try:
            _CHECKS[name](text)
        except ActionFailed as exc:
            raise RuleInvalid(exc.message, field=f"republish.headers.{name}") from None


def _template(value: Any, name: str, version: str | None, variables: frozenset[str]) -> Template:
    where = f"republish.headers.{name}"
    if not isinstance(value, str):
        raise RuleInvalid(f"{where} must be a string", field=where)
    if len(value) > MAX_TEMPLATE:
        raise RuleInvalid(f"{where} is longer than {MAX_TEMPLATE} characters", field=where)
    return compile_template(value, version, where, variables)


def compile_headers(
    params: Mapping[str, Any], version: str | None, variables: frozenset[str]
) -> RepublishHeaders | None:
    """The republish action's ``headers`` checked and compiled (None when it has none)."""
    headers = params.get("headers")
    if headers is None:
        return None
    if not isinstance(headers, Mapping):
        raise RuleInvalid("republish.headers must be an object", field="republish.headers")
    unknown = sorted(set(headers) - set(_CHECKS) - {"userProperties"})
    if unknown:
        raise RuleInvalid(
            f"republish.headers has unknown fields: {', '.join(map(str, unknown))}",
            field="republish.headers",
        )
    templates = {}
    for name in _CHECKS:
        if headers.get(name) is not None:
            templates[name] = _template(headers[name], name, version, variables)
            _check_constant(name, templates[name])
    pairs = headers.get("userProperties") or []
    where = "republish.headers.userProperties"
    if not isinstance(pairs, list) or len(pairs) > MAX_USER_PROPERTIES:
        raise RuleInvalid(
            f"{where} must be a list of at most {MAX_USER_PROPERTIES} {{key, value}}", field=where
        )
    user_properties = []
    for pair in pairs:
        if not isinstance(pair, Mapping) or set(pair) - {"key", "value"}:
            raise RuleInvalid(f"each of {where} is {{key, value}}", field=where)
        user_properties.append(
            (
                _template(pair.get("key"), "userProperties", version, variables),
                _template(pair.get("value"), "userProperties", version, variables),
            )
        )
    return RepublishHeaders(templates, tuple(user_properties))


def publish_properties(headers: Mapping[str, Any]) -> PublishProperties:
    """The bus's properties for headers ``RepublishHeaders.render`` gave."""
    fmt = headers.get("payloadFormatIndicator")
    correlation = headers.get("correlationData")
    return PublishProperties(
        payload_format_indicator=None if fmt is None else _FORMATS[fmt],
        content_type=headers.get("contentType"),
        response_topic=headers.get("responseTopic"),
        correlation_data=None if correlation is None else base64.b64decode(correlation),
        message_expiry_interval=headers.get("messageExpiry"),
        user_properties=tuple((p["key"], p["value"]) for p in headers.get("userProperties", ())),
    )
