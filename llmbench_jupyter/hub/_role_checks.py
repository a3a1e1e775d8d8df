"""What a role may be: checks on role attributes and memberships, in the database.

A hub user's role must never be, or inherit from, a role that owns the tables or
bypasses row-level security; set-up and provisioning check that after every change.
"""

from __future__ import annotations

from typing import Any

import psycopg

from llmbench_jupyter.hub._role_names import ProvisionError, Roles


def _role_exists(conn: psycopg.Connection[Any], name: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() is not None


def _superuser_attrs(conn: psycopg.Connection[Any]) -> str:
    """``NOSUPERUSER NOBYPASSRLS NOREPLICATION`` when we may say so (only superusers may).

    A non-superuser admin cannot give these attributes either, so roles it creates never
    have them; roles it alters are checked by :func:`_check_attributes`.
    """
    row = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user").fetchone()
    return "NOSUPERUSER NOBYPASSRLS NOREPLICATION " if row and row[0] else ""


def _check_attributes(conn: psycopg.Connection[Any], role: str) -> None:
    row = conn.execute(
        "SELECT rolsuper, rolbypassrls, rolreplication FROM pg_roles WHERE rolname = %s", (role,)
    ).fetchone()
    if row is None or any(row):
        raise ProvisionError(
            f"role {role} is a superuser, bypasses row-level security or may replicate, and "
            "this admin connection may not change that: alter it as a superuser"
        )


def _check_unprivileged(conn: psycopg.Connection[Any], role: str, roles: Roles) -> None:
    """Fail if ``role`` inherits, or can SET ROLE to, anything that escapes the policies."""
    bad = conn.execute(
        "SELECT b.rolname::text FROM pg_roles b "
        "WHERE b.rolname <> %(role)s AND pg_has_role(%(role)s, b.oid, 'MEMBER') "
        "AND (b.rolsuper OR b.rolbypassrls OR b.rolcreaterole OR b.rolcreatedb "
        "OR b.rolreplication OR b.rolname = %(owner)s OR b.rolname LIKE 'pg\\_%%' "
        "OR EXISTS (SELECT 1 FROM pg_class c WHERE c.relowner = b.oid)) "
        "ORDER BY 1",
        {"role": role, "owner": roles.owner},
    ).fetchall()
    owns = conn.execute(
        "SELECT count(*) FROM pg_class c JOIN pg_roles r ON r.oid = c.relowner "
        "WHERE r.rolname = %s",
        (role,),
    ).fetchone()
    if bad:
        raise ProvisionError(
            f"role {role} is a member of {', '.join(r[0] for r in bad)}, which own(s) tables, "
            "bypass(es) row-level security or hold(s) special privileges; revoke that membership"
        )
    if owns and owns[0]:
        raise ProvisionError(
            f"role {role} owns {owns[0]} relation(s) in this database; a user "
            "role must own nothing (table owners bypass row-level security)"
        )
