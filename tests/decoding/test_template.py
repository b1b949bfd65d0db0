"""The DIRECT downlink template: what it renders, what it refuses, and that rendering always
gives the 16 hex digits of a downlink."""

from __future__ import annotations

import math
import re
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lorafox.decoding import DOWNLINK_VARIABLES, DownlinkTemplate, compile_downlink_template
from lorafox.errors import InvalidInput

T = 1_700_000_000  # 0x6553f100
_HEX = re.compile(r"[0-9A-Fa-f]+")
_EXACTLY = "a downlink is exactly 8 (hex bytes and {time}, {tapId} or {rssi})"
_NEITHER = "is neither a hex digit nor a variable ({time}, {tapId} or {rssi})"
_PIECES = ["{time}", "{tapId}", "{rssi}", "{", "}", "0", "00", "ff", "FF", " ", "\t", "x", "é"]


@pytest.mark.parametrize(
    ("template", "tap_id", "rssi", "expected"),
    [
        ("{time}{tapId}00ff", "1A2B", -110.4, "6553f1001a2b00ff"),
        ("{time}{rssi}{tapId}", "1a2b", -110.4, "6553f100ff921a2b"),
        ("{time} {rssi} {tapId}", "1a2b", -110.5, "6553f100ff921a2b"),  # halves round up
        ("{time}\t{rssi}\t{tapId}", "1a2b", -110.51, "6553f100ff911a2b"),
        ("{rssi}{rssi}{rssi}{rssi}", None, 12.0, "000c000c000c000c"),
        ("DEADBEEFCAFEBABE", None, None, "deadbeefcafebabe"),  # no variable: a constant
        ("dead beef cafe babe", None, None, "deadbeefcafebabe"),
        ("{tapId}{tapId}{tapId}{tapId}", 0x1A2B, None, "1a2b1a2b1a2b1a2b"),  # an int station
        ("{tapId}000000000000", "0A1B2C", None, "1b2c000000000000"),  # its low 16 bits
        ("{tapId}000000000000", "not hex", None, "0000000000000000"),
        ("{tapId}{rssi}00000000", None, None, "0000000000000000"),  # no network metadata
        ("{rssi}000000000000", None, float("nan"), "0000000000000000"),
        ("{rssi}000000000000", None, -1e9, "8000000000000000"),  # clamped
        ("{rssi}000000000000", None, float("inf"), "7fff000000000000"),
        ("  {time}{tapId}00ff  ", "1A2B", None, "6553f1001a2b00ff"),
    ],
)
def test_render(template: str, tap_id: str | int | None, rssi: float | None, expected: str) -> None:
    assert compile_downlink_template(template).render(T, tap_id, rssi) == expected


