"""What topic rules need from the rest of lorafox: where rules are kept, the tables their
DynamoDB actions write to, and the bus their republish actions publish on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from lorafox.domain.rules import TopicRule
from lorafox.ports.bus import PublishProperties

__all__ = [
    "HttpRequest",
    "RuleDownlinks",
    "RuleHistory",
    "RuleHttpOutbox",
    "RulePublisher",
    "RuleStore",
    "RuleTables",
]


class RuleStore(Protocol):
    """Topic rules by name (names are unique across groups, as in one AWS account)."""

    async def list_rules(self) -> Sequence[TopicRule]: ...

    async def get_rule(self, name: str) -> TopicRule | None: ...

    async def create_rule(self, rule: TopicRule) -> bool:
        """False when a rule of that name exists."""
        ...

    async def replace_rule(self, rule: TopicRule) -> bool:
        """False when no rule of that name exists."""
        ...

    async def delete_rule(self, name: str) -> bool: ...


class RuleTables(Protocol):
    """Runs one DynamoDB operation (``PutItem``, ``UpdateItem``, ``DeleteItem``, ``GetItem``)
    with write access on the tables of the group at ``group_path``; raises ``LorafoxError``
    (DynamoDB's error types) when it fails."""

    async def write(self, group_path: str, operation: str, params: Mapping[str, Any]) -> None: ...

    async def read(
        self, group_path: str, table: str, key: Mapping[str, Any]
    ) -> dict[str, Any] | None:
        """GetItem of ``key`` (attribute values in wire form): the item in wire form, None when
        there is none."""
        ...


class RulePublisher(Protocol):
    """Publishes a message on lorafox's bus (``Bus.publish``); ``audience``: the group paths
    whose subtrees may read it; ``properties``: its MQTT 5 properties."""

    async def publish(
        self,
        topic: str,
        payload: bytes,
        *,
        qos: int = 1,
        retain: bool = False,
        audience: tuple[str, ...] | None = None,
        properties: PublishProperties | None = None,
    ) -> None: ...


class RuleDownlinks(Protocol):
    """Queues a downlink for a device of the group at ``group_path`` (``NotFound`` for a device
    outside it, ``InvalidInput`` for bad data)."""

    async def queue(self, group_path: str, device: str, data: str, *, source: str) -> None: ...


class RuleHistory(Protocol):
    """Stores a message in the history of a device of the group at ``group_path`` through the
    shared uplink flow (``NotFound`` for a device outside it, ``InvalidInput`` for bad data);
    whether it was new (False: a duplicate of one stored already)."""

    async def store(
        self,
        group_path: str,
        device: str,
        *,
        data: str,
        seq_number: int,
        time: int,
        extra: dict[str, Any],
    ) -> bool: ...


@dataclass(frozen=True, slots=True)
class HttpRequest:
    """A POST an http action makes (``id``: its row in the outbox, 0 before it is kept)."""

    rule: str
    url: str
    headers: dict[str, str]
    body: bytes
    id: int = 0


class RuleHttpOutbox(Protocol):
    """The http actions' requests until they are answered or given up, so that neither a
    restart nor a dead instance loses one. Each is claimed by one instance at a time
    (``claimed_by``) until its lease ends (``until``, epoch ms); a lapsed claim may be taken."""

    async def keep(self, request: HttpRequest, claimed_by: str, until: int) -> int:
        """Store ``request``, claimed by ``claimed_by`` until ``until``; its id."""
        ...

    async def forget(self, request_id: int) -> None: ...

    async def claim(
        self, claimed_by: str, now: int, until: int, limit: int
    ) -> Sequence[HttpRequest]:
        """Up to ``limit`` of the oldest requests whose claim lapsed before ``now``, now claimed
        by ``claimed_by`` until ``until``, oldest first; concurrent callers (on any instance)
        never get the same one."""
        ...

    async def renew(self, claimed_by: str, until: int, request_id: int | None = None) -> int:
        """Extend the claims ``claimed_by`` holds (only ``request_id``'s when given) to
        ``until``; how many it still holds."""
        ...

    async def release(self, claimed_by: str) -> None:
        """End ``claimed_by``'s claims now: the next sweep of any instance sends them."""
        ...
