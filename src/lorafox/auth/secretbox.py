"""Secrets lorafox must read back (machine credentials), encrypted at rest.

The key lives outside the database: ``LORAFOX_SECRET_KEY`` or the file ``secret.key`` in the
data dir (created with mode 0600 on first start). Fernet: AES-128-CBC with HMAC-SHA256.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from lorafox.errors import ConfigError

__all__ = ["SecretBox"]


class SecretBox:
    """Encrypts and decrypts short secrets with one key."""

    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError as exc:
            raise ConfigError("the secret key must be 32 url-safe base64-encoded bytes") from exc

    @classmethod
    def from_data_dir(cls, data_dir: Path) -> SecretBox:
        """The key from ``LORAFOX_SECRET_KEY``, else ``data_dir/secret.key`` (made if absent)."""
        env = os.environ.get("LORAFOX_SECRET_KEY")
        if env:
            return cls(env.encode())
        path = data_dir / "secret.key"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as file:
                file.write(Fernet.generate_key())
        return cls(path.read_bytes().strip())

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise ConfigError(
                "a stored secret cannot be decrypted: the secret key is not the one it was "
                "written with (check LORAFOX_SECRET_KEY or secret.key in the data dir)"
            ) from exc
