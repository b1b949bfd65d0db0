"""``/console/api-users``: the API users the session's user sees; where it is ADMIN, a form to
create one, a button to renew one's credential and one to delete it.

The page calls ``ApiUsers`` (list, create, renew, delete) with the session's user, as the API
does. The password of a new or renewed API user is in the answer to that POST only: nothing
keeps it, so no later page (a reload included, which asks for the page again) can show it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request
from starlette.responses import RedirectResponse, Response

from lorafox.auth import rbac
from lorafox.console.context import Cx, Session, group_choices, page_router, visible_groups
from lorafox.console.forms import Form, FormErrors
from lorafox.console.templating import NavItem
from lorafox.domain import ApiUser, Principal, Profile
from lorafox.errors import InvalidInput

__all__ = ["NAV", "router"]

NAV = NavItem("API users", "/console/api-users", order=70)
_MAX_SHOWN = 1000
"""The API users the page lists at most."""

router = page_router()
ApiUserId = Annotated[str, Path(max_length=64)]
PROFILES = [(p.value, p.label) for p in Profile]


async def _page(
    request: Request,
    cx: Cx,
    principal: Principal,
    *,
    notice: str = "",
    created: tuple[ApiUser, str] | None = None,
    errors: FormErrors | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    api_users = await cx.api.identity.api_users.list(principal, limit=_MAX_SHOWN)
    groups = await visible_groups(cx, principal)
    names = {g.id: g.name for g in groups}
    admin_of = group_choices(groups, principal, rbac.ADMINISTER)
    administered = {gid for gid, _ in admin_of}
    page = {
        "api_users": sorted(api_users, key=lambda a: a.name.lower()),
        "group_names": names,
        "administered": administered,
        "groups": admin_of,
        "profiles": PROFILES,
        "profile_labels": dict(PROFILES),
        "notice": notice,
        "created": created,
        "errors": errors or FormErrors(),
        "v": values or {"name": "", "groupId": "", "profileId": Profile.VIEWER.value},
    }
    return cx.templates.render(request, "api_users/list.html", page, status=status)


@router.get("/console/api-users")
async def api_user_list(request: Request, cx: Cx, session: Session, done: str = "") -> Response:
    return await _page(
        request, cx, session.principal, notice="The API user is deleted." if done else ""
    )


@router.post("/console/api-users")
async def create(request: Request, cx: Cx, session: Session, form: Form) -> Response:
    values = {
        "name": form.get("name").strip(),
        "groupId": form.get("groupId"),
        "profileId": form.get("profileId"),
    }
    try:
        made = await cx.api.identity.api_users.create(
            session.principal,
            group_id=values["groupId"],
            name=values["name"],
            profiles=[values["profileId"]],
        )
    except InvalidInput as exc:
        errors = FormErrors()
        errors.add_error(exc, ("name", "groupId"))
        if exc.field in {"profileIds", "profileId"}:
            errors = FormErrors({"profileId": exc.message})
        return await _page(request, cx, session.principal, errors=errors, values=values, status=400)
    return await _page(request, cx, session.principal, created=made)


@router.post("/console/api-users/{api_user_id}/renew")
async def renew(request: Request, cx: Cx, session: Session, api_user_id: ApiUserId) -> Response:
    api_users = cx.api.identity.api_users
    password = await api_users.renew(session.principal, api_user_id)
    api_user, _ = await api_users.get(session.principal, api_user_id)
    return await _page(request, cx, session.principal, created=(api_user, password))


@router.post("/console/api-users/{api_user_id}/delete")
async def delete(cx: Cx, session: Session, api_user_id: ApiUserId) -> Response:
    await cx.api.identity.api_users.delete(session.principal, api_user_id)
    return RedirectResponse("/console/api-users?done=deleted", 303)
