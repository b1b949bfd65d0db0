"""The SQL store: one ``Database`` and a repository per port around it.

``SqlStore.open`` picks each repository's spelling: on a SQLite file, messages, downlinks and
table items have a fast path on raw sqlite3 connections (``sqlite_writer``); elsewhere, or with
``fast=False``, everything runs on SQLAlchemy Core. Both spellings answer the same contract
(``tests/store`` runs it on SQLite with and without the fast path, and on PostgreSQL).
"""

from __future__ import annotations

from lorafox.store.sql.alerts import AlertRepository
from lorafox.store.sql.callbacks import CallbackRepository
from lorafox.store.sql.credentials import CredentialRepository
from lorafox.store.sql.database import Database
from lorafox.store.sql.devices import DeviceRepository
from lorafox.store.sql.downlinks import DownlinkRepository, FastDownlinkRepository
from lorafox.store.sql.events import EventRepository
from lorafox.store.sql.identity import IdentityRepository
from lorafox.store.sql.locations import LocationRepository
from lorafox.store.sql.lora import LoraRepository
from lorafox.store.sql.mail import MailRepository
from lorafox.store.sql.messages import FastMessageRepository, MessageRepository
from lorafox.store.sql.password_tokens import PasswordTokenRepository
from lorafox.store.sql.publish_queue import PublishQueueRepository
from lorafox.store.sql.retention import RetentionRepository
from lorafox.store.sql.rules import RuleHttpOutboxRepository, RuleRepository
from lorafox.store.sql.sessions import SessionRepository
from lorafox.store.sql.statistics import StatisticsRepository
from lorafox.store.sql.tables_items import ItemRepository

__all__ = ["SqlStore"]


class SqlStore:
    """Implements ``lorafox.ports.store.Store``."""

    def __init__(self, database: Database) -> None:
        self.database = database
        fast = database.fast_writer is not None
        self.messages = (FastMessageRepository if fast else MessageRepository)(database)
        self.downlinks = (FastDownlinkRepository if fast else DownlinkRepository)(database)
        self.events = EventRepository(database)
        self.statistics = StatisticsRepository(database)
        self.locations = LocationRepository(database)
        self.credentials = CredentialRepository(database)
        self.identity = IdentityRepository(database)
        self.devices = DeviceRepository(database)
        self.items = ItemRepository(database)
        self.callbacks = CallbackRepository(database)
        self.rules = RuleRepository(database)
        self.rule_http = RuleHttpOutboxRepository(database)
        self.lora = LoraRepository(database)
        self.mail = MailRepository(database)
        self.alerts = AlertRepository(database)
        self.password_tokens = PasswordTokenRepository(database)
        self.sessions = SessionRepository(database)
        self.retention = RetentionRepository(database)
        self.publish_queue = PublishQueueRepository(database)

    @classmethod
    async def open(cls, url: str, *, fast: bool = True) -> SqlStore:
        """Connect, migrate to the newest schema, and return the store."""
        return cls(await Database.open(url, fast=fast))

    async def ping(self) -> None:
        await self.database.ping()

    async def close(self) -> None:
        await self.database.close()
