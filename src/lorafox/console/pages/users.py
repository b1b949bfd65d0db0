"""``/console/users``: the users the session's user sees with their roles; where it is ADMIN,
a form to create one, and per user a form to change its role, one to set its password and a
button to delete it; for everyone, a form to change one's own password.

The page calls ``Users`` (list, create, update, set_password, delete) with the session's user,
as the API does. A password change ends every console session of that user (the store does
it, whichever way the password changes); after changing its own password here, the user is
given a new session in this browser, so only its other browsers are logged out.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Request
from starlette.responses import RedirectResponse, Response

from lorafox.auth import rbac
from lorafox.console.context import Cx, Session, group_choices, page_router, visible_groups
from lorafox.console.forms import Form, FormErrors
from lorafox.console.pages.login import set_session_cookie
from lorafox.console.templating import NavItem
from lorafox.domain import Principal, Profile, User
from lorafox.errors import InvalidInput

__all__ = ["NAV", "router"]

NAV = NavItem("Users", "/console/users", order=65)
_MAX_SHOWN = 100
"""The users the page lists at most (the API's largest page)."""
_FIELDS = ("email", "firstName", "lastName", "password", "groupId", "profileId")

router = page_router()
UserId = Annotated[str, Path(max_length=64)]
PROFILES = [(p.value, p.label) for p in Profile]


async def _page(
    request: Request,
    cx: Cx,
    principal: Principal,
    *,
    notice: str = "",
    errors: FormErrors | None = None,
    values: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    identity = cx.api.identity
    users = await identity.users.list(principal, limit=_MAX_SHOWN)
    groups = await identity.users.groups_of(users)
    admin_of = group_choices(await visible_groups(cx, principal), principal, rbac.ADMINISTER)
    administered = {gid for gid, _ in admin_of}

    def manageable(user: User) -> bool:
        return user.id != principal.id and all(r.group_id in administered for r in user.roles)

    page = {
        "users": sorted(users, key=lambda u: u.email),
        "roles": {u.id: identity.users.visible_roles(principal, u, groups) for u in users},
        "manageable": {u.id: manageable(u) for u in users},
        "me": principal.id,
        "groups": admin_of,
        "profiles": PROFILES,
        "notice": notice,
        "errors": errors or FormErrors(),
        "v": values or dict.fromkeys(_FIELDS, "") | {"profileId": Profile.VIEWER.value},
    }
    return cx.templates.render(request, "users/list.html", page, status=status)


_NOTICES = {
    "saved": "Saved.",
    "deleted": "The user is deleted.",
    "password": "The password is changed; every console session of that user ended.",
    "own-password": "Your password is changed; your other console sessions ended.",
}


@router.get("/console/users")
async def user_list(request: Request, cx: Cx, session: Session, done: str = "") -> Response:
    return await _page(request, cx, session.principal, notice=_NOTICES.get(done, ""))


@router.post("/console/users")
async def create(request: Request, cx: Cx, session: Session, form: Form) -> Response:
    values = {name: form.get(name).strip() for name in _FIELDS}
    values["password"] = form.get("password")
    try:
        await cx.api.identity.users.create(
            session.principal,
            email=values["email"],
            first_name=values["firstName"],
            last_name=values["lastName"],
            roles=[(values["groupId"], values["profileId"])],
            password=values["password"],
        )
    except InvalidInput as exc:
        errors = FormErrors()
        field = {"userRoles.profileId": "profileId", "userRoles": "groupId"}.get(
            exc.field or "", exc.field
        )
        errors.add(field if field in _FIELDS else "", exc.message)
        values["password"] = ""
        return await _page(request, cx, session.principal, errors=errors, values=values, status=400)
    return RedirectResponse("/console/users?done=saved", 303)


@router.post("/console/users/{user_id}/role")
async def change_role(
    request: Request, cx: Cx, session: Session, user_id: UserId, form: Form
) -> Response:
    role = (form.get("groupId"), form.get("profileId"))
    try:
        await cx.api.identity.users.update(session.principal, user_id, roles=[role])
    except InvalidInput as exc:
        errors = FormErrors.refused("The role was not changed", exc)
        return await _page(request, cx, session.principal, errors=errors, status=400)
    return RedirectResponse("/console/users?done=saved", 303)


@router.post("/console/users/{user_id}/password")
async def set_password(
    request: Request, cx: Cx, session: Session, user_id: UserId, form: Form
) -> Response:
    try:
        await cx.api.identity.users.set_password(session.principal, user_id, form.get("password"))
    except InvalidInput as exc:
        errors = FormErrors.refused("The password was not changed", exc)
        return await _page(request, cx, session.principal, errors=errors, status=400)
    return RedirectResponse("/console/users?done=password", 303)


@router.post("/console/password")
async def own_password(request: Request, cx: Cx, session: Session, form: Form) -> Response:
    principal = session.principal
    new = form.get("newPassword")
    try:
        await cx.api.identity.users.set_password(
            principal, principal.id, new, current=form.get("currentPassword")
        )
    except InvalidInput as exc:
        errors = FormErrors.refused("Your password was not changed", exc)
        return await _page(request, cx, principal, errors=errors, status=400)
    user, _ = await cx.api.identity.users.get(principal, principal.id)
    opened = await cx.sessions.login(user.email, new, cx.address(request))
    answer = RedirectResponse("/console/users?done=own-password", 303)
    set_session_cookie(answer, request, cx, opened)
    return answer


@router.post("/console/users/{user_id}/delete")
async def delete(cx: Cx, session: Session, user_id: UserId) -> Response:
    await cx.api.identity.users.delete(session.principal, user_id)
    return RedirectResponse("/console/users?done=deleted", 303)
