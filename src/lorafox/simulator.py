"""A Sigfox network in a box: the callbacks the Sigfox Back-End would send for a fleet.

``Fleet.plan`` turns a :class:`Scenario` into the ordered list of :class:`Call`s to make —
DATA (UPLINK or BIDIR) callbacks with consecutive 12-bit sequence numbers, SNR, RSSI and a
station, copies of a message from other stations, STATUS and DATA_ADVANCED callbacks, and the
faults a real network produces (retried callbacks, messages out of order, lost messages). It is
pure: no I/O, a seeded random generator, so a scenario replays the same. ``lorafox simulate``
sends the calls and checks the answers; an ACKNOWLEDGE follows each downlink a BIDIR received.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from lorafox.decoding.grammar import MAX_PAYLOAD_BYTES, parse_format

__all__ = ["Call", "Fleet", "Scenario", "acknowledge"]

UPLINK = "/sigfox/uplink"
BIDIR = "/sigfox/bidir"
STATUS = "/sigfox/service/status"
ADVANCED = "/sigfox/service/data-advanced"
ACKNOWLEDGE = "/sigfox/service/acknowledge"

_STATIONS = ("1A2B", "0C3D", "7E41", "22F0", "9B1C")


@dataclass(frozen=True, slots=True)
class Scenario:
    """What to simulate. Shares are probabilities per message (0 to 1)."""

    devices: int = 10
    messages: int = 5
    """Messages per device."""
    first_device: int = 0x5100000
    device_type_id: str | None = None
    payload_format: str | None = None
    """A Sigfox custom payload format: payloads as long as it reads (else 1 to 12 bytes)."""
    bidir: float = 0.1
    duplicates: float = 0.0
    """Share of messages also heard by one or two more stations (sent with duplicate=true)."""
    status: float = 0.0
    advanced: float = 0.0
    retries: float = 0.0
    """Share of callbacks sent twice (the Back-End retries when it gets no answer)."""
    out_of_order: float = 0.0
    """Share of messages delivered after the device's next one."""
    gaps: float = 0.0
    """Share of messages lost on the radio: their sequence number is skipped."""
    start_time: int = 1_700_000_000
    interval: int = 600
    """Seconds between two messages of a device."""
    seed: int = 1


@dataclass(frozen=True, slots=True)
class Call:
    """One callback: where it goes, its JSON body, and what it stands for."""

    path: str
    body: dict[str, Any]
    kind: str
    """``uplink``, ``bidir``, ``duplicate``, ``retry``, ``status`` or ``advanced``."""


