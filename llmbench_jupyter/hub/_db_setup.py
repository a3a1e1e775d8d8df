"""Setting up the hub's database: group roles, lock-down, migrations as the owner role.

Only this hub side migrates; user servers get ``LLMBENCH_DB_MIGRATE=0``.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from llmbench_jupyter.hub._pg_admin import _SETUP_LOCK, _admin_conn, _pg_url
from llmbench_jupyter.hub._role_checks import _check_attributes, _role_exists, _superuser_attrs
from llmbench_jupyter.hub._role_names import DEFAULT_PREFIX, ProvisionError, Roles
from llmbench_jupyter.hub._table_access import _apply_policies, _grant_tables, _take_ownership
from llmbench_jupyter.store.db import upgrade_to_head


def setup_database(admin_url: str, *, prefix: str = DEFAULT_PREFIX) -> None:
    """Create the group roles, migrate as the owner role, then lock everything down.

    Idempotent: safe at every hub start, and the way to apply a new migration.
    ``admin_url`` must be a superuser, or the database's owner with CREATEROLE.
    """
    roles = Roles(prefix)
    url = _pg_url(admin_url)
    with _admin_conn(url, "cannot set up the llmbench database") as (conn, fail):
        try:
            # Two hubs starting at once take turns (the lock ends with the connection).
            conn.execute("SELECT pg_advisory_lock(%s)", (_SETUP_LOCK,))
            with conn.transaction():
                _ensure_group_roles(conn, roles)
                _lock_down_database(conn, roles)
                _take_ownership(conn, roles)
            _migrate_as(url, roles.owner)
            with conn.transaction():
                _take_ownership(conn, roles)
                _grant_tables(conn, roles)
                _apply_policies(conn, roles)
        except psycopg.Error as exc:
            raise fail(exc) from None
        except SQLAlchemyError as exc:  # from the migration step
            raise fail(getattr(exc, "orig", None) or exc) from None


def _ensure_group_roles(conn: psycopg.Connection[Any], roles: Roles) -> None:
    me = conn.execute(
        "SELECT current_user::text, rolsuper FROM pg_roles WHERE rolname = current_user"
    ).fetchone()
    if me is None:  # only if current_user was dropped under us
        raise ProvisionError("cannot set up the llmbench database: the admin role is gone")
    for name, inherit in (
        (roles.owner, "NOINHERIT"),
        (roles.user, "INHERIT"),
        (roles.admin, "NOINHERIT"),
    ):
        verb = "ALTER" if _role_exists(conn, name) else "CREATE"
        conn.execute(
            sql.SQL(
                "{} ROLE {} NOLOGIN NOCREATEDB NOCREATEROLE " + _superuser_attrs(conn) + inherit
            ).format(sql.SQL(verb), sql.Identifier(name))
        )
        _check_attributes(conn, name)
    if not me[1]:
        # A non-superuser admin becomes the owner role's member: to SET ROLE for
        # migrations and to hand tables over. Users never are (provision_user checks).
        conn.execute(
            sql.SQL("GRANT {} TO {}").format(sql.Identifier(roles.owner), sql.Identifier(me[0]))
        )


def _lock_down_database(conn: psycopg.Connection[Any], roles: Roles) -> None:
    db = conn.execute("SELECT current_database()::text").fetchone()
    if db is None:
        raise ProvisionError("cannot set up the llmbench database: no current database")
    ident = {"db": sql.Identifier(db[0]), "user": sql.Identifier(roles.user)}
    ident.update(owner=sql.Identifier(roles.owner), admin=sql.Identifier(roles.admin))
    for stmt in (
        # Nobody but our users connects; nobody creates schemas or temporary objects
        # (a temporary view or function would be a place to hide an attack).
        "REVOKE ALL ON DATABASE {db} FROM PUBLIC, {user}, {admin}, {owner}",
        "GRANT CONNECT ON DATABASE {db} TO {user}",
        # Only the owner role creates in the schema; users just look things up in it.
        "REVOKE ALL ON SCHEMA public FROM PUBLIC, {user}, {admin}",
        "GRANT USAGE ON SCHEMA public TO {user}",
        "GRANT USAGE, CREATE ON SCHEMA public TO {owner}",
    ):
        conn.execute(sql.SQL(stmt).format(**ident))


def _migrate_as(url: URL, owner: str) -> None:
    """Run the Alembic migrations on a connection whose role is the owner role."""
    engine = create_engine(url, poolclass=NullPool)  # fresh connections, closed after use

    @event.listens_for(engine, "connect")
    def _become_owner(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cur:
            cur.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(owner)))
        dbapi_conn.commit()

    try:
        upgrade_to_head(engine)
    finally:
        engine.dispose()
