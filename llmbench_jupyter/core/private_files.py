"""Files the package writes: private (0600), complete or absent, never written through a link.

Secret and key files are created on first use, possibly by several threads or processes
at the same moment (a hub spawning three servers, two kernels of one user). Creating the
file and then writing it leaves a window in which another reader finds it empty, so the
content goes to a temporary file first, which is then hard-linked into place: the name
appears complete or not at all, and only one creator wins (:func:`create_exclusive`).

Every other file (exports, reports, ``--output`` records, suites) goes through
:func:`write_atomic`. On a hub, other users can see a kernel's PID in ``/proc`` and plant
a symlink in a shared directory at any name they can predict; a plain ``open(path, "w")``
follows it and writes one user's records into the other's file.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from llmbench_jupyter.core.errors import InputError

#: What :func:`write_atomic` writes: the whole content, or a function that writes it to
#: the open file (text unless ``binary=True``).
Content = str | bytes | Callable[[IO[Any]], None]


def create_exclusive(path: Path, data: bytes, mode: int = 0o600) -> bool:
    """Create ``path`` holding ``data`` unless it exists; True if this call created it."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_atomic(
    path: str | os.PathLike[str],
    content: Content,
    *,
    mode: int = 0o600,
    binary: bool = False,
    encoding: str = "utf-8",
    newline: str | None = None,
) -> Path:
    """Write ``content`` to ``path`` atomically, without following any link; returns the path.

    The content goes to a new file with a random name in the destination's directory,
    created with ``O_EXCL | O_NOFOLLOW`` and mode 0600 (``tempfile.mkstemp``), so nothing
    planted at any name there is opened or written through; ``os.replace`` then puts it at
    ``path``. A symlink already at ``path`` is replaced, not written through. On any
    failure the temporary file is removed and ``path`` keeps what it held before.

    The final mode is ``mode`` (0600 by default) even when an existing file at ``path``
    was more open: whatever is at that name may have been put there by someone else, and
    private records on a shared machine must not inherit a world-readable mode. Share a
    file on purpose with ``chmod`` afterwards. Parent directories are created.

    Raises :class:`InputError` when ``path`` is a directory, or when a file of another user
    sits at ``path`` in a shared sticky directory such as ``/tmp`` (it cannot be replaced);
    other ``OSError`` propagate for the caller to word.
    """
    out = Path(path)
    with contextlib.suppress(FileNotFoundError):
        if stat.S_ISDIR(os.lstat(out).st_mode):
            raise InputError(f"cannot write {str(out)!r}: it is a directory; expected a file path")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name[:64]}.", suffix=".tmp")
    try:
        if mode != 0o600:
            os.fchmod(fd, mode)
        is_bytes = isinstance(content, bytes) or (binary and callable(content))
        if is_bytes:
            fh: IO[Any] = os.fdopen(fd, "wb")
        else:
            fh = os.fdopen(fd, "w", encoding=encoding, newline=newline)
        fd = -1  # the file object owns it now
        with fh:
            if callable(content):
                content(fh)
            else:
                fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        _replace(tmp, out)
    except BaseException:
        if fd >= 0:
            os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return out


def _replace(tmp: str, out: Path) -> None:
    try:
        os.replace(tmp, out)
    except IsADirectoryError:  # a directory appeared at ``out`` since the check
        raise InputError(
            f"cannot write {str(out)!r}: it is a directory; expected a file path"
        ) from None
    except PermissionError as exc:
        try:
            owner = os.lstat(out).st_uid
        except OSError:
            raise exc from None
        if exc.errno in (errno.EPERM, errno.EACCES) and owner != os.geteuid():
            raise InputError(
                f"cannot write {str(out)!r}: a file or link of another user (uid {owner}) is "
                "already at that name in a shared directory; it was left alone and nothing "
                "was written: choose another name"
            ) from None
        raise
