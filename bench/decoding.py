"""Payload decoding cost per message, against ``bytes.fromhex`` alone measured in the same run.

Every decoder starts by turning the callback's hex into bytes, so ``bytes.fromhex`` of the same
12-byte payload is the floor. Measured: the device type example of the Sigfox Back-End's
documentation (13 fields: a float, three little-endian uint:16, a uint:8, eight bools), the
last official example (a char:6, a uint:16, a uint:32), the STRING type, the DIRECT template's
rendering, and compiling the example (done once, when a device type is saved). Each figure is
the best of ``--repeat`` runs of ``--number`` calls, in µs per call.

    .venv/bin/python bench/decoding.py [--number 200000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lorafox.decoding import compile_decoder, compile_downlink_template, parse_format
from lorafox.decoding.decoders import CustomDecoder
from lorafox.domain import PayloadType

ROOT = Path(__file__).resolve().parent.parent

EXAMPLES = json.loads((ROOT / "tests" / "data" / "sigfox_payload_examples.json").read_text())
DEVICE_TYPE_PAYLOAD = "41bc00000100020001026481"  # 12 bytes


def best(call: Callable[[], Any], number: int, repeat: int) -> float:
    """µs per call, the best of ``repeat`` runs."""
    return min(timeit.repeat(call, number=number, repeat=repeat)) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--number", type=int, default=200_000, help="calls per run")
    parser.add_argument("--repeat", type=int, default=5, help="runs; the best counts")
    args = parser.parse_args()
    n, r = args.number, args.repeat

    example = compile_decoder(PayloadType.CUSTOM_GRAMMAR, EXAMPLES["device_type_example"])
    last = EXAMPLES["examples"][-1]
    official = compile_decoder(PayloadType.CUSTOM_GRAMMAR, last["format"])
    string = compile_decoder(PayloadType.STRING, None)
    template = compile_downlink_template("{time}{tapId}{rssi}")
    assert example is not None and official is not None and string is not None
    assert example.decode(DEVICE_TYPE_PAYLOAD)["Battery"] == 100
    assert official.decode(last["data"]) == last["result"]

    baseline = best(lambda: bytes.fromhex(DEVICE_TYPE_PAYLOAD), n, r)
    rows = [
        ("bytes.fromhex (12 bytes), the floor", baseline),
        ("device type example, 13 fields", best(lambda: example.decode(DEVICE_TYPE_PAYLOAD), n, r)),
        ("official example 5, 3 fields", best(lambda: official.decode(last["data"]), n, r)),
        ("STRING, 12 bytes", best(lambda: string.decode(DEVICE_TYPE_PAYLOAD), n, r)),
        (
            "DIRECT template {time}{tapId}{rssi}",
            best(lambda: template.render(1_700_000_000, "1A2B", -110.4), n, r),
        ),
        (
            "compile the device type example (once)",
            best(lambda: CustomDecoder(parse_format(EXAMPLES["device_type_example"])), n // 20, r),
        ),
    ]
    print(f"Python {sys.version.split()[0]}, best of {r} x {n:,} calls")
    print(f"{'':44} {'µs/call':>9} {'x floor':>8}")
    for name, micros in rows:
        print(f"{name:44} {micros:9.3f} {micros / baseline:8.1f}")


if __name__ == "__main__":
    main()
