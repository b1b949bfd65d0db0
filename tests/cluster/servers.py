"""Private brokers and databases on free ports, started and stopped by the outage tests: a
NATS server with MQTT, a RabbitMQ node with its MQTT plugin, a Mosquitto, a PostgreSQL
cluster. Each keeps its data in its directory, so that a restart finds its sessions again."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.conftest import free_port, require_binary

__all__ = ["MosquittoServer", "NatsServer", "PostgresCluster", "RabbitNode"]


def _binary(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


def _wait_listening(port: int, what: str, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{what} does not listen on {port}")


class _Process:
    """A server run as a child process: ``start`` (again after ``stop``) on the same port."""

    name = "server"

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.dir = directory
        self.port = free_port()
        self._proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    _user: str | None = None

    def start(self) -> None:
        log = (self.dir / f"{self.name}.log").open("ab")
        self._proc = subprocess.Popen(self.command(), stdout=log, stderr=log, user=self._user)
        log.close()
        _wait_listening(self.port, self.name, self._proc)

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            self._proc.wait(30)
        self._proc = None


class NatsServer(_Process):
    """nats-server with JetStream (which MQTT sessions need) and an MQTT listener."""

    name = "nats"

    def __init__(self, directory: Path) -> None:
        require_binary("nats-server")
        super().__init__(directory)
        config = directory / "nats.conf"
        config.write_text(
            f"server_name: lfx-test\nlisten: 127.0.0.1:{free_port()}\n"
            f"jetstream {{ store_dir: {directory / 'js'} }}\n"
            f"mqtt {{ listen: 127.0.0.1:{self.port} }}\n"
        )
        self._config = config

    def command(self) -> list[str]:
        return [_binary("nats-server"), "-c", str(self._config)]


class MosquittoServer(_Process):
    """A Mosquitto of its own, anonymous, keeping its sessions in memory."""

    name = "mosquitto"

    def __init__(self, directory: Path) -> None:
        require_binary("mosquitto")
        super().__init__(directory)
        config = directory / "mosquitto.conf"
        config.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n")
        self._config = config

    def command(self) -> list[str]:
        return [_binary("mosquitto"), "-c", str(self._config)]


class RabbitNode:
    """A second RabbitMQ node with its MQTT plugin (login guest/guest). ``stop`` and ``start``
    stop and start its application, not the Erlang node: the broker's restart costs ~2 s."""

    def __init__(self) -> None:
        require_binary("rabbitmq-server")
        # the node runs as the rabbitmq user: a directory of its own it can reach
        directory = self.dir = Path(tempfile.mkdtemp(prefix="lorafox-rabbitmq-"))
        directory.chmod(0o777)
        self.port = free_port()
        self.node = f"lfx{self.port}@localhost"
        (directory / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{free_port()}\n"
            f"mqtt.listeners.tcp.1 = 127.0.0.1:{self.port}\nloopback_users = none\n"
        )
        (directory / "enabled_plugins").write_text("[rabbitmq_mqtt].\n")
        self._env = {
            **os.environ,
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_CONFIG_FILE": str(directory / "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(directory / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(directory / "mnesia"),
            "RABBITMQ_LOG_BASE": str(directory / "log"),
        }
        subprocess.run([_binary("rabbitmq-server"), "-detached"], env=self._env, check=True)
        deadline = time.monotonic() + 90
        while True:  # the node answers await_startup only once its Erlang VM is up
            try:
                self._ctl("await_startup")
                break
            except subprocess.CalledProcessError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        _wait_listening(self.port, "RabbitMQ's MQTT listener")

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            [_binary("rabbitmqctl"), "-n", self.node, *args],
            env=self._env,
            check=True,
            capture_output=True,
            timeout=120,
        )

    def stop(self) -> None:
        self._ctl("stop_app")

    def start(self) -> None:
        self._ctl("start_app")
        _wait_listening(self.port, "RabbitMQ's MQTT listener")

    def shutdown(self) -> None:
        self._ctl("stop")
        shutil.rmtree(self.dir, ignore_errors=True)


class PostgresCluster(_Process):
    """A PostgreSQL cluster of its own (initdb in a directory of its own), trust on loopback.
    PostgreSQL refuses to run as root: as root, it runs as the ``postgres`` user."""

    name = "postgres"

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            require_binary("initdb")  # skips (fails in CI)
        self._bin = Path(found[-1]).parent
        super().__init__(Path(tempfile.mkdtemp(prefix="lorafox-postgres-")))
        self._user: str | None = None
        if os.getuid() == 0:
            self._user = "postgres"
            owner = pwd.getpwnam(self._user)
            os.chown(self.dir, owner.pw_uid, owner.pw_gid)
        self._data = self.dir / "pgdata"
        subprocess.run(
            [str(self._bin / "initdb"), "-D", str(self._data), "-U", "postgres", "-A", "trust"],
            check=True,
            capture_output=True,
            user=self._user,
        )

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def command(self) -> list[str]:
        return [
            str(self._bin / "postgres"),
            "-D",
            str(self._data),
            "-p",
            str(self.port),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            f"unix_socket_directories={self.dir}",
        ]

    def stop(self) -> None:  # not SIGTERM, the smart shutdown that waits for the clients
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGINT)  # fast: the clients are cut off
            self._proc.wait(30)
        self._proc = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
