"""ChirpStack v4, The Things Stack v3 and AWS IoT Core for LoRaWAN messages, from each project's
own samples (tests/data/lora), and the malformed ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from lorafox.domain import DownlinkState, LoraIntegration, LoraKind, Severity
from lorafox.errors import InvalidInput
from lorafox.lora import aws, chirpstack, tts
from lorafox.lora.downlinks import chirpstack_id
from lorafox.lora.model import to_uplink
from lorafox.lora.reports import parse_time

DATA = Path(__file__).resolve().parent.parent / "data" / "lora"


def sample(name: str) -> dict[str, Any]:
    found: dict[str, Any] = orjson.loads((DATA / name).read_bytes())
    return found


def test_chirpstack_up() -> None:
    report = chirpstack.parse_event("up", sample("chirpstack_up.json"))
    up = report.uplink
    assert up is not None
    assert (up.dev_eui, up.f_cnt, up.f_port, up.payload) == ("0101010101010101", 0, 1, b"\xaa")
    assert up.data_rate == "SF11BW125"
    assert up.frequency == 867_100_000
    assert up.gateways[0].rssi == -36 and up.gateways[0].snr == 10.5
    assert up.time == 1658136855775
    assert report.context == {"applicationId": "17c82e96-be03-4f38-aef3-f83d48582d97"}


def test_chirpstack_ack_txack_log_and_integration() -> None:
    info = sample("chirpstack_up.json")["deviceInfo"]
    item = chirpstack_id(42)
    ack = chirpstack.parse_event(
        "ack", {"deviceInfo": info, "queueItemId": item, "acknowledged": True}
    )
    assert ack.feedback is not None
    assert (ack.feedback.state, ack.feedback.downlink_id) == (DownlinkState.ACKED, 42)
    nack = chirpstack.parse_event("ack", {"deviceInfo": info, "queueItemId": item})
    assert nack.feedback is not None and nack.feedback.state is DownlinkState.FAILED
    txack = chirpstack.parse_event("txack", {"deviceInfo": info, "queueItemId": item})
    assert txack.feedback is not None and txack.feedback.state is DownlinkState.SENT
    log = chirpstack.parse_event("log", sample("chirpstack_log.json"))
    assert log.event is not None and log.event.severity is Severity.ERROR
    assert "UPLINK_MIC" in log.event.message
    assert chirpstack.parse_event("integration", {}).ignored


@pytest.mark.parametrize(
    ("event", "body"),
    [
        ("bogus", {}),
        (None, {}),
        ("up", {}),
        ("up", {"deviceInfo": {"devEui": "01"}, "data": "%%"}),
        ("up", {"deviceInfo": {"devEui": "01"}, "fPort": 300}),
        ("up", {"deviceInfo": {"devEui": "01"}, "rxInfo": "x"}),
        ("up", {"deviceInfo": []}),
    ],
)
def test_chirpstack_malformed(event: str | None, body: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        chirpstack.parse_event(event, body)


def test_tts_uplink_with_a_malformed_received_at() -> None:
    report = tts.parse_message(sample("tts_uplink.json"))
    up = report.uplink
    assert up is not None
    assert up.dev_eui == "0102030405060708"
    assert up.app_eui == "800000000000000c"
    assert (up.f_cnt, up.f_port, up.payload) == (9, 1, b"bumlux")
    assert up.frequency == 868_100_000
    assert up.data_rate == "SF7BW125"
    assert up.gateways[0].id == "0203040506070809"
    assert up.time is None  # "2020-02-12T15:15..." is dated on reception
    assert report.context == {"deviceId": "dev1"}


def test_tts_downlink_feedback_by_correlation_id() -> None:
    ack = sample("tts_downlink_ack.json")
    ack["downlink_ack"]["correlation_ids"].append(tts.correlation_id(7))
    report = tts.parse_message(ack)
    assert report.feedback is not None
    assert (report.feedback.state, report.feedback.downlink_id) == (DownlinkState.ACKED, 7)
    failed = sample("tts_downlink_failed.json")
    failed["downlink_failed"]["downlink"]["correlation_ids"].append(tts.correlation_id(8))
    report = tts.parse_message(failed)
    assert report.feedback is not None
    assert report.feedback.device is None  # no dev_eui: named by device_id only
    assert report.feedback.downlink_id == 8
    assert report.feedback.info == "application downlink payload is too long"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"end_device_ids": {"dev_eui": "01"}},
        {"end_device_ids": {"dev_eui": "01"}, "uplink_message": {}, "join_accept": {}},
        {"end_device_ids": {}, "uplink_message": {}},
        {
            "end_device_ids": {"dev_eui": "01"},
            "uplink_message": {"frequency": "x", "settings": {"frequency": "x"}},
        },
    ],
)
def test_tts_malformed(body: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        tts.parse_message(body)


def test_aws_both_spellings_and_numbers_as_strings() -> None:
    report = aws.parse_document(sample("aws_uplink.json"))
    up = report.uplink
    assert up is not None
    assert (up.dev_eui, up.f_port, up.payload.hex()) == (
        "a84041d55182720b",
        2,
        "cbb40a4401a90109c47fff",
    )
    assert report.context == {"wirelessDeviceId": "11111111-1111-1111-1111-1111"}
    docs = {
        "WirelessDeviceId": "w-1",
        "PayloadData": "AQ==",
        "WirelessMetadata": {
            "LoRaWAN": {
                "DevEui": "58a0cb000202c99",
                "Fport": "3",
                "FCnt": "12",
                "DataRate": "4",
                "Frequency": "868100000",
            }
        },
    }
    up = aws.parse_document(docs).uplink
    assert up is not None
    assert (up.dev_eui, up.f_port, up.f_cnt, up.data_rate) == ("058a0cb000202c99", 3, 12, "DR4")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"WirelessMetadata": {}},
        {"WirelessMetadata": {"LoRaWAN": {"DevEui": "x"}}},
        {"WirelessMetadata": {"LoRaWAN": {"DevEui": "01", "Gateways": 3}}},
        {"WirelessMetadata": {"LoRaWAN": {"DevEui": "01", "Gateways": [{"Rssi": "loud"}]}}},
        {"WirelessMetadata": {"LoRaWAN": {"DevEui": "01"}}, "PayloadData": ["x"]},
    ],
)
def test_aws_malformed(body: dict[str, Any]) -> None:
    with pytest.raises(InvalidInput):
        aws.parse_document(body)


def test_times() -> None:
    assert parse_time("2020-12-07T14:41:48Z") == 1607352108000
    assert parse_time("2022-07-18T09:34:15.775023242+00:00") == 1658136855775
    assert parse_time("2020-02-12T15:15...") is None
    assert parse_time("2020-02-12T15:15:00") is None  # no zone
    assert parse_time(12) is None


def test_gateway_positions_become_the_message_s() -> None:
    body = sample("chirpstack_up.json")
    body["rxInfo"][0]["location"] = {"latitude": 51.5, "longitude": -0.12, "altitude": 10}
    body["rxInfo"].append({"gatewayId": "x", "rssi": -100, "location": {"latitude": "bad"}})
    up = chirpstack.parse_event("up", body).uplink
    assert up is not None
    assert (up.gateways[0].lat, up.gateways[0].lng) == (51.5, -0.12)
    assert (up.gateways[1].lat, up.gateways[1].lng) == (None, None)  # ignored, not refused
    integration = LoraIntegration("a" * 24, "n", LoraKind.CHIRPSTACK, "b" * 24, "0" * 64, 0)
    uplink = to_uplink(up, integration, 1)
    assert (uplink.lat, uplink.lng, uplink.station) == (51.5, -0.12, "0016c001f153a14c")
    tts_body = sample("tts_uplink.json")
    tts_body["uplink_message"]["rx_metadata"][0]["location"] = {"latitude": 1.0, "longitude": 2.0}
    tts_up = tts.parse_message(tts_body).uplink
    assert tts_up is not None and tts_up.gateways[0].lat == 1.0
