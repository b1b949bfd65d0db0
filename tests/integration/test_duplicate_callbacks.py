"""``sendDuplicate``: other stations' copies of a stored message reach the callbacks that ask
for duplicates, with ``{duplicate}`` true, once per station; the others get the message once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import Running
from tests.integration.helpers import serving
from tests.integration.test_outgoing_callbacks import (
    LOOPBACK,
    Fleet,
    Receiver,
    _fleet,
    receiver,
)
from tests.mqtt_helpers import wait_until

__all__ = ["receiver"]


@pytest.fixture
def fleet(lorafox_factory: Callable[..., Running]) -> Iterator[Fleet]:
    found = _fleet(lorafox_factory(callbacks=LOOPBACK))
    yield found
    found.http.close()


def _seen(receiver: Receiver, path: str) -> list[str]:
    return sorted(r.body for r in receiver.requests if r.path.startswith(path))


def test_copies_from_other_stations_reach_only_the_callbacks_asking_for_them(
    fleet: Fleet, receiver: Receiver
) -> None:
    body = '{"seq":{seqNumber},"station":"{station}","duplicate":{duplicate}}'
    fleet.callback(url=receiver.url + "/dup", bodyTemplate=body, sendDuplicate=True)
    fleet.callback(url=receiver.url + "/once", bodyTemplate=body)
    fleet.uplink(1)
    fleet.uplink(1, station="3C4D", duplicate=True)
    fleet.uplink(1, station="3C4D", duplicate=True)  # the Back-End retried that callback
    fleet.uplink(1, station="5E6F", duplicate=True)
    fleet.uplink(1)  # a retry of the first copy: not a duplicate of another station
    wait_until(lambda: len(receiver.requests) == 4)
    assert _seen(receiver, "/dup") == [
        '{"seq":1,"station":"1A2B","duplicate":false}',
        '{"seq":1,"station":"3C4D","duplicate":true}',
        '{"seq":1,"station":"5E6F","duplicate":true}',
    ]
    assert _seen(receiver, "/once") == ['{"seq":1,"station":"1A2B","duplicate":false}']
    assert fleet.not_delivered() == []


def test_a_copy_acknowledged_is_delivered_after_a_restart(
    tmp_path: Path, receiver: Receiver
) -> None:
    receiver.statuses = [503]
    with serving(tmp_path / "data", callbacks=LOOPBACK) as lorafox:
        fleet = _fleet(lorafox)
        fleet.callback(url=receiver.url + "/dup?d={duplicate}", sendDuplicate=True)
        fleet.uplink(1)
        fleet.uplink(1, station="3C4D", duplicate=True)
        wait_until(lambda: {r.path for r in receiver.requests} == {"/dup?d=false", "/dup?d=true"})
        fleet.http.close()
    receiver.statuses = [204]
    receiver.requests.clear()
    receiver._answers.clear()
    with serving(tmp_path / "data", callbacks=LOOPBACK):
        wait_until(lambda: len(receiver.delivered()) == 2)
    assert sorted(r.path for r in receiver.delivered()) == ["/dup?d=false", "/dup?d=true"]
