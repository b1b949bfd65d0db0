"""An external broker over mutual TLS (the way AWS IoT Core is reached): a Mosquitto started
for the test with its own CA, server certificate and a required client certificate."""

from __future__ import annotations

import datetime
import shutil
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import SIGFOX_PASSWORD, SIGFOX_USER, Running, free_port, require_binary
from tests.integration.test_sigfox_flow import body, new_device
from tests.mqtt_helpers import Recorder, wait_until


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write(path: Path, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate) -> None:
    path.with_suffix(".key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.with_suffix(".crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _issue(
    ca_key: ec.EllipticCurvePrivateKey, ca: x509.Name, subject: str, *, server: bool
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(ca)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False
        )
    return key, builder.sign(ca_key, hashes.SHA256())


@dataclass
class TlsBroker:
    port: int
    ca: Path
    client_cert: Path
    client_key: Path


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[TlsBroker]:
    require_binary("mosquitto")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("lorafox test CA"))
        .issuer_name(_name("lorafox test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    _write(tmp_path / "ca", ca_key, ca_cert)
    _write(tmp_path / "server", *_issue(ca_key, ca_cert.subject, "localhost", server=True))
    _write(tmp_path / "client", *_issue(ca_key, ca_cert.subject, "lorafox", server=False))
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        f"listener {port} 127.0.0.1\n"
        f"cafile {tmp_path / 'ca.crt'}\ncertfile {tmp_path / 'server.crt'}\n"
        f"keyfile {tmp_path / 'server.key'}\nrequire_certificate true\nallow_anonymous true\n"
        "persistence false\nuser root\n"
    )
    proc = subprocess.Popen(
        [shutil.which("mosquitto") or "mosquitto", "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: _listening(port), timeout=10)
        yield TlsBroker(port, tmp_path / "ca.crt", tmp_path / "client.crt", tmp_path / "client.key")
    finally:
        proc.terminate()
        proc.wait(10)


def _listening(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        time.sleep(0.05)
        return False


def test_mutual_tls_broker(lorafox_factory: Callable[..., Running], tls_broker: TlsBroker) -> None:
    device = new_device()
    lorafox = lorafox_factory(
        mqtt_port=0,
        mqtt_url=f"mqtts://localhost:{tls_broker.port}",
        mqtt={
            "ca_file": tls_broker.ca,
            "cert_file": tls_broker.client_cert,
            "key_file": tls_broker.client_key,
        },
    )
    wait_until(lambda: httpx.get(f"{lorafox.base_url}/healthz").json()["mqtt"] == "connected")
    context = ssl.create_default_context(cafile=str(tls_broker.ca))
    context.load_cert_chain(str(tls_broker.client_cert), str(tls_broker.client_key))
    recorder = Recorder("localhost", tls_broker.port, f"sigfox/uplink/{device}", tls=context)
    try:
        r = httpx.post(
            f"{lorafox.base_url}/sigfox/uplink",
            json=body(device, 1),
            auth=(SIGFOX_USER, SIGFOX_PASSWORD),
        )
        assert r.status_code == 204
        [uplink] = recorder.wait_for(f"sigfox/uplink/{device}")
        assert uplink["device"] == device
    finally:
        recorder.close()


def test_without_client_certificate_it_never_connects(
    lorafox_factory: Callable[..., Running], tls_broker: TlsBroker
) -> None:
    lorafox = lorafox_factory(
        mqtt_port=0,
        mqtt_url=f"mqtts://localhost:{tls_broker.port}",
        mqtt={"ca_file": tls_broker.ca},
    )
    time.sleep(1)
    assert httpx.get(f"{lorafox.base_url}/healthz").json()["mqtt"] == "disconnected"
    r = httpx.post(
        f"{lorafox.base_url}/sigfox/uplink",
        json=body("1", 1),
        auth=(SIGFOX_USER, SIGFOX_PASSWORD),
    )
    assert r.status_code == 204  # ingest does not depend on the broker
