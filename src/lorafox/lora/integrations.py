"""LoRa integrations as a principal sees them, and the Bearer tokens of their network servers.

An integration belongs to a group (read with VIEWER, changed with DEVICE_MANAGER there, as a
callback is). Its token is 128 random bits shown once; only its SHA-256 is stored (a random
128-bit secret needs no slow hash) and compared in constant time. Secrets of its settings
(the TTS downlink API key, the AWS secret access key) are stored encrypted and never read
back through the API.

On the ingest path an integration acts as an API user holding DEVICE_MANAGER on its group, so
the uplink flow provisions and reaches only that group's devices.
"""

from __future__ import annotations

import builtins
import dataclasses
import hashlib
import hmac
import ipaddress
import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from lorafox.auth import rbac
from lorafox.auth.secretbox import SecretBox
from lorafox.devices.device_types import DeviceTypes
from lorafox.domain import (
    Grant,
    LoraIntegration,
    LoraKind,
    Principal,
    PrincipalKind,
    Profile,
    new_id,
)
from lorafox.errors import AuthenticationFailed, InvalidInput, NotFound
from lorafox.identity.groups import Groups
from lorafox.identity.validation import check_name, is_id
from lorafox.lora.model import normalize_eui
from lorafox.ports.cluster import Changes
from lorafox.ports.lora import LoraIntegrationStore
from lorafox.ports.store import IdentityStore

__all__ = [
    "CACHE_SECONDS",
    "LORA_INTEGRATIONS",
    "SECRET_KEYS",
    "LoraIntegrations",
    "Sender",
    "new_token",
]

log = logging.getLogger(__name__)

CACHE_SECONDS = 5.0
"""How long a verified integration is remembered (instances sharing a database are told of each
other's changes at once; this bounds a change missed)."""
LORA_INTEGRATIONS = "lora_integrations"
"""The topic of changed integrations among instances (keys: their ids)."""
_CACHE_MAX = 10_000
_TOKEN_MAX = 200
_VALUE_MAX = 500
_ADDRESSES_MAX = 32

_CONFIG_KEYS: dict[LoraKind, frozenset[str]] = {
    LoraKind.SEMTECH: frozenset({"addresses"}),
    LoraKind.CHIRPSTACK: frozenset({"mqttUrl", "applicationId"}),
    LoraKind.TTS: frozenset({"downlinkPushUrl", "downlinkApiKey", "priority", "mqttUrl"}),
    LoraKind.AWS_IOTWIRELESS: frozenset({"endpoint", "region", "accessKeyId", "secretAccessKey"}),
}
SECRET_KEYS = frozenset({"downlinkApiKey", "secretAccessKey"})
"""Settings stored encrypted and never shown."""


def new_token() -> str:
    return secrets.token_hex(16)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclasses.dataclass(slots=True, frozen=True)
class Sender:
    """A verified integration and the principal its uplinks are received as."""

    integration: LoraIntegration
    principal: Principal


