"""Form bodies of the console: ``application/x-www-form-urlencoded``, bounded, parsed once.

``form(request)`` is a dependency (``Form``); the CSRF check reads the same parsed body. Pages
report field errors by re-rendering their template with a ``FormErrors`` (the ``_forms.html``
macros show each next to its control, linked by ``aria-describedby``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import Depends, Request

from lorafox.errors import InvalidInput, PayloadTooLarge

__all__ = ["MAX_FORM_BYTES", "Form", "FormData", "FormErrors", "form"]

MAX_FORM_BYTES = 256 * 1024
_MAX_FIELDS = 2000


@dataclass(slots=True, frozen=True)
class FormData:
    """The fields of a form: ``get`` the first value of one, ``all`` of them."""

    fields: dict[str, list[str]]

    def get(self, name: str, default: str = "") -> str:
        values = self.fields.get(name)
        return values[0] if values else default

    def all(self, name: str) -> list[str]:
        return list(self.fields.get(name, ()))

    def flag(self, name: str) -> bool:
        """A checkbox: checked when sent with any value but ``false`` or ``0``."""
        return self.get(name, "false").lower() not in {"false", "0", "off", ""}


@dataclass(slots=True)
class FormErrors:
    """Messages per field name ("" for the form as a whole)."""

    messages: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, message: str) -> None:
        self.messages.setdefault(name, message)

    def add_error(self, exc: InvalidInput, names: Iterable[str] = ()) -> None:
        """The error of a use case, on its field when the form has one by that name."""
        target = exc.field if exc.field and exc.field in set(names) else ""
        self.add(target or "", exc.message)

    def __bool__(self) -> bool:
        return bool(self.messages)

    def get(self, name: str) -> str | None:
        return self.messages.get(name)


async def form(request: Request) -> FormData:
    """The request's form (parsed once per request); ``InvalidInput`` for another body type,
    ``PayloadTooLarge`` past ``MAX_FORM_BYTES``."""
    parsed: FormData | None = getattr(request.state, "form", None)
    if parsed is not None:
        return parsed
    kind = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_FORM_BYTES:
            raise PayloadTooLarge(f"the form is larger than {MAX_FORM_BYTES} bytes")
    if raw and kind != "application/x-www-form-urlencoded":
        raise InvalidInput("send the form as application/x-www-form-urlencoded")
    try:
        fields = parse_qs(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=_MAX_FIELDS)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidInput("the form is not valid UTF-8 form data") from exc
    parsed = FormData(fields)
    request.state.form = parsed
    return parsed


Form = Annotated[FormData, Depends(form)]
