"""Create a private file (0600) with its whole content at once, or not at all.

Secret and key files are created on first use, possibly by several threads or processes
at the same moment (a hub spawning three servers, two kernels of one user). Creating the
file and then writing it leaves a window in which another reader finds it empty, so the
content goes to a temporary file first, which is then hard-linked into place: the name
appears complete or not at all, and only one creator wins.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


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
