"""Callback patterns: each type's variables, ``{customData#…}``, and rendering."""

from __future__ import annotations

import pytest

from lorafox.callbacks.templates import (
    check_pattern,
    render,
    uplink_values,
    url_value,
    variables_of,
)
from lorafox.domain import CallbackSubtype, CallbackType, StoredUplink, Uplink
from lorafox.errors import InvalidInput

DATA, SERVICE, ERROR = CallbackType.DATA, CallbackType.SERVICE, CallbackType.ERROR
S = CallbackSubtype


@pytest.mark.parametrize(
    ("kind", "subtype"),
    [
        (DATA, S.UPLINK),
        (DATA, S.BIDIR),
        (SERVICE, S.STATUS),
        (SERVICE, S.GEOLOC),
        (SERVICE, S.ACKNOWLEDGE),
        (SERVICE, S.REPEATER),
        (SERVICE, S.DATA_ADVANCED),
        (ERROR, None),
    ],
)
def test_every_variable_of_a_type_is_accepted_and_one_of_another_is_refused(
    kind: CallbackType, subtype: CallbackSubtype | None
) -> None:
    names = variables_of(kind, subtype)
    check_pattern("".join("{" + n + "}" for n in names), kind, subtype, "url")
    foreign = "{infoCode}" if "infoCode" not in names else "{longPolling}"
    with pytest.raises(InvalidInput, match=foreign) as refused:
        check_pattern(f"https://x.org/{foreign}", kind, subtype, "url")
    assert refused.value.field == "url"


def test_custom_data_belongs_to_data_callbacks_only() -> None:
    check_pattern("{customData#temp}", DATA, S.UPLINK, "bodyTemplate")
    with pytest.raises(InvalidInput, match="customData#temp"):
        check_pattern("{customData#temp}", SERVICE, S.DATA_ADVANCED, "bodyTemplate")
    with pytest.raises(InvalidInput, match="customData#temp"):
        check_pattern("{customData#temp}", SERVICE, S.STATUS, "bodyTemplate")
    with pytest.raises(InvalidInput, match="customData"):
        check_pattern("{customData}", DATA, S.UPLINK, "bodyTemplate")


def test_json_braces_are_not_variables() -> None:
    check_pattern('{"device": "{device}", "n": {"x": 1}}', DATA, S.UPLINK, "bodyTemplate")


def test_rendering_fills_values_escapes_urls_and_leaves_missing_ones_empty() -> None:
    stored = StoredUplink(
        id=3,
        received_at=0,
        uplink=Uplink(
            device="1A2B",
            time=1_700_000_000_500,
            seq_number=9,
            data="ff",
            snr=7.5,
            decoded={"name": "a b&c", "on": True},
        ),
    )
    values = uplink_values(stored, "t1")
    assert render("{device}/{time}/{snr}/{rssi}/{deviceTypeId}", values) == (
        "1A2B/1700000000/7.50//t1"
    )
    assert render("{customData#on},{customData#gone}", values) == "true,"
    assert render("?n={customData#name}", values, url_value) == "?n=a%20b%26c"
