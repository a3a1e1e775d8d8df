"""Shared fixtures: databases for the store (SQLite and the real PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from pg_admin import PG_ADMIN_URL

from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.store import Store


@pytest.fixture(autouse=True)
def _no_real_user_data(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory):
    """Keep tests away from the developer's data dir and from their LLMBENCH_DB_URL."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("xdg_data")))
    monkeypatch.delenv("LLMBENCH_DB_URL", raising=False)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """URL of a fresh PostgreSQL database for this test session, dropped at the end."""
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"llmbench_test_{uuid.uuid4().hex[:12]}"
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        admin.dispose()
        pytest.fail(
            f"PostgreSQL is required for these tests and is not reachable at "
            f"{admin.url.render_as_string(hide_password=True)}: {exc.orig}. "
            "Start it (e.g. `service postgresql start`) or set LLMBENCH_TEST_PG_ADMIN_URL.",
            pytrace=False,
        )
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    yield url
    from llmbench_jupyter.store import close_all

    close_all()
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A store URL on each backend: a fresh SQLite file, or the session's PostgreSQL db.

    The PostgreSQL database is shared by the session: tests use unique owners/ids.
    """
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'llmbench.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """A store on each backend (see ``db_url``), closed after the test."""
    s = Store(db_url)
    yield s
    s.close()


@pytest.fixture
def owner() -> str:
    """A unique owner, so tests sharing the PostgreSQL database never see each other."""
    return f"user-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    """The built-in simulated endpoint over real HTTP, in a thread of the test process."""
    srv = SimServer(seed=0).start_in_thread()
    yield srv
    srv.stop_thread()
