"""Hub start-up steps shared by the single-machine config and the Helm chart's extraConfig.

The hub's PostgreSQL server is either the hub's private cluster (``pgcluster``) or one
named by ``$LLMBENCH_HUB_PG_ADMIN_URL``. Both JupyterHub's own database and the llmbench
store live there, in separate databases. A server that lets anyone in without a password
would let every kernel connect as the superuser, so the hub refuses it unless told
otherwise (``LLMBENCH_HUB_ALLOW_TRUST=1``, for throw-away set-ups).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.store.db import describe_db_error, mask_url

log = logging.getLogger(__name__)


class HubSetupError(LLMBenchError):
    """A hub part is missing, or its PostgreSQL server is unreachable or unsafe for users."""


@dataclass(frozen=True)
class HubPaths:
    """Where a single-machine hub keeps its parts (all overridable through the environment).

    ``home`` (``$LLMBENCH_HUB_HOME``, /opt/llmbench-hub): the users' venv and the npm proxy,
    world-readable. ``state`` (``$LLMBENCH_HUB_STATE``, ``home``/state): root-only (0700),
    the secrets, cookie secret and pid files. ``pgdata`` (``$LLMBENCH_HUB_PGDATA``,
    ``home``/pgdata): the private PostgreSQL cluster, owned by ``postgres``.
    """

    home: Path
    state: Path
    pgdata: Path

    @classmethod
    def from_env(cls) -> HubPaths:
        home = Path(os.environ.get("LLMBENCH_HUB_HOME") or "/opt/llmbench-hub")
        return cls(
            home=home,
            state=Path(os.environ.get("LLMBENCH_HUB_STATE") or home / "state"),
            pgdata=Path(os.environ.get("LLMBENCH_HUB_PGDATA") or home / "pgdata"),
        )

    @property
    def users_venv(self) -> Path:
        return self.home / "venv"

    @property
    def proxy_command(self) -> Path:
        return self.home / "node_modules" / ".bin" / "configurable-http-proxy"

    def check_installed(self) -> None:
        """Fail with the command to run when the users' venv or the proxy is missing."""
        missing = [
            str(p)
            for p in (self.users_venv / "bin" / "jupyterhub-singleuser", self.proxy_command)
            if not p.exists()
        ]
        if missing:
            raise HubSetupError(
                f"hub parts missing: {', '.join(missing)}; run `make hub-deps` "
                f"(LLMBENCH_HUB_HOME={self.home})"
            )


def database_url(server_url: str, database: str) -> str:
    """``server_url`` pointed at ``database`` (password kept; keep the result private)."""
    return make_url(server_url).set(database=database).render_as_string(hide_password=False)


def require_passwords(server_url: str) -> None:
    """Refuse a server that accepts ``server_url``'s user without its password."""
    url = make_url(server_url)
    if url.password is None:
        raise HubSetupError(
            f"hub PostgreSQL URL {mask_url(url)!r} has no password: the hub's server must "
            "ask every login for a password, or kernels could connect as anyone"
        )
    # (URL.set(password=None) would keep the password: build the URL without one.)
    bare = URL.create(
        url.drivername, username=url.username, host=url.host, port=url.port, database=url.database
    )
    engine = sa.create_engine(bare, connect_args={"connect_timeout": 5})
    try:
        with engine.connect():
            accepted = True
    except sa.exc.OperationalError:
        accepted = False
    finally:
        engine.dispose()
    if not accepted:
        return
    message = (
        f"PostgreSQL at {url.host}:{url.port} lets {url.username!r} in WITHOUT a password "
        "(trust authentication): any user's kernel could connect as the superuser, so "
        "per-user roles and row-level security would not isolate anyone. Use the hub's "
        "private cluster (unset LLMBENCH_HUB_PG_ADMIN_URL) or require scram-sha-256 in "
        "pg_hba.conf"
    )
    if os.environ.get("LLMBENCH_HUB_ALLOW_TRUST") == "1":
        log.warning("%s (allowed by LLMBENCH_HUB_ALLOW_TRUST=1)", message)
        return
    raise HubSetupError(message)


def ensure_databases(server_url: str, names: list[str], private: tuple[str, ...] = ()) -> None:
    """Create each database in ``names`` that does not exist yet.

    Users' roles may not even connect to the ``private`` ones (JupyterHub's database:
    its tables are not theirs to look at).
    """
    engine = sa.create_engine(
        database_url(server_url, "postgres"),
        isolation_level="AUTOCOMMIT",
        connect_args={"connect_timeout": 10},
    )
    try:
        with engine.connect() as conn:
            have = set(conn.execute(sa.text("SELECT datname FROM pg_database")).scalars())
            for name in names:
                if name not in have:
                    quoted = conn.dialect.identifier_preparer.quote_identifier(name)
                    conn.execute(sa.text(f"CREATE DATABASE {quoted}"))
            for name in private:
                quoted = conn.dialect.identifier_preparer.quote_identifier(name)
                conn.execute(sa.text(f"REVOKE CONNECT, TEMPORARY ON DATABASE {quoted} FROM PUBLIC"))
    except sa.exc.SQLAlchemyError as exc:
        raise HubSetupError(
            f"cannot create the hub's databases on {mask_url(server_url)!r}: "
            f"{describe_db_error(exc)}"
        ) from None
    finally:
        engine.dispose()
