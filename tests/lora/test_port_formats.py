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


def test_a_port_format_reads_past_sigfox_twelve_bytes() -> None:
    decoder = compile_decoder(
        PayloadType.CUSTOM_GRAMMAR,
        "port 5: head::uint:8 serial:200:char:40 tail:254:uint:8:little-endian",
    )
    payload = bytes([7]) + bytes(199) + b"S" * 40 + bytes(14) + bytes([9])
    assert len(payload) == 255
    assert decode_payload(decoder, payload.hex(), 5) == (
        {"head": 7, "serial": "S" * 40, "tail": 9},
        None,
    )
    fields, error = decode_payload(decoder, payload[:100].hex(), 5)
    assert fields is None
    assert error == 'payload has 100 bytes; field "serial" needs bytes 200 to 239'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "port 1: x:255:uint:8",
            "byte index 255 is past the last byte (254) of a 255-byte payload",
        ),
        ("port 1: x:250:uint:64", "8, 16, 24 or 32"),
        ("port 1: x:253:uint:32", "bytes 253 to 256, past the 255-byte maximum"),
        ("port 1: x::char:256", "a length from 1 to 255 bytes"),
    ],
)
def test_a_port_format_is_bounded_by_a_lora_payload(text: str, message: str) -> None:
    with pytest.raises(PayloadFormatError) as caught:
        compile_decoder(PayloadType.CUSTOM_GRAMMAR, text)
    assert message in caught.value.message


@pytest.mark.parametrize("text", ["x:12:uint:8", "x::char:13", "x:11:uint:16"])
def test_a_sigfox_format_stays_within_twelve_bytes(text: str) -> None:
    with pytest.raises(PayloadFormatError) as caught:
        compile_decoder(PayloadType.CUSTOM_GRAMMAR, text)
    assert "12" in caught.value.message
