"""The results store: runs and per-request records in SQLite or PostgreSQL.

``open_store()`` opens (and migrates) the database named by ``$LLMBENCH_DB_URL``,
else a SQLite file in the user's data directory. pandas is imported only by the
methods that return DataFrames. The names below load on first use, so a ``--no-save``
run (which needs only :func:`current_owner`) and ``store.keys`` never import SQLAlchemy.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llmbench_jupyter.store.db import default_db_url
    from llmbench_jupyter.store.owner import current_owner
    from llmbench_jupyter.store.repo import (
        FINAL_STATUSES,
        RUN_STATUSES,
        Store,
        close_all,
        open_store,
    )

_EXPORTS = {
    "FINAL_STATUSES": "repo",
    "RUN_STATUSES": "repo",
    "Store": "repo",
    "close_all": "repo",
    "open_store": "repo",
    "current_owner": "owner",
    "default_db_url": "db",
}

__all__ = [
    "FINAL_STATUSES",
    "RUN_STATUSES",
    "Store",
    "close_all",
    "current_owner",
    "default_db_url",
    "open_store",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
