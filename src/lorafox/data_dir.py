"""The data directory: private (0700, its files 0600), checked writable, locked by one process.

Two ``lorafox serve`` on one data dir would split the traffic (uplinks published by one broker,
downlinks handed out by the other), so the first holds an exclusive ``flock`` on
``lorafox.lock`` (with its PID inside) for as long as it runs; the second stops with a message
naming that PID. Every problem is a ``ConfigError`` that names ``--data-dir``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from lorafox.errors import ConfigError

__all__ = ["DataDirLock", "lock_data_dir", "private_umask"]

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
    _tighten(path)
    return DataDirLock(path, fd)


def _tighten(path: Path) -> None:
    """Take group and other access off the dir and the files in it that this user owns.

    A data dir made by an older version, by hand or by a permissive umask still holds the
    password hashes and the key: make it private at every start.
    """
    uid = os.getuid()
    for entry in (path, *path.iterdir()):
        with contextlib.suppress(OSError):
            st = entry.lstat()
            regular = stat.S_ISDIR(st.st_mode) or stat.S_ISREG(st.st_mode)  # never via a link
            if regular and st.st_uid == uid and st.st_mode & 0o077:
                os.chmod(entry, stat.S_IMODE(st.st_mode) & 0o700)


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """Files made while serving (the database, its WAL and SHM) are created 0600."""
    previous = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(previous)
