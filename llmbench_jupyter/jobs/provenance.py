"""Where a stored run came from: package versions and the host, recorded with every run."""

from __future__ import annotations

import contextlib
import os
import platform
import socket
from importlib import metadata
from typing import Any


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for pkg in ("llmbench-jupyter", "aiohttp", "sqlalchemy", "litellm", "tiktoken", "numpy"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[pkg] = metadata.version(pkg)
    return out


def host() -> dict[str, Any]:
    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "pid": os.getpid(),
    }
