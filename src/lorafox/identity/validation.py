"""Checks shared by the REST API and the CLI; each failure is ``InvalidInput`` naming its field.

The limits are Sigfox API v2's where it has them (group name 3 to 100 characters, description
up to 300, names up to 100, email up to 250).
"""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Iterable

from lorafox.domain import Profile
from lorafox.errors import InvalidInput

__all__ = [
    "DESCRIPTION_MAX",
    "EMAIL_MAX",
    "GROUP_NAME_MAX",
    "GROUP_NAME_MIN",
    "GROUP_TYPES",
    "NAME_MAX",
    "PASSWORD_MAX",
    "PASSWORD_MIN",
    "check_email",
    "check_group_type",
    "check_name",
    "check_password",
    "check_profiles",
    "check_text",
    "check_timezone",
    "is_id",
]

GROUP_NAME_MIN = 3
GROUP_NAME_MAX = 100
DESCRIPTION_MAX = 300
NAME_MAX = 100
EMAIL_MAX = 250
PASSWORD_MIN = 8
PASSWORD_MAX = 1024
GROUP_TYPES = {
    0: "SO",
    2: "Basic",
    5: "SVNO",
    6: "Partners",
    7: "NIP",
    8: "DIST",
    9: "Channel",
    10: "Starter",
    11: "Partner",
}
"""Sigfox's group types; lorafox stores the type and gives it no meaning."""

_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]+@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ID = re.compile(r"^[0-9a-f]{24}$")


def is_id(value: str) -> bool:
    """True when ``value`` has the shape of a lorafox (Sigfox) id: 24 lower-case hex digits."""
    return _ID.match(value) is not None


@functools.cache
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def check_timezone(value: str, field: str = "timezone") -> str:
    """An IANA timezone (the Java TimeZone ids Sigfox uses), such as ``Europe/Paris``."""
    zones = _zones()
    if value in zones or (not zones and re.fullmatch(r"[A-Za-z0-9_+\-/]{1,64}", value)):
        return value
    raise InvalidInput(f"{field}: not a known timezone: {value!r}", field=field)


def check_email(value: str, field: str = "email") -> str:
    """The email, lower case."""
    email = value.strip().lower()
    if len(email) > EMAIL_MAX or not _EMAIL.match(email):
        raise InvalidInput(f"{field}: not an email address", field=field)
    return email


def check_name(
    value: str, field: str, *, low: int = 0, high: int = NAME_MAX, lines: bool = False
) -> str:
    """``value`` without surrounding blanks, ``low`` to ``high`` characters, without control
    characters (``lines`` allows line breaks and tabs)."""
    text = value.strip()
    if not low <= len(text) <= high:
        raise InvalidInput(f"{field}: must be {low} to {high} characters", field=field)
    check_text(text.replace("\n", "").replace("\t", "") if lines else text, field)
    return text


def check_text(value: str, field: str) -> str:
    """Refuse control characters (databases refuse NUL; nobody means the others)."""
    if _CONTROL.search(value):
        raise InvalidInput(f"{field}: control characters are not allowed", field=field)
    return value


def check_password(value: str, field: str = "password") -> str:
    if not PASSWORD_MIN <= len(value) <= PASSWORD_MAX:
        raise InvalidInput(
            f"{field}: must be {PASSWORD_MIN} to {PASSWORD_MAX} characters", field=field
        )
    return value


def check_group_type(value: int, field: str = "type") -> int:
    if value not in GROUP_TYPES:
        known = ", ".join(f"{k} ({v})" for k, v in GROUP_TYPES.items())
        raise InvalidInput(f"{field}: must be one of {known}", field=field)
    return value


def check_profiles(values: Iterable[str], field: str = "profileIds") -> tuple[Profile, ...]:
    """Profile ids, at least one, without repeats (order kept)."""
    profiles: list[Profile] = []
    for value in values:
        try:
            profile = Profile(value)
        except ValueError as exc:
            known = ", ".join(p.value for p in Profile)
            raise InvalidInput(
                f"{field}: unknown profile {value!r} (known: {known})", field=field
            ) from exc
        if profile not in profiles:
            profiles.append(profile)
    if not profiles:
        raise InvalidInput(f"{field}: at least one profile is needed", field=field)
    return tuple(profiles)