@dataclass(slots=True)
class Fleet:
    """The devices of a scenario and their sequence numbers."""

    scenario: Scenario
    _random: random.Random = field(init=False)
    _length: int = field(init=False)

    def __post_init__(self) -> None:
        self._random = random.Random(self.scenario.seed)  # noqa: S311 (simulation, not secrets)
        layouts = parse_format(self.scenario.payload_format) if self.scenario.payload_format else ()
        self._length = max((f.end for f in layouts), default=0)

    def device_id(self, index: int) -> str:
        return format(self.scenario.first_device + index, "X")

    def plan(self) -> list[Call]:
        """Every callback of the scenario, in the order the network would send them (messages
        of all devices interleaved in time)."""
        s = self.scenario
        rounds: list[list[Call]] = []
        for index in range(s.devices):
            device = self.device_id(index)
            seq = self._random.randrange(4096)
            calls: list[Call] = []
            for n in range(s.messages):
                if self._random.random() < s.gaps:
                    seq = (seq + 1) % 4096  # lost on the radio
                when = s.start_time + n * s.interval + index % s.interval
                calls.extend(self._message(device, seq, when))
                seq = (seq + 1) % 4096
            rounds.append(calls)
        return self._shuffle_faults(_interleave(rounds))

    def _message(self, device: str, seq: int, when: int) -> list[Call]:
        s, rnd = self.scenario, self._random
        ack = rnd.random() < s.bidir
        station = rnd.choice(_STATIONS)
        body: dict[str, Any] = {
            "device": device,
            "time": when,
            "data": self._payload(),
            "seqNumber": seq,
            "ack": ack,
            "longPolling": False,
            "snr": round(rnd.uniform(5, 40), 2),
            "rssi": round(rnd.uniform(-140, -80), 2),
            "avgSnr": round(rnd.uniform(10, 35), 2),
            "station": station,
            "lat": 43.0,
            "lng": 1.0,
            "duplicate": False,
        }
        if s.device_type_id:
            body["deviceTypeId"] = s.device_type_id
        calls = [Call(BIDIR if ack else UPLINK, body, "bidir" if ack else "uplink")]
        if rnd.random() < s.duplicates:
            others = [x for x in _STATIONS if x != station]
            for other in rnd.sample(others, rnd.randint(1, 2)):
                copy = body | {"station": other, "duplicate": True, "ack": False}
                calls.append(Call(UPLINK, copy, "duplicate"))
        if rnd.random() < s.status:
            status = {
                "device": device,
                "time": when,
                "temp": round(rnd.uniform(-10, 45), 1),
                "batt": round(rnd.uniform(2.6, 3.6), 2),
                "seqNumber": seq,
            }
            calls.append(Call(STATUS, status, "status"))
        if rnd.random() < s.advanced:
            advanced = {
                "device": device,
                "time": when,
                "data": body["data"],
                "seqNumber": seq,
                "lqi": rnd.choice(["Limit", "Average", "Good", "Excellent"]),
                "linkQuality": rnd.randint(0, 100),
                "operatorName": "SIGFOX_France",
                "countryCode": 250,
                "duplicates": [{"bsId": station, "rssi": body["rssi"], "snr": body["snr"]}],
                "computedLocation": {
                    "lat": round(rnd.uniform(43.5, 43.7), 5),
                    "lng": round(rnd.uniform(1.3, 1.5), 5),
                    "radius": rnd.randint(100, 5000),
                    "source": 2,
                    "status": 1,
                },
            }
            calls.append(Call(ADVANCED, advanced, "advanced"))
        if rnd.random() < s.retries:
            calls.append(Call(calls[0].path, calls[0].body, "retry"))
        return calls

    def _payload(self) -> str:
        length = self._length or self._random.randint(1, MAX_PAYLOAD_BYTES)
        return self._random.randbytes(length).hex()

    def _shuffle_faults(self, calls: list[Call]) -> list[Call]:
        """Swap a share of messages with the next message of the same device."""
        if not self.scenario.out_of_order:
            return calls
        last: dict[str, int] = {}
        for i, call in enumerate(calls):
            if call.kind not in ("uplink", "bidir"):
                continue
            device = call.body["device"]
            j = last.get(device)
            if j is not None and self._random.random() < self.scenario.out_of_order:
                calls[i], calls[j] = calls[j], calls[i]
                last.pop(device)
            else:
                last[device] = i
        return calls


def acknowledge(bidir: Call) -> Call:
    """The ACKNOWLEDGE SERVICE callback the network sends once the device received the
    downlink that answered ``bidir``."""
    body = {
        "device": bidir.body["device"],
        "time": bidir.body["time"],
        "infoCode": 0,
        "infoMessage": "Acked",
        "downlinkAck": True,
        "downlinkOverusage": False,
    }
    return Call(ACKNOWLEDGE, body, "acknowledge")


def _interleave(rounds: list[list[Call]]) -> list[Call]:
    """The calls of all devices ordered by message time, each device's in its own order."""
    indexed = [
        (call.body["time"], device, n, call)
        for device, calls in enumerate(rounds)
        for n, call in enumerate(calls)
    ]
    indexed.sort(key=lambda item: (item[0], item[1], item[2]))
    return [item[3] for item in indexed]
