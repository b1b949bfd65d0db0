"""Groups, users and API users: the use cases behind the REST API and the CLI.

Every method takes the acting ``Principal`` and applies ``lorafox.auth.rbac``; the CLI acts as
``system_principal`` (ADMIN of the root group).
"""

from __future__ import annotations

from dataclasses import dataclass

from lorafox.auth.secretbox import SecretBox
from lorafox.domain import Grant, Group, Principal, PrincipalKind, Profile
from lorafox.identity.api_users import ApiUsers
from lorafox.identity.groups import Groups
from lorafox.identity.users import Users
from lorafox.ports.store import IdentityStore

__all__ = ["ApiUsers", "Groups", "Identity", "Users", "system_principal"]


def system_principal(root: Group) -> Principal:
    """The CLI's principal: ADMIN of the root group."""
    return Principal(
        PrincipalKind.SYSTEM, "cli", "lorafox CLI", (Grant(root.id, root.path, Profile.ADMIN),)
    )


@dataclass(slots=True)
class Identity:
    groups: Groups
    users: Users
    api_users: ApiUsers

    @classmethod
    def create(cls, store: IdentityStore, box: SecretBox) -> Identity:
        groups = Groups(store)
        return cls(groups, Users(store, groups), ApiUsers(store, groups, box))
