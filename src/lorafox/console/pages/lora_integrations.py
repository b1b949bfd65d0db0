"""``/console/lora``: the LoRa integrations (network servers feeding a group) the session's user
sees; where it is DEVICE_MANAGER, a form to create one (name, kind, group, the kind's settings
as JSON), to change one (a secret setting left out keeps its value) and a button to delete it.

The pages call ``LoraIntegrations`` (list, get, create, update, delete) with the session's user,
as the API does. The Bearer token of a new integration is in the answer to that POST only, as
the API returns it once; secret settings are never shown, only which are set.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Path, Request
from starlette.responses import RedirectResponse, Response

from lorafox.api.context import ApiContext
from lorafox.auth import rbac
from lorafox.console.context import (
    Cx,
    Session,
    can_operate,
    group_choices,
    page_router,
    visible_groups,
)
from lorafox.console.forms import Form, FormData, FormErrors
from lorafox.console.templating import NavItem
from lorafox.domain import LoraIntegration, LoraKind, Principal
from lorafox.errors import InvalidInput, NotFound
from lorafox.lora import LoraServices
from lorafox.lora.integrations import SECRET_KEYS

__all__ = ["NAV", "router"]

NAV = NavItem("LoRa", "/console/lora", order=50)
FIELDS = ("name", "kind", "groupId", "appEui", "config")
KINDS = [(k.value, k.value) for k in LoraKind]
_MAX_SHOWN = 100

router = page_router()
IntegrationId = Annotated[str, Path(max_length=64)]


def lora(api: ApiContext) -> LoraServices:
    """The LoRa use cases (``NotFound`` when LoRa is not enabled, as on the API)."""
    if api.lora is None:
        raise NotFound("LoRa is not enabled")
    return api.lora


def _public(i: LoraIntegration) -> dict[str, Any]:
    return {k: v for k, v in i.config.items() if k not in SECRET_KEYS}


def _secrets(i: LoraIntegration) -> list[str]:
    return sorted(k for k, v in i.config.items() if k in SECRET_KEYS and v)


async def _groups(cx: Cx, principal: Principal) -> list[tuple[str, str]]:
    return group_choices(await visible_groups(cx, principal), principal, rbac.OPERATE)


async def _list(
    request: Request,
    cx: Cx,
    principal: Principal,
    *,
    notice: str = "",
    created: tuple[LoraIntegration, str] | None = None,
) -> Response:
    found = await lora(cx.api).integrations.list(principal, limit=_MAX_SHOWN)
    groups = {g.id: g for g in await visible_groups(cx, principal)}
    page = {
        "integrations": sorted(found, key=lambda i: i.name.lower()),
        "group_names": {k: g.name for k, g in groups.items()},
        "editable": {
            i.id: i.group_id in groups and can_operate(principal, groups[i.group_id].path)
            for i in found
        },
        "can_create": can_operate(principal),
        "public": _public,
        "secrets": _secrets,
        "down": lora(cx.api).health.down,
        "notice": notice,
        "created": created,
    }
    return cx.templates.render(request, "lora_integrations/list.html", page)


@router.get("/console/lora")
async def integration_list(request: Request, cx: Cx, session: Session, done: str = "") -> Response:
    notice = {"saved": "Saved.", "deleted": "The integration is deleted."}.get(done, "")
    return await _list(request, cx, session.principal, notice=notice)


def _config(form: FormData, errors: FormErrors) -> dict[str, Any] | None:
    text = form.get("config").strip()
    if not text:
        return {}
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        errors.add("config", f"config: not JSON ({exc})")
        return None
    if not isinstance(parsed, dict):
        errors.add("config", 'config: a JSON object, {"key": "value", …}')
        return None
    return parsed


async def _form(
    request: Request,
    cx: Cx,
    principal: Principal,
    found: LoraIntegration | None,
    values: dict[str, Any],
    errors: FormErrors,
    *,
    status: int = 200,
) -> Response:
    page = {
        "i": found,
        "v": values,
        "errors": errors,
        "kinds": KINDS,
        "groups": await _groups(cx, principal),
        "secrets": _secrets(found) if found else [],
        "secret_keys": sorted(SECRET_KEYS),
    }
    return cx.templates.render(request, "lora_integrations/form.html", page, status=status)


def _add(errors: FormErrors, exc: InvalidInput) -> None:
    field = exc.field or ""
    field = "config" if field.startswith("config") else field
    errors.add(field if field in FIELDS else "", exc.message)


@router.get("/console/lora/new")
async def new_form(request: Request, cx: Cx, session: Session) -> Response:
    values = {"name": "", "kind": "chirpstack", "groupId": "", "appEui": "", "config": ""}
    return await _form(request, cx, session.principal, None, values, FormErrors())


@router.post("/console/lora/new")
async def create(request: Request, cx: Cx, session: Session, form: Form) -> Response:
    errors = FormErrors()
    config = _config(form, errors)
    if config is not None:
        try:
            made = await lora(cx.api).integrations.create(
                session.principal,
                name=form.get("name").strip(),
                kind=form.get("kind"),
                group_id=form.get("groupId"),
                app_eui=form.get("appEui").strip() or None,
                config=config,
            )
        except InvalidInput as exc:
            _add(errors, exc)
        else:
            return await _list(request, cx, session.principal, created=made)
    values = {name: form.get(name) for name in FIELDS}
    return await _form(request, cx, session.principal, None, values, errors, status=400)


@router.get("/console/lora/{integration_id}")
async def edit_form(
    request: Request, cx: Cx, session: Session, integration_id: IntegrationId
) -> Response:
    found = await lora(cx.api).integrations.get(session.principal, integration_id, rbac.OPERATE)
    values = {
        "name": found.name,
        "kind": found.kind.value,
        "groupId": found.group_id,
        "appEui": found.app_eui or "",
        "config": json.dumps(_public(found), indent=2) if found.config else "",
    }
    return await _form(request, cx, session.principal, found, values, FormErrors())


@router.post("/console/lora/{integration_id}")
async def update(
    request: Request, cx: Cx, session: Session, integration_id: IntegrationId, form: Form
) -> Response:
    integrations = lora(cx.api).integrations
    found = await integrations.get(session.principal, integration_id, rbac.OPERATE)
    errors = FormErrors()
    config = _config(form, errors)
    if config is not None:
        try:
            await integrations.update(
                session.principal,
                found.id,
                name=form.get("name").strip(),
                app_eui=form.get("appEui").strip() or None,
                config=config,
            )
        except InvalidInput as exc:
            _add(errors, exc)
        else:
            return RedirectResponse("/console/lora?done=saved", 303)
    values = {name: form.get(name) for name in FIELDS} | {"kind": found.kind.value}
    return await _form(request, cx, session.principal, found, values, errors, status=400)


@router.post("/console/lora/{integration_id}/delete")
async def delete(cx: Cx, session: Session, integration_id: IntegrationId) -> Response:
    await lora(cx.api).integrations.delete(session.principal, integration_id)
    return RedirectResponse("/console/lora?done=deleted", 303)
