"""``lorafox`` as a user runs it: a real process, real signals, real ports."""

from __future__ import annotations

import base64
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import orjson
import pytest

from tests.conftest import command_env, free_port
from tests.integration.test_sigfox_flow import body


def lorafox(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LORAFOX_")}
    return subprocess.Popen(
        [sys.executable, "-m", "lorafox", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**clean, **command_env(args, env)},
    )


def serve(
    data_dir: Path, http_port: int, mqtt_port: int, *extra: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    return lorafox(
        "serve",
        "--data-dir",
        str(data_dir),
        "--http-port",
        str(http_port),
        "--mqtt-port",
        str(mqtt_port),
        *extra,
        env=env,
    )


def wait_healthy(port: int, proc: subprocess.Popen[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("lorafox did not become healthy")


@contextmanager
def until_sigterm(proc: subprocess.Popen[str], port: int) -> Iterator[None]:
    """The block runs once ``proc`` serves on ``port``; then ``proc`` gets SIGTERM and is
    waited for."""
    try:
        wait_healthy(port, proc)
        yield
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


def _serve_and_stop(data_dir: Path, http_port: int, mqtt_port: int) -> tuple[str, str]:
    """What ``lorafox serve`` printed (stdout, stderr) once healthy then stopped by SIGTERM,
    which must end it cleanly."""
    proc = serve(data_dir, http_port, mqtt_port)
    wait_healthy(http_port, proc)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return out, err


@pytest.fixture
def ports() -> tuple[int, int]:
    return free_port(), free_port()


def test_first_start_prints_credentials_once_and_sigterm_stops_cleanly(
    tmp_path: Path, ports: tuple[int, int]
) -> None:
    http_port, mqtt_port = ports
    out, err = _serve_and_stop(tmp_path, http_port, mqtt_port)
    assert "lorafox stopped" in err
    admin_line = next(line for line in out.splitlines() if "Admin user created" in line)
    password = admin_line.rsplit("/ ", 1)[1].strip()
    sigfox_line = next(line for line in out.splitlines() if "Sigfox callback credentials" in line)
    sigfox_user, sigfox_password = sigfox_line.split(": ", 1)[1].split(" / ")
    assert password not in err and sigfox_password not in err  # never logged

    # second start: nothing printed again, the credentials still work; SIGINT stops it too
    proc = serve(tmp_path, http_port, mqtt_port)
    wait_healthy(http_port, proc)
    r = httpx.get(
        f"http://127.0.0.1:{http_port}/api/v2/devices/1/messages", auth=("admin", password)
    )
    assert r.status_code == 200
    r = httpx.post(
        f"http://127.0.0.1:{http_port}/sigfox/uplink",
        json=body("1", 1),
        auth=(sigfox_user.strip(), sigfox_password.strip()),
    )
    assert r.status_code == 204
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "created" not in out


@pytest.mark.parametrize("flag", ["--http-port", "--mqtt-port"])
def test_port_in_use_is_one_line_naming_the_flag(
    tmp_path: Path, ports: tuple[int, int], flag: str
) -> None:
    http_port, mqtt_port = ports
    taken = http_port if flag == "--http-port" else mqtt_port
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", taken))
        holder.listen()
        proc = serve(tmp_path, http_port, mqtt_port)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    error_lines = [line for line in err.splitlines() if line.startswith("lorafox: error:")]
    assert len(error_lines) == 1
    assert f"port {taken}" in error_lines[0] and flag in error_lines[0]
    assert "Traceback" not in err
    # the start that could not serve made no credentials: the next one prints them
    assert "created" not in out
    out, _ = _serve_and_stop(tmp_path, http_port, mqtt_port)
    assert "Admin user created: admin / " in out
    assert "Sigfox callback credentials created: " in out


def test_bad_setting_is_a_clear_message(tmp_path: Path) -> None:
    proc = lorafox("serve", "--data-dir", str(tmp_path), "--mqtt-url", "http://nope")
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2
    assert "mqtt_url" in err and "mqtt://" in err and "Traceback" not in err


def test_settings_from_env_and_toml(tmp_path: Path, ports: tuple[int, int]) -> None:
    http_port, mqtt_port = ports
    config = tmp_path / "lorafox.toml"
    config.write_text(
        f"http_port = 1\nmqtt_port = {mqtt_port}\n"
        '[sigfox]\nallowed_networks = ["185.110.96.0/22"]\n'
    )
    env = {
        "LORAFOX_HTTP_PORT": str(http_port),
        "LORAFOX_SIGFOX_PASSWORD": "pw",
        "LORAFOX_DATA_DIR": str(tmp_path),
    }
    proc = lorafox("serve", "--config", str(config), env=env)
    with until_sigterm(proc, http_port):  # env beats the file
        r = httpx.post(
            f"http://127.0.0.1:{http_port}/sigfox/uplink", json=body("1", 1), auth=("sigfox", "pw")
        )
        assert r.status_code == 403  # the file's allow-list applies


def test_sigfox_setup_prints_working_callbacks(tmp_path: Path, ports: tuple[int, int]) -> None:
    http_port, mqtt_port = ports
    setup = lorafox(
        "sigfox-setup",
        "--public-url",
        "https://iot.example.com/",
        "--data-dir",
        str(tmp_path),
        "--json",
    )
    out, err = setup.communicate(timeout=30)
    assert setup.returncode == 0, err
    printed = orjson.loads(out[out.index("{") :])
    uplink, bidir, status, acknowledge, advanced, error = printed["callbacks"]
    assert [
        cb["url"].removeprefix("https://iot.example.com") for cb in printed["callbacks"][2:]
    ] == [
        "/sigfox/service/status",
        "/sigfox/service/acknowledge",
        "/sigfox/service/data-advanced",
        "/sigfox/error",
    ]
    assert uplink["url"] == "https://iot.example.com/sigfox/uplink"
    assert bidir["url"] == "https://iot.example.com/sigfox/bidir"
    assert uplink["method"] == bidir["method"] == "POST"
    assert uplink["contentType"] == "application/json"
    for variable in (
        "{device}",
        "{time}",
        "{data}",
        "{seqNumber}",
        "{ack}",
        "{longPolling}",
        "{snr}",
        "{rssi}",
        "{station}",
        "{avgSnr}",
        "{lat}",
        "{lng}",
        "{deviceTypeId}",
        "{duplicate}",
    ):
        assert variable in uplink["body"]
    header = uplink["headers"]["Authorization"]

    # the printed header and body template work against the server, once the Back-End fills it in
    proc = serve(tmp_path, http_port, mqtt_port)
    with until_sigterm(proc, http_port):
        filled = bidir["body"]
        for name, value in {
            "device": "1A2B",
            "time": "1700000000",
            "data": "0102",
            "seqNumber": "7",
            "ack": "true",
            "longPolling": "false",
            "snr": "10.5",
            "rssi": "-120.0",
            "avgSnr": "11.0",
            "station": "0A1B",
            "lat": "43.0",
            "lng": "1.0",
            "deviceTypeId": "abc",
            "duplicate": "false",
        }.items():
            filled = filled.replace("{" + name + "}", value)
        r = httpx.post(
            f"http://127.0.0.1:{http_port}/sigfox/bidir",
            content=filled,
            headers={"Authorization": header, "Content-Type": bidir["contentType"]},
        )
        assert r.status_code == 204, r.text
        samples = {
            "device": "1A2B",
            "time": "1700000000",
            "temp": "21.5",
            "batt": "3.3",
            "seqNumber": "7",
            "infoCode": "0",
            "infoMessage": "Acked",
            "downlinkAck": "true",
            "downlinkOverusage": "false",
            "data": "0102",
            "lqi": "Good",
            "linkQuality": "2",
            "operatorName": "SIGFOX_France",
            "countryCode": "250",
            "deviceTypeId": "abc",
            "duplicates": '[{"bsId": "0A1B", "rssi": -120.0, "nbRep": 3}]',
            "computedLocation": '{"lat": 43.6, "lng": 1.44, "radius": 1500, "source": 2}',
            "severity": "ERROR",
            "info": "No message received since 2023-11-14 22:13:20",
        }
        for callback, recorded in (
            (status, "status"),
            (acknowledge, "acknowledge"),
            (advanced, "data-advanced"),
            (error, "error"),
        ):
            filled = callback["body"]
            for name, value in samples.items():
                filled = filled.replace("{" + name + "}", value)
            r = httpx.post(
                f"http://127.0.0.1:{http_port}"
                + callback["url"].removeprefix("https://iot.example.com"),
                content=filled,
                headers={"Authorization": header, "Content-Type": callback["contentType"]},
            )
            assert r.status_code == 200, (callback["type"], r.text)
            assert r.json()["recorded"] == recorded
        user, password = base64.b64decode(header.split()[1]).decode().split(":")
        assert user == "sigfox" and password

    human = lorafox(
        "sigfox-setup", "--public-url", "https://iot.example.com", "--data-dir", str(tmp_path)
    )
    out, _ = human.communicate(timeout=30)
    assert (
        "DATA / BIDIR" in out and header in out and "https://iot.example.com/sigfox/uplink" in out
    )
    bad = lorafox("sigfox-setup", "--public-url", "iot.example.com", "--data-dir", str(tmp_path))
    _, err = bad.communicate(timeout=30)
    assert bad.returncode == 2 and "--public-url" in err


def test_version_flag() -> None:
    proc = lorafox("--version")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.strip().startswith("lorafox ") and out.strip().split()[1][0].isdigit()


def _one_error_line(proc: subprocess.Popen[str]) -> str:
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("lorafox: error: ")
    return lines[0]


def test_bad_data_dirs_are_one_line(tmp_path: Path, ports: tuple[int, int]) -> None:
    a_file = tmp_path / "file"
    a_file.write_text("not a directory")
    line = _one_error_line(serve(a_file, *ports))
    assert f"data dir {a_file} is a file" in line and "--data-dir" in line
    line = _one_error_line(serve(Path("/proc/lorafox-data"), *ports))
    assert "cannot create the data dir /proc/lorafox-data" in line and "--data-dir" in line
    unreadable = tmp_path / "dir"
    unreadable.mkdir()
    (unreadable / "secret.key").mkdir()  # unreadable as a key file, even for root
    line = _one_error_line(serve(unreadable, *ports))
    assert "cannot read the secret key" in line and "--data-dir" in line


def test_bad_config_database_and_broker_are_one_line(
    tmp_path: Path, ports: tuple[int, int]
) -> None:
    missing = tmp_path / "missing.toml"
    line = _one_error_line(serve(tmp_path / "d1", *ports, "--config", str(missing)))
    assert f"--config {missing}: no such file" in line
    broken = tmp_path / "broken.toml"
    broken.write_text("http_port = [\n")
    line = _one_error_line(serve(tmp_path / "d2", *ports, "--config", str(broken)))
    assert f"--config {broken}: not valid TOML" in line
    wrong_type = tmp_path / "wrong.toml"
    wrong_type.write_text('api_rate_limit = "fast"\n')
    line = _one_error_line(serve(tmp_path / "d3", *ports, "--config", str(wrong_type)))
    assert "invalid settings: api_rate_limit" in line
    line = _one_error_line(serve(tmp_path / "d4", *ports, "--database-url", "nosuch://x"))
    assert "cannot use the database URL" in line and "--database-url" in line
    unreachable = "postgresql://nobody@127.0.0.1:1/x"
    line = _one_error_line(serve(tmp_path / "d5", *ports, "--database-url", unreachable))
    assert "cannot open the database" in line and "--database-url" in line
    line = _one_error_line(serve(tmp_path / "d6", ports[0], 0, "--mqtt-url", "http://broker"))
    assert "mqtt_url" in line and "mqtt://" in line


def test_second_serve_on_one_data_dir_names_the_first(
    tmp_path: Path, ports: tuple[int, int]
) -> None:
    http_port, mqtt_port = ports
    data = tmp_path / "new" / "data"
    first = serve(data, http_port, mqtt_port)
    with until_sigterm(first, http_port):
        assert data.stat().st_mode & 0o777 == 0o700
        assert (data / "lorafox.lock").stat().st_mode & 0o777 == 0o600
        line = _one_error_line(serve(data, free_port(), free_port()))
        assert f"in use by another lorafox (PID {first.pid})" in line
        assert "--data-dir" in line
    assert first.returncode == 0
    # the lock went with the first process: the data dir serves again
    again_port = free_port()
    again = serve(data, again_port, free_port())
    with until_sigterm(again, again_port):
        pass  # it became healthy


@pytest.mark.sqlite  # the SQLite file and its WAL/SHM are private too
def test_permissive_data_dir_is_made_private(tmp_path: Path, ports: tuple[int, int]) -> None:
    """A data dir left 0755 with 0644 files (older version, hand-made) is private after start."""
    http_port, mqtt_port = ports
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    stray = data / "notes.txt"
    stray.write_text("kept")
    stray.chmod(0o644)
    proc = serve(data, http_port, mqtt_port, env={"LORAFOX_ADMIN_PASSWORD": "admin-Password-42"})
    with until_sigterm(proc, http_port):
        with httpx.Client(base_url=f"http://127.0.0.1:{http_port}", timeout=10) as http:
            http.get("/api/v2/devices", auth=("admin", "admin-Password-42")).raise_for_status()
        assert data.stat().st_mode & 0o777 == 0o700
        assert stray.stat().st_mode & 0o777 == 0o600
        made = sorted(p.name for p in data.iterdir() if p.name.startswith("lorafox.db"))
        assert "lorafox.db" in made
        for name in made:  # the database and its WAL/SHM, created while serving
            assert (data / name).stat().st_mode & 0o777 == 0o600, name


def test_debug_log_holds_no_secrets(tmp_path: Path, ports: tuple[int, int]) -> None:
    """At DEBUG, SQL parameters (password hashes, encrypted secrets) are not logged."""
    http_port, mqtt_port = ports
    proc = serve(
        tmp_path,
        http_port,
        mqtt_port,
        "--log-level",
        "DEBUG",
        env={"LORAFOX_ADMIN_PASSWORD": "admin-Password-42"},
    )
    try:
        wait_healthy(http_port, proc)
        with httpx.Client(base_url=f"http://127.0.0.1:{http_port}", timeout=10) as http:
            admin = ("admin", "admin-Password-42")
            [root] = http.get("/api/v2/groups", auth=admin).json()["data"]
            made = http.post(
                "/api/v2/api-users",
                json={"groupId": root["id"], "name": "script", "profileIds": ["VIEWER"]},
                auth=admin,
            )
            assert made.status_code == 201, made.text
            secret = made.json()["accessToken"]
            assert http.get("/api/v2/groups", auth=(made.json()["id"], secret)).is_success
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert "DEBUG" in err  # the log level took effect
    for leaked in ("$argon2", "admin-Password-42", secret, "gAAAAA"):
        assert leaked not in err, leaked
