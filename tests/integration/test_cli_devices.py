"""``lorafox devices import`` as an operator runs it: a real process, a CSV with bad lines, and a
running lorafox (refusing unknown devices) that accepts the imported ones."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path

import httpx

from lorafox.cli.devices import read_lines
from tests.conftest import ADMIN_PASSWORD, SIGFOX_PASSWORD, SIGFOX_USER, Running
from tests.integration.test_cli_identity import run

ADMIN = ("admin", ADMIN_PASSWORD)
PAC = "0011223344556677"


def test_read_lines_skips_the_header_and_blank_lines() -> None:
    lines, errors = read_lines("id,pac,name,device type\n\n1A,p,n\n2B,p\n3C,p,n,t\n", "dflt")
    assert [(x.line, x.id, x.device_type_id) for x in lines] == [(3, "1A", "dflt"), (5, "3C", "t")]
    assert [(e.line, e.id) for e in errors] == [(4, "2B")]
    lines, errors = read_lines("1A,p,n\n4D,p,n,\n", None)
    assert lines == [] and [e.line for e in errors] == [1, 2]
    assert all(e.message.startswith("the device type id (4th column) is empty") for e in errors)
    assert "--device-type" in errors[0].message
    _, errors = read_lines("1A,p,n,t,extra\n", None)
    assert errors[0].message == "expected 4 columns: id, pac, name, device type id (found 5)"


def test_import_a_csv_with_bad_lines(
    tmp_path: Path, lorafox_factory: Callable[..., Running]
) -> None:
    data = ["--data-dir", str(tmp_path)]
    server = lorafox_factory(data_dir=tmp_path, mqtt_port=0, sigfox={"unknown_devices": "refuse"})
    with httpx.Client(base_url=server.base_url, auth=ADMIN, timeout=10) as http:
        made = http.post("/api/v2/device-types", json={"name": "meters"})
        assert made.status_code == 201, made.text
        device_type = made.json()["id"]
        csv = tmp_path / "devices.csv"
        other = secrets.token_hex(12)
        csv.write_text(
            "id,pac,name,device type id\n"
            f"00a1,{PAC},first,{device_type}\n"
            f"A2,{PAC},second\n"  # --device-type fills it
            f"a1,{PAC},again,{device_type}\n"  # duplicate (same id, other spelling)
            f"XYZ,{PAC},bad hex,{device_type}\n"
            f"A3,{PAC},{'n' * 101},{device_type}\n"
            f"A4,{PAC},unknown type,{other}\n"
            "A5,only two\n"
        )
        result = run("devices", "import", str(csv), "--device-type", device_type, *data, "--json")
        assert result.returncode == 1, result.stderr
        report = json.loads(result.stdout)
        assert (report["total"], report["created"]) == (7, 2)
        failed = {f["line"]: f["message"] for f in report["failed"]}
        assert sorted(failed) == [4, 5, 6, 7, 8]
        assert "already exists" in failed[4] and failed[5].startswith("id:")
        assert failed[6].startswith("name:") and "not found" in failed[7]
        assert failed[8].startswith("expected 4 columns")
        text = run("devices", "import", str(csv), "--device-type", device_type, *data)
        assert text.returncode == 1 and "0 of 7 devices created, 7 lines refused" in text.stdout
        assert "line 5 (XYZ): id:" in text.stdout
        missing = run("devices", "import", str(tmp_path / "nope.csv"), *data)
        assert missing.returncode == 2
        # the running lorafox did not create them, yet takes their uplinks (one look at the DB)
        sigfox = (SIGFOX_USER, SIGFOX_PASSWORD)
        body = {"device": "A1", "time": 1_700_000_000, "seqNumber": 1, "data": "01"}
        assert http.post("/sigfox/uplink", json=body, auth=sigfox).status_code == 204
        device = http.get("/api/v2/devices/A1").json()
        assert device["name"] == "first" and device["sequenceNumber"] == 1
        body["device"] = "A3"
        assert http.post("/sigfox/uplink", json=body, auth=sigfox).status_code == 404
