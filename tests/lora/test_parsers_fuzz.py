"""Whatever JSON a network server sends, the parsers answer with a report or ``InvalidInput``,
never another exception (which would be a 500, or a Semtech connection's reader dying)."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from lorafox.errors import InvalidInput
from lorafox.lora import aws, chirpstack, tts
from lorafox.lora.semtech_frames import parse_message

KEYS = [
    # Semtech
    "app",
    "moteeui",
    "dir",
    "seqno",
    "userdata",
    "port",
    "payload",
    "motetx",
    "freq",
    "datr",
    "gwrx",
    "eui",
    "rssi",
    "lsnr",
    "join",
    "gw",
    "mote",
    "msgsent",
    "ackrx",
    "ackreq",
    "appeui",
    # ChirpStack
    "deviceInfo",
    "devEui",
    "applicationId",
    "fCnt",
    "fPort",
    "data",
    "time",
    "rxInfo",
    "gatewayId",
    "snr",
    "txInfo",
    "frequency",
    "modulation",
    "lora",
    "spreadingFactor",
    "bandwidth",
    "dr",
    "queueItemId",
    "acknowledged",
    "level",
    "code",
    "deduplicationId",
    # The Things Stack
    "end_device_ids",
    "dev_eui",
    "device_id",
    "join_eui",
    "uplink_message",
    "f_cnt",
    "f_port",
    "frm_payload",
    "rx_metadata",
    "gateway_ids",
    "settings",
    "data_rate",
    "spreading_factor",
    "received_at",
    "downlink_ack",
    "downlink_failed",
    "downlink",
    "correlation_ids",
    "error",
    "join_accept",
    "location_solved",
    # AWS
    "WirelessDeviceId",
    "PayloadData",
    "WirelessMetadata",
    "LoRaWAN",
    "DevEui",
    "FPort",
    "Fport",
    "FCnt",
    "Frequency",
    "DataRate",
    "Gateways",
    "GatewayEui",
    "Rssi",
    "Snr",
    "Timestamp",
    "AckedMessageId",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            "",
            "9372163",
            "qg==",
            "0101010101010101",
            "x",
            "2020-12-07T14:41:48Z",
            "lorafox:downlink:1",
            "00000000-0000-0000-0000-000000000001",
            "SF7BW125",
        ]
    ),
    st.text(max_size=20),
)
values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(KEYS), children, max_size=6),
    ),
    max_leaves=30,
)
objects = st.dictionaries(st.sampled_from(KEYS), values, max_size=6)


def _only_invalid_input(parse: Any, body: dict[str, Any]) -> None:
    with contextlib.suppress(InvalidInput):
        parse(body)


@settings(max_examples=300, deadline=None)
@given(objects)
def test_semtech(body: dict[str, Any]) -> None:
    _only_invalid_input(parse_message, body)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(chirpstack.EVENTS)), objects)
def test_chirpstack(event: str, body: dict[str, Any]) -> None:
    _only_invalid_input(lambda b: chirpstack.parse_event(event, b), body)


@settings(max_examples=300, deadline=None)
@given(objects)
def test_tts(body: dict[str, Any]) -> None:
    _only_invalid_input(tts.parse_message, body)


@settings(max_examples=300, deadline=None)
@given(objects)
def test_aws(body: dict[str, Any]) -> None:
    _only_invalid_input(aws.parse_document, body)
