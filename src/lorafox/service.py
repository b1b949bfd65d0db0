"""Wiring: settings → store, bus, pipeline, HTTP; run them together; stop them in order.

Start: open (and migrate) the store, ensure the credentials, bind the HTTP socket (a port in use
is a ``ConfigError`` naming the flag), start the broker or the broker client, then serve.
Stop (SIGINT/SIGTERM or ``stop``): stop accepting HTTP and finish the requests in flight, store
what was submitted, give the broker a moment for the backlog, save the publish cursor, close.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from lorafox.alerts import (
    AlertNotifier,
    AlertSubscriptions,
    AppriseNotifications,
    NotificationTargets,
    TypeAlerts,
)
from lorafox.api.app import create_app
from lorafox.api.asgi import ASGIApp
from lorafox.api.callbacks import SigfoxCallbacks
from lorafox.api.context import ApiContext
from lorafox.api.dynamodb import DynamoDBEndpoint
from lorafox.api.http_protocol import EdgeLimits, bounded_http_protocol
from lorafox.api.iot import IotEndpoint
from lorafox.auth import rbac
from lorafox.auth.basic import BasicAuthenticator
from lorafox.auth.principals import PrincipalAuthenticator
from lorafox.auth.secretbox import SecretBox
from lorafox.auth.throttle import LoginThrottle, ThrottleLimits
from lorafox.bootstrap import Verifiers, ensure_credentials
from lorafox.bus import broker
from lorafox.bus.access import TopicAccess
from lorafox.bus.broker import BrokerLimits, EmbeddedBroker, EmbeddedBus
from lorafox.bus.external import BrokerAddress, ExternalBus, tls_context
from lorafox.bus.outbox import Outbox, SharedOutbox
from lorafox.bus.rules_feed import RulesFeed
from lorafox.bus.rules_source import BrokerRulesSource
from lorafox.callbacks import DestinationGuard
from lorafox.callbacks.service import OutgoingCallbacks
from lorafox.cluster.leader import (
    RULES_FEED_LOCK_KEY,
    Leadership,
    SingleInstance,
    leadership_for,
)
from lorafox.cluster.notify import changes_for
from lorafox.console import create_console
from lorafox.data_dir import lock_data_dir, private_umask
from lorafox.devices import DeviceManagement, UnknownDevicePolicy, UnknownDevices
from lorafox.devices.devices import Devices
from lorafox.devices.retention import HistoryRetention
from lorafox.domain import Principal, StoredUplink, Uplink
from lorafox.downlink.queue import DownlinkQueue
from lorafox.downlink.rejections import DownlinkRejections
from lorafox.errors import AuthenticationFailed, ConfigError, InvalidInput, NotFound
from lorafox.events.log import EventLog, now_ms
from lorafox.events.service import DeviceEvents
from lorafox.identity import Identity
from lorafox.identity.password_links import LinkSettings, PasswordLinks
from lorafox.identity.sessions import ConsoleSessions, SessionLimits
from lorafox.ingest.sigfox import normalize_device, uplink_json
from lorafox.lora import IntegrationHealth, LoraIngest, LoraIntegrations, LoraServices
from lorafox.lora.downlinks import DOWNLINK_TOPIC
from lorafox.lora.model import is_lora_uplink, lora_json, lora_topic
from lorafox.mail import Mailer
from lorafox.metrics import Metrics
from lorafox.ports.bus import Bus, MessageHandler
from lorafox.reports import ServiceReports
from lorafox.rules.actions import ActionRunner
from lorafox.rules.builtin import builtin_downlink_rule, builtin_handler
from lorafox.rules.engine import RulesEngine
from lorafox.rules.health import RuleHealth
from lorafox.rules.service import TopicRules
from lorafox.rules.tables import TablesForRules
from lorafox.settings import Settings
from lorafox.store.sql.store import SqlStore
from lorafox.tables.maintenance import TableMaintenance
from lorafox.tables.operations import TableOperations
from lorafox.uplink import UplinkPipeline, UplinkService

__all__ = ["Service", "bind_socket"]

log = logging.getLogger(__name__)

ALERTS = "alerts"
"""The topic of changed alert subscriptions (no keys: all are read again)."""

RULES_RELOAD_SECONDS = 10.0
"""How often the topic rules are compared with the database's (several instances)."""


