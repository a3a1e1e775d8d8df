"""Where the test PostgreSQL server is (a plain module: test files import it by name,
which a ``conftest`` cannot be reliably, as every test directory may have one)."""

from __future__ import annotations

import os

#: Server used for PostgreSQL tests; always running on these machines (trust auth).
PG_ADMIN_URL = os.environ.get(
    "LLMBENCH_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
