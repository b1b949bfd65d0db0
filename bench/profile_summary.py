"""Summarise a py-spy profile: the busiest threads, the top frames, and where a thread's time
goes by area of the code.

Record a running lorafox under load in py-spy's raw (collapsed stacks) format, with threads:

    py-spy record --pid PID --threads --format raw --duration 5 --output profile.txt
    .venv/bin/python bench/profile_summary.py profile.txt            # the busiest thread
    .venv/bin/python bench/profile_summary.py profile.txt --top 25

Areas are inclusive: a sample counts once for each area on its stack, so they overlap (the
store's work runs inside asyncio's). Top frames are self time (a sample's innermost frame).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

AREAS = [
    ("store (store/sql, sqlite3)", ("lorafox/store/",)),
    ("publishing (bus/, the MQTT broker)", ("lorafox/bus/",)),
    (
        "callback handler (api/, ingest/, uplink/)",
        ("lorafox/api/", "lorafox/ingest/", "lorafox/uplink/"),
    ),
    ("LoRa (lora/)", ("lorafox/lora/",)),
    ("HTTP server (uvicorn, httptools)", ("uvicorn/", "httptools")),
    ("asyncio scheduling", ("asyncio/", "uvloop")),
]
_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]+)(?::\d+)?\)$")


def frame_name(frame: str) -> str:
    found = _FRAME.match(frame)
    if found is None:
        return frame
    file = found["file"]
    short = file.split("site-packages/")[-1].split("/src/")[-1]
    return f"{found['func']} ({short})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    threads: Counter[str] = Counter()
    stacks: dict[str, list[tuple[list[str], int]]] = {}
    for line in args.profile.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        thread, *frames = stack.split(";")
        threads[thread] += int(count)
        stacks.setdefault(thread, []).append((frames, int(count)))
    total = sum(threads.values())
    print(f"{total} samples; per thread:")
    for thread, n in threads.most_common(5):
        print(f"  {n / total:6.1%}  {thread}")
    busiest, samples = threads.most_common(1)[0]
    print(f"\nthe busiest thread, {busiest} ({samples} samples), by area (inclusive):")
    areas: Counter[str] = Counter()
    selfs: Counter[str] = Counter()
    for frames, n in stacks[busiest]:
        for area, needles in AREAS:
            if any(needle in frame for frame in frames for needle in needles):
                areas[area] += n
        if frames:
            selfs[frame_name(frames[-1])] += n
    print("| area | share |\n| --- | --- |")
    for area, _ in AREAS:
        print(f"| {area} | {areas[area] / samples:.0%} |")
    print(f"\ntop {args.top} frames by self time:\n| frame | self |\n| --- | --- |")
    for name, n in selfs.most_common(args.top):
        print(f"| `{name}` | {n / samples:.1%} |")


if __name__ == "__main__":
    main()
