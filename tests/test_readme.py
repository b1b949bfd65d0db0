"""README.md cannot drift: its commands and its code run here against a live lorafox.

- the first two commands are the ones CI runs (the second is in ``.ci/run``);
- every inline ``mosquitto_sub``, ``mosquitto_pub`` and ``curl`` command of the Quick start runs
  as printed, with the ports, host and password of a lorafox started by the test;
- the Python block of the DynamoDB section runs with boto3 against that lorafox;
- the callback body template, filled as the Sigfox Back-End fills it, is stored;
- the TOML example is a valid configuration; the development commands are the ones CI runs.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import (
    ADMIN_PASSWORD,
    SIGFOX_PASSWORD,
    SIGFOX_USER,
    Running,
    require_binary,
    root_api_user,
)

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
QUICK_START = README[
    README.index("## Quick start") : README.index("\n## ", README.index("## Quick"))
]
_INLINE = re.compile(r"`((?:mosquitto_sub|mosquitto_pub|curl|\.venv/bin/lorafox simulate) [^`]+)`")


def _section(title: str) -> str:
    start = README.index(f"## {title}")
    end = README.find("\n## ", start + 3)
    return README[start : end if end > 0 else None]


QUICK_START = _section("Quick start")


def _commands(prefix: str) -> list[str]:
    """The runnable ones: a command with ``…`` in it is a pattern, not a command."""
    return [c for c in _INLINE.findall(QUICK_START) if c.startswith(prefix) and "…" not in c]


def _localise(command: str, lorafox: Running) -> list[str]:
    """The README's command for the lorafox of the test: its MQTT and HTTP ports, the admin's
    password (the README says ``PASSWORD``)."""
    command = command.replace("-p 1884", f"-p {lorafox.mqtt_port}")
    command = command.replace("localhost:8080", f"127.0.0.1:{lorafox.http_port}")
    command = command.replace("PASSWORD", ADMIN_PASSWORD)
    if command.startswith(".venv/bin/lorafox simulate"):
        where = f"--url {lorafox.base_url} --data-dir {lorafox.service.settings.data_dir}"
        command = command.replace(".venv/bin/lorafox simulate", f"lorafox simulate {where}")
        return [sys.executable, "-m", *shlex.split(command)]
    return shlex.split(command)


def test_the_first_two_commands_are_the_ones_ci_runs() -> None:
    block = README[README.index("```sh") : README.index("```", README.index("```sh") + 5)]
    lines = [line for line in block.splitlines()[1:] if line and not line.startswith("#")]
    assert len(lines) == 2
    assert lines[0].endswith(".venv/bin/lorafox serve")
    assert lines[1] in (ROOT / ".ci" / "run").read_text()


@pytest.mark.sqlite  # the quick start runs on the default database
def test_the_quick_start_commands_work(lorafox_factory: Callable[..., Running]) -> None:
    require_binary("mosquitto_sub")
    lorafox = lorafox_factory()
    subscriptions = _commands("mosquitto_sub")
    publishes = _commands("mosquitto_pub")
    curls = _commands("curl")
    assert len(subscriptions) == 2 and len(publishes) == 1 and len(curls) == 2
    assert all("-p 1884" in c for c in subscriptions + publishes)
    uplinks = subprocess.Popen(
        [*_localise(subscriptions[0], lorafox), "-C", "1", "-W", "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        with httpx.Client(base_url=lorafox.base_url, timeout=10) as http:
            # the subscription is live once a retained-free publish reaches it; send until then
            body = {"device": "1A2B3C", "time": 1_700_000_000, "data": "0102", "seqNumber": 1}
            deadline = time.monotonic() + 15
            while uplinks.poll() is None and time.monotonic() < deadline:
                assert http.post("/sigfox/uplink", json=body, auth=(SIGFOX_USER, SIGFOX_PASSWORD))
                body["seqNumber"] = int(body["seqNumber"]) + 1  # type: ignore[call-overload]
                time.sleep(0.3)
        out, err = uplinks.communicate(timeout=20)
    finally:
        uplinks.kill()
    assert uplinks.returncode == 0, err
    assert out.startswith("sigfox/uplink/1A2B3C ") and '"data":"0102"' in out

    published = subprocess.run(
        _localise(publishes[0], lorafox), capture_output=True, text=True, timeout=20, check=False
    )
    assert published.returncode == 0, published.stderr
    queued = _wait_for_downlinks(lorafox, 1)
    assert queued[0]["data"] == "0102030405060708"

    downlink, history = curls
    assert "/downlinks" in downlink and "/messages" in history
    for command in (downlink, history):
        done = subprocess.run(
            [*_localise(command, lorafox), "--fail-with-body", "-sS"],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    assert len(_wait_for_downlinks(lorafox, 2)) == 2

    [simulate] = _commands(".venv/bin/lorafox simulate")
    played = subprocess.run(
        _localise(simulate, lorafox), capture_output=True, text=True, timeout=120, check=False
    )
    assert played.returncode == 0, played.stdout + played.stderr
    assert "200 of 200 callbacks sent" in played.stdout and ", 0 not" in played.stdout


def _wait_for_downlinks(lorafox: Running, count: int) -> list[dict[str, object]]:
    deadline = time.monotonic() + 10
    while True:
        answer = httpx.get(
            f"{lorafox.base_url}/api/v2/devices/1A2B3C/downlinks", auth=("admin", ADMIN_PASSWORD)
        )
        data: list[dict[str, object]] = answer.json()["data"]
        if len(data) >= count or time.monotonic() > deadline:
            return data
        time.sleep(0.1)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_the_dynamodb_example_runs(lorafox_factory: Callable[..., Running]) -> None:
    lorafox = lorafox_factory()
    section = _section("DynamoDB-compatible tables")
    code = section[section.index("```python") + len("```python") : section.index("```\n", 10)]
    code = code.replace("http://127.0.0.1:8080", lorafox.base_url)
    login, password = root_api_user(lorafox.base_url, "readme")
    names: dict[str, object] = {"LOGIN": login, "PASSWORD": password}
    exec(compile(code, "README.md", "exec"), names)  # noqa: S102 (the README's own example)
    table = names["table"]
    items = table.query(  # type: ignore[attr-defined]
        KeyConditionExpression="device = :d", ExpressionAttributeValues={":d": "1A2B3C"}
    )["Items"]
    assert items == [{"device": "1A2B3C", "time": 1700000000, "temperature": 21}]


def _block(language: str, after: str) -> str:
    """The first ``language`` code block after the text ``after``."""
    start = README.index(f"```{language}\n", README.index(after)) + len(language) + 4
    return README[start : README.index("```", start)]


def test_the_callback_body_template_is_what_lorafox_takes(
    lorafox_factory: Callable[..., Running],
) -> None:
    """The JSON template to enter in the Sigfox Back-End, filled as the Back-End fills it."""
    template = _block("json", "| Body |")
    values = {
        "device": "1A2B3C",
        "time": "1700000000",
        "data": "0102",
        "seqNumber": "7",
        "ack": "false",
        "longPolling": "false",
        "snr": "12.5",
        "rssi": "-120.00",
        "avgSnr": "18.2",
        "station": "0E1F",
        "lat": "48",
        "lng": "2",
        "deviceTypeId": "5f3b0c0d1e2f3a4b5c6d7e8f",
        "duplicate": "false",
    }
    body = re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)
    lorafox = lorafox_factory()
    with httpx.Client(base_url=lorafox.base_url, timeout=10) as http:
        sent = http.post(
            "/sigfox/uplink",
            content=body,
            headers={"content-type": "application/json"},
            auth=(SIGFOX_USER, SIGFOX_PASSWORD),
        )
        assert sent.status_code == 204, sent.text
        [stored] = http.get(
            "/api/v2/devices/1A2B3C/messages", auth=("admin", ADMIN_PASSWORD)
        ).json()["data"]
    assert (stored["seqNumber"], stored["data"]) == (7, "0102")


def test_the_toml_example_is_a_valid_configuration(tmp_path: Path) -> None:
    from lorafox.settings import Settings

    config = tmp_path / "lorafox.toml"
    config.write_text(_block("toml", "Example `lorafox.toml`"))
    settings = Settings.load(config)
    assert settings.http_port == 8080
    assert settings.mqtt_url is not None and settings.mqtt_url.startswith("mqtts://")
    assert settings.mqtt.cert_file == Path("lorafox.cert.pem")
    assert settings.sigfox.allowed_networks == ["185.110.96.0/22"]


def test_the_development_commands_are_the_ones_ci_runs() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    for line in _block("sh", "## Development").splitlines():
        command = line.split("#", 1)[0].strip()
        if not command or "bench/" in command:
            continue
        for part in command.split(" && "):
            assert part.strip() in ci, part
    # the benchmark the block names exists and takes the flag the README gives
    assert "--quick" in (ROOT / "bench" / "uplink.py").read_text()
