"""Decoders as the ingest path uses them: what each payload type gives, payloads that do not fit,
and random formats round-tripping through an encoder written here from the rules alone."""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lorafox.decoding import (
    STRING_FIELD,
    PayloadDecodeError,
    StringDecoder,
    compile_decoder,
    decode_payload,
    parse_format,
)
from lorafox.domain import PayloadType
from lorafox.errors import InvalidInput, LorafoxError


def custom(config: str) -> Any:
    decoder = compile_decoder(PayloadType.CUSTOM_GRAMMAR, config)
    assert decoder is not None
    return decoder


def test_a_regular_payload_has_nothing_to_decode() -> None:
    assert compile_decoder(PayloadType.REGULAR, None) is None
    assert compile_decoder(PayloadType.REGULAR, "a::uint:8") is None  # ignored, as by Sigfox
    assert decode_payload(None, "0102") == (None, None)


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ("48656c6c6f", "Hello"),
        ("", ""),
        ("414243000000", "ABC"),  # trailing NULs are padding
        ("410042", "A\ufffdB"),  # a NUL inside is not
        ("41ff42", "A\ufffdB"),  # nor is a byte above 0x7f
        ("0a09", "\n\t"),
    ],
)
def test_a_string_payload_reads_as_ascii(data: str, text: str) -> None:
    decoder = compile_decoder(PayloadType.STRING, "ignored")
    assert isinstance(decoder, StringDecoder)
    assert decoder.decode(data) == {STRING_FIELD: text} == {"text": text}


def test_char_fields_read_text_the_same_way() -> None:
    assert custom("a::char:4 b::char:4").decode("4142000043440044") == {
        "a": "AB",
        "b": "CD\ufffdD",
    }


@pytest.mark.parametrize(
    ("data", "value"),
    [
        ("7fc00000", None),  # NaN
        ("7f800000", None),  # +inf
        ("ff800000", None),  # -inf
        ("80000000", -0.0),
        ("00000001", 1.4013e-45),  # the smallest subnormal
        ("7f7fffff", 3.4028235e38),  # the largest float32
        ("3dcccccd", 0.1),
        ("41b8cccd", 23.1),
        ("c479c000", -999.0),
    ],
)
def test_a_float_reads_as_its_shortest_decimal_and_nan_or_infinity_as_none(
    data: str, value: float | None
) -> None:
    got = custom("f::float:32").decode(data)["f"]
    assert got == value
    if value is not None:
        assert math.copysign(1, got) == math.copysign(1, value)
        assert struct.pack(">f", got).hex() == data  # the same 32 bits


@pytest.mark.parametrize(
    ("config", "data", "message", "field_name"),
    [
        (
            "i1::uint:16 i2::uint:32",
            "0102",
            'payload has 2 bytes; field "i2" needs bytes 2 to 5',
            "i2",
        ),
        ("i1::uint:16 i2::uint:32", "", 'payload has 0 bytes; field "i1" needs bytes 0 to 1', "i1"),
        ("a::uint:8 b:3:bool:1", "01", 'payload has 1 byte; field "b" needs byte 3', "b"),
        ("s::char:12", "4142", 'payload has 2 bytes; field "s" needs bytes 0 to 11', "s"),
        ("a:11:uint:8 b:0:uint:8", "00", 'payload has 1 byte; field "a" needs byte 11', "a"),
    ],
)
def test_a_payload_too_short_for_its_format_is_a_decode_error(
    config: str, data: str, message: str, field_name: str
) -> None:
    decoder = custom(config)
    with pytest.raises(PayloadDecodeError) as caught:
        decoder.decode(data)
    assert (caught.value.message, caught.value.field_name) == (message, field_name)
    assert isinstance(caught.value, LorafoxError) and not isinstance(caught.value, InvalidInput)
    assert decode_payload(decoder, data) == (None, message)


@pytest.mark.parametrize("data", ["0g", "123", "zz"])
def test_a_payload_that_is_not_hex_is_a_decode_error(data: str) -> None:
    for decoder in (custom("a::uint:8"), compile_decoder(PayloadType.STRING, None)):
        assert decoder is not None
        with pytest.raises(PayloadDecodeError, match=r"^payload: not hexadecimal$"):
            decoder.decode(data)


def test_decode_payload_gives_the_fields_when_they_fit() -> None:
    assert decode_payload(custom("a::uint:8"), "2A00") == ({"a": 42}, None)


def test_hex_of_any_case_decodes() -> None:
    assert custom("a::uint:16").decode("aBcD") == {"a": 0xABCD}


def test_a_payload_type_may_be_given_as_its_code() -> None:
    decoder = compile_decoder(3, "a::uint:8")  # type: ignore[arg-type]  # as read from a row
    assert decoder is not None and decoder.decode("07") == {"a": 7}
    assert compile_decoder(2, None) is None  # type: ignore[arg-type]
    with pytest.raises(InvalidInput) as caught:
        compile_decoder(4, "a::uint:8")  # type: ignore[arg-type]
    assert caught.value.field == "payloadType"


