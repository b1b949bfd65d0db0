"""Password links: asking for a reset (``POST /api/v2/password-resets``), setting a password
with a link's token (``POST /api/v2/password-resets/password``), and the page the mailed link
opens (``GET``/``POST /password``: a form, no script). None needs a login; none tells whether
an address belongs to a user."""

from __future__ import annotations

import html
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from lorafox.api.context import Ctx
from lorafox.api.schemas import error_responses
from lorafox.errors import InvalidInput
from lorafox.identity.validation import EMAIL_MAX, PASSWORD_MAX, PASSWORD_MIN

__all__ = ["router"]

router = APIRouter(tags=["users"])

_MAX_FORM = 4096


class ResetAsked(BaseModel):
    email: str = Field(max_length=EMAIL_MAX)


class ResetAnswer(BaseModel):
    message: str
    mailSent: bool = Field(  # noqa: N815
        description="false: lorafox has no mail server, no mail is ever sent (whatever the address)"
    )


class NewPassword(BaseModel):
    token: str = Field(max_length=128, description="the token of the mailed link")
    newPassword: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)  # noqa: N815


@router.post(
    "/api/v2/password-resets",
    status_code=202,
    summary="Mail a password reset link (no login; the answer is the same for any address)",
    responses=error_responses(400),
)
async def ask_reset(ctx: Ctx, body: ResetAsked) -> ResetAnswer:
    sent = ctx.password_links.forgot(body.email)
    return ResetAnswer(
        message="If this address is a user's, a link to choose a new password was mailed to it",
        mailSent=sent,
    )


@router.post(
    "/api/v2/password-resets/password",
    status_code=204,
    response_class=Response,
    summary="Set a password with a mailed link's token (once)",
    responses=error_responses(400),
)
async def use_link(ctx: Ctx, body: NewPassword) -> None:
    await ctx.password_links.set_password(body.token, body.newPassword)


def _page(title: str, text: str, form: str = "", status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html><head><meta charset=utf-8><title>lorafox</title>"
        '<meta name=viewport content="width=device-width">'
        "<meta name=referrer content=no-referrer></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p>{form}</body></html>",
        status_code=status,
        headers={"cache-control": "no-store", "x-frame-options": "DENY"},
    )


_GONE = ("This link does not work", "It was used already, it expired, or it is not complete.")


@router.get("/password", include_in_schema=False)
async def password_page(
    ctx: Ctx, token: Annotated[str, Query(max_length=128)] = ""
) -> HTMLResponse:
    if not await ctx.password_links.check(token):
        return _page(*_GONE, status=400)
    form = (
        '<form method=post action="/password">'
        f'<input type=hidden name=token value="{html.escape(token)}">'
        f"<label>New password <input type=password name=password minlength={PASSWORD_MIN} "
        f"maxlength={PASSWORD_MAX} required autocomplete=new-password></label> "
        "<button>Set it</button></form>"
    )
    return _page("Choose your password", f"{PASSWORD_MIN} characters at least.", form)


@router.post("/password", include_in_schema=False)
async def password_form(ctx: Ctx, request: Request) -> HTMLResponse:
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > _MAX_FORM:
            return _page("Too long", "The form is larger than it can be.", status=413)
    fields = parse_qs(raw.decode("utf-8", "replace"), max_num_fields=4)
    token = fields.get("token", [""])[0]
    password = fields.get("password", [""])[0]
    try:
        await ctx.password_links.set_password(token, password)
    except InvalidInput as exc:
        if exc.field == "newPassword":
            return _page("Choose your password", exc.message, status=400)
        return _page(*_GONE, status=400)
    return _page("Password set", "You can log in with your address and this password.")
