"""Database URLs, engines and schema upgrades for the results store.

Migrations ship inside the package and run programmatically, so opening a store
works from any working directory and always lands on the current schema. Alembic is
imported only when a migration is due: opening a current database reads
``alembic_version`` with plain SQL and compares it with the head revision parsed from
the migration files' names (:func:`schema_heads`), which costs milliseconds, not Alembic's
import.
"""

from __future__ import annotations

import json
import math
import os
import re
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import StaticPool

from llmbench_jupyter.core.errors import LLMBenchError, scrub
from llmbench_jupyter.store.owner import current_owner as current_owner  # lived here first

if TYPE_CHECKING:
    from alembic.config import Config

APP_NAME = "llmbench-jupyter"
DB_URL_ENV = "LLMBENCH_DB_URL"
#: ``0`` makes a store check the schema instead of migrating it. A hub sets it for user
#: servers: users' roles may not run DDL, and the hub admin migrates (hub.provision).
MIGRATE_ENV = "LLMBENCH_DB_MIGRATE"
_TRUE = ("", "1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
PG_CONNECT_TIMEOUT_S = 10
# Any constant works; it only has to be the same for every process that migrates.
_PG_MIGRATION_LOCK = 0x11BE_4C48
_INSUFFICIENT_PRIVILEGE = "42501"


def default_db_url() -> str:
    """``$LLMBENCH_DB_URL`` if set, else a SQLite file in the user's data directory."""
    env = os.environ.get(DB_URL_ENV, "").strip()
    if env:
        return env
    data_dir = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    return f"sqlite:///{data_dir / 'llmbench.db'}"


def mask_url(url: str | URL) -> str:
    """Render ``url`` with its password hidden, even if it does not parse."""
    if isinstance(url, URL):
        return url.render_as_string(hide_password=True)
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def parse_url(url: str) -> URL:
    """Parse a URL, defaulting PostgreSQL to the psycopg 3 driver we ship with."""
    try:
        parsed = make_url(url)
    except Exception as exc:
        raise LLMBenchError(
            f"cannot open results store {mask_url(url)!r}: not a database URL "
            "(expected e.g. sqlite:///path/llmbench.db or "
            "postgresql+psycopg://user@host:5432/llmbench)"
        ) from exc
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _json_default(obj: Any) -> Any:
    item = getattr(obj, "item", None)  # numpy scalars
    if callable(item):
        return item()
    return str(obj)


def json_dumps(obj: Any) -> str:
    """JSON for JSON columns: numpy scalars become numbers, NaN/inf become null."""
    return json.dumps(_finite(obj), default=_json_default, ensure_ascii=False)


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    return obj


def make_engine(url: URL) -> Engine:
    """An engine with our per-backend settings (SQLite: WAL, busy timeout, foreign keys)."""
    kwargs: dict[str, Any] = {"json_serializer": json_dumps}
    if url.get_backend_name() == "sqlite":
        if url.database in (None, "", ":memory:"):
            # One shared connection, or every connection would see its own empty DB.
            kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
        else:
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    elif url.get_backend_name() == "postgresql" and "connect_timeout" not in url.query:
        # libpq waits forever by default; a wrong host should fail with a message.
        kwargs["connect_args"] = {"connect_timeout": PG_CONNECT_TIMEOUT_S}
    engine = create_engine(url, **kwargs)
    if url.get_backend_name() == "sqlite":
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


#: Execution option of a connection whose transactions write (``Store._tx(write=True)``).
WRITE_TX = "llmbench_write"


def _sqlite_begin(conn: Any) -> None:
    """SQLite: a write transaction takes the write lock when it begins.

    A deferred transaction that reads and then writes (the summary merge does) fails at
    once with "database is locked" when another writer committed in between: the busy
    timeout cannot help it. ``BEGIN IMMEDIATE`` waits for the lock instead (up to the
    busy timeout), so concurrent writers queue up and none loses its batch.
    """
    immediate = conn.get_execution_options().get(WRITE_TX)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _sqlite_on_connect(dbapi_conn: Any, _record: Any) -> None:
    # we issue BEGIN ourselves (_sqlite_begin), not the sqlite3 module
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    try:
        cur.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA page_size = 16384")
        cur.execute("PRAGMA journal_mode = WAL")
        # WAL + NORMAL survives a process crash (what a killed kernel is); only a
        # power cut can lose the last commits, and per-request commits stay cheap.
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.execute("PRAGMA foreign_keys = ON")
    finally:
        cur.close()


def alembic_config(url: URL | None = None) -> Config:
    """An Alembic config pointing at the packaged migrations (independent of cwd)."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        cfg.set_main_option(
            "sqlalchemy.url", url.render_as_string(hide_password=False).replace("%", "%%")
        )
    return cfg


def migrations_enabled() -> bool:
    """False when ``$LLMBENCH_DB_MIGRATE`` is 0: stores then only check the schema."""
    value = os.environ.get(MIGRATE_ENV, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise LLMBenchError(f"${MIGRATE_ENV}: found {value!r}, expected 1 (migrate) or 0 (check only)")


#: ``revision = "0013"`` / ``down_revision = "0012"`` lines of a migration file.
_REVISION_LINE = re.compile(r"^(down_revision|revision)\s*=\s*(?:\"([^\"]*)\"|None)\s*$", re.M)


def schema_heads() -> set[str]:
    """The head revision(s) of the migrations shipped with this package.

    Read from the migration files' ``revision``/``down_revision`` lines, without importing
    Alembic (a test checks this against Alembic's own ``ScriptDirectory``): a revision no
    other revision revises is a head.
    """
    return set(_parsed_heads())


@cache
def _parsed_heads() -> frozenset[str]:
    revisions: set[str] = set()
    revised: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = dict((m[0], m[1] or None) for m in _REVISION_LINE.findall(path.read_text()))
        if found.get("revision"):
            revisions.add(str(found["revision"]))
            if found.get("down_revision"):
                revised.add(str(found["down_revision"]))
    return frozenset(revisions - revised)


def require_head(engine: Engine) -> None:
    """Refuse a schema that is not at this package's head, without touching it."""
    current = _current_heads(engine)
    heads = schema_heads()
    if current != heads:
        raise LLMBenchError(_schema_mismatch(engine, current, heads))


def _schema_mismatch(engine: Engine, current: set[str], heads: set[str]) -> str:
    at = ", ".join(sorted(current)) or "no revision (empty database)"
    need = ", ".join(sorted(heads))
    if current - _known_revisions(alembic_config()):
        return (
            f"the schema of results store {mask_url(engine.url)!r} is at {at}, newer than "
            f"this llmbench-jupyter knows ({need}): upgrade the package"
        )
    return (
        f"the schema of results store {mask_url(engine.url)!r} is at {at}, this package "
        f"needs {need}; the hub admin applies migrations "
        "(llmbench_jupyter.hub.provision.setup_database)"
    )


def upgrade_to_head(engine: Engine) -> None:
    """Bring the schema to the newest revision; a no-op when it already is there.

    A database already at head is recognised with one query, before Alembic is imported.
    """
    if _current_heads(engine) == schema_heads():
        return
    from alembic.script import ScriptDirectory

    cfg = alembic_config()
    heads = set(ScriptDirectory.from_config(cfg).get_heads())
    try:
        _upgrade(engine, cfg, heads)
    except Exception:
        # Another process may have migrated the same SQLite file at the same moment
        # (PostgreSQL serialises on an advisory lock instead): fine if we are at head now.
        if _current_heads(engine) != heads:
            raise


def _current_heads(engine: Engine) -> set[str]:
    """The revision(s) in the database's ``alembic_version`` table; empty when it has none."""
    with engine.connect() as conn:
        if not sa_inspect(conn).has_table("alembic_version"):
            return set()
        rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars()
        return {str(r) for r in rows}


def _upgrade(engine: Engine, cfg: Config, heads: set[str]) -> None:
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        conn = conn.execution_options(**{WRITE_TX: True})  # SQLite: lock up front
        current = set(MigrationContext.configure(conn).get_current_heads())
        conn.rollback()
        if current == heads:
            return
        unknown = current - _known_revisions(cfg)
        if unknown:
            raise LLMBenchError(
                f"results store {mask_url(engine.url)!r} has schema revision "
                f"{', '.join(sorted(unknown))}, newer than this llmbench-jupyter knows: "
                "upgrade the package"
            )
        if engine.dialect.name == "postgresql":
            # Two kernels opening a fresh database at once must not both create tables.
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_MIGRATION_LOCK})
        cfg.attributes["connection"] = conn
        try:
            command.upgrade(cfg, "head")
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) != _INSUFFICIENT_PRIVILEGE:
                raise
            # A user role on a hub: say what is wrong instead of "permission denied".
            conn.rollback()
            raise LLMBenchError(_schema_mismatch(engine, current, heads)) from None
        conn.commit()