def test_a_format_is_compiled_once_per_text() -> None:
    text = "x::uint:8 y::uint:8"
    assert custom(text) is custom(text)


# -- random formats, encoded here from the rules, decoded by lorafox ---------------------------


@dataclass
class Field:
    name: str
    kind: str  # "bool", "char", "float", "uint"
    size: int  # bytes
    bit: int  # bool
    little: bool
    explicit: bool  # the byte index is written
    start: int = 0

    def text(self) -> str:
        index = str(self.start) if self.explicit else ""
        order = ":little-endian" if self.little else ""
        match self.kind:
            case "bool":
                kind = f"bool:{self.bit}"
            case "char":
                kind = f"char:{self.size}"
            case "float":
                kind = "float:32" + order
            case _:
                kind = f"uint:{self.size * 8}" + order
        return f"{self.name}:{index}:{kind}"


@st.composite
def layouts(draw: st.DrawFn) -> list[Field]:
    """Fields that do not overlap (bools share bytes, on different bits), placed by the rules:
    an omitted index is 0 first, the bool's byte after a bool, the next byte after another."""
    names = draw(
        st.lists(
            st.from_regex(r"[A-Za-z0-9_-]{1,8}", fullmatch=True),
            min_size=1,
            max_size=12,
            unique=True,
        )
    )
    taken: dict[int, set[int] | None] = {}  # byte -> bits of bools on it, None for other fields
    fields: list[Field] = []
    cursor = 0
    for name in names:
        kind = draw(st.sampled_from(["bool", "char", "float", "uint"]))
        size = {"bool": 1, "float": 4}.get(kind) or draw(
            st.integers(1, 12) if kind == "char" else st.sampled_from([1, 2, 3, 4])
        )
        field = Field(name, kind, size, draw(st.integers(0, 7)), draw(st.booleans()), False)
        if kind in ("bool", "char"):
            field.little = False

        def fits(start: int, f: Field = field) -> bool:
            if f.kind == "bool":
                bits = taken.get(start, set())
                return start < 12 and bits is not None and f.bit not in bits
            return start + f.size <= 12 and all(
                b not in taken for b in range(start, start + f.size)
            )

        if not (draw(st.booleans()) and fits(cursor)):
            free = [start for start in range(12) if fits(start)]
            if not free:
                continue
            field.explicit, cursor = True, draw(st.sampled_from(free))
        field.start = cursor
        if kind == "bool":
            bits = taken.setdefault(cursor, set())
            assert bits is not None
            bits.add(field.bit)
        else:
            taken.update(dict.fromkeys(range(cursor, cursor + size)))
            cursor += size
        fields.append(field)
    return fields


def encode(fields: list[Field], values: dict[str, Any], filler: bytes) -> bytes:
    """The payload carrying ``values``; bytes no field uses keep the filler."""
    data = bytearray(filler[: max(f.start + f.size for f in fields)])
    for f in fields:
        value, at = values[f.name], f.start
        if f.kind == "bool":
            data[at] = data[at] | 1 << f.bit if value else data[at] & ~(1 << f.bit)
        elif f.kind == "char":
            data[at : at + f.size] = value.encode("ascii")
        elif f.kind == "float":
            data[at : at + 4] = struct.pack("<f" if f.little else ">f", value)
        else:
            data[at : at + f.size] = value.to_bytes(f.size, "little" if f.little else "big")
    return bytes(data)


def value_of(f: Field) -> st.SearchStrategy[Any]:
    match f.kind:
        case "bool":
            return st.booleans()
        case "char":
            return st.text(
                st.characters(min_codepoint=1, max_codepoint=0x7F), min_size=f.size, max_size=f.size
            )
        case "float":
            return st.floats(width=32, allow_nan=False, allow_infinity=False)
        case _:
            return st.integers(0, 2 ** (8 * f.size) - 1)


@given(st.data())
def test_random_formats_round_trip(data: st.DataObject) -> None:
    fields = data.draw(layouts())
    if not fields:
        return
    values = {f.name: data.draw(value_of(f), label=f.name) for f in fields}
    payload = encode(fields, values, data.draw(st.binary(min_size=12, max_size=12)))
    separators = data.draw(
        st.lists(
            st.sampled_from([" ", "  ", "\t", "\n"]), min_size=len(fields), max_size=len(fields)
        )
    )
    config = "".join(sep + f.text() for sep, f in zip(separators, fields, strict=True))

    layout = parse_format(config)
    assert [(f.name, f.start, f.size) for f in layout] == [
        (f.name, f.start, f.size) for f in fields
    ]
    hex_payload = payload.hex().upper() if data.draw(st.booleans()) else payload.hex()
    decoded = custom(config).decode(hex_payload)

    assert list(decoded) == [f.name for f in fields]
    for f in fields:
        if f.kind == "float":
            fmt = "<f" if f.little else ">f"
            assert struct.pack(fmt, decoded[f.name]) == struct.pack(fmt, values[f.name])
        else:
            assert decoded[f.name] == values[f.name], f
            assert type(decoded[f.name]) is type(values[f.name])
