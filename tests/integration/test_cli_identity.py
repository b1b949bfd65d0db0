"""``lorafox users …`` and ``lorafox api-users …`` as an operator runs them: real processes, and
a running lorafox that takes the credentials they print."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx

from tests.conftest import Running, command_env


def run(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("LORAFOX_")}
    return subprocess.run(
        [sys.executable, "-m", "lorafox", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={**clean, **command_env(args)},
        timeout=60,
        check=False,
    )


def test_users_and_api_users_from_the_command_line(
    tmp_path: Path, lorafox_factory: Callable[..., Running]
) -> None:
    data = ["--data-dir", str(tmp_path)]
    made = run("api-users", "create", "ci", "--profile", "ADMIN", *data, "--json")
    assert made.returncode == 0, made.stderr
    machine = json.loads(made.stdout)
    assert len(machine["id"]) == 24 and len(machine["accessToken"]) == 32

    person = run(
        "users", "create", "Ops@Example.com", "--first-name", "Olga", "--profile",
        "DEVICE_MANAGER", *data,
    )  # fmt: skip
    assert person.returncode == 0, person.stderr
    password = next(
        line.split(": ", 1)[1] for line in person.stdout.splitlines() if "Password:" in line
    )
    assert "shown once" in person.stdout and password not in person.stderr

    listed = run("users", "list", *data, "--json")
    [ops] = [u for u in json.loads(listed.stdout) if u["email"] == "ops@example.com"]
    assert ops["firstName"] == "Olga"
    assert [(r["group"]["name"], r["profile"]) for r in ops["userRoles"]] == [
        ("root", "DEVICE_MANAGER")
    ]
    machines = run("api-users", "list", *data)
    assert machine["id"] in machines.stdout and "ci" in machines.stdout
    assert machine["accessToken"] not in machines.stdout  # never shown again

    server = lorafox_factory(data_dir=tmp_path)
    with httpx.Client(base_url=server.base_url) as http:
        ci = (machine["id"], machine["accessToken"])
        assert http.get("/api/v2/api-users", auth=ci).status_code == 200
        me = http.get(f"/api/v2/users/{ops['id']}", auth=("ops@example.com", password))
        assert me.status_code == 200 and me.json()["userRoles"][0]["profile"]["id"] == (
            "DEVICE_MANAGER"
        )

        # renewing (while lorafox runs) ends the old password at once
        renewed = run("api-users", "renew", machine["id"].upper(), *data)
        assert renewed.returncode == 0, renewed.stderr
        new = next(
            line.split(": ", 1)[1] for line in renewed.stdout.splitlines() if "Password:" in line
        )
        assert http.get("/api/v2/profiles", auth=ci).status_code == 401
        assert http.get("/api/v2/profiles", auth=(machine["id"], new)).status_code == 200

        # a new password from standard input, even for a login lorafox already verified
        changed = run(
            "users", "set-password", "ops@example.com", "--password-stdin", *data,
            stdin="a-new-password\n",
        )  # fmt: skip
        assert changed.returncode == 0, changed.stderr
        assert http.get("/api/v2/profiles", auth=("ops@example.com", password)).status_code == 401
        ops_auth = ("ops@example.com", "a-new-password")
        assert http.get("/api/v2/profiles", auth=ops_auth).status_code == 200


def test_mistakes_are_one_line_on_stderr(tmp_path: Path) -> None:
    """In-process (``CliRunner``): the same code paths, without a process start each."""
    from typer.testing import CliRunner

    from lorafox.cli import app

    data = ["--data-dir", str(tmp_path)]
    runner = CliRunner()
    made = runner.invoke(app, ["users", "create", "ops@example.com", *data])
    assert made.exit_code == 0, made.output
    for args, words in [
        (("users", "create", "ops@example.com"), "already exists"),
        (("users", "create", "not-an-email"), "email"),
        (("users", "create", "x@example.com", "--timezone", "Mars/Base"), "timezone"),
        (("users", "set-password", "ghost@example.com"), "no user"),
        (("api-users", "renew", "0" * 24), "not found"),
        (("api-users", "create", "x", "--profile", "ADMIN", "--group", "nope"), "not found"),
    ]:
        failed = runner.invoke(app, [*args, *data])
        assert failed.exit_code == 1, (args, failed.output)
        [line] = failed.stderr.strip().splitlines()
        assert line.startswith("lorafox: error:") and words in line, line
    assert runner.invoke(app, ["api-users", "create", "x", *data]).exit_code == 2  # no --profile
    empty = runner.invoke(
        app, ["users", "set-password", "ops@example.com", "--password-stdin", *data], input=""
    )
    assert empty.exit_code == 2 and "standard input" in empty.stderr
