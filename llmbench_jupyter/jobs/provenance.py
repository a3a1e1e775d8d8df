"""Where a stored run came from: package versions and the host, recorded with every run.

``importlib.metadata`` (and the email package it loads) and ``platform`` are imported when
a run is stored, not when a ``--no-save`` run merely imports this module.
"""

from __future__ import annotations

import contextlib
import os
import socket
from typing import Any


def versions() -> dict[str, str]:
    import platform
    from importlib import metadata

    out = {"python": platform.python_version()}
    for pkg in ("llmbench-jupyter", "aiohttp", "sqlalchemy", "litellm", "tiktoken", "numpy"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            out[pkg] = metadata.version(pkg)
    return out


def host() -> dict[str, Any]:
    import platform

    return {
        "hostname": socket.gethostname(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "pid": os.getpid(),
    }
