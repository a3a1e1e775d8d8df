"""The results store: runs and per-request records in SQLite or PostgreSQL.

``open_store()`` opens (and migrates) the database named by ``$LLMBENCH_DB_URL``,
else a SQLite file in the user's data directory. pandas is imported only by the
methods that return DataFrames.
"""

from __future__ import annotations

from llmbench_jupyter.store.db import current_owner, default_db_url
from llmbench_jupyter.store.repo import FINAL_STATUSES, RUN_STATUSES, Store, close_all, open_store

__all__ = [
    "FINAL_STATUSES",
    "RUN_STATUSES",
    "Store",
    "close_all",
    "current_owner",
    "default_db_url",
    "open_store",
]
