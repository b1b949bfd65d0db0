"""A format tried on stored messages: each message's fields, its payload's misfit, or the
format's own error exactly as saving it would refuse it."""

from __future__ import annotations

from lorafox.decoding.preview import preview
from lorafox.domain import StoredUplink, Uplink


def _stored(data: str, **extra: object) -> StoredUplink:
    return StoredUplink(1, 1000, Uplink("1A2B", 1000, 1, data, extra=dict(extra)))


def test_each_message_is_decoded_with_the_format() -> None:
    messages = [_stored("1742"), _stored("17")]
    first = preview(3, "temp::uint:16", messages)
    assert first.format_error is None
    assert [(m.fields, m.error) for m in first.messages] == [
        ({"temp": 5954}, None),
        (None, first.messages[1].error),
    ]
    assert first.messages[1].error and "temp" in first.messages[1].error
    second = preview(3, "  temp::uint:8 hum::uint:8 ", messages)
    assert second.messages[0].fields == {"temp": 23, "hum": 66}
    assert second.messages[0].message is messages[0]


def test_a_bad_format_is_its_error_on_payload_config() -> None:
    found = preview(3, "temp::uint:17", [_stored("1742")])
    assert found.field == "payloadConfig" and found.messages == ()
    assert found.format_error is not None and "uint" in found.format_error
    assert preview(3, "", []).format_error is not None  # the custom grammar needs one
    assert preview(9, None, []).field == "payloadType"


def test_other_types_and_lora_ports() -> None:
    assert preview(2, "ignored", [_stored("41")]).messages[0].fields is None
    assert preview(5, None, [_stored("414243")]).messages[0].fields == {"text": "ABC"}
    lora = preview(3, "port 1: a::uint:8; port 2: b::uint:16", [_stored("0102", fPort=2)])
    assert lora.messages[0].fields == {"b": 258}
