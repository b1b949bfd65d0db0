"""``lorafox backup FILE``: a consistent copy of the SQLite database while lorafox serves."""

from __future__ import annotations

import shutil
import signal
import sqlite3
import threading
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port
from tests.integration.test_cli import lorafox, serve, wait_healthy
from tests.integration.test_sigfox_flow import body

pytestmark = pytest.mark.sqlite

SIGFOX = ("sigfox", "backup-test-password")
ENV = {"LORAFOX_SIGFOX_USERNAME": SIGFOX[0], "LORAFOX_SIGFOX_PASSWORD": SIGFOX[1]}


def _backup(data_dir: Path, target: Path) -> tuple[int, str, str]:
    proc = lorafox("backup", "--data-dir", str(data_dir), str(target))
    out, err = proc.communicate(timeout=60)
    return proc.returncode, out, err


def _messages(path: Path) -> int:
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        return int(db.execute("SELECT count(*) FROM messages").fetchone()[0])


def test_backup_under_load_is_consistent_and_restores(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    http_port, mqtt_port = free_port(), free_port()
    proc = serve(data_dir, http_port, mqtt_port, env=ENV)
    acknowledged: list[int] = []
    stop = threading.Event()

    def post() -> None:
        with httpx.Client(base_url=f"http://127.0.0.1:{http_port}", auth=SIGFOX) as client:
            seq = 0
            while not stop.is_set():
                seq += 1
                if client.post("/sigfox/uplink", json=body("BAC1", seq)).status_code == 204:
                    acknowledged.append(seq)

    try:
        wait_healthy(http_port, proc)
        poster = threading.Thread(target=post)
        poster.start()
        try:
            copies = []
            for n in range(2):  # while uplinks keep arriving
                while len(acknowledged) < 50 * (n + 1):
                    stop.wait(0.05)
                target = tmp_path / f"online-{n}.db"
                code, out, err = _backup(data_dir, target)
                assert code == 0, err
                assert f"to {target}" in out and "secret key" in out
                copies.append(_messages(target))
        finally:
            stop.set()
            poster.join()
        assert 50 <= copies[0] <= copies[1] <= len(acknowledged)
        assert not list(tmp_path.glob(".*.partial"))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)

    final = tmp_path / "final.db"
    code, out, err = _backup(data_dir, final)
    assert code == 0, err
    assert _messages(final) == len(acknowledged)  # everything acknowledged is in it
    assert final.stat().st_mode & 0o077 == 0  # it holds password hashes: private

    restored = tmp_path / "restored"
    restored.mkdir(mode=0o700)
    shutil.copy(tmp_path / "online-1.db", restored / "lorafox.db")
    shutil.copy(data_dir / "secret.key", restored / "secret.key")
    http_port = free_port()
    proc = serve(restored, http_port, free_port(), env=ENV)
    try:
        wait_healthy(http_port, proc)
        answer = httpx.post(
            f"http://127.0.0.1:{http_port}/sigfox/uplink", json=body("BAC1", 1), auth=SIGFOX
        )
        assert answer.status_code == 204  # the restored copy already holds it: a duplicate
        stored = _messages(restored / "lorafox.db")
        assert stored == copies[1]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


def test_backup_refusals_are_one_line(tmp_path: Path) -> None:
    code, _, err = _backup(tmp_path / "nothing-here", tmp_path / "copy.db")
    assert code == 2
    assert "no database at" in err and "lorafox.db" in err

    (tmp_path / "taken.db").write_bytes(b"")
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    sqlite3.connect(data_dir / "lorafox.db").close()
    code, _, err = _backup(data_dir, tmp_path / "taken.db")
    assert code == 2
    assert (
        err.strip()
        == f"lorafox: error: {tmp_path / 'taken.db'} exists: remove it or name another file"
    )

    code, _, err = _backup(data_dir, tmp_path / "missing" / "copy.db")
    assert code == 2 and "no such directory" in err

    proc = lorafox(
        "backup", "--database-url", "postgresql://lorafox@127.0.0.1/lorafox", str(tmp_path / "x")
    )
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert "pg_dump" in err and len(err.strip().splitlines()) == 1