def bind_socket(host: str, port: int, flag: str) -> socket.socket:
    """A listening TCP socket; a port in use is a ``ConfigError`` that names ``flag``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"port {port} on {host} is already in use: choose another with {flag}"
            ) from exc
        raise ConfigError(f"cannot listen on {host}:{port} ({flag}): {exc.strerror}") from exc
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the service owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class _RuleDownlinks:
    """``RuleDownlinks``: a rule queues downlinks for the devices of its group only."""

    def __init__(self, devices: Devices, queue: DownlinkQueue) -> None:
        self._devices = devices
        self._queue = queue

    async def queue(self, group_path: str, device: str, data: str, *, source: str) -> None:
        path = await self._devices.registered_path(device)
        if path is None or not path.startswith(group_path):
            raise NotFound(f"device {device} not found")
        await self._queue.queue(device, data, source=source, field="downlinkData")


class _RuleHistory:
    """``RuleHistory``: a rule stores messages in the history of the devices of its group only,
    through the shared uplink flow (decoded, published, monitored as any uplink)."""

    def __init__(self, devices: Devices, uplinks: UplinkService) -> None:
        self._devices = devices
        self._uplinks = uplinks

    async def store(
        self,
        group_path: str,
        device: str,
        *,
        data: str,
        seq_number: int,
        time: int,
        extra: dict[str, Any],
    ) -> bool:
        with contextlib.suppress(InvalidInput):
            device = normalize_device(device)  # a Sigfox id as the registry keeps it
        path = await self._devices.registered_path(device)
        if path is None or not path.startswith(group_path):
            raise NotFound(f"device {device} not found")
        uplink = Uplink(device=device, time=time, seq_number=seq_number, data=data, extra=extra)
        result = await self._uplinks.receive(uplink)
        return result.stored is not None


@contextlib.asynccontextmanager
async def _running(rules: TopicRules) -> AsyncIterator[None]:
    """The rules engine's task while the service runs (with the reload of rules changed by
    another instance, and the http requests' claims); what is queued is handled at the end."""
    engine = rules.engine
    requests = engine.runner.requests
    # the http requests left by a former run, a dead or a stopped instance, claimed and sent
    kept = asyncio.create_task(requests.run() if requests is not None else asyncio.sleep(0))
    task = asyncio.create_task(engine.run())
    follow = asyncio.create_task(rules.follow(RULES_RELOAD_SECONDS))
    try:
        yield
    finally:
        follow.cancel()
        kept.cancel()
        engine.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(task, 10)
        await engine.runner.aclose()


@dataclass(slots=True)
class _Parts:
    server: _Server
    bus: Bus | None
    pipeline: UplinkPipeline
    events: DeviceEvents
    outbox: Outbox | SharedOutbox | None
    outgoing: OutgoingCallbacks
    mailer: Mailer
    alerts: AlertNotifier
    stop_jobs: Callable[[], Awaitable[None]]


