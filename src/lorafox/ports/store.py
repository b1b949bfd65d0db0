"""The storage boundary: what lorafox needs from a database.

``lorafox.store.sql`` implements it on SQLite and PostgreSQL. Every write method returns only
once the data is durable (committed, fsynced): callers acknowledge clients after it returns.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from lorafox.domain import (
    Acknowledgement,
    AdvancedData,
    ApiUser,
    Device,
    DeviceStatus,
    DeviceType,
    Downlink,
    Event,
    EventType,
    Group,
    Principal,
    Profile,
    StoredUplink,
    Uplink,
    User,
)
from lorafox.domain.records import record
from lorafox.ports.callbacks import CallbackStore
from lorafox.ports.locations import LocationStore
from lorafox.ports.statistics import StatisticsStore
from lorafox.ports.tables import ItemStore

__all__ = [
    "Credential",
    "CredentialStore",
    "DeviceQuery",
    "DeviceStore",
    "DeviceTypeQuery",
    "DownlinkAsk",
    "DownlinkStore",
    "EventStore",
    "GroupQuery",
    "IdentityStore",
    "Ingested",
    "Login",
    "MemberQuery",
    "MessageStore",
    "Store",
]


@dataclass(slots=True, frozen=True)
class Credential:
    """A stored login: ``secret`` is an argon2 hash (humans) or an encrypted token (machines)."""

    name: str
    username: str
    secret: str


@record
class Ingested:
    """What storing one uplink gave: the stored message (None for a duplicate of a stored one)
    and, when the uplink asked for it, the downlink that answers it."""

    stored: StoredUplink | None
    downlink: Downlink | None = None


DownlinkAsk = bool | str
"""What an uplink asks for: False nothing, True its queued downlink (as
``DownlinkStore.take_downlink`` hands it out), or a DIRECT-mode answer (16 hex digits) to record
as sent — once per message, so a retried callback gets the same downlink."""


class MessageStore(Protocol):
    async def ingest(
        self, batch: Sequence[tuple[Uplink, DownlinkAsk]], provision: Sequence[Device] = ()
    ) -> list[Ingested]:
        """Store a batch of uplinks in one transaction, with the downlink each one asks for.
        Devices in ``provision`` are created in the same transaction (skipped when they
        exist)."""
        ...

    async def list_messages(
        self,
        device: str,
        *,
        limit: int,
        since: int | None = None,
        before: int | None = None,
        registered_at: int | None = None,
    ) -> list[StoredUplink]:
        """Newest first; ``since`` inclusive and ``before`` exclusive, in epoch ms; with
        ``registered_at`` only those received since then (the current registration's)."""
        ...

    async def list_type_messages(
        self,
        device_type_id: str,
        *,
        limit: int,
        since: int | None = None,
        before: int | None = None,
    ) -> list[StoredUplink]:
        """Messages of the devices now in the type, newest first (as ``list_messages``)."""
        ...

    async def count_messages(self, device: str, since: Sequence[int]) -> list[int]:
        """For each time of ``since`` (epoch ms), how many messages of ``device`` have a time at
        or after it — counted by the database over its ``(device, time, seq_number)`` index."""
        ...

    async def messages_after(self, message_id: int, *, limit: int) -> list[StoredUplink]:
        """Messages with an id above ``message_id``, oldest first (to replay publishes)."""
        ...

    async def last_message_id(self) -> int:
        """The highest message id, 0 when empty."""
        ...

    async def get_cursor(self, name: str) -> int | None: ...

    async def set_cursor(self, name: str, value: int) -> None: ...


class DownlinkStore(Protocol):
    async def enqueue_downlink(self, device: str, data: str, *, source: str) -> Downlink: ...

    async def enqueue_requested_downlink(
        self, device: str, data: str, *, source: str, request_id: str
    ) -> tuple[Downlink, bool]:
        """Queue once per (device, ``request_id``): the downlink, and whether this call queued
        it (False: a request with that id queued it before, whatever its data; concurrent
        callers, on any instance, queue it once)."""
        ...

    async def list_downlinks(
        self, device: str, *, registered_at: int | None = None
    ) -> list[Downlink]:
        """Oldest first; with ``registered_at`` only those queued since then."""
        ...

    async def delete_downlink(self, device: str, downlink_id: int) -> None:
        """Remove a queued entry; ``NotFound`` if absent, ``Conflict`` if already sent."""
        ...

    async def take_downlink(
        self, device: str, seq_number: int | None, time: int | None
    ) -> Downlink | None:
        """The downlink answering this message: the one already given to the same
        (device, seqNumber, time) if any, else the oldest queued one, now marked sent.
        Concurrent callers never get the same queued entry."""
        ...


class EventStore(Protocol):
    """Events and what the SERVICE callbacks report. Where a method takes ``found``, it calls
    it inside its transaction with what it found, and stores the events it returns in that same
    transaction: a state change and its events are committed together."""

    async def add_events(
        self,
        found: Sequence[Event],
        *,
        now: int,
        raise_alerts: Mapping[str, int] | None = None,
        clear_alerts: Collection[str] = (),
    ) -> list[Event]:
        """Store events (returned with their ids); in the same transaction, mark the devices of
        ``raise_alerts`` as reported silent (device → silent since, epoch ms) and forget the
        ``clear_alerts`` ones."""
        ...

    async def list_events(
        self,
        *,
        device: str | None = None,
        device_type_id: str | None = None,
        limit: int,
        since: int | None = None,
        before: int | None = None,
        before_id: int | None = None,
        registered_at: int | None = None,
        types: Collection[EventType] = (),
    ) -> list[Event]:
        """Newest first (by time, then id); ``since`` inclusive and ``before`` exclusive, in
        epoch ms — with ``before_id``, the events at ``before`` with a lower id are included
        (the next page after the event (``before``, ``before_id``)); with ``registered_at``
        only those recorded since then; with ``types`` only those of these types."""
        ...

    async def alerts(self) -> dict[str, int]:
        """The devices reported silent, and since when."""
        ...

    async def device_activity(self) -> dict[str, tuple[int, int]]:
        """Each registered device's latest message: (time, seqNumber); one query."""
        ...

    async def record_status(
        self,
        status: DeviceStatus,
        found: Callable[[DeviceStatus | None], Sequence[Event]],
        now: int,
    ) -> tuple[bool, list[Event]]:
        """Store a STATUS report (False when it was stored already); ``found`` gets the
        device's previous report."""
        ...

    async def latest_status(self, device: str) -> DeviceStatus | None: ...

    async def latest_computed_location(
        self, device: str
    ) -> tuple[int, float, float, int | None, int | None] | None:
        """(time, lat, lng, radius, source) of the device's latest DATA_ADVANCED location."""
        ...

    async def acknowledge(
        self,
        ack: Acknowledgement,
        found: Callable[[Downlink | None], Sequence[Event]],
        now: int,
    ) -> tuple[Downlink | None, list[Event]]:
        """Record the outcome on the downlink that answered the message at ``ack.time`` (else
        the latest one handed out to a pure downlink request): acked, or failed. A downlink
        that already ended is returned unchanged, with no events."""
        ...

    async def attach_advanced(
        self, advanced: AdvancedData, found: Sequence[Event], now: int
    ) -> list[Event] | None:
        """Put the DATA_ADVANCED details on their message and store ``found`` (returned);
        None when the message is not stored."""
        ...

    async def expire_downlinks(
        self, queued_before: int, found: Callable[[Downlink], Event], now: int
    ) -> list[Event]:
        """Mark the downlinks queued before ``queued_before`` expired."""
        ...


class CredentialStore(Protocol):
    async def get_credential(self, name: str) -> Credential | None: ...

    async def put_credential(self, credential: Credential) -> None: ...


@dataclass(slots=True, frozen=True)
class GroupQuery:
    """Groups to list: the ``tops`` themselves when ``include_tops``, and their children (their
    whole subtrees with ``deep``), filtered by name (contains, any case) and types."""

    tops: tuple[Group, ...]
    include_tops: bool = False
    deep: bool = False
    name: str | None = None
    types: tuple[int, ...] = ()
    sort: str = "id"  # id, -id, name, -name
    limit: int = 100
    offset: int = 0


@dataclass(slots=True, frozen=True)
class MemberQuery:
    """Users (by their roles) or API users (by their group) attached to a group in one of the
    subtrees at ``paths`` and, when given, to one of ``group_ids``, with ``profile`` there."""

    paths: tuple[str, ...]
    group_ids: tuple[str, ...] = ()
    profile: Profile | None = None
    text: str | None = None  # users: in the email or the name, any case
    sort: str = "id"  # users: id, -id, name, -name, email, -email
    limit: int = 100
    offset: int = 0


@dataclass(slots=True, frozen=True)
class Login:
    """Who a login name is, and the secret to check: an argon2 hash (users) or the encrypted
    password (API users)."""

    principal: Principal
    secret: str


class IdentityStore(Protocol):
    """Groups, users, API users. Writes raise ``Conflict`` when the state forbids them (a
    duplicate email, a group with children or members) and ``NotFound`` for a missing id."""

    async def root_group(self) -> Group: ...

    async def get_group(self, group_id: str) -> Group | None: ...

    async def get_groups(self, group_ids: Collection[str]) -> dict[str, Group]: ...

    async def list_groups(self, query: GroupQuery) -> list[Group]: ...

    async def create_group(self, group: Group) -> None: ...

    async def update_group(self, group: Group) -> None:
        """Name, description, type and timezone."""
        ...

    async def delete_group(self, group_id: str) -> None: ...

    async def get_user(self, user_id: str) -> User | None: ...

    async def get_user_by_email(self, email: str) -> User | None: ...

    async def list_users(self, query: MemberQuery) -> list[User]: ...

    async def create_user(self, user: User) -> None: ...

    async def update_user(self, user: User) -> None:
        """Names, timezone, and the roles (replaced)."""
        ...

    async def set_password(self, user_id: str, password_hash: str) -> None:
        """Replace the user's password hash and end its console sessions, in one transaction
        (whoever changes a password, by whichever way, logs every browser of that user out)."""

    async def record_login(self, user_id: str, when: int) -> None: ...

    async def delete_user(self, user_id: str) -> None: ...

    async def get_api_user(self, api_user_id: str) -> ApiUser | None: ...

    async def list_api_users(self, query: MemberQuery) -> list[ApiUser]: ...

    async def create_api_user(self, api_user: ApiUser) -> None: ...

    async def update_api_user(self, api_user: ApiUser) -> None:
        """Name, timezone and profiles."""
        ...

    async def set_api_user_secret(self, api_user_id: str, secret: str) -> None: ...

    async def delete_api_user(self, api_user_id: str) -> None: ...

    async def find_login(self, login: str) -> Login | None:
        """The API user whose id is ``login``, else the user whose email is ``login``."""
        ...


@dataclass(slots=True, frozen=True)
class DeviceTypeQuery:
    """Device types in one of the subtrees at ``paths`` (and in ``group_ids`` when given)."""

    paths: tuple[str, ...]
    group_ids: tuple[str, ...] = ()
    name: str | None = None  # contains, any case
    payload_type: int | None = None
    limit: int = 100
    offset: int = 0


@dataclass(slots=True, frozen=True)
class DeviceQuery:
    """Devices whose type is in one of the subtrees at ``paths``, filtered as Sigfox does."""

    paths: tuple[str, ...]
    group_ids: tuple[str, ...] = ()
    device_type_id: str | None = None
    ids: tuple[str, ...] = ()
    name: str | None = None  # contains, any case
    activable: bool | None = None
    seen_since: int | None = None
    """only devices whose latest message is at or after this time (epoch ms)"""
    silent_since: int | None = None
    """only devices with no message at or after this time (never heard included)"""
    sort: str = "id"  # id, -id, name, -name, lastCom, -lastCom
    limit: int = 100
    offset: int = 0


class DeviceStore(Protocol):
    """Device types and devices. Devices come back with ``group_id`` (their type's), and
    ``last_com``/``seq_number`` from their latest message."""

    async def get_device_type(self, device_type_id: str) -> DeviceType | None: ...

    async def list_device_types(self, query: DeviceTypeQuery) -> list[DeviceType]: ...

    async def all_device_types(self) -> list[DeviceType]:
        """Every device type (to fill the in-memory registry)."""
        ...

    async def create_device_type(self, device_type: DeviceType) -> None: ...

    async def update_device_type(self, device_type: DeviceType) -> None: ...

    async def delete_device_type(self, device_type_id: str) -> None:
        """``Conflict`` while it has devices."""
        ...

    async def get_device(self, device_id: str) -> Device | None: ...

    async def list_devices(self, query: DeviceQuery) -> list[Device]: ...

    async def device_index(self) -> dict[str, str]:
        """Every device id and its device type id (to fill the in-memory registry)."""
        ...

    async def create_devices(self, devices: Sequence[Device]) -> list[str | None]:
        """Create each device in its own savepoint: None when created, else why not."""
        ...

    async def update_device(self, device: Device) -> None:
        """Name, device type, pac, location, flags."""
        ...

    async def delete_device(self, device_id: str, *, purge: bool = False) -> int:
        """Delete the device; with ``purge`` its messages and downlinks too (their count)."""
        ...


class Store(Protocol):
    """A repository for each port above, and the lifecycle of the database under them."""

    @property
    def messages(self) -> MessageStore: ...

    @property
    def downlinks(self) -> DownlinkStore: ...

    @property
    def events(self) -> EventStore: ...

    @property
    def statistics(self) -> StatisticsStore: ...

    @property
    def locations(self) -> LocationStore: ...

    @property
    def credentials(self) -> CredentialStore: ...

    @property
    def identity(self) -> IdentityStore: ...

    @property
    def devices(self) -> DeviceStore: ...

    @property
    def items(self) -> ItemStore: ...

    @property
    def callbacks(self) -> CallbackStore: ...

    async def ping(self) -> None:
        """Return if the database answers, else raise ``StoreError``."""
        ...

    async def close(self) -> None: ...
