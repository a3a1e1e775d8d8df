"""Who owns the rows a process writes, without importing SQLAlchemy.

A ``--no-save`` run records its owner on every record too, so this lives apart from the
database code (``store.db`` re-exports it).
"""

from __future__ import annotations

import getpass
import os

USER_ENV = "LLMBENCH_USER"


def current_owner() -> str:
    """The owner recorded on new rows: ``$LLMBENCH_USER``, else the login name."""
    env = os.environ.get(USER_ENV, "").strip()
    if env:
        return env
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry and no LOGNAME/USER (some containers)
        return f"uid{os.getuid()}"
