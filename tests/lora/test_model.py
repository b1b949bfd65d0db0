"""The LoRa model: EUIs, numbers given as strings, base64, the MQTT message of the AWS bridge."""

from __future__ import annotations

import orjson
import pytest

from lorafox.domain import LoraGateway, LoraIntegration, LoraKind, StoredUplink
from lorafox.errors import InvalidInput
from lorafox.lora.model import (
    LoraUplink,
    as_float,
    as_int,
    decode_base64,
    lora_json,
    lora_topic,
    normalize_eui,
    to_uplink,
)

INTEGRATION = LoraIntegration(
    id="a" * 24,
    name="ns",
    kind=LoraKind.SEMTECH,
    group_id="b" * 24,
    token_hash="0" * 64,
    created_at=0,
    app_eui="0000037817737f13",
)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("9372163", "0000000009372163"),
        ("58a0cb000202c99", "058a0cb000202c99"),
        ("A84041D55182720B", "a84041d55182720b"),
        ("01-02-03-04-05-06-07-08", "0102030405060708"),
        (0x9372163, "0000000009372163"),
    ],
)
def test_euis_are_padded_to_16_lower_case_digits(given: object, expected: str) -> None:
    assert normalize_eui(given) == expected


@pytest.mark.parametrize("given", ["", "xyz", "1" * 17, None, True, -1, 2**64])
def test_bad_euis_are_invalid_input(given: object) -> None:
    with pytest.raises(InvalidInput):
        normalize_eui(given)


def test_numbers_as_strings_or_numbers() -> None:
    assert as_int("1", "FPort") == 1
    assert as_int(2.0, "FPort") == 2
    assert as_int(None, "FPort") is None
    assert as_float("868100000", "Frequency") == 868100000.0
    for bad in ("x", True, -1, 2**33):
        with pytest.raises(InvalidInput):
            as_int(bad, "FCnt")
    with pytest.raises(InvalidInput):
        as_float("nan", "Frequency")


def test_base64_standard_and_url_safe_and_bounded() -> None:
    assert decode_base64("qg==", "data") == b"\xaa"
    assert decode_base64("qg", "data") == b"\xaa"
    assert decode_base64("-_8=", "data") == b"\xfb\xff"
    with pytest.raises(InvalidInput):
        decode_base64("not base64!", "data")
    with pytest.raises(InvalidInput):
        decode_base64("A" * 2000, "data")


def test_the_uplink_and_its_mqtt_message() -> None:
    frame = LoraUplink(
        dev_eui="0000000009372163",
        f_cnt=42,
        f_port=1,
        payload=b"\x01\xfe",
        gateways=(LoraGateway("b827ebfffe000001", -57, 9.5), LoraGateway("gw2", -90, 1.0)),
        data_rate="SF7BW125",
        frequency=868_100_000,
    )
    uplink = to_uplink(frame, INTEGRATION, 1_700_000_000_000)
    assert uplink.device == "0000000009372163"
    assert uplink.seq_number == 42
    assert uplink.data == "01fe"
    assert uplink.station == "b827ebfffe000001"
    assert uplink.rssi == -57
    assert lora_topic(uplink) == "lora/0000037817737f13/0000000009372163"
    body = orjson.loads(lora_json(StoredUplink(7, 1_700_000_000_001, uplink)))
    assert body["port1_bytes"] == [1, 254]
    assert body["fCnt"] == 42
    assert body["messageId"] == 7
    assert len(body["gateways"]) == 2


def test_the_source_s_join_eui_wins_over_the_configured_one() -> None:
    frame = LoraUplink("0101010101010101", 1, 2, b"", app_eui="800000000000000c")
    assert lora_topic(to_uplink(frame, INTEGRATION, 1)) == "lora/800000000000000c/0101010101010101"
