"""From a fresh clone to simulated devices on MQTT: the README's first command, exactly as
printed, run in a clone of this repository (a new venv, ``pip install .``, ``lorafox serve``;
the ports and data dir given as ``LORAFOX_*`` variables), then ``lorafox simulate`` against it.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, require_binary
from tests.mqtt_helpers import Recorder, wait_until

ROOT = Path(__file__).resolve().parent.parent


def _first_command() -> str:
    readme = (ROOT / "README.md").read_text()
    block = readme[readme.index("```sh") : readme.index("```", readme.index("```sh") + 5)]
    return next(line for line in block.splitlines()[1:] if line and not line.startswith("#"))


@pytest.mark.sqlite  # the README's first command, on the default database
@pytest.mark.skipif(not (ROOT / ".git").exists(), reason="needs a git checkout to clone")
def test_readme_first_command_in_a_fresh_clone_then_simulate(tmp_path: Path) -> None:
    require_binary("git")
    command = _first_command()
    assert command == (
        "python3 -m venv .venv && .venv/bin/pip install . && .venv/bin/lorafox serve"
    )
    clone = tmp_path / "lorafox"
    git = shutil.which("git") or "git"
    subprocess.run([git, "clone", "-q", str(ROOT), str(clone)], check=True, timeout=120)
    http_port, mqtt_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LORAFOX_", "VIRTUAL_ENV"))}
    env |= {
        "LORAFOX_HTTP_PORT": str(http_port),
        "LORAFOX_MQTT_PORT": str(mqtt_port),
        "LORAFOX_SEMTECH_PORT": str(free_port()),
        "LORAFOX_DATA_DIR": str(tmp_path / "data"),
        "LORAFOX_ADMIN_PASSWORD": "fresh-clone-admin-1",
    }
    server = subprocess.Popen(  # noqa: S602 (the README's shell command line)
        command,
        shell=True,
        cwd=clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 240
        while True:
            assert server.poll() is None, server.communicate()
            try:
                if httpx.get(f"http://127.0.0.1:{http_port}/healthz", timeout=1).is_success:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "lorafox from the clone did not start"
            time.sleep(0.5)
        admin = ("admin", "fresh-clone-admin-1")
        recorder = Recorder(
            "127.0.0.1", mqtt_port, "sigfox/uplink/#", username=admin[0], password=admin[1]
        )
        queued = httpx.post(
            f"http://127.0.0.1:{http_port}/api/v2/devices/5100002/downlinks",
            json={"data": "0a0b0c0d0e0f1011"},
            auth=admin,
        )
        assert queued.status_code == 201
        try:
            played = subprocess.run(
                [str(clone / ".venv/bin/lorafox"), "simulate", "--bidir", "1", "--devices", "4"],
                cwd=clone,
                env=env | {"LORAFOX_SIGFOX_USERNAME": "", "LORAFOX_SIGFOX_PASSWORD": ""},
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
                input="",
            )
            assert played.returncode == 0, played.stdout + played.stderr
            assert "downlink for 5100002: 0a0b0c0d0e0f1011" in played.stderr
            wait_until(lambda: len(recorder.messages) >= 20)
        finally:
            recorder.close()
        [downlink] = httpx.get(
            f"http://127.0.0.1:{http_port}/api/v2/devices/5100002/downlinks", auth=admin
        ).json()["data"]
        assert downlink["state"] == "acked"
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
        server.communicate(timeout=30)
