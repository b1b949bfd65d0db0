"""API users (the Sigfox *API access*) as a principal sees them.

An API user belongs to one group and holds one or more profiles there. Its login is its id; its
password is 32 random hex digits, shown once (at creation and at each renewal) and stored
encrypted with the secret box, because SigV4 needs it back as a secret key.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from collections.abc import Iterable, Sequence

from lorafox.auth import rbac
from lorafox.auth.secretbox import SecretBox
from lorafox.domain import ApiUser, Group, Principal, Profile, new_id
from lorafox.errors import NotFound
from lorafox.identity.groups import Groups
from lorafox.identity.validation import check_name, check_profiles, check_timezone, is_id
from lorafox.ports.store import IdentityStore, MemberQuery

__all__ = ["ApiUsers", "new_password"]

log = logging.getLogger(__name__)


def new_password() -> str:
    """A new API user password: 128 random bits as 32 hex digits (like Sigfox's)."""
    return secrets.token_hex(16)


class ApiUsers:
    """API user use cases; every method checks what ``principal`` may see and do."""

    def __init__(self, store: IdentityStore, groups: Groups, box: SecretBox) -> None:
        self._store = store
        self._groups = groups
        self._box = box

    async def get(
        self, principal: Principal, api_user_id: str, needed: Profile = rbac.READ
    ) -> tuple[ApiUser, Group]:
        api_user_id = api_user_id.lower()
        api_user = await self._store.get_api_user(api_user_id) if is_id(api_user_id) else None
        group = None if api_user is None else await self._store.get_group(api_user.group_id)
        if api_user is None or group is None:
            raise NotFound("API user not found")
        rbac.require(principal, group.path, needed, "API user")
        return api_user, group

    async def list(
        self,
        principal: Principal,
        *,
        group_ids: Sequence[str] = (),
        profile: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[ApiUser]:
        ids: tuple[str, ...] = ()
        if group_ids:
            ids = tuple(g.id for g in await self._groups.get_many(principal, group_ids))
        query = MemberQuery(
            paths=rbac.visible_roots(principal),
            group_ids=ids,
            profile=check_profiles([profile], "profileId")[0] if profile else None,
            limit=limit,
            offset=offset,
        )
        return await self._store.list_api_users(query)

    async def create(
        self,
        principal: Principal,
        *,
        group_id: str,
        name: str,
        profiles: Iterable[str],
        timezone: str = "UTC",
    ) -> tuple[ApiUser, str]:
        """The new API user and its password (shown once)."""
        name = check_name(name, "name", low=1)
        timezone = check_timezone(timezone)
        wanted = check_profiles(profiles)
        group = await self._groups.get(principal, group_id, rbac.ADMINISTER)
        password = new_password()
        api_user = ApiUser(
            id=new_id(),
            name=name,
            timezone=timezone,
            group_id=group.id,
            profiles=wanted,
            created_at=int(time.time() * 1000),
            secret=self._box.encrypt(password),
        )
        await self._store.create_api_user(api_user)
        log.info("API user %s (%r) created in %s by %s", api_user.id, name, group.id, principal.id)
        return api_user, password

    async def update(
        self,
        principal: Principal,
        api_user_id: str,
        *,
        name: str | None = None,
        timezone: str | None = None,
        profiles: Iterable[str] | None = None,
    ) -> ApiUser:
        api_user, _ = await self.get(principal, api_user_id, rbac.ADMINISTER)
        updated = dataclasses.replace(
            api_user,
            name=api_user.name if name is None else check_name(name, "name", low=1),
            timezone=api_user.timezone if timezone is None else check_timezone(timezone),
            profiles=api_user.profiles if profiles is None else check_profiles(profiles),
        )
        await self._store.update_api_user(updated)
        log.info("API user %s updated by %s", api_user.id, principal.id)
        return updated

    async def add_profiles(
        self, principal: Principal, api_user_id: str, profiles: Iterable[str]
    ) -> ApiUser:
        api_user, _ = await self.get(principal, api_user_id, rbac.ADMINISTER)
        merged = check_profiles([p.value for p in api_user.profiles] + list(profiles))
        return await self.update(principal, api_user.id, profiles=[p.value for p in merged])

    async def remove_profile(self, principal: Principal, api_user_id: str, profile: str) -> ApiUser:
        """Remove one profile; the last one cannot go (delete the API user instead)."""
        api_user, _ = await self.get(principal, api_user_id, rbac.ADMINISTER)
        gone = check_profiles([profile], "profileId")[0]
        if gone not in api_user.profiles:
            raise NotFound("the API user does not have this profile")
        kept = [p.value for p in api_user.profiles if p is not gone]
        return await self.update(principal, api_user.id, profiles=kept)

    async def renew(self, principal: Principal, api_user_id: str) -> str:
        """A new password (shown once); the old one stops working at once."""
        api_user, _ = await self.get(principal, api_user_id, rbac.ADMINISTER)
        password = new_password()
        await self._store.set_api_user_secret(api_user.id, self._box.encrypt(password))
        log.info("credential of API user %s renewed by %s", api_user.id, principal.id)
        return password

    async def delete(self, principal: Principal, api_user_id: str) -> None:
        api_user, _ = await self.get(principal, api_user_id, rbac.ADMINISTER)
        await self._store.delete_api_user(api_user.id)
        log.info("API user %s (%r) deleted by %s", api_user.id, api_user.name, principal.id)
