"""The Semtech socket's framing and messages, without a socket."""

from __future__ import annotations

import random

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from lorafox.errors import InvalidInput
from lorafox.lora.semtech_frames import NulFramer, ack_frame, downlink_frame, parse_frame

UPLINK = (
    b'{"app":{"moteeui":"9372163","dir":"up","seqno":42,"userdata":{"port":1,"payload":"Af4="},'
    b'"motetx":{"freq":868.1,"datr":"SF7BW125","codr":"4/5","adr":true},"gwrx":[{"eui":'
    b'"b827ebfffe000001","time":"2015-10-15T11:51:00.000000Z","timefromgateway":true,"chan":0,'
    b'"rfch":0,"rssi":-57,"lsnr":9.5}]}}'
)


@given(
    st.lists(st.binary(min_size=1, max_size=200).filter(lambda b: b"\0" not in b), max_size=20),
    st.randoms(),
)
def test_frames_come_out_whole_however_the_stream_is_cut(
    frames: list[bytes], rnd: random.Random
) -> None:
    stream = b"".join(f + b"\0" for f in frames) + b"\0\0"  # and keep-alives
    framer = NulFramer()
    out: list[bytes] = []
    i = 0
    while i < len(stream):
        n = rnd.randint(1, 50)
        out += framer.feed(stream[i : i + n])
        i += n
    assert out == frames
    assert framer.buffered == 0


def test_an_oversized_frame_is_dropped_up_to_its_nul_and_the_next_one_kept() -> None:
    framer = NulFramer(max_frame=10)
    assert framer.feed(b"x" * 8) == []
    assert framer.feed(b"y" * 8) == []  # over the limit: dropped
    assert framer.feed(b"zz\0ok\0") == [b"ok"]
    assert framer.feed(b"a" * 11 + b"\0b\0") == [b"b"]
    assert framer.oversized == 2


def test_an_uplink_with_a_short_eui() -> None:
    message = parse_frame(UPLINK)
    up = message.uplink
    assert up is not None
    assert up.dev_eui == "0000000009372163"
    assert (up.f_cnt, up.f_port, up.payload) == (42, 1, b"\x01\xfe")
    assert up.frequency == 868_100_000
    assert up.gateways[0].id == "b827ebfffe000001"
    assert up.gateways[0].snr == 9.5


def test_metadata_without_userdata_is_not_an_error() -> None:
    message = parse_frame(b'{"app":{"moteeui":"9372163","dir":"up","gwrx":[{"rssi":-1}]}}')
    assert message.uplink is None
    assert message.metadata_only


def test_ackreq_join_gw_mote() -> None:
    assert parse_frame(b'{"ackreq":7}').ackreq == 7
    join = parse_frame(b'{"join":{"moteeui":"12","accept":true}}')
    assert join.events == (("join", "0000000000000012", {"moteeui": "12", "accept": True}),)
    gw = parse_frame(b'{"gw":{"eui":"b827ebfffe000001","posn":{"lati":1.5,"long":2}}}')
    assert gw.events[0][0] == "gw"
    sent = parse_frame(b'{"mote":{"eui":"9372163","app":true,"msgsent":5}}')
    assert (sent.feedback_device, sent.sent_token) == ("0000000009372163", 5)
    acked = parse_frame(b'{"mote":{"eui":"9372163","ackrx":""}}')
    assert acked.acked == "0000000009372163"


@pytest.mark.parametrize(
    "frame",
    [
        b"not json",
        b"[1]",
        b'{"app":"x"}',
        b'{"app":{"dir":"up","userdata":{"port":1}}}',
        b'{"app":{"moteeui":"zz","userdata":{}}}',
        b'{"app":{"moteeui":"1","userdata":{"port":999}}}',
        b'{"app":{"moteeui":"1","userdata":{"payload":"%%%"}}}',
        b'{"ackreq":"x"}',
    ],
)
def test_broken_frames_are_invalid_input(frame: bytes) -> None:
    with pytest.raises(InvalidInput):
        parse_frame(frame)


def test_answers() -> None:
    assert ack_frame(3) == b'{"ack":3}\0'
    body = orjson.loads(downlink_frame("0000000009372163", 7, 1, b"\x01\xfe")[:-1])
    assert body == {
        "app": {
            "moteeui": "9372163",
            "dir": "dn",
            "token": 7,
            "userdata": {"port": 1, "payload": "Af4="},
        }
    }