def _known_revisions(cfg: Config) -> set[str]:
    from alembic.script import ScriptDirectory

    return {rev.revision for rev in ScriptDirectory.from_config(cfg).walk_revisions()}


def rls_login_role(engine: Engine) -> str | None:
    """The login role when row-level security binds this connection's rows to it.

    On a hub (see ``llmbench_jupyter.hub.provision``) every row a user writes must have
    ``owner = session_user``: the database refuses anything else. That holds when
    ``runs`` has row-level security and the login role neither bypasses it (superuser,
    BYPASSRLS) nor belongs to the tables' owner. Elsewhere (SQLite, a plain PostgreSQL
    database) this is None and owners follow :func:`current_owner`.
    """
    if engine.dialect.name != "postgresql":
        return None
    query = text(
        "SELECT session_user::text AS login, r.rolsuper OR r.rolbypassrls AS bypass, "
        "c.relrowsecurity AS rls, pg_has_role(session_user, c.relowner, 'MEMBER') AS owns "
        "FROM pg_roles r, pg_class c "
        "WHERE r.rolname = session_user AND c.oid = to_regclass('runs')"
    )
    with engine.connect() as conn:
        row = conn.execute(query).mappings().first()
    if row is None or not row["rls"] or row["bypass"] or row["owns"]:
        return None
    return str(row["login"])


def describe_db_error(exc: BaseException) -> str:
    """A one- or two-line reason from a driver error, with secrets removed."""
    orig = getattr(exc, "orig", None) or exc
    lines = [ln.strip() for ln in str(orig).strip().splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln.startswith("(Background on this error")]
    reason = " ".join(lines[:2]) or type(orig).__name__
    return scrub(reason)
