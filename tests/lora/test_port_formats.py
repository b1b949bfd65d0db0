"""A LoRa device type's custom format per fPort: ``port 1: <format>; port 2: <format>``."""

from __future__ import annotations

import pytest

from lorafox.decoding import decode_payload
from lorafox.decoding.decoders import PortDecoder, compile_decoder
from lorafox.domain import PayloadType
from lorafox.errors import PayloadFormatError

FORMATS = "port 1: temp::uint:16 ok::bool:0; port 2: text::char:3"


def test_each_port_reads_with_its_format() -> None:
    decoder = compile_decoder(PayloadType.CUSTOM_GRAMMAR, FORMATS)
    assert isinstance(decoder, PortDecoder)
    assert decode_payload(decoder, "00ff01", 1) == ({"temp": 255, "ok": True}, None)
    assert decode_payload(decoder, "414243", 2) == ({"text": "ABC"}, None)
    assert decode_payload(decoder, "00", 3) == (None, "no format for fPort 3")
    fields, error = decode_payload(decoder, "00ff", None)  # a Sigfox message: no port
    assert fields is None and error is not None


@pytest.mark.parametrize(
    "text",
    [
        "port 1: temp::uint:16; port 1: x::uint:8",
        "port 0: a::uint:8",
        "port 1: ;",
        "port 1: a::uint:8; b::uint:8",
    ],
)
def test_bad_formats_are_refused(text: str) -> None:
    with pytest.raises(PayloadFormatError):
        compile_decoder(PayloadType.CUSTOM_GRAMMAR, text)


def test_a_format_without_ports_is_the_sigfox_one() -> None:
    decoder = compile_decoder(PayloadType.CUSTOM_GRAMMAR, "temp::uint:16")
    assert decode_payload(decoder, "00ff", 7) == ({"temp": 255}, None)
