"""The http action's requests kept in the store (SQLite, or PostgreSQL with
``LORAFOX_TEST_DATABASE=postgresql``) and claimed with a lease: several senders on one store
(instances sharing a database) never send a request at the same time, a dead sender's
requests are sent by another once its lease lapsed, a stopped one's at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest

from lorafox.ports.rules import HttpRequest
from lorafox.rules.errors import ActionFailed
from lorafox.rules.http_requests import HttpRequests
from lorafox.store.sql.store import SqlStore
from tests.conftest import store_url

LEASE = 30.0


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    opened = await SqlStore.open(store_url(tmp_path))
    yield opened
    await opened.close()


class Clock:
    """Seconds since the epoch, moved by the test (each sender has its own)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def receiver(
    answer: Callable[[httpx.Request], httpx.Response] | None = None,
) -> tuple[httpx.AsyncClient, list[bytes]]:
    """An HTTP client whose requests land in the list returned (answered 204 by default)."""
    received: list[bytes] = []

    def handle(request: httpx.Request) -> httpx.Response:
        received.append(request.content)
        return httpx.Response(204) if answer is None else answer(request)

    return httpx.AsyncClient(transport=httpx.MockTransport(handle)), received


def sender(
    store: SqlStore, http: httpx.AsyncClient, name: str, clock: Clock | None = None
) -> HttpRequests:
    return HttpRequests(
        http, store.rule_http, backoff=0, lease=LEASE, instance=name, clock=clock or Clock()
    )


def request(n: int) -> HttpRequest:
    return HttpRequest("Hook", f"https://hooks.example/{n}", {"x-n": str(n)}, f"{n}".encode())


async def settle(*senders: HttpRequests) -> None:
    """Until the requests the senders claimed are answered."""
    for s in senders:
        while s._resending:
            await asyncio.wait(set(s._resending))


async def kept(store: SqlStore) -> list[HttpRequest]:
    """Every kept request, whoever holds it (a claim as of the far future)."""
    return list(await store.rule_http.claim("inspector", 2**62, 0, 1000))


async def test_a_request_is_kept_claimed_while_sent_then_forgotten(store: SqlStore) -> None:
    """While one instance sends a request, another's sweep finds nothing to claim."""
    clock = Clock()
    other = sender(store, httpx.AsyncClient(), "b", clock)
    claimed_meanwhile: list[int] = []

    async def answer(request: httpx.Request) -> httpx.Response:
        claimed_meanwhile.append(await other.sweep())
        return httpx.Response(200)

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    await sender(store, http, "a", clock).post(request(1))
    assert claimed_meanwhile == [0]
    assert await kept(store) == []
    await http.aclose()
    await other.http.aclose()


async def test_a_dead_senders_requests_are_sent_once_by_the_others(store: SqlStore) -> None:
    """Requests left claimed by an instance that died are taken once its lease lapsed, each by
    one of the instances sweeping at the same time."""
    clock = Clock()
    for n in range(40):
        await store.rule_http.keep(request(n), "dead", until=int((clock() + LEASE) * 1000))
    http, received = receiver()
    senders = [sender(store, http, name, clock) for name in ("a", "b", "c")]
    assert [await s.sweep() for s in senders] == [0, 0, 0]  # the lease still runs
    clock.now += LEASE + 1
    counts = await asyncio.gather(*(s.sweep() for s in senders))
    await settle(*senders)
    assert sum(counts) == 40
    assert sorted(received, key=int) == [f"{n}".encode() for n in range(40)]
    assert await kept(store) == []
    await http.aclose()


async def test_a_living_sender_keeps_its_claims(store: SqlStore) -> None:
    """An instance that sweeps renews its claims: however long its request takes, another
    instance does not take it."""
    clock = Clock()
    http, received = receiver()
    a = sender(store, http, "a", clock)
    b = sender(store, http, "b", clock)
    await store.rule_http.keep(request(1), "a", until=int((clock() + LEASE) * 1000))
    for _ in range(15):  # a's request in flight for five leases, a sweeping each third of one
        clock.now += LEASE / 3
        assert await a.sweep() == 0
        assert await b.sweep() == 0
    assert received == []
    assert [r.url for r in await kept(store)] == ["https://hooks.example/1"]
    await http.aclose()


async def test_a_stopped_sender_releases_its_claims_at_once(store: SqlStore) -> None:
    clock = Clock()
    http, received = receiver()
    await store.rule_http.keep(request(7), "a", until=int((clock() + LEASE) * 1000))
    a = sender(store, http, "a", clock)
    await a.close()
    b = sender(store, http, "b", clock)
    assert await b.sweep() == 1
    await settle(b)
    assert received == [b"7"]
    assert await kept(store) == []
    await http.aclose()


async def test_a_sender_that_lost_its_claim_stops_retrying(store: SqlStore) -> None:
    """An instance stalled past its lease, whose request another took, does not retry it."""
    clock = Clock()
    other_http, other_received = receiver()
    b = sender(store, other_http, "b", clock)
    received: list[bytes] = []

    async def stalled(request: httpx.Request) -> httpx.Response:
        received.append(request.content)
        clock.now += LEASE + 1  # a stalls past its lease; b sweeps meanwhile
        assert await b.sweep() == 1
        await settle(b)
        return httpx.Response(503)

    http = httpx.AsyncClient(transport=httpx.MockTransport(stalled))
    a = sender(store, http, "a", clock)
    await a.post(request(3))
    assert received == [b"3"]  # one try, then b held it and sent it
    assert other_received == [b"3"]
    assert await kept(store) == []  # forgotten by b, once answered
    await http.aclose()
    await other_http.aclose()


async def test_a_request_taken_over_is_left_to_its_new_sender(store: SqlStore) -> None:
    """The stalled instance that lost its claim does not forget the request: its new holder
    still sends it (here: not yet answered)."""
    clock = Clock()

    async def stalled(request: httpx.Request) -> httpx.Response:
        clock.now += LEASE + 1
        [taken] = await store.rule_http.claim(
            "b", int(clock() * 1000), int((clock() + LEASE) * 1000), 10
        )
        assert taken.body == request.content
        return httpx.Response(503)

    http = httpx.AsyncClient(transport=httpx.MockTransport(stalled))
    await sender(store, http, "a", clock).post(request(4))
    [left] = await kept(store)
    assert left.body == b"4"
    await http.aclose()


async def test_a_request_given_up_is_forgotten(store: SqlStore) -> None:
    http, received = receiver(lambda _: httpx.Response(500))
    a = sender(store, http, "a")
    with pytest.raises(ActionFailed, match="answered 500"):
        await a.post(request(1))
    assert len(received) == 3
    assert await kept(store) == []
    await http.aclose()
