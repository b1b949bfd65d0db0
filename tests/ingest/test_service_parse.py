"""SERVICE and ERROR callback bodies as the Back-End sends them, turned into domain values."""

from __future__ import annotations

from typing import Any

import pytest

from lorafox.domain import Acknowledgement, AdvancedData, DeviceStatus, Severity
from lorafox.errors import InvalidInput
from lorafox.ingest.service import ServiceKind, parse_error, parse_service


def test_status_variables_arrive_as_strings_or_numbers() -> None:
    fields = {"device": "001a2b", "time": "1700000000", "temp": "-5.5", "batt": 3.3}
    assert parse_service(fields, None) == DeviceStatus("1A2B", 1_700_000_000_000, None, -5.5, 3.3)


def test_acknowledge_names_its_info_code() -> None:
    fields = {"id": "AB", "time": 10, "infoCode": "3", "downlinkAck": "false"}
    ack = parse_service(fields, None)
    assert isinstance(ack, Acknowledgement)
    assert (ack.info_name, ack.acked, ack.downlink_ack, ack.overusage) == (
        "OVERRUN_ERROR",
        False,
        False,
        None,
    )
    assert Acknowledgement("AB", 1, 42, None, None, None).info_name == "CODE_42"


def test_data_advanced_objects_may_come_as_json_text() -> None:
    fields = {
        "device": "AB",
        "time": 10,
        "seqNumber": "4",
        "lqi": "Good",
        "duplicates": '[{"bsId": "1A2B", "rssi": -120, "nbRep": 3}]',
        "computedLocation": '{"lat": 43.6, "lng": 1.44, "radius": 1500.4, "source": 2}',
    }
    advanced = parse_service(fields, ServiceKind.DATA_ADVANCED)
    assert isinstance(advanced, AdvancedData)
    assert advanced.details["duplicates"] == [{"bsId": "1A2B", "rssi": -120, "nbRep": 3}]
    assert (advanced.computed_lat, advanced.computed_lng) == (43.6, 1.44)
    assert (advanced.computed_radius, advanced.computed_source) == (1500, 2)


def test_an_invalid_computed_location_is_not_a_position() -> None:
    fields = {"device": "AB", "time": 10, "seqNumber": 4, "computedLocation": {"status": 0}}
    advanced = parse_service(fields, None)
    assert isinstance(advanced, AdvancedData)
    assert advanced.computed_lat is None and advanced.details["computedLocation"] == {"status": 0}


@pytest.mark.parametrize(
    ("fields", "kind", "field"),
    [
        ({"time": 1, "temp": 1}, None, "device"),
        ({"device": "AB", "temp": 1}, None, "time"),
        ({"device": "AB", "time": 1, "temp": "hot"}, None, "temp"),
        ({"device": "AB", "time": 1, "infoCode": "x"}, None, "infoCode"),
        ({"device": "AB", "time": 1}, ServiceKind.ACKNOWLEDGE, "infoCode"),
        ({"device": "AB", "time": 1, "lqi": "x"}, None, "seqNumber"),
        ({"device": "AB", "time": 1, "seqNumber": 1, "duplicates": "{"}, None, "duplicates"),
        ({"device": "AB", "time": 1, "seqNumber": 1, "duplicates": "{}"}, None, "duplicates"),
        (
            {"device": "AB", "time": 1, "seqNumber": 1, "computedLocation": "[]"},
            None,
            "computedLocation",
        ),
        ({"device": "XYZ", "time": 1, "temp": 1}, None, "device"),
    ],
)
def test_bad_bodies_name_the_field(
    fields: dict[str, Any], kind: ServiceKind | None, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_service(fields, kind)
    assert caught.value.field == field


def test_a_body_of_no_known_subtype_says_where_to_post_it() -> None:
    with pytest.raises(InvalidInput, match="/sigfox/service/acknowledge"):
        parse_service({"device": "AB", "time": 1}, None)


def test_error_callbacks_keep_severity_info_and_the_rest() -> None:
    report = parse_error({"device": "AB", "time": 5, "severity": "warn", "info": "x", "k": 1})
    assert (report.severity, report.info, report.extra) == (Severity.WARN, "x", {"k": 1})
    assert parse_error({"device": "AB", "time": 5}).severity is Severity.ERROR
    with pytest.raises(InvalidInput):
        parse_error({"device": "AB", "time": 5, "severity": "PANIC"})