class Service:
    """One lorafox process. ``run`` returns after a clean shutdown."""

    def __init__(
        self, settings: Settings, *, on_notes: Callable[[Sequence[str]], None] = print
    ) -> None:
        self.settings = settings
        self._on_notes = on_notes
        self._stop = asyncio.Event()
        self.http_port: int | None = None
        self.mqtt_port: int | None = None
        self.semtech_port: int | None = None
        self.ready = asyncio.Event()
        # instances sharing a PostgreSQL database: one leader, caches told of changes
        self._leadership = leadership_for(
            settings.database_url, retry_seconds=settings.leader_retry_seconds
        )
        self._changes = changes_for(settings.database_url)
        # on an external broker: what feeds the rules, and who may (made with the rules)
        self._rules_source: BrokerRulesSource | None = None
        self._rules_leadership: Leadership = SingleInstance()

    def stop(self) -> None:
        self._stop.set()

    def _mqtt_text(self, bus: Bus | None) -> str:
        if bus is None:
            return "no MQTT"
        if isinstance(bus, EmbeddedBus):
            return f"embedded MQTT broker on {self.settings.host}:{self.mqtt_port}"
        return f"MQTT broker {BrokerAddress.parse(self.settings.mqtt_url or '')!r}"

    def _mqtt_tls(self) -> ssl.SSLContext | None:
        """The TLS context of the connections to the external broker (None: plain TCP)."""
        s = self.settings
        if s.mqtt.ca_file or s.mqtt.cert_file or (s.mqtt_url or "").startswith("mqtts"):
            return tls_context(s.mqtt.ca_file, s.mqtt.cert_file, s.mqtt.key_file)
        return None

    def _make_bus(self, auth: PrincipalAuthenticator, access: TopicAccess) -> Bus | None:
        s = self.settings
        if s.mqtt_url:
            address = BrokerAddress.parse(s.mqtt_url)
            return ExternalBus(address, client_id=s.mqtt.client_id, tls=self._mqtt_tls())
        if s.mqtt_port == 0:
            return None

        async def authenticate(
            username: str, password: bytes | None, address: str
        ) -> broker.Identity | None:
            """Any user or API user; what it may read and publish is ``TopicAccess``'s."""
            if password is None:
                return None
            try:
                caller = await auth.check(username, password.decode("utf-8", "replace"), address)
            except AuthenticationFailed:
                return None
            return access.identity(caller)

        m = s.mqtt
        if m.allow_anonymous:
            log.warning(
                "mqtt.allow_anonymous is set: ANY client reaching the embedded MQTT broker on "
                "%s:%s may read every uplink and queue downlinks without a login",
                s.host,
                s.mqtt_port,
            )
        limits = BrokerLimits(
            max_connections=m.max_connections,
            max_connections_per_address=m.max_connections_per_address,
            max_unauthenticated=m.max_unauthenticated,
            max_connect_bytes=m.max_connect_bytes,
            connect_timeout=m.connect_timeout_seconds,
            max_packet_size=m.max_packet_bytes,
            max_inflight=m.max_inflight,
            max_queued_messages=m.max_queued_messages,
            max_queued_bytes=m.max_queued_bytes,
            max_sessions=m.max_sessions,
            session_expiry=m.session_expiry_seconds,
            max_retained=m.max_retained,
            max_retained_bytes=m.max_retained_bytes,
            receive_maximum=m.receive_maximum,
            topic_alias_maximum=m.topic_alias_maximum,
            server_keep_alive=m.server_keep_alive_seconds,
        )
        embedded = EmbeddedBroker(
            s.host,
            s.mqtt_port,
            authenticate=authenticate,
            allow_anonymous=m.allow_anonymous,
            access=access,
            limits=limits,
            refused_filters=tuple(m.refused_subscriptions),
        )
        return EmbeddedBus(embedded, access.audience_of)

    async def run(self) -> None:
        s = self.settings
        with private_umask(), lock_data_dir(s.data_dir):
            try:
                box = SecretBox.from_data_dir(s.data_dir)
            except OSError as exc:
                raise ConfigError(
                    f"cannot read the secret key in the data dir {s.data_dir}: {exc.strerror} "
                    "(fix its permissions, or use --data-dir)"
                ) from exc
            store = await SqlStore.open(s.sqlalchemy_url)
            try:
                sock = bind_socket(s.host, s.http_port, "--http-port")
                try:
                    if s.mqtt_port and not s.mqtt_url:
                        # the broker binds later: fail now, before credentials are made and
                        # printed "once" by a start that would not serve
                        bind_socket(s.host, s.mqtt_port, "--mqtt-port").close()
                    callback, notes = await ensure_credentials(store, s, box)
                    if notes:
                        self._on_notes(notes)
                    await self._serve(store, box, Verifiers(callback), sock)
                finally:
                    sock.close()
            finally:
                await store.close()

    def _uplink_renderer(self) -> Callable[[StoredUplink], tuple[str, bytes]]:
        topic = self.settings.mqtt.uplink_topic

        def render(stored: StoredUplink) -> tuple[str, bytes]:
            u = stored.uplink
            if is_lora_uplink(u):
                return lora_topic(u), lora_json(stored)
            body = uplink_json(u, message_id=stored.id, received_at=stored.received_at)
            return topic.replace("{device}", u.device), body

        return render

    def _http_server(self, app: ASGIApp) -> _Server:
        s = self.settings
        return _Server(
            uvicorn.Config(
                app,
                lifespan="off",
                access_log=False,
                log_config=None,
                http=bounded_http_protocol(
                    EdgeLimits(
                        max_head_bytes=s.http_max_header_bytes,
                        head_timeout=s.http_header_timeout_seconds,
                        max_connections=s.http_max_connections,
                    )
                ),
                timeout_keep_alive=5,  # idle keep-alive; a new request head then has its deadline
                timeout_graceful_shutdown=10,
                server_header=False,  # uvicorn's would name it; ours names no version
                headers=[("server", "lorafox")],
                proxy_headers=False,  # X-Forwarded-For only if sigfox.trust_forwarded_for says so
            )
        )

    async def _start_bus(self, stack: contextlib.AsyncExitStack, bus: Bus) -> None:
        try:
            await stack.enter_async_context(bus)
        except OSError as exc:
            s = self.settings
            if exc.errno == errno.EADDRINUSE:
                raise ConfigError(
                    f"MQTT port {s.mqtt_port} on {s.host} is already in use: choose another "
                    "with --mqtt-port (0 = no embedded broker)"
                ) from exc
            raise ConfigError(f"cannot start the MQTT broker: {exc}") from exc
        if isinstance(bus, EmbeddedBus):
            self.mqtt_port = bus.broker.port

    async def _outbox(
        self, store: SqlStore, bus: Bus | None, metrics: Metrics, downlinks: MessageHandler
    ) -> Outbox | SharedOutbox | None:
        """The publisher of stored uplinks on ``bus`` (None without one), which also takes
        downlink requests; on PostgreSQL, the publisher of the database's queue."""
        if bus is None:
            return None
        s = self.settings
        outbox: Outbox | SharedOutbox
        if isinstance(self._leadership, SingleInstance):
            outbox = Outbox(store.messages, bus, self._uplink_renderer(), qos=s.mqtt.qos)
        else:
            render = self._uplink_renderer()
            outbox = SharedOutbox(store.publish_queue, bus, render, qos=s.mqtt.qos)
        await outbox.start()
        metrics.watch_backlog(lambda: outbox.backlog)
        bus.subscribe(s.mqtt.downlink_topic, downlinks)
        return outbox

    def _watch(self, events: EventLog, notifier: AlertNotifier, engine: RulesEngine) -> None:
        """The events stored go to the alerts; the rules' actions report their health."""
        events.listeners.append(notifier.observe)
        engine.health = RuleHealth(
            events.record_later, now_ms, failing_after=self.settings.rules.failing_after
        )

    async def _alerts(
        self, store: SqlStore, identity: Identity, management: DeviceManagement, mailer: Mailer
    ) -> tuple[AlertSubscriptions, AlertNotifier]:
        s = self.settings
        guard = DestinationGuard(
            [ipaddress.ip_network(n, strict=False) for n in s.callbacks.allowed_networks]
        )
        targets = NotificationTargets(guard)

        async def group_path(group_id: str) -> str | None:
            group = await store.identity.get_group(group_id)
            return None if group is None else group.path

        notifier = AlertNotifier(
            store.alerts,
            management.registry,
            group_path,
            mailer,
            AppriseNotifications(),
            targets,
            TypeAlerts(s.mail.alert_email_digest_seconds, s.mail.alert_email_max_per_hour),
        )
        await notifier.load()

        async def changed() -> None:  # here: read them again and tell the other instances
            await notifier.load()
            self._changes.changed(ALERTS)

        async def reload(_: Sequence[str] | None) -> None:  # on another instance
            await notifier.load()

        self._changes.on(ALERTS, reload)
        alerts = AlertSubscriptions(
            store.alerts,
            store.identity,
            identity.groups,
            management,
            targets,
            changed,
            notifier.test,
        )
        return alerts, notifier

    async def _serve(
        self, store: SqlStore, box: SecretBox, verifiers: Verifiers, sock: socket.socket
    ) -> None:
        s = self.settings
        metrics = Metrics()
        root = await store.identity.root_group()
        auth = PrincipalAuthenticator(
            store.identity,
            box,
            throttle=LoginThrottle(
                ThrottleLimits(
                    per_address=s.login_failures_per_address,
                    per_login=s.login_failures_per_login,
                    window=s.login_lockout_seconds,
                    lockout=s.login_lockout_seconds,
                ),
                on_failure=metrics.auth_failures.inc,
            ),
        )
        identity = Identity.create(store.identity, box)
        management = await DeviceManagement.create(store, identity.groups, root)
        access = TopicAccess(s.mqtt, management.devices, root)
        bus = raw_bus = self._make_bus(auth, access)
        rules, feed = await self._rules(store, management, root.path, bus, access, metrics)
        bus = bus if feed is None else feed.bus

        async def operable(principal: Principal, device: str) -> str:
            return await management.devices.scope(principal, device, rbac.OPERATE)

        downlinks = DownlinkQueue(store.downlinks, metrics, s.mqtt, bus, operable)
        rules.engine.runner.downlinks = _RuleDownlinks(management.devices, downlinks)
        # the built-in downlink path, while its rule (lorafox_downlinks) is untouched
        on_downlink = builtin_handler(rules.builtin_state, rules.engine, downlinks.handle_mqtt)
        outbox = await self._outbox(store, bus, metrics, on_downlink)
        if feed is not None:
            feed.also_on_https(s.mqtt.downlink_topic, on_downlink)
        pipeline = UplinkPipeline(store.messages)
        if outbox is not None:
            pipeline.add_sink(outbox.add)
        events = DeviceEvents(store.events, bus, management.registry, s)
        downlinks.on_rejected = DownlinkRejections(events.log.record_later)
        pipeline.add_sink(events.monitor.observe)
        mailer = Mailer.create(store.mail, s.mail, now_ms)
        outgoing = await OutgoingCallbacks.create(
            store.callbacks,
            store.messages,
            management,
            s.callbacks,
            now_ms,
            events.log.record_later,
            mailer,
            None if isinstance(self._leadership, SingleInstance) else store.callback_queue,
        )
        pipeline.add_sink(outgoing.add)
        self._share(store, management, rules, outgoing, mailer)
        pipeline.add_sink(outgoing.mails.add)
        alerts, notifier = await self._alerts(store, identity, management, mailer)
        self._watch(events.log, notifier, rules.engine)
        unknown = await UnknownDevices.create(
            store.devices,
            management.registry,
            UnknownDevicePolicy(s.sigfox.unknown_devices),
            root.id,
        )
        await events.load(unknown)
        log.info(
            "%d devices registered; unknown devices: %s",
            len(management.registry),
            unknown.policy.value,
        )
        uplinks = UplinkService(
            pipeline,
            downlinks,
            metrics,
            unknown=unknown,
            devices=management,
            hook=outgoing.hooks,
            duplicates=outgoing.duplicates,
        )
        rules.engine.runner.history = _RuleHistory(management.devices, uplinks)
        callbacks = SigfoxCallbacks(
            uplinks=uplinks,
            auth=BasicAuthenticator(verifiers.sigfox),
            metrics=metrics,
            api_users=auth,
            allowed_networks=[
                ipaddress.ip_network(n, strict=False) for n in s.sigfox.allowed_networks
            ],
            trust_forwarded_for=s.sigfox.trust_forwarded_for,
            reports=ServiceReports(
                store.events,
                management.registry,
                events.log,
                low_battery_volts=s.events.low_battery_volts,
                forward=outgoing.reports.forward,
            ),
        )

        lora = self._lora(store, identity, management, box, uplinks, events, metrics, bus, feed)

        def health() -> dict[str, str]:
            """The broker's state: reported, but ingest goes on without it (the outbox)."""
            if bus is None:
                return {"mqtt": "disabled"}
            return {"mqtt": "connected" if bus.connected else "disconnected"}

        tables, retention = self._maintenance(store)
        operations = TableOperations(store.items, on_change=tables.wake)
        ctx = ApiContext(
            ping=store.ping,
            downlinks=downlinks,
            metrics=metrics,
            auth=auth,
            identity=identity,
            devices=management,
            root=root,
            health=health,
            callbacks=outgoing.config,
            not_delivered=outgoing.not_delivered,
            alerts=alerts,
            password_links=PasswordLinks(
                store.password_tokens,
                store.identity,
                mailer,
                LinkSettings(
                    s.mail.public_url or f"http://{s.host}:{sock.getsockname()[1]}",
                    s.mail.invitation_expiry_seconds,
                    s.mail.reset_expiry_seconds,
                ),
            ),
            mail_configured=mailer.configured,
            trust_forwarded_for=s.sigfox.trust_forwarded_for,
            rules=rules,
            lora=lora,
            tables=operations,
        )
        rules.engine.runner.tables = TablesForRules(operations)
        server = self._http_server(
            create_app(
                ctx,
                callbacks,
                DynamoDBEndpoint(operations, auth),
                iot=IotEndpoint(rules, auth, feed.publish_as if feed is not None else None),
                console=create_console(
                    ctx,
                    ConsoleSessions(
                        store.sessions,
                        auth,
                        SessionLimits(s.console.session_hours * 3600, s.console.idle_minutes * 60),
                    ),
                    s.console,
                ),
                api_rate_limit=s.api_rate_limit,
                api_max_body_bytes=s.api_max_body_bytes,
            )
        )
        await self._serve_until_stopped(
            _Parts(
                server,
                raw_bus,
                pipeline,
                events,
                outbox,
                outgoing,
                mailer,
                notifier,
                management.bulk.stop,
            ),
            sock,
            lora,
            tables,
            retention,
            rules,
        )
        log.info("lorafox stopped")

    def _lora(
        self,
        store: SqlStore,
        identity: Identity,
        management: DeviceManagement,
        box: SecretBox,
        uplinks: UplinkService,
        events: DeviceEvents,
        metrics: Metrics,
        bus: Bus | None,
        feed: RulesFeed | None,
    ) -> LoraServices:
        """The LoRa use cases, following the integrations changed on other instances, and the
        LoRa downlink requests of the bus."""
        s = self.settings

        async def operable(principal: Principal, device: str) -> str:
            return await management.devices.scope(principal, device, rbac.OPERATE)

        integrations = LoraIntegrations(
            store.lora, store.identity, identity.groups, management.types, box
        )
        integrations.follow(self._changes)
        lora = LoraServices.create(
            store.lora,
            integrations,
            LoraIngest(uplinks, events.log.record_later, store.lora, store.lora, metrics.lora),
            bus=bus,
            scope=operable,
            retry=s.lora,
            health=IntegrationHealth(
                events.log.record_later, now_ms, down_after=s.lora.integration_down_seconds
            ),
        )
        if bus is not None:
            bus.subscribe(DOWNLINK_TOPIC, lora.downlinks.on_mqtt)
        if feed is not None:
            feed.also_on_https(DOWNLINK_TOPIC, lora.downlinks.on_mqtt)
        return lora

    def _maintenance(self, store: SqlStore) -> tuple[TableMaintenance, HistoryRetention]:
        """The periodic jobs on stored data: the tables' and the history's."""
        s = self.settings
        tables = TableMaintenance(
            store.items, interval=s.tables.ttl_purge_seconds, batch=s.tables.purge_batch
        )
        retention = HistoryRetention(
            store.retention,
            store.devices.all_device_types,
            default_days=s.history.retention_days,
            interval=s.history.purge_seconds,
            batch=s.history.purge_batch,
        )
        return tables, retention

    async def _serve_until_stopped(
        self,
        parts: _Parts,
        sock: socket.socket,
        lora: LoraServices,
        tables: TableMaintenance,
        retention: HistoryRetention,
        rules: TopicRules,
    ) -> None:
        """Serve with the LoRa sources, the tables' maintenance, the history's retention and
        the rules until stopped."""
        self.http_port = sock.getsockname()[1]
        lora_stack = await lora.start(
            self.settings.host, self.settings.semtech_port, self.settings.mqtt.client_id
        )
        self.semtech_port = lora.semtech_port
        tables_task = asyncio.create_task(tables.run(self._stop))
        retention_task = asyncio.create_task(retention.run(self._stop))
        leader_task = self._lead(parts.events, tables, retention)
        changes_task = asyncio.create_task(self._changes.run(self._stop))
        source_tasks = []
        if self._rules_source is not None:
            source_tasks = [
                asyncio.create_task(self._rules_leadership.run(self._stop)),
                asyncio.create_task(self._rules_source.run(self._stop)),
            ]
        stop_bulk = parts.stop_jobs

        async def stop_jobs() -> None:  # the LoRa sources stop with HTTP, before the pipeline
            await lora_stack.aclose()
            await stop_bulk()

        parts.stop_jobs = stop_jobs
        try:
            async with _running(rules):
                await self._run(parts, sock)
        finally:
            await lora_stack.aclose()
            for task in (tables_task, retention_task):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            self._stop.set()
            await leader_task
            await changes_task
            for task in source_tasks:
                await task

    def _share(
        self,
        store: SqlStore,
        management: DeviceManagement,
        rules: TopicRules,
        outgoing: OutgoingCallbacks,
        mailer: Mailer,
    ) -> None:
        """Instances sharing the database: the caches tell each other of their changes; the
        outboxes of callbacks and mail are run by the leader (every instance owes the stored
        messages' first attempts as rows of the callbacks' outbox)."""
        management.registry.follow(self._changes, store.devices)
        rules.tell(self._changes)
        outgoing.directory.follow(self._changes, outgoing.callbacks_changed)
        if outgoing.shared is not None:
            outgoing.shared.tell(self._changes)
        leadership = self._leadership
        outgoing.sender.leads = mailer.leads = lambda: leadership.is_leader

    def _lead(
        self, events: DeviceEvents, tables: TableMaintenance, retention: HistoryRetention
    ) -> asyncio.Task[None]:
        """Run the periodic jobs only while this instance is the leader (several instances)."""
        leadership = self._leadership
        events.monitor.leads = tables.leads = retention.leads = lambda: leadership.is_leader
        events.monitor.shared = not isinstance(leadership, SingleInstance)
        return asyncio.create_task(leadership.run(self._stop))

    async def _rules(
        self,
        store: SqlStore,
        management: DeviceManagement,
        root_path: str,
        bus: Bus | None,
        access: TopicAccess,
        metrics: Metrics,
    ) -> tuple[TopicRules, RulesFeed | None]:
        """The topic rules, loaded, and what feeds them every message of the bus."""
        runner = ActionRunner(
            http=httpx.AsyncClient(timeout=10, follow_redirects=False),
            outbox=store.rule_http,
            http_allowed=tuple(self.settings.rules.http_allowed_urls),
            http_lease=self.settings.rules.http_lease_seconds,
        )
        engine = RulesEngine(runner, root_path=root_path, queue_size=self.settings.rules.queue_size)
        metrics.registry.register(engine)
        rules = TopicRules(
            store.rules,
            engine,
            uplink_message=self._uplink_renderer(),
            builtin=None if bus is None else builtin_downlink_rule(self.settings.mqtt, root_path),
        )
        log.info("%d topic rules", await rules.load())
        if bus is None:
            return rules, None
        feed = RulesFeed(bus, engine, access)
        engine.runner.publisher = feed.bus
        if isinstance(bus, ExternalBus):
            self._rules_source = self._broker_rules_source(feed)
        return rules, feed

    def _broker_rules_source(self, feed: RulesFeed) -> BrokerRulesSource:
        """The rules' own connection to the external broker: a shared subscription, or the
        one instance holding the rules feeder's lock (docs/deployment.md)."""
        s = self.settings
        if not s.rules.shared_subscription:  # else the broker shares the messages out
            self._rules_leadership = leadership_for(
                s.database_url,
                retry_seconds=s.leader_retry_seconds,
                key=RULES_FEED_LOCK_KEY,
                role="rules feeder: it runs the topic rules on the broker's messages",
            )
        leadership = self._rules_leadership
        return BrokerRulesSource(
            BrokerAddress.parse(s.mqtt_url or ""),
            feed.on_broker_message,
            group=s.rules.feed_group,
            client_id=f"{s.mqtt.client_id}-rules",
            shared=s.rules.shared_subscription,
            leads=lambda: leadership.is_leader,
            tls=self._mqtt_tls(),
        )

    async def _run(self, parts: _Parts, sock: socket.socket) -> None:
        """Start the broker and the tasks, serve until told to stop, then drain in order:
        HTTP, jobs, uplinks, events, publishes."""
        s = self.settings
        async with contextlib.AsyncExitStack() as stack:
            if parts.bus is not None:
                await self._start_bus(stack, parts.bus)
            async with asyncio.TaskGroup() as tasks:
                pipeline_task = tasks.create_task(parts.pipeline.run())
                events_task = tasks.create_task(parts.events.run())
                outbox_task = tasks.create_task(parts.outbox.run()) if parts.outbox else None
                callbacks_task = tasks.create_task(parts.outgoing.run())
                mail_task = tasks.create_task(parts.mailer.run())
                alerts_task = tasks.create_task(parts.alerts.run())
                server_task = tasks.create_task(parts.server.serve(sockets=[sock]))
                # uvicorn offers no start event; its flag flips within a few ms
                while not parts.server.started and not server_task.done():  # noqa: ASYNC110
                    await asyncio.sleep(0.01)
                if parts.server.started:
                    log.info(
                        "lorafox is up: HTTP on %s:%d, %s",
                        s.host,
                        self.http_port,
                        self._mqtt_text(parts.bus),
                    )
                    self.ready.set()
                stop = asyncio.create_task(self._stop.wait())
                await asyncio.wait({stop, server_task}, return_when=asyncio.FIRST_COMPLETED)
                stop.cancel()
                log.info("shutting down")
                parts.server.should_exit = True
                await server_task
                await parts.stop_jobs()
                parts.pipeline.close()
                await pipeline_task
                await parts.outgoing.close(callbacks_task)
                await parts.events.close()
                await events_task
                await parts.alerts.close()
                await alerts_task
                parts.mailer.close()
                await mail_task
                if parts.outbox is not None and outbox_task is not None:
                    await parts.outbox.drain(seconds=5)
                    parts.outbox.close()
                    outbox_task.cancel()
