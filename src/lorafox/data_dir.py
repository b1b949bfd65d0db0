"""The data directory: created private (0700), checked writable, and locked by one process.

Two ``lorafox serve`` on one data dir would split the traffic (uplinks published by one broker,
downlinks handed out by the other), so the first holds an exclusive ``flock`` on
``lorafox.lock`` (with its PID inside) for as long as it runs; the second stops with a message
naming that PID. Every problem is a ``ConfigError`` that names ``--data-dir``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from lorafox.errors import ConfigError

__all__ = ["DataDirLock", "lock_data_dir"]

_LOCK_FILE = "lorafox.lock"
_HINT = "use --data-dir or LORAFOX_DATA_DIR to choose another"


class DataDirLock:
    """The held lock; ``release`` (or leaving the ``with`` block) lets another process in."""

    __slots__ = ("_fd", "path")

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file drops the flock
            self._fd = None

    def __enter__(self) -> DataDirLock:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def lock_data_dir(path: Path) -> DataDirLock:
    """Create ``path`` if needed (0700), check it, and take its lock."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise ConfigError(f"data dir {path} is a file, not a directory ({_HINT})") from exc
    except OSError as exc:
        raise ConfigError(f"cannot create the data dir {path}: {exc.strerror} ({_HINT})") from exc
    if not path.is_dir():
        raise ConfigError(f"data dir {path} is not a directory ({_HINT})")
    if not os.access(path, os.W_OK | os.X_OK):
        raise ConfigError(f"data dir {path} is not writable by this user ({_HINT})")
    try:
        fd = os.open(path / _LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ConfigError(f"cannot use the data dir {path}: {exc.strerror} ({_HINT})") from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
        os.close(fd)
        raise ConfigError(
            f"data dir {path} is in use by another lorafox (PID {holder}): stop it, or {_HINT}"
        ) from exc
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return DataDirLock(path, fd)
