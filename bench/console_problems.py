"""Console benchmark: the problem pages over many refused registrations, against the device list.

Starts lorafox refusing unknown devices (SQLite in a temporary data dir, or the empty
PostgreSQL database given with ``--database-url``), sends callbacks of ``--refused`` unknown
devices (one ``registration_refused`` event each, half naming a device type of group A, half
none), then, logged in as the admin and as a VIEWER of group A, asks ``--runs`` times for the
device list (the baseline, in the same run), the problems overview (three counts over the
newest 500 events of each kind) and the refused registrations page. Prints min, median and max
(ms, client side, keep-alive) and each page's median as a ratio of the device list's.

    .venv/bin/python bench/console_problems.py
    .venv/bin/python bench/console_problems.py --database-url postgresql://127.0.0.1/bench_problems
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

from console import timed

PAGES = {
    "device list (baseline)": "/console/devices",
    "problems overview": "/console/problems",
    "refused registrations": "/console/problems/registrations",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--refused", type=int, default=600, help="unknown devices heard")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--database-url", default=None, help="an empty PostgreSQL database")
    args = parser.parse_args()

    from tests.conftest import (
        ADMIN_PASSWORD,
        SIGFOX_PASSWORD,
        SIGFOX_USER,
        make_settings,
        start_lorafox,
    )
    from tests.console.conftest import PASSWORD, log_in

    data_dir = Path(tempfile.mkdtemp(prefix="lorafox-bench-problems-")) / "data"
    database = {"database_url": args.database_url} if args.database_url else {}
    settings = make_settings(
        data_dir, mqtt_port=0, sigfox={"unknown_devices": "refuse"}, **database
    )
    running = start_lorafox(settings)
    results: dict[str, dict[str, list[float]]] = {}
    try:
        admin = ("admin", ADMIN_PASSWORD)
        with httpx.Client(base_url=running.base_url, auth=admin, timeout=30) as api:
            root = next(g for g in api.get("/api/v2/groups").json()["data"] if not g["path"])
            group = api.post("/api/v2/groups", json={"name": "group A", "parentId": root["id"]})
            assert group.status_code == 201, group.text
            type_id = api.post(
                "/api/v2/device-types", json={"name": "A", "groupId": group.json()["id"]}
            ).json()["id"]
            user = {
                "email": "viewer@example.com",
                "firstName": "V",
                "lastName": "A",
                "password": PASSWORD,
                "userRoles": [{"groupId": group.json()["id"], "profileId": "VIEWER"}],
            }
            assert api.post("/api/v2/users", json=user).status_code == 201
            for n in range(args.refused):
                body = {
                    "device": f"{0xA00000 + n:X}",
                    "time": int(time.time()),
                    "data": "01",
                    "seqNumber": 1,
                }
                if n % 2:
                    body["deviceTypeId"] = type_id
                answer = api.post("/sigfox/uplink", json=body, auth=(SIGFOX_USER, SIGFOX_PASSWORD))
                assert answer.status_code == 404, answer.text
        time.sleep(1)  # the events are stored in batches
        for who, login, password in (
            ("admin", "admin", ADMIN_PASSWORD),
            ("viewer of A", "viewer@example.com", PASSWORD),
        ):
            http = log_in(running.base_url, login, password)
            results[who] = {name: timed(http, url, args.runs) for name, url in PAGES.items()}
            http.close()
    finally:
        running.stop()
    kind = "PostgreSQL" if args.database_url else "SQLite"
    print(f"console problem pages, {args.refused} refused registrations ({kind}):")
    for who, pages in results.items():
        baseline = statistics.median(pages["device list (baseline)"])
        print(f"  as {who}:")
        for name, spent in pages.items():
            median = statistics.median(spent)
            print(
                f"    {name:24} min {min(spent):6.1f}  median {median:6.1f}  "
                f"max {max(spent):6.1f} ms   x{median / baseline:4.2f} of the device list"
            )


if __name__ == "__main__":
    main()
