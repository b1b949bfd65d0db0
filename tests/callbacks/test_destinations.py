"""Which addresses callbacks may reach: public ones, and private ones only where allowed."""

from __future__ import annotations

import ipaddress

import pytest

from lorafox.callbacks.destinations import DestinationGuard, DestinationRefused
from lorafox.errors import InvalidInput


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://10.0.0.5:8080/x",
        "http://192.168.1.1/",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://0.0.0.0/",
        "http://224.0.0.1/",
    ],
)
def test_private_loopback_and_reserved_addresses_are_refused(url: str) -> None:
    with pytest.raises(DestinationRefused, match="private, loopback or reserved"):
        DestinationGuard().check_url(url)


def test_an_allowed_network_opens_its_addresses_only() -> None:
    guard = DestinationGuard([ipaddress.ip_network("10.1.0.0/16")])
    assert guard.check_url("http://10.1.2.3/in") == "10.1.2.3"
    with pytest.raises(DestinationRefused):
        guard.check_url("http://10.2.0.1/in")


def test_public_addresses_and_host_names_pass_the_static_check() -> None:
    assert DestinationGuard().check_url("https://93.184.216.34/x") == "93.184.216.34"
    assert DestinationGuard().check_url("https://example.com/x") == "example.com"


@pytest.mark.parametrize("url", ["ftp://example.com/", "https:///nohost", "example.com/x"])
def test_a_url_needs_http_and_a_host(url: str) -> None:
    with pytest.raises(InvalidInput, match="http:// or https://"):
        DestinationGuard().check_url(url)


async def test_a_host_name_resolving_to_loopback_is_refused_when_sending() -> None:
    loopback = r"localhost is \(or resolves to\) (127\.0\.0\.1|::1)"
    with pytest.raises(DestinationRefused, match=loopback):
        await DestinationGuard().check("http://localhost:9/x")
    await DestinationGuard(
        [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1")]
    ).check("http://localhost:9/x")
