"""What the hub end-to-end tests and their fixture (conftest.py) share.

Where the users' venv lives, how many requests each benchmark makes, the API key B
stores in the vault, and :class:`World`: the running hub, its users and their kernels,
as the session fixture ``world`` hands them to test_hub_e2e_store.py and
test_hub_e2e_system.py.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from hub_harness import HubUser, Kernel

HUB_HOME = Path(os.environ.get("LLMBENCH_HUB_HOME") or "/opt/llmbench-hub")
RUNS = 3  # measured requests per benchmark (no warm-up)
SECRET_KEY = "sk-e2e-" + uuid.uuid4().hex  # the API key B stores in the vault


@dataclass
class World:
    base: str
    root: Path
    state: Path
    log: Path
    admin: HubUser
    a: HubUser
    b: HubUser
    group: str
    unapproved_login: str
    a_existed_before_login: bool
    b_home_mode_before: int
    kernels: dict[str, Kernel] = field(default_factory=dict)
    runs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    whoami: dict[str, dict[str, Any]] = field(default_factory=dict)
    b_secrets: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    def superuser_engine(self, database: str) -> sa.Engine:
        from llmbench_jupyter.hub.deploy import database_url

        password = (self.state / "pg_superuser_password").read_text().strip()
        port = int(self.env["LLMBENCH_HUB_PG_PORT"])
        url = f"postgresql+psycopg://postgres:{password}@127.0.0.1:{port}/postgres"
        return sa.create_engine(database_url(url, database))

    env: dict[str, str] = field(default_factory=dict)


def _ok(result: Any) -> None:
    assert result.error is None, result.error