class LoraIntegrations:
    """LoRa integration use cases; every method checks what ``principal`` may see and do."""

    def __init__(
        self,
        store: LoraIntegrationStore,
        identity: IdentityStore,
        groups: Groups,
        types: DeviceTypes,
        box: SecretBox,
    ) -> None:
        self._store = store
        self._identity = identity
        self._groups = groups
        self._types = types
        self._box = box
        self._cache: dict[str, tuple[float, Sender]] = {}
        self.on_change: Callable[[], None] | None = None
        """Told after an integration is created, changed or deleted, here or on another
        instance (the MQTT subscriptions)."""
        self._changes: Changes | None = None

    def follow(self, changes: Changes) -> None:
        """Tell ``changes`` of every integration created, changed or deleted here; follow those
        of the other instances at once: their verified tokens forgotten, the brokers followed
        compared again."""

        async def reload(keys: Sequence[str] | None) -> None:
            if keys is None:
                self._cache.clear()
            else:
                for key in keys:
                    self._cache.pop(key, None)
            if self.on_change is not None:
                self.on_change()
            log.info("LoRa integrations changed by another instance: %s", keys or "all")

        self._changes = changes
        changes.on(LORA_INTEGRATIONS, reload)

    def _changed(self, integration_id: str) -> None:
        if self.on_change is not None:
            self.on_change()
        if self._changes is not None:
            self._changes.changed(LORA_INTEGRATIONS, [integration_id])

    # -- management -----------------------------------------------------------------------------

    async def get(
        self, principal: Principal, integration_id: str, needed: Profile = rbac.READ
    ) -> LoraIntegration:
        found = (
            await self._store.get_lora_integration(integration_id)
            if is_id(integration_id)
            else None
        )
        group = await self._identity.get_group(found.group_id) if found else None
        if found is None or group is None:
            raise NotFound("LoRa integration not found")
        rbac.require(principal, group.path, needed, "LoRa integration")
        return found

    async def list(
        self, principal: Principal, *, limit: int = 100, offset: int = 0
    ) -> list[LoraIntegration]:
        return await self._store.list_lora_integrations(
            rbac.visible_roots(principal), limit=limit, offset=offset
        )

    async def create(
        self,
        principal: Principal,
        *,
        name: str,
        kind: str,
        group_id: str,
        device_type_id: str | None = None,
        app_eui: str | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> tuple[LoraIntegration, str]:
        """The new integration and its token (shown once)."""
        try:
            lora_kind = LoraKind(kind)
        except ValueError as exc:
            kinds = ", ".join(k.value for k in LoraKind)
            raise InvalidInput(f"kind: one of {kinds}", field="kind") from exc
        group = await self._groups.get(principal, group_id, rbac.OPERATE)
        token = new_token()
        integration = LoraIntegration(
            id=new_id(),
            name=check_name(name, "name", low=1),
            kind=lora_kind,
            group_id=group.id,
            token_hash=_digest(token),
            created_at=int(time.time() * 1000),
            device_type_id=await self._check_type(principal, group.path, device_type_id),
            app_eui=None if app_eui is None else normalize_eui(app_eui, "appEui"),
            config=self._check_config(lora_kind, config or {}, {}),
        )
        await self._store.create_lora_integration(integration)
        self._changed(integration.id)
        log.info(
            "LoRa integration %s (%s) created in %s by %s",
            integration.id,
            kind,
            group.id,
            principal.id,
        )
        return integration, token

    async def update(
        self,
        principal: Principal,
        integration_id: str,
        *,
        name: str | None = None,
        device_type_id: str | None = None,
        app_eui: str | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> LoraIntegration:
        found = await self.get(principal, integration_id, rbac.OPERATE)
        group = await self._groups.get(principal, found.group_id, rbac.OPERATE)
        updated = dataclasses.replace(
            found,
            name=found.name if name is None else check_name(name, "name", low=1),
            device_type_id=found.device_type_id
            if device_type_id is None
            else await self._check_type(principal, group.path, device_type_id or None),
            app_eui=found.app_eui if app_eui is None else normalize_eui(app_eui, "appEui"),
            config=found.config
            if config is None
            else self._check_config(found.kind, config, found.config),
        )
        await self._store.update_lora_integration(updated)
        self._cache.pop(found.id, None)
        self._changed(found.id)
        log.info("LoRa integration %s updated by %s", found.id, principal.id)
        return updated

    async def delete(self, principal: Principal, integration_id: str) -> None:
        found = await self.get(principal, integration_id, rbac.OPERATE)
        await self._store.delete_lora_integration(found.id)
        self._cache.pop(found.id, None)
        self._changed(found.id)
        log.info("LoRa integration %s (%r) deleted by %s", found.id, found.name, principal.id)

    def secret(self, integration: LoraIntegration, key: str) -> str | None:
        """A decrypted secret setting of ``integration`` (for its downlinks)."""
        value = integration.config.get(key)
        return self._box.decrypt(value) if isinstance(value, str) and value else None

    async def _check_type(
        self, principal: Principal, group_path: str, device_type_id: str | None
    ) -> str | None:
        if device_type_id is None:
            return None
        found = await self._types.get(principal, device_type_id, rbac.OPERATE)
        group = await self._identity.get_group(found.group_id)
        if group is None or not rbac.is_within(group.path, group_path):
            raise InvalidInput(
                "deviceTypeId: a device type of the integration's group (or below it)",
                field="deviceTypeId",
            )
        return found.id

    def _check_config(
        self, kind: LoraKind, config: Mapping[str, Any], former: Mapping[str, Any]
    ) -> dict[str, Any]:
        allowed = _CONFIG_KEYS[kind]
        checked: dict[str, Any] = {}
        for key, value in config.items():
            if key not in allowed:
                raise InvalidInput(
                    f"{key}: not a setting of a {kind.value} integration "
                    f"({', '.join(sorted(allowed))})",
                    field=key,
                )
            if key == "addresses":
                checked[key] = _check_addresses(value)
            elif not isinstance(value, str) or len(value) > _VALUE_MAX:
                raise InvalidInput(f"{key}: a string of at most {_VALUE_MAX} characters", field=key)
            elif key in SECRET_KEYS:
                checked[key] = self._box.encrypt(value) if value else ""
            else:
                checked[key] = value
        for key in SECRET_KEYS & allowed:  # a secret left out keeps its value
            if key not in checked and key in former:
                checked[key] = former[key]
        return checked

    # -- network servers ------------------------------------------------------------------------

    async def authenticate(self, integration_id: str, authorization: str | None) -> Sender:
        """The integration ``integration_id`` if ``authorization`` is ``Bearer <its token>``;
        ``AuthenticationFailed`` otherwise (the same whether the id exists or not)."""
        token = _bearer(authorization)
        digest = _digest(token)
        now = time.monotonic()
        cached = self._cache.get(integration_id)
        if cached is not None and cached[0] > now:
            if hmac.compare_digest(cached[1].integration.token_hash, digest):
                return cached[1]
            raise AuthenticationFailed("wrong token for this LoRa integration")
        found = (
            await self._store.get_lora_integration(integration_id)
            if is_id(integration_id)
            else None
        )
        if found is None or not hmac.compare_digest(found.token_hash, digest):
            raise AuthenticationFailed("wrong token for this LoRa integration")
        return self._remember(await self.sender(found), now)

    async def sender_by_id(self, integration_id: str) -> Sender:
        """The integration ``integration_id`` as its network server acts (``NotFound``)."""
        now = time.monotonic()
        cached = self._cache.get(integration_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        found = await self._store.get_lora_integration(integration_id)
        if found is None:
            raise NotFound("LoRa integration not found")
        return self._remember(await self.sender(found), now)

    def _remember(self, sender: Sender, now: float) -> Sender:
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[sender.integration.id] = (now + CACHE_SECONDS, sender)
        return sender

    async def sender(self, integration: LoraIntegration) -> Sender:
        group = await self._identity.get_group(integration.group_id)
        if group is None:
            raise NotFound("the integration's group is gone")
        grant = Grant(group.id, group.path, rbac.OPERATE)
        principal = Principal(
            PrincipalKind.API_USER, integration.id, f"LoRa integration {integration.name}", (grant,)
        )
        return Sender(integration, principal)

    async def of_kind(self, kind: LoraKind) -> builtins.list[LoraIntegration]:
        """Every integration of ``kind`` (the Semtech socket's allow-list), at most 10,000."""
        found = await self._store.list_lora_integrations(None, limit=_CACHE_MAX)
        return [i for i in found if i.kind is kind]


def _bearer(authorization: str | None) -> str:
    if authorization is None or len(authorization) > _TOKEN_MAX + 7:
        raise AuthenticationFailed("Authorization: Bearer <token of the LoRa integration>")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationFailed("Authorization: Bearer <token of the LoRa integration>")
    return token.strip()


def _check_addresses(value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) > _ADDRESSES_MAX:
        raise InvalidInput(
            f"addresses: a list of up to {_ADDRESSES_MAX} IP addresses or networks",
            field="addresses",
        )
    checked = []
    for item in value:
        try:
            checked.append(str(ipaddress.ip_network(str(item), strict=False)))
        except ValueError as exc:
            raise InvalidInput(
                f"addresses: {item!r} is not an IP address", field="addresses"
            ) from exc
    return checked
