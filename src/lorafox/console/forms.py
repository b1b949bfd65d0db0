"""Form bodies of the console: ``application/x-www-form-urlencoded`` (or, for a file upload,
``multipart/form-data``), bounded before they are parsed, parsed once.

``form(request)`` is a dependency (``Form``); the CSRF check reads the same parsed body. Pages
report field errors by re-rendering their template with a ``FormErrors`` (the ``_forms.html``
macros show each next to its control, linked by ``aria-describedby``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from typing import Annotated
from urllib.parse import parse_qs

from fastapi import Depends, Request

from lorafox.errors import InvalidInput, LorafoxError, PayloadTooLarge

__all__ = ["MAX_FORM_BYTES", "MAX_UPLOAD_BYTES", "Form", "FormData", "FormErrors", "form"]

MAX_FORM_BYTES = 256 * 1024
MAX_UPLOAD_BYTES = 1024 * 1024
"""A ``multipart/form-data`` body (a file and its form) at most."""
_MAX_FIELDS = 2000


@dataclass(slots=True, frozen=True)
class FormData:
    """The fields of a form: ``get`` the first value of one, ``all`` of them; ``files`` the
    content of each file sent (by the field's name)."""

    fields: dict[str, list[str]]
    files: dict[str, bytes] = field(default_factory=dict)

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

    @classmethod
    def refused(cls, what: str, exc: LorafoxError) -> FormErrors:
        """The form as a whole refused: ``what`` did not happen, and why."""
        return cls({"": f"{what}: {exc.message}"})

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
    content_type = request.headers.get("content-type", "")
    kind = content_type.split(";", 1)[0].strip().lower()
    limit = MAX_UPLOAD_BYTES if kind == "multipart/form-data" else MAX_FORM_BYTES
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise PayloadTooLarge(f"the form is larger than {limit} bytes")
    if kind == "multipart/form-data":
        parsed = _multipart(raw, content_type)
    elif raw and kind != "application/x-www-form-urlencoded":
        raise InvalidInput("send the form as application/x-www-form-urlencoded")
    else:
        try:
            fields = parse_qs(
                raw.decode("utf-8"), keep_blank_values=True, max_num_fields=_MAX_FIELDS
            )
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidInput("the form is not valid UTF-8 form data") from exc
        parsed = FormData(fields)
    request.state.form = parsed
    return parsed


def _multipart(raw: bytes, content_type: str) -> FormData:
    """A ``multipart/form-data`` body (already bounded) as its fields and files."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=policy.HTTP).parsebytes(head + raw)
    if not message.is_multipart():
        raise InvalidInput("the form is not valid multipart/form-data")
    fields: dict[str, list[str]] = {}
    files: dict[str, bytes] = {}
    for count, part in enumerate(message.iter_parts()):
        name = part.get_param("name", header="content-disposition")
        if count >= _MAX_FIELDS or not isinstance(name, str):
            raise InvalidInput("the form is not valid multipart/form-data")
        content = part.get_payload(decode=True)
        content = content if isinstance(content, bytes) else b""
        if part.get_filename() is not None:
            files[name] = content
            continue
        try:
            fields.setdefault(name, []).append(content.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise InvalidInput("the form is not valid UTF-8 form data") from exc
    return FormData(fields, files)


Form = Annotated[FormData, Depends(form)]
