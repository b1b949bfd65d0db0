"""Notification URLs go where callbacks may go; a digest's text counts every event."""

from __future__ import annotations

import ipaddress
from collections import Counter

import pytest

from lorafox.alerts.notifier import compose
from lorafox.alerts.targets import NotificationTargets, mail_addresses
from lorafox.callbacks.destinations import DestinationGuard, DestinationRefused
from lorafox.domain import Event, EventType, Severity
from lorafox.errors import InvalidInput

PUBLIC_ONLY = NotificationTargets(DestinationGuard())
LOOPBACK = NotificationTargets(DestinationGuard([ipaddress.ip_network("127.0.0.0/8")]))


@pytest.mark.parametrize(
    "url",
    [
        "json://127.0.0.1:8080/hook",
        "form://10.0.0.5/in",
        "jsons://169.254.169.254/latest",
        "ntfy://192.168.1.2/topic",
        "gotify://[::1]/token",
    ],
)
def test_urls_to_private_addresses_are_refused(url: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        PUBLIC_ONLY.checked([url])
    assert caught.value.field == "urls"


def test_chat_services_and_public_hosts_are_allowed() -> None:
    urls = ["slack://T1/B1/C1", "tgram://123456789:abcdef/42", "ntfy://ntfy.sh/alerts"]
    assert PUBLIC_ONLY.checked(urls) == tuple(urls)
    assert LOOPBACK.checked(["json://127.0.0.1:8080/hook"]) == ("json://127.0.0.1:8080/hook",)


def test_unknown_schemes_and_too_many_urls_are_refused() -> None:
    with pytest.raises(InvalidInput):
        PUBLIC_ONLY.checked(["nonsense://x"])
    with pytest.raises(InvalidInput):
        PUBLIC_ONLY.checked(["ntfy://ntfy.sh/a"] * 11)
    with pytest.raises(InvalidInput):
        mail_addresses(["a@example.com", "not an address"])


async def test_a_name_resolving_to_loopback_is_refused_before_sending() -> None:
    with pytest.raises(DestinationRefused):
        await PUBLIC_ONLY.check("json://localhost:8080/hook")
    await LOOPBACK.check("json://localhost:8080/hook")


def test_a_digest_lists_fifty_events_and_counts_them_all() -> None:
    events = [
        Event(EventType.COMMUNICATION_LOST, Severity.ERROR, 1_700_000_000_000, "lost", f"{n:X}")
        for n in range(200)
    ]
    counts = Counter({"communication_lost": 1000, "low_battery": 3})
    title, body = compose("Alert x", events, counts)
    assert title == "lorafox: 1003 events — 1000 communication_lost, 3 low_battery"
    assert body.count("  communication_lost  ") == 50
    assert "… and 953 more" in body
    single, text = compose("Alert x", events[:1], Counter({"communication_lost": 1}))
    assert single == "lorafox: communication_lost 0"
    assert "2023-11-14 22:13:20 UTC  communication_lost  0  lost" in text
