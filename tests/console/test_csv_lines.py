"""The CSV reader of the device import: columns by position or by header, either separator,
bad lines refused with their number, a file bounded before it is read."""

from __future__ import annotations

import pytest

from lorafox.devices.csv_lines import MAX_LINES, read_csv
from lorafox.errors import InvalidInput

PAC = "0123456789ABCDEF"


def test_columns_by_position_or_by_header_and_either_separator() -> None:
    lines, refused = read_csv(f"1A,{PAC},one,48.8,2.3\n2B,{PAC}\n\n".encode(), "t1")
    assert [(d.line, d.id, d.name, d.lat, d.lng) for d in lines] == [
        (1, "1A", "one", 48.8, 2.3),
        (2, "2B", "2B", None, None),  # the name defaults to the id
    ]
    assert refused == [] and {d.device_type_id for d in lines} == {"t1"}
    text = f"\ufeffPAC;Name;Id;Latitude;Longitude\n{PAC};x;3C;48,5;-1,25\n".encode()
    [line], _ = read_csv(text, "t2")
    assert (line.line, line.id, line.pac, line.name, line.lat, line.lng) == (
        2,
        "3C",
        PAC,
        "x",
        48.5,
        -1.25,
    )


def test_bad_lines_are_refused_with_their_number() -> None:
    text = f"id,pac,name,lat,lng\n1A,{PAC},a,north,2\n2B,{PAC},b,1,2,3\n".encode()
    lines, refused = read_csv(text, "t")
    assert lines == []
    assert [(e.line, e.id) for e in refused] == [(2, "1A"), (3, "2B")]
    assert "not a number" in refused[0].message and "6 columns" in refused[1].message


@pytest.mark.parametrize(
    ("data", "said"),
    [
        (b"\n" * (MAX_LINES + 1), "more than"),
        (b"\xff\xfe1A", "not UTF-8"),
        (b"\n\n", "no device"),
        (b"id,pac,colour\n", "unknown column"),
    ],
)
def test_a_file_that_is_not_a_device_list_is_refused(data: bytes, said: str) -> None:
    with pytest.raises(InvalidInput, match=said):
        read_csv(data, "t")
