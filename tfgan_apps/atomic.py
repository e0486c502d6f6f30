"""Crash-safe file writes: every file the package writes goes through :func:`atomic_write`.

A file is written to a hidden temporary file beside it (``.tmp-HOST-PID-XXXX.EXT``) and renamed
over its destination only when complete, so a reader (a resumed run, TF Serving, a notebook)
never sees half a file, and a crash or a full disk leaves the previous good file in place.
The temporary file is removed when the write fails; one left by a killed process is removed by
:func:`remove_interrupted_writes` (the run directory does this on resume). A disk that is full,
read-only or not writable is the user's to fix: :class:`~tfgan_apps.errors.UserError`, one line
naming the file. Written files follow the umask like any other file (``mkstemp`` alone would
leave them 0600).
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

from tfgan_apps.errors import UserError

#: errors of the file system that the user fixes (space, permissions, a read-only disk)
DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                         errno.EFBIG})

_TEMP_PREFIX = ".tmp-"


def temp_prefix() -> str:
    """The name prefix of this process's temporary files and folders."""
    # Host and pid in the name tell remove_interrupted_writes whose writer has died.
    return f"{_TEMP_PREFIX}{socket.gethostname()}-{os.getpid()}-"


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def follow_umask(path: str, directory: bool = False) -> None:
    """Give ``path`` the mode a plain ``open``/``mkdir`` would have (``mkstemp``/``mkdtemp``
    create 0600/0700)."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


_DISK_REASONS = ("No space left on device", "Disk quota exceeded", "Read-only file system",
                 "Permission denied", "File too large")


def _fix(reason: str) -> str:
    full = reason in ("No space left on device", "Disk quota exceeded", "File too large")
    return "free some space or choose another directory" if full else (
        "choose a writable directory")


def disk_error(error: BaseException, path: str, what: str = "") -> UserError:
    """The one-line :class:`UserError` for a file system refusing to write ``path``
    (``error``: an :class:`OSError`, or a TensorFlow error whose text names the reason)."""
    if isinstance(error, OSError) and error.strerror:
        reason = error.strerror
    else:
        reason = next((r for r in _DISK_REASONS if r in str(error)), str(error))
    return UserError(f"cannot write {what + ' ' if what else ''}{path}: {reason} "
                     f"({_fix(reason)}; files written before are unchanged)")


def disk_error_message(error: BaseException) -> bool:
    """Whether ``error``'s text reports a full, read-only or unwritable disk (TensorFlow's C++
    file writers report ENOSPC as text in a ``tf.errors`` exception)."""
    return any(reason in str(error) for reason in _DISK_REASONS[:3])


def make_dirs(path: str) -> str:
    """``os.makedirs(path, exist_ok=True)`` with a one-line error for a read-only or full
    disk; returns ``path``."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        if error.errno in DISK_ERRNOS:
            raise disk_error(error, path, "directory") from None
        raise
    return path


def is_disk_error(error: BaseException) -> OSError | None:
    """The :class:`OSError` of the disk behind ``error`` (itself, or its cause/context, as
    libraries that wrap it leave it), or None."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno in DISK_ERRNOS:
            return error
        error = error.__cause__ or error.__context__
    return None


def as_disk_error(error: BaseException, path: str, what: str = "") -> UserError | None:
    """The one-line :class:`UserError` when ``error`` is a full, read-only or unwritable disk
    (an :class:`OSError` in it or behind it, or a TensorFlow error saying so), else None."""
    cause = is_disk_error(error)
    if cause is not None or disk_error_message(error):
        return disk_error(cause or error, path, what)
    return None


@contextlib.contextmanager
def atomic_write(path: str, what: str = "") -> Iterator[str]:
    """Yield a temporary path beside ``path`` to write into; on success it is renamed over
    ``path`` (atomically), on any failure removed.

    Args:
        path: the destination file; its folder is created if missing.
        what: what the file is, for the error message (e.g. ``"model"``).

    Raises:
        UserError: the disk is full, read-only or not writable (``path`` unchanged).
    """
    directory = make_dirs(os.path.dirname(os.path.abspath(path)))
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=temp_prefix(),
                                   suffix=os.path.splitext(path)[1])
    except OSError as error:
        user_error = as_disk_error(error, path, what)
        if user_error is not None:
            raise user_error from None
        raise
    os.close(fd)
    try:
        yield tmp
        follow_umask(tmp)
        os.replace(tmp, path)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        user_error = as_disk_error(error, path, what)
        if user_error is not None:
            raise user_error from None
        raise


def write_with(path: str, write: Callable[[str], Any], what: str = "") -> str:
    """``write(temporary_path)`` then rename it to ``path`` (:func:`atomic_write`); returns
    ``path``."""
    with atomic_write(path, what) as tmp:
        write(tmp)
    return path


def finite_json(data: Any) -> Any:
    """``data`` with numpy scalars/arrays as Python values and NaN/infinity as ``None``, so it
    serialises to standard JSON (``json.dump(..., allow_nan=False)``)."""
    if isinstance(data, dict):
        return {str(k): finite_json(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [finite_json(v) for v in data]
    if hasattr(data, "tolist"):  # numpy scalars and arrays
        return finite_json(data.tolist())
    if isinstance(data, float):
        return data if math.isfinite(data) else None
    return data


def write_json(data: Any, path: str, what: str = "") -> str:
    """Write standard JSON atomically (non-finite numbers as ``null``); returns ``path``.
    Used for ``config.json``, ``history.json`` and reports."""
    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            json.dump(finite_json(data), f, indent=2, sort_keys=True, allow_nan=False)
            f.write("\n")

    return write_with(path, write, what)


def remove_interrupted_writes(directory: str, recursive: bool = False) -> list[str]:
    """Remove the temporary files and folders that writers on this host left in
    ``directory`` when they were killed (their process no longer runs); returns them."""
    removed: list[str] = []
    if not os.path.isdir(directory):
        return removed
    host = socket.gethostname()
    for root, dirs, files in os.walk(directory):
        for name in files + dirs:
            if not name.startswith(_TEMP_PREFIX) or not _writer_is_gone(name, host):
                continue
            path = os.path.join(root, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.remove(path)
            removed.append(path)
        dirs[:] = [d for d in dirs if not d.startswith(_TEMP_PREFIX)] if recursive else []
    return removed


def _writer_is_gone(name: str, host: str) -> bool:
    """Whether the writer named in a temporary file's name has died (``.tmp-HOST-PID-...``;
    names of the older ``.tmp-XXXX`` form, from before hosts were recorded, count as gone)."""
    rest = name[len(_TEMP_PREFIX):]
    if not rest.startswith(host + "-"):
        parts = rest.split("-")
        # another host's writer may still run (shared file systems): leave it alone
        return len(parts) < 3 or not parts[-2].isdigit()
    pid_text = rest[len(host) + 1:].split("-", 1)[0]
    if not pid_text.isdigit():
        return True
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
