"""The custom payload format: the Sigfox Back-End's own examples, lorafox's placement rules,
and the errors a bad format gets (the field, the character, the problem; nothing else)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from lorafox.decoding import (
    FieldKind,
    FieldLayout,
    PayloadFormatError,
    compile_decoder,
    parse_format,
)
from lorafox.domain import PayloadType
from lorafox.errors import InvalidInput

EXAMPLES: dict[str, Any] = json.loads(
    (Path(__file__).parent.parent / "data" / "sigfox_payload_examples.json").read_text()
)


def decode(config: str, data: str) -> dict[str, Any]:
    decoder = compile_decoder(PayloadType.CUSTOM_GRAMMAR, config)
    assert decoder is not None
    return decoder.decode(data)


@pytest.mark.parametrize("case", EXAMPLES["examples"], ids=lambda c: c["format"])
def test_every_official_example_decodes_to_its_published_result(case: dict[str, Any]) -> None:
    result = decode(case["format"], case["data"])
    assert result == case["result"]
    assert list(result) == list(case["result"])  # the format's order
    assert all(type(result[k]) is type(v) for k, v in case["result"].items())  # True, not 1


def test_the_device_type_example_fills_the_12_bytes_with_its_bools_on_the_last() -> None:
    layout = {f.name: (f.start, f.size) for f in parse_format(EXAMPLES["device_type_example"])}
    assert layout["Temp"] == (0, 4)
    assert (layout["AccX"], layout["AccY"], layout["AccZ"]) == ((4, 2), (6, 2), (8, 2))
    assert layout["Battery"] == (10, 1)
    assert {layout[f"Digital{n}"] for n in range(1, 9)} == {(11, 1)}
    # 23.5 °C, accelerations 1, 2, 513 (little-endian), battery 100, digital inputs 8 and 1 on
    data = "41bc00000100020001026481"
    assert decode(EXAMPLES["device_type_example"], data) == {
        "Temp": 23.5,
        "AccX": 1,
        "AccY": 2,
        "AccZ": 513,
        "Battery": 100,
        **{f"Digital{n}": n in (1, 8) for n in range(8, 0, -1)},
    }


@pytest.mark.parametrize(
    ("config", "data", "expected"),
    [
        ("t::float:32", "41b8cccd", {"t": 23.1}),
        ("t::float:32:little-endian", "cdccb841", {"t": 23.1}),
        ("t::float:32", "c2f70000", {"t": -123.5}),
        ("t::float:32", "00000000", {"t": 0.0}),
        ("u::uint:24", "abcdef", {"u": 0xABCDEF}),
        ("u::uint:24:little-endian", "abcdef", {"u": 0xEFCDAB}),
        ("u::uint:24:big-endian", "abcdef", {"u": 0xABCDEF}),
        ("u::uint:32:little-endian", "78563412", {"u": 0x12345678}),
        ("u::uint:32", "ffffffff", {"u": 4294967295}),
        ("u::uint:16:big-endian", "0102", {"u": 258}),
        ("head::uint:8 name:4:char:3", "ff000000414243", {"head": 255, "name": "ABC"}),
        (
            "a::bool:0 b::bool:1 c::bool:7 d::bool:6",
            "81",
            {"a": True, "b": False, "c": True, "d": False},
        ),
        # an omitted index after a bool is the bool's byte ("the last byte used")
        ("f::bool:7 n::uint:8", "81", {"f": True, "n": 0x81}),
        # a bool after another field: the byte that follows it
        ("n::uint:16 f::bool:0 g::bool:1", "000002", {"n": 0, "f": False, "g": True}),
        # an explicit index moves the cursor: the next omitted one follows from there
        ("x:3:uint:8 y::uint:8 z:0:uint:8", "01020304ff", {"x": 4, "y": 255, "z": 1}),
        ("b:5:bool:0 c::bool:1 n::uint:8", "0000000000ff", {"b": True, "c": True, "n": 255}),
        ("full::char:12", "48656c6c6f20776f726c6421", {"full": "Hello world!"}),
        ("last:11:uint:8", "000000000000000000000007", {"last": 7}),
        # several spaces, tabs and newlines separate fields as well as one space
        ("  a::uint:8 \t\n b::uint:8  ", "0102", {"a": 1, "b": 2}),
        ("my-field_2::uint:8", "2A", {"my-field_2": 42}),
        # longer payloads than the format needs: the rest is not read
        ("a::uint:8", "0102030405", {"a": 1}),
    ],
)
def test_lorafox_examples(config: str, data: str, expected: dict[str, Any]) -> None:
    assert decode(config, data) == expected


@pytest.mark.parametrize(
    ("config", "position", "name", "problem"),
    [
        ("temp::uint:12", 12, "temp", 'unknown type "uint:12" (expected 8, 16, 24 or 32)'),
        (
            "a::uint:8 temp::uint:12",
            22,
            "temp",
            'unknown type "uint:12" (expected 8, 16, 24 or 32)',
        ),
        ("t::uint", 4, "t", '"uint" needs its size (8, 16, 24 or 32), e.g. uint:16'),
        (
            "t::uint:8:middle-endian",
            11,
            "t",
            'unknown byte order "middle-endian" (expected little-endian or big-endian)',
        ),
        ("t::uint:8:little-endian:x", 25, "t", 'unexpected ":x" after "uint:8:little-endian"'),
        ("t::float:64", 10, "t", 'unknown type "float:64" (expected float:32)'),
        ("t::float", 4, "t", '"float" needs its size, float:32'),
        ("t::int:8", 4, "t", 'unknown type "int" (expected bool, char, float or uint)'),
        ("t::", 4, "t", "the type is missing (expected bool, char, float or uint)"),
        ("b::bool:8", 9, "b", 'unknown type "bool:8" (expected a bit from 0 to 7)'),
        ("b::bool:10", 9, "b", 'unknown type "bool:10" (expected a bit from 0 to 7)'),
        ("b::bool", 4, "b", '"bool" needs its bit (0 to 7), e.g. bool:7'),
        ("b::bool:1:big-endian", 11, "b", 'unexpected ":big-endian" after "bool:1"'),
        ("c::char:0", 9, "c", 'unknown type "char:0" (expected a length from 1 to 12 bytes)'),
        ("c::char:13", 9, "c", 'unknown type "char:13" (expected a length from 1 to 12 bytes)'),
        ("c::char:x", 9, "c", 'unknown type "char:x" (expected a length from 1 to 12 bytes)'),
        ("c::char:2:little-endian", 11, "c", 'unexpected ":little-endian" after "char:2"'),
        ("x:12:uint:8", 3, "x", "byte index 12 is past the last byte (11) of a 12-byte payload"),
        (
            "x:99999999:uint:8",
            3,
            "x",
            "byte index 99999999 is past the last byte (11) of a 12-byte payload",
        ),
        ("x:1a:uint:8", 3, "x", 'byte index "1a" is not a number'),
        ("x:-1:uint:8", 3, "x", 'byte index "-1" is not a number'),
        ("x:10:uint:32", 3, "x", "uint:32 needs bytes 10 to 13, past the 12-byte maximum"),
        ("s::char:12 n::uint:8", 15, "n", "uint:8 needs byte 12, past the 12-byte maximum"),
        ("s::char:12 b::bool:0", 15, "b", "bool:0 needs byte 12, past the 12-byte maximum"),
        ("a::uint:8 a::uint:16", 11, "a", "the name is already used by the field at character 1"),
        ("a::uint:8 ::uint:8", 11, None, "the field has no name"),
        ("a::uint:8 t.x::uint:8", 12, None, '"." in the name (letters, digits, "-" and "_" only)'),
        ("température::uint:8", 5, None, '"é" in the name (letters, digits, "-" and "_" only)'),
        ("temp", 1, "temp", '"temp" is not name:byte_index:type (e.g. "temp::uint:8")'),
        (
            "a::uint:8 temp:uint:8",
            16,
            "temp",
            'byte index "uint" is not a number (is a ":" missing? e.g. "temp::uint:…")',
        ),
    ],
)
def test_a_bad_format_names_the_field_and_the_character(
    config: str, position: int, name: str | None, problem: str
) -> None:
    with pytest.raises(PayloadFormatError) as caught:
        compile_decoder(PayloadType.CUSTOM_GRAMMAR, config)
    error = caught.value
    label = f'"{name}"' if name else str(len(config[:position].split()))
    assert error.message == f"payloadConfig: field {label} at character {position}: {problem}"
    assert (error.position, error.field_name, error.field) == (position, name, "payloadConfig")
    assert isinstance(error, InvalidInput)  # a 400 naming payloadConfig


def test_an_unnamed_field_is_named_by_its_rank() -> None:
    with pytest.raises(PayloadFormatError, match=r"^payloadConfig: field 3 at character 21: "):
        compile_decoder(PayloadType.CUSTOM_GRAMMAR, "a::uint:8 b::uint:8 :1:uint:8")


@pytest.mark.parametrize("config", ["", "   ", None])
def test_an_empty_format_is_refused_for_the_custom_grammar(config: str | None) -> None:
    with pytest.raises(PayloadFormatError, match="the format is empty") as caught:
        compile_decoder(PayloadType.CUSTOM_GRAMMAR, config)
    assert caught.value.position == 1


def test_long_user_text_is_cut_in_messages() -> None:
    with pytest.raises(PayloadFormatError) as caught:
        compile_decoder(PayloadType.CUSTOM_GRAMMAR, "a::" + "x" * 500)
    assert len(caught.value.message) < 150 and '…"' in caught.value.message


def test_the_layout_of_each_field() -> None:
    [flag, number, text, real] = parse_format(
        "flag::bool:3 number:2:uint:24:little-endian text::char:2 real::float:32"
    )
    assert (flag.kind, flag.start, flag.size, flag.bit, flag.column) == (FieldKind.BOOL, 0, 1, 3, 1)
    assert (number.kind, number.start, number.end, number.little_endian) == (
        FieldKind.UINT,
        2,
        5,
        True,
    )
    assert (text.kind, text.start, text.size) == (FieldKind.CHAR, 5, 2)
    assert (real.kind, real.start, real.size, real.little_endian) == (FieldKind.FLOAT, 7, 4, False)


_PIECES = [
    *(":", "::", " ", "\t", "a", "b", "-", "_", "{", "\x00", "é", "\u0661", "²", "9" * 5000),
    *("uint", "bool", "char", "float", "little-endian", "big-endian"),
    *("0", "7", "8", "11", "12", "16", "24", "32", "99"),
]


@given(st.one_of(st.text(), st.lists(st.sampled_from(_PIECES), max_size=30).map("".join)))
@example("x:" + "9" * 5000 + ":uint:8")
@example("x:\u0661:uint:8")
@example("x::char:" + "²")
def test_the_parser_raises_nothing_but_a_format_error(text: str) -> None:
    outcome = _parse(text)
    if isinstance(outcome, PayloadFormatError):
        assert outcome.message.startswith("payloadConfig: ")
        assert outcome.field == "payloadConfig"
        assert outcome.position is not None and 1 <= outcome.position <= len(text) + 1
    else:
        assert all(0 <= f.start < f.end <= 12 for f in outcome)
        assert len({f.name for f in outcome}) == len(outcome)


def _parse(text: str) -> tuple[FieldLayout, ...] | PayloadFormatError:
    try:
        return parse_format(text)
    except PayloadFormatError as exc:  # any other exception fails the test
        return exc
