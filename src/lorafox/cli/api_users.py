"""``lorafox api-users create|list|renew``: machine logins without HTTP.

The commands act as an ADMIN of the root group; a credential is printed once.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from lorafox.cli.common import (
    JsonOpt,
    app,
    opened_store,
    with_settings,
)
from lorafox.cli.users import GroupOpt, call, every
from lorafox.domain import ApiUser, Group, Profile
from lorafox.identity import Identity, system_principal
from lorafox.settings import Settings

__all__ = ["api_users_app"]

api_users_app = typer.Typer(
    help="API users: logins for scripts (Basic auth; later the SigV4 access keys).",
    no_args_is_help=True,
)
app.add_typer(api_users_app, name="api-users")


def _print_credential(api_user_id: str, password: str) -> None:
    typer.secho(f"  Login:    {api_user_id}", bold=True)
    typer.secho(f"  Password: {password}", bold=True)
    typer.echo("  (shown once: keep it somewhere safe)")


@api_users_app.command("create")
@with_settings
def create(
    settings: Settings,
    name: Annotated[str, typer.Argument(help="What the API user is for.")],
    profile: Annotated[
        list[Profile], typer.Option("--profile", help="Profile on the group (repeatable).")
    ],
    group: GroupOpt = None,
    timezone: Annotated[str, typer.Option("--timezone")] = "UTC",
    as_json: JsonOpt = False,
) -> None:
    """Create an API user; prints its login and password once."""

    async def work() -> tuple[ApiUser, str]:
        async with opened_store(settings) as (store, box):
            root = await store.identity.root_group()
            return await Identity.create(store.identity, box).api_users.create(
                system_principal(root),
                group_id=group or root.id,
                name=name,
                profiles=[p.value for p in profile],
                timezone=timezone,
            )

    api_user, password = call(work())
    if as_json:
        typer.echo(json.dumps({"id": api_user.id, "accessToken": password}))
        return
    profiles = ", ".join(p.value for p in api_user.profiles)
    typer.echo(f"API user created: {api_user.name} ({profiles})")
    _print_credential(api_user.id, password)


@api_users_app.command("list")
@with_settings
def list_api_users(settings: Settings, as_json: JsonOpt = False) -> None:
    """List every API user (never their passwords)."""

    async def work() -> tuple[list[ApiUser], dict[str, Group]]:
        async with opened_store(settings) as (store, box):
            identity = Identity.create(store.identity, box)
            cli = system_principal(await store.identity.root_group())
            found = await every(identity.api_users.list, cli)
            return found, await store.identity.get_groups({a.group_id for a in found})

    found, groups = call(work())
    rows: list[dict[str, Any]] = [
        {
            "id": a.id,
            "name": a.name,
            "group": {"id": a.group_id, "name": groups[a.group_id].name},
            "profiles": [p.value for p in a.profiles],
            "timezone": a.timezone,
            "creationTime": a.created_at,
        }
        for a in found
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        profiles = ",".join(row["profiles"])
        typer.echo(f"{row['id']}  {row['name']:<24}  {profiles:<24}  {row['group']['name']}")


@api_users_app.command("renew")
@with_settings
def renew(
    settings: Settings,
    api_user: Annotated[str, typer.Argument(help="The API user's id (its login).")],
    as_json: JsonOpt = False,
) -> None:
    """Give an API user a new password (printed once); the old one stops working."""

    async def work() -> str:
        async with opened_store(settings) as (store, box):
            root = await store.identity.root_group()
            return await Identity.create(store.identity, box).api_users.renew(
                system_principal(root), api_user
            )

    password = call(work())
    if as_json:
        typer.echo(json.dumps({"id": api_user.lower(), "accessToken": password}))
        return
    typer.echo("Credential renewed.")
    _print_credential(api_user.lower(), password)
