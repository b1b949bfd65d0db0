"""Human passwords: argon2id hashes (argon2-cffi), generated secrets."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = ["generate_secret", "hash_password", "verify_password"]

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (with its salt and parameters)."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when ``password`` matches; constant time in the password (argon2)."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def generate_secret(nbytes: int = 18) -> str:
    """A random URL-safe secret (``nbytes`` of entropy)."""
    return secrets.token_urlsafe(nbytes)
