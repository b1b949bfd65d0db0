"""Callback bodies as the Sigfox Back-End sends them, in every encoding."""

from __future__ import annotations

import orjson
import pytest

from lorafox.domain import Uplink
from lorafox.errors import InvalidInput
from lorafox.ingest.sigfox import (
    decode_body,
    is_downlink_request_only,
    normalize_device,
    normalize_downlink,
    parse_uplink,
    uplink_json,
)

JSON_BODY = (
    b'{"device":"1A2B3C","time":1700000000,"data":"0102030405060708090a0b0c","seqNumber":42,'
    b'"ack":true,"longPolling":false,"snr":12.34,"rssi":-110.5,"avgSnr":20.1,'
    b'"station":"1A2B","lat":43,"lng":1.5,"deviceTypeId":"5f0f","duplicate":false}'
)
FORM_BODY = (
    b"device=1A2B3C&time=1700000000&data=0102030405060708090a0b0c&seqNumber=42&ack=true"
    b"&longPolling=false&snr=12.34&rssi=-110.50&avgSignal=20.1&station=1A2B&lat=43&lng=1.5"
    b"&deviceTypeId=5f0f&duplicate=false"
)

EXPECTED = Uplink(
    device="1A2B3C",
    time=1_700_000_000_000,
    seq_number=42,
    data="0102030405060708090a0b0c",
    ack=True,
    long_polling=False,
    snr=12.34,
    rssi=-110.5,
    avg_snr=20.1,
    station="1A2B",
    lat=43.0,
    lng=1.5,
    device_type_id="5f0f",
    duplicate=False,
)


def test_json_body() -> None:
    assert parse_uplink(decode_body(JSON_BODY, "application/json", b"")) == EXPECTED


def test_form_body_with_strings_and_aliases() -> None:
    fields = decode_body(FORM_BODY, "application/x-www-form-urlencoded", b"")
    assert parse_uplink(fields) == EXPECTED


def test_query_string_get() -> None:
    assert parse_uplink(decode_body(b"", "", FORM_BODY)) == EXPECTED


def test_json_without_content_type_and_strings_for_numbers() -> None:
    body = orjson.dumps(
        {
            "id": "1a2b3c",
            "time": "1700000000",
            "data": "0102030405060708090A0B0C",
            "seqNumber": "42",
            "ack": "true",
            "longPolling": "false",
            "snr": "12.34",
            "rssi": "-110.50",
            "avgSnr": "20.1",
            "station": "1A2B",
            "lat": "43",
            "lng": "1.5",
            "deviceTypeId": "5f0f",
            "duplicate": "false",
        }
    )
    assert parse_uplink(decode_body(body, "text/plain", b"")) == EXPECTED


def test_unknown_variables_are_kept() -> None:
    fields = decode_body(
        b'{"device":"1","time":1,"data":"","seqNumber":0,"operatorName":"X"}',
        "application/json",
        b"",
    )
    uplink = parse_uplink(fields)
    assert uplink.extra == {"operatorName": "X"}
    assert uplink.data == ""
    published = orjson.loads(uplink_json(uplink, message_id=7, received_at=5))
    assert published["operatorName"] == "X"
    assert published["time"] == 1
    assert published["messageId"] == 7


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"time":1,"data":"00","seqNumber":1}', "device"),
        (b'{"device":"XYZ","time":1,"data":"00","seqNumber":1}', "device"),
        (b'{"device":"123456789","time":1,"data":"00","seqNumber":1}', "device"),
        (b'{"device":"1","data":"00","seqNumber":1}', "time"),
        (b'{"device":"1","time":1,"seqNumber":1}', "data"),
        (b'{"device":"1","time":1,"data":"00"}', "seqNumber"),
        (b'{"device":"1","time":1,"data":"0g","seqNumber":1}', "data"),
        (b'{"device":"1","time":1,"data":"012","seqNumber":1}', "data"),
        (b'{"device":"1","time":1,"data":"00112233445566778899aabbcc","seqNumber":1}', "data"),
        (b'{"device":"1","time":"soon","data":"00","seqNumber":1}', "time"),
        (b'{"device":"1","time":1,"data":"00","seqNumber":-1}', "seqNumber"),
        (b'{"device":"1","time":1,"data":"00","seqNumber":1,"ack":"maybe"}', "ack"),
        (b'{"device":"1","time":1,"data":"00","seqNumber":1,"snr":"loud"}', "snr"),
        (b'{"device":"1","time":1,"data":"00","seqNumber":1,"lat":"91"}', "lat"),
    ],
)
def test_invalid_fields_name_the_culprit(body: bytes, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_uplink(decode_body(body, "application/json", b""))
    assert caught.value.field == field


@pytest.mark.parametrize("body", [b"{not json", b"[1,2]", b'"text"'])
def test_bad_json(body: bytes) -> None:
    with pytest.raises(InvalidInput):
        decode_body(body, "application/json", b"")


def test_downlink_request_only() -> None:
    assert is_downlink_request_only({"id": "1A2B"})
    assert not is_downlink_request_only({"device": "1A2B", "time": 1, "data": "", "seqNumber": 1})


def test_device_ids_are_normalised() -> None:
    assert normalize_device("001a2b") == "1A2B"
    assert normalize_device(" 1a2b ") == "1A2B"
    assert normalize_device(0x1A2B) == "1A2B"


@pytest.mark.parametrize(
    "bad", ["", "01020304050607", "010203040506070809", "zz02030405060708", 12]
)
def test_downlink_must_be_eight_bytes(bad: object) -> None:
    with pytest.raises(InvalidInput):
        normalize_downlink(bad)


def test_downlink_normalised_lower_case() -> None:
    assert normalize_downlink("0102030405060A0B") == "0102030405060a0b"
