"""The simulated network's plan: what a scenario sends, deterministic for a seed."""

from __future__ import annotations

import itertools

from lorafox.decoding.decoders import compile_decoder, decode_payload
from lorafox.decoding.grammar import parse_format
from lorafox.domain import PayloadType
from lorafox.simulator import ACKNOWLEDGE, BIDIR, UPLINK, Call, Fleet, Scenario, acknowledge


def _messages(calls: list[Call], device: str) -> list[Call]:
    return [c for c in calls if c.body["device"] == device and c.kind in ("uplink", "bidir")]


def test_a_plain_fleet_sends_consecutive_sequence_numbers() -> None:
    calls = Fleet(Scenario(devices=3, messages=20, bidir=0.0, seed=7)).plan()
    assert len(calls) == 60 and {c.path for c in calls} == {UPLINK}
    for device in ("5100000", "5100001", "5100002"):
        mine = _messages(calls, device)
        seqs = [c.body["seqNumber"] for c in mine]
        assert all((b - a) % 4096 == 1 for a, b in itertools.pairwise(seqs))
        times = [c.body["time"] for c in mine]
        assert times == sorted(times) and len(set(times)) == 20
    assert Fleet(Scenario(devices=3, messages=20, bidir=0.0, seed=7)).plan() == calls


def test_shares_and_faults() -> None:
    scenario = Scenario(
        devices=20,
        messages=50,
        bidir=0.5,
        duplicates=0.5,
        status=0.5,
        advanced=0.5,
        retries=0.2,
        out_of_order=0.2,
        gaps=0.2,
    )
    calls = Fleet(scenario).plan()
    kinds = {c.kind for c in calls}
    assert kinds == {"uplink", "bidir", "duplicate", "status", "advanced", "retry"}
    assert all(c.body["duplicate"] and not c.body["ack"] for c in calls if c.kind == "duplicate")
    assert all(c.path == BIDIR and c.body["ack"] for c in calls if c.kind == "bidir")
    out_of_order = gaps = 0
    for index in range(20):
        seqs = [c.body["seqNumber"] for c in _messages(calls, format(0x5100000 + index, "X"))]
        steps = [(b - a) % 4096 for a, b in itertools.pairwise(seqs)]
        out_of_order += sum(step > 4000 for step in steps)  # went backwards
        gaps += sum(1 < step < 100 for step in steps)
    assert out_of_order and gaps


def test_payloads_follow_the_format_and_acknowledgements_name_the_message() -> None:
    fmt = "temperature::uint:16:little-endian humidity::uint:8 door::bool:7"
    calls = Fleet(Scenario(devices=2, messages=5, payload_format=fmt)).plan()
    decoder = compile_decoder(PayloadType.CUSTOM_GRAMMAR, fmt)
    assert decoder is not None
    for call in calls:
        assert len(call.body["data"]) == 2 * max(f.end for f in parse_format(fmt))
        fields, problem = decode_payload(decoder, call.body["data"])
        assert problem is None and fields is not None
        assert set(fields) == {"temperature", "humidity", "door"}
    ack = acknowledge(calls[0])
    assert ack.path == ACKNOWLEDGE
    assert ack.body["device"] == calls[0].body["device"]
    assert ack.body["time"] == calls[0].body["time"] and ack.body["infoCode"] == 0
