"""Password guessing is throttled before any argon2 work: per address and per login, over HTTP
and MQTT, counted in ``lorafox_auth_failures_total``."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.conftest import ADMIN_PASSWORD, Running
from tests.integration.test_service import _connect

ADMIN = ("admin", ADMIN_PASSWORD)


def _failures(lorafox: Running) -> float:
    text = httpx.get(f"{lorafox.base_url}/metrics", auth=ADMIN).text
    [line] = [x for x in text.splitlines() if x.startswith("lorafox_auth_failures_total ")]
    return float(line.split()[1])


def _behind_a_proxy(
    lorafox_factory: Callable[..., Running], *, per_address: int, per_login: int
) -> Running:
    """lorafox taking client addresses from X-Forwarded-For, locking a login out for 10 minutes
    after ``per_address`` wrong passwords from one address or ``per_login`` for one login."""
    return lorafox_factory(
        sigfox={"trust_forwarded_for": True},
        login_failures_per_address=per_address,
        login_failures_per_login=per_login,
        login_lockout_seconds=600,
    )


def test_guessing_from_one_address_is_locked_out_and_others_still_log_in(
    lorafox_factory: Callable[..., Running], caplog: pytest.LogCaptureFixture
) -> None:
    lorafox = _behind_a_proxy(lorafox_factory, per_address=5, per_login=1000)
    guesser = {"x-forwarded-for": "203.0.113.7"}
    url = f"{lorafox.base_url}/api/v2/groups"
    answers = [
        httpx.get(url, auth=("admin", f"guess-{i}"), headers=guesser).status_code for i in range(8)
    ]
    assert answers == [401] * 5 + [429] * 3
    locked = httpx.get(url, auth=ADMIN, headers=guesser)  # even the right password, from there
    assert locked.status_code == 429 and int(locked.headers["retry-after"]) > 0
    assert "too many wrong passwords" in locked.json()["message"]
    assert any("login throttled" in r.getMessage() for r in caplog.records)
    elsewhere = httpx.get(url, auth=ADMIN, headers={"x-forwarded-for": "198.51.100.9"})
    assert elsewhere.status_code == 200
    assert _failures(lorafox) == 5  # the refused attempts cost no password check


def test_guessing_one_login_from_many_addresses_is_locked_out(
    lorafox_factory: Callable[..., Running],
) -> None:
    lorafox = _behind_a_proxy(lorafox_factory, per_address=1000, per_login=4)
    url = f"{lorafox.base_url}/api/v2/groups"
    answers = [
        httpx.get(
            url, auth=("admin", "wrong"), headers={"x-forwarded-for": f"203.0.113.{i}"}
        ).status_code
        for i in range(6)
    ]
    assert answers == [401] * 4 + [429] * 2
    assert lorafox.mqtt_port
    assert _connect(lorafox.mqtt_port, "admin", ADMIN_PASSWORD).is_failure  # MQTT too


def test_mqtt_guesses_count_against_the_login(lorafox_factory: Callable[..., Running]) -> None:
    lorafox = lorafox_factory(login_failures_per_login=3, login_lockout_seconds=600)
    assert lorafox.mqtt_port
    for _ in range(3):
        assert _connect(lorafox.mqtt_port, "admin", "wrong").is_failure
    assert _connect(lorafox.mqtt_port, "admin", ADMIN_PASSWORD).is_failure
    throttled = httpx.get(f"{lorafox.base_url}/api/v2/groups", auth=ADMIN)
    assert throttled.status_code == 429
