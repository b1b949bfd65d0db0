"""Console benchmark: a device page with 100 messages, rendered server-side.

Starts lorafox (SQLite in a temporary data dir, or the empty PostgreSQL database given with
``--database-url``), registers a
device, stores ``--messages`` uplinks with decoded fields, radio figures and positions, logs in
to the console, then asks for the device page and its messages fragment ``--runs`` times with a
keep-alive connection and prints the median and 95th percentile (ms, client side: the request,
every query of the page, the rendering, the response). The page shows the last 20 messages; the
fragment ``--shown`` of them is rendered with a larger page size for the 100-message figure.

    .venv/bin/python bench/console.py
    .venv/bin/python bench/console.py --messages 1000 --runs 200
    .venv/bin/python bench/console.py --database-url postgresql://127.0.0.1/bench_console
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lorafox.console.pages import device as device_page

DEVICE = "BE0C"


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def timed(http: httpx.Client, url: str, runs: int) -> list[float]:
    for _ in range(5):  # warm-up
        assert http.get(url).status_code == 200
    spent = []
    for _ in range(runs):
        start = time.perf_counter()
        answer = http.get(url)
        spent.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200
    return spent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100, help="messages stored")
    parser.add_argument("--shown", type=int, default=100, help="messages rendered per fragment")
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--database-url", default=None, help="an empty PostgreSQL database")
    args = parser.parse_args()

    from tests.conftest import (
        ADMIN_PASSWORD,
        SIGFOX_PASSWORD,
        SIGFOX_USER,
        make_settings,
        start_lorafox,
    )
    from tests.console.conftest import log_in

    data_dir = Path(tempfile.mkdtemp(prefix="lorafox-bench-console-")) / "data"
    database = {"database_url": args.database_url} if args.database_url else {}
    running = start_lorafox(make_settings(data_dir, mqtt_port=0, **database))
    try:
        admin = ("admin", ADMIN_PASSWORD)
        with httpx.Client(base_url=running.base_url, auth=admin, timeout=30) as api:
            body = {
                "name": "bench",
                "payloadType": 3,
                "payloadConfig": "count::uint:8 temp::uint:16",
            }
            made = api.post("/api/v2/device-types", json=body)
            assert made.status_code == 201, made.text
            device = {"id": DEVICE, "name": "bench", "deviceTypeId": made.json()["id"]}
            assert api.post("/api/v2/devices", json=device | {"pac": "0" * 16}).status_code == 201
            now = int(time.time()) - args.messages * 60
            for n in range(args.messages):
                uplink = {
                    "device": DEVICE,
                    "time": now + n * 60,
                    "seqNumber": n,
                    "data": f"{n % 256:02x}{n:04x}",
                    "station": "1A2B",
                    "rssi": -120 + n % 10,
                    "snr": 10 + n % 5,
                    "lat": 45 + n / 1000,
                    "lng": 5 + n / 1000,
                }
                sent = api.post("/sigfox/uplink", json=uplink, auth=(SIGFOX_USER, SIGFOX_PASSWORD))
                assert sent.status_code == 204, sent.text
        device_page.MESSAGES_SHOWN = args.shown  # the fragment and the page render this many
        http = log_in(running.base_url, "admin", ADMIN_PASSWORD)
        page = timed(http, f"/console/devices/{DEVICE}", args.runs)
        fragment = timed(http, f"/console/devices/{DEVICE}/messages", args.runs)
        rows = http.get(f"/console/devices/{DEVICE}/messages").text.count("<tr data-seq=")
        http.close()
    finally:
        running.stop()
    kind = "PostgreSQL" if args.database_url else "SQLite"
    print(f"console device page, {args.messages} messages stored, {rows} rendered ({kind}):")
    for name, spent in (("whole page", page), ("messages fragment", fragment)):
        print(
            f"  {name:18} median {statistics.median(spent):6.1f} ms   "
            f"p95 {percentile(spent, 0.95):6.1f} ms   ({len(spent)} requests)"
        )


if __name__ == "__main__":
    main()