def test_time_is_cut_to_32_bits() -> None:
    template = compile_downlink_template("{time}00000000")
    assert template.render(2**32 + 5, None, None) == "0000000500000000"
    assert template.render(-1, None, None) == "ffffffff00000000"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (
            "{time}0102",
            "at character 11: the template ends after 6 bytes; " + _EXACTLY,
        ),
        (
            "",
            "at character 1: the template ends after 0 bytes; " + _EXACTLY,
        ),
        (
            "{time}{oops}0102",
            'at character 7: unknown variable "{oops}" (expected {time}, {tapId} or {rssi})',
        ),
        (
            "{time}{tapid}0102",
            'at character 7: unknown variable "{tapid}" (expected {time}, {tapId} or {rssi})',
        ),
        (
            "{time}{}000000",
            'at character 7: unknown variable "{}" (expected {time}, {tapId} or {rssi})',
        ),
        ("{time {tapId}0000", 'at character 1: "{" is not closed by "}"'),
        ("{time}{tapId}{", 'at character 14: "{" is not closed by "}"'),
        ("{time}{tapId}0", 'at character 14: "0" is an odd number of hex digits (2 a byte)'),
        ("{time}0 0{tapId}", 'at character 7: "0" is an odd number of hex digits (2 a byte)'),
        ("{time}{tapId}00ff00", "at character 18: byte 9 is past the 8 bytes of a downlink"),
        ("0011223344556677 88", "at character 18: byte 9 is past the 8 bytes of a downlink"),
        ("{time}{time}{rssi}", "at character 13: {rssi} makes 10 bytes; a downlink is exactly 8"),
        (
            "11x1223344556677",
            'at character 3: "x" ' + _NEITHER,
        ),
        (
            "{time}{tapId}00,f",
            'at character 16: "," ' + _NEITHER,
        ),
        (
            "{time}\n{tapId}0000",
            'at character 7: "\\n" ' + _NEITHER,
        ),
        (
            "{time}{tapId}\u0660\u0660",
            'at character 14: "\u0660" ' + _NEITHER,
        ),
    ],
)
def test_a_bad_template_names_the_character(template: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        compile_downlink_template(template)
    assert caught.value.message == f"downlinkDataString: {message}"
    assert caught.value.field == "downlinkDataString"


def test_the_field_named_can_be_chosen() -> None:
    with pytest.raises(InvalidInput, match=r"^data: at character 1: ") as caught:
        compile_downlink_template("zz", field="data")
    assert caught.value.field == "data"


@st.composite
def templates(draw: st.DrawFn) -> tuple[str, list[str | bytes]]:
    """A valid template (and its parts): variables and hex runs making 8 bytes, spaced."""
    parts: list[str | bytes] = []
    size = 0
    while size < 8:
        room: list[str] = [v for v, width in DOWNLINK_VARIABLES.items() if size + width <= 8]
        variable: bool = draw(st.booleans())
        if room and variable:
            name: str = draw(st.sampled_from(room))
            parts.append(name)
            size += DOWNLINK_VARIABLES[name]
        else:
            literal: bytes = draw(st.binary(min_size=1, max_size=8 - size))
            parts.append(literal)
            size += len(literal)
    text = ""
    for part in parts:
        piece = part if isinstance(part, str) else part.hex()
        piece = piece.upper() if isinstance(part, bytes) and draw(st.booleans()) else piece
        text += draw(st.sampled_from(["", " ", "\t", "  "])) + piece
    return text, parts


@given(
    templates(),
    st.integers(),
    st.one_of(
        st.none(), st.integers(), st.text(), st.from_regex(r"[0-9A-Fa-f]{1,8}", fullmatch=True)
    ),
    st.one_of(st.none(), st.floats()),
)
def test_rendering_always_gives_16_hex_digits(
    template: tuple[str, list[str | bytes]],
    time_s: int,
    tap_id: str | int | None,
    rssi: float | None,
) -> None:
    text, parts = template
    rendered = compile_downlink_template(text).render(time_s, tap_id, rssi)
    assert len(rendered) == 16 and rendered == rendered.lower()
    data, at = bytes.fromhex(rendered), 0
    for part in parts:  # each part where it belongs
        if part == "{time}":
            assert int.from_bytes(data[at : at + 4], "big") == time_s % 2**32
        elif part == "{tapId}" and tap_id is not None and _HEX.fullmatch(str(tap_id)):
            station = tap_id if isinstance(tap_id, int) else int(tap_id, 16)
            assert int.from_bytes(data[at : at + 2], "big") == station % 2**16
        elif part == "{rssi}" and rssi is not None and abs(rssi) < 30000:
            assert struct.unpack(">h", data[at : at + 2])[0] == math.floor(rssi + 0.5)
        elif isinstance(part, bytes):
            assert data[at : at + len(part)] == part
        at += DOWNLINK_VARIABLES[part] if isinstance(part, str) else len(part)


@given(st.one_of(st.text(), st.lists(st.sampled_from(_PIECES)).map("".join)))
def test_compiling_any_text_raises_nothing_but_invalid_input(text: str) -> None:
    outcome = _compile(text)
    if isinstance(outcome, InvalidInput):
        assert outcome.field == "downlinkDataString"
        assert outcome.message.startswith("downlinkDataString: ")
    else:
        assert len(outcome.render(T, "1A2B", -100.0)) == 16


def _compile(text: str) -> DownlinkTemplate | InvalidInput:
    try:
        return compile_downlink_template(text)
    except InvalidInput as exc:  # any other exception fails the test
        return exc
