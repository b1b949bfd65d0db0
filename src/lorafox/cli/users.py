"""``lorafox users create|list|set-password``: human users without HTTP.

The commands act as an ADMIN of the root group. A password comes from standard input with
``--password-stdin``, else it is generated and printed once.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer

from lorafox.auth.passwords import generate_secret
from lorafox.cli.common import (
    JsonOpt,
    app,
    fail,
    opened_store,
    run,
    with_settings,
)
from lorafox.domain import Group, Principal, Profile, User
from lorafox.errors import ConfigError, LorafoxError, NotFound
from lorafox.identity import Identity, system_principal
from lorafox.settings import Settings

__all__ = ["users_app"]

users_app = typer.Typer(help="Users: people who log in with their email.", no_args_is_help=True)
app.add_typer(users_app, name="users")

GroupOpt = Annotated[
    str | None, typer.Option("--group", help="Group id (default: the root group).")
]
PasswordStdinOpt = Annotated[
    bool, typer.Option("--password-stdin", help="Read the password from standard input.")
]


def read_password(from_stdin: bool) -> str | None:
    """The first line of standard input with ``--password-stdin``, else None (generate one)."""
    if not from_stdin:
        return None
    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise fail("--password-stdin: standard input holds no password")
    return password


def call(coro: Any) -> Any:
    """Run a command's coroutine; lorafox errors become one line on stderr."""
    try:
        return run(coro)
    except ConfigError as exc:
        raise fail(exc.message) from exc
    except LorafoxError as exc:
        raise fail(exc.message, 1) from exc


T = TypeVar("T")


async def every(list_page: Callable[..., Awaitable[list[T]]], principal: Principal) -> list[T]:
    """All that a paged ``list(principal, limit=, offset=)`` of the identity services gives."""
    found: list[T] = []
    while batch := await list_page(principal, limit=100, offset=len(found)):
        found.extend(batch)
    return found


def _user_json(user: User, groups: dict[str, Group]) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "timezone": user.timezone,
        "userRoles": [
            {"group": {"id": r.group_id, "name": groups[r.group_id].name}, "profile": r.profile}
            for r in user.roles
            if r.group_id in groups
        ],
    }


@users_app.command("create")
@with_settings
def create(
    settings: Settings,
    email: Annotated[str, typer.Argument(help="The login.")],
    first_name: Annotated[str, typer.Option("--first-name")] = "",
    last_name: Annotated[str, typer.Option("--last-name")] = "",
    profile: Annotated[Profile, typer.Option("--profile", help="Profile on the group.")] = (
        Profile.VIEWER
    ),
    group: GroupOpt = None,
    timezone: Annotated[str, typer.Option("--timezone")] = "UTC",
    password_stdin: PasswordStdinOpt = False,
    as_json: JsonOpt = False,
) -> None:
    """Create a user with one role; prints a generated password once."""
    password = read_password(password_stdin)

    async def work() -> tuple[User, str | None]:
        async with opened_store(settings) as (store, box):
            root = await store.identity.root_group()
            return await Identity.create(store.identity, box).users.create(
                system_principal(root),
                email=email,
                first_name=first_name,
                last_name=last_name,
                roles=[(group or root.id, profile.value)],
                timezone=timezone,
                password=password,
            )

    user, generated = call(work())
    if as_json:
        typer.echo(json.dumps({"id": user.id, "email": user.email, "password": generated}))
        return
    typer.echo(f"User created: {user.email} (id {user.id}), {profile.value}")
    if generated:
        typer.secho(f"  Password: {generated}", bold=True)
        typer.echo("  (shown once: keep it somewhere safe)")


@users_app.command("list")
@with_settings
def list_users(settings: Settings, as_json: JsonOpt = False) -> None:
    """List every user and its roles."""

    async def work() -> tuple[list[User], dict[str, Group]]:
        async with opened_store(settings) as (store, box):
            identity = Identity.create(store.identity, box)
            cli = system_principal(await store.identity.root_group())
            found = await every(identity.users.list, cli)
            return found, await identity.users.groups_of(found)

    found, groups = call(work())
    if as_json:
        typer.echo(json.dumps([_user_json(u, groups) for u in found], indent=2))
        return
    for user in found:
        roles = ", ".join(
            f"{r.profile.value} on {groups[r.group_id].name} ({r.group_id})"
            for r in user.roles
            if r.group_id in groups
        )
        name = f"{user.first_name} {user.last_name}".strip()
        typer.echo(f"{user.id}  {user.email:<32}  {name:<24}  {roles}")


@users_app.command("set-password")
@with_settings
def set_password(
    settings: Settings,
    user: Annotated[str, typer.Argument(help="The user's email or id.")],
    password_stdin: PasswordStdinOpt = False,
) -> None:
    """Set a user's password (a lost admin password, for one); prints a generated one once."""
    password = read_password(password_stdin)
    generated = None
    if password is None:
        password = generated = generate_secret()

    async def work() -> User:
        async with opened_store(settings) as (store, box):
            users = store.identity
            found = await users.get_user_by_email(user) or await users.get_user(user)
            if found is None:
                raise NotFound(f"no user {user}")
            root = await store.identity.root_group()
            await Identity.create(store.identity, box).users.set_password(
                system_principal(root), found.id, password
            )
            return found

    found = call(work())
    typer.echo(f"Password of {found.email} changed.")
    if generated:
        typer.secho(f"  Password: {generated}", bold=True)
        typer.echo("  (shown once: keep it somewhere safe)")
