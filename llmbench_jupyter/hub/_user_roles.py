"""Hub users' login roles: create or update one per user, drop a deployment's roles.

Each hub user logs in as ``<prefix>_u_<name>``, a member of ``<prefix>_user`` (and of
``<prefix>_admin`` for hub admins), and never of anything that escapes the policies.
"""

from __future__ import annotations

import json

import psycopg
from psycopg import sql

from llmbench_jupyter.hub._pg_admin import _SETUP_LOCK, _admin_conn, _pg_url
from llmbench_jupyter.hub._role_checks import (
    _check_attributes,
    _check_unprivileged,
    _role_exists,
    _superuser_attrs,
)
from llmbench_jupyter.hub._role_names import (
    DEFAULT_PREFIX,
    ProvisionError,
    Roles,
    derive_password,
    role_name,
    store_url_for,
)
from llmbench_jupyter.store.vault import ROLE_COMMENT_KEY

#: Connections one user may hold at once (a kernel's pool is 5 + 10 overflow at most).
DEFAULT_CONNECTION_LIMIT = 20


def provision_user(
    admin_url: str,
    username: str,
    secret: bytes,
    *,
    admin: bool = False,
    prefix: str = DEFAULT_PREFIX,
    connection_limit: int = DEFAULT_CONNECTION_LIMIT,
) -> str:
    """Create or update ``username``'s login role and return their store URL.

    The role can log in with the derived password (sent to the server only as a SCRAM
    verifier), has no special attributes, belongs to ``<prefix>_user`` and, only if
    ``admin``, to ``<prefix>_admin`` (revoked otherwise). Refuses a role that belongs,
    directly or not, to a role that owns the tables or bypasses row-level security.
    """
    roles = Roles(prefix)
    role = role_name(username, prefix)
    password = derive_password(secret, username)
    if isinstance(connection_limit, bool) or not isinstance(connection_limit, int):
        raise ProvisionError(f"connection_limit must be an integer, got {connection_limit!r}")
    if connection_limit < 1:
        raise ProvisionError(f"connection_limit must be >= 1, got {connection_limit}")
    url = _pg_url(admin_url)
    with _admin_conn(url, f"cannot provision hub user {username!r}", [password]) as (conn, fail):
        try:
            with conn.transaction():
                # Two spawns of one user, or a spawn during set-up, take turns.
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SETUP_LOCK,))
                missing = [
                    r for r in (roles.owner, roles.user, roles.admin) if not _role_exists(conn, r)
                ]
                if missing:
                    raise ProvisionError(
                        f"cannot provision hub user {username!r}: role(s) {', '.join(missing)} "
                        "do not exist; run setup_database() first"
                    )
                verifier = conn.pgconn.encrypt_password(
                    password.encode(), role.encode(), b"scram-sha-256"
                ).decode("ascii")
                verb = "ALTER" if _role_exists(conn, role) else "CREATE"
                conn.execute(
                    sql.SQL(
                        "{} ROLE {} WITH LOGIN INHERIT NOCREATEDB NOCREATEROLE "
                        + _superuser_attrs(conn)
                        + "CONNECTION LIMIT {} PASSWORD {}"
                    ).format(
                        sql.SQL(verb),
                        sql.Identifier(role),
                        sql.Literal(connection_limit),
                        sql.Literal(verifier),
                    )
                )
                conn.execute(
                    sql.SQL("COMMENT ON ROLE {} IS {}").format(
                        sql.Identifier(role), sql.Literal(json.dumps({ROLE_COMMENT_KEY: username}))
                    )
                )
                conn.execute(
                    sql.SQL("GRANT {} TO {}").format(
                        sql.Identifier(roles.user), sql.Identifier(role)
                    )
                )
                if admin:
                    conn.execute(
                        sql.SQL("GRANT {} TO {}").format(
                            sql.Identifier(roles.admin), sql.Identifier(role)
                        )
                    )
                for group in (roles.owner,) + (() if admin else (roles.admin,)):
                    conn.execute(
                        sql.SQL("REVOKE {} FROM {}").format(
                            sql.Identifier(group), sql.Identifier(role)
                        )
                    )
                _check_attributes(conn, role)
                _check_unprivileged(conn, role, roles)
        except psycopg.Error as exc:
            raise fail(exc) from None
    return store_url_for(admin_url, username, secret, prefix=prefix)


def drop_roles(admin_url: str, *, prefix: str = DEFAULT_PREFIX) -> list[str]:
    """Drop every role of the deployment ``prefix`` (its user roles and group roles).

    For tests and for removing a deployment; privileges the roles hold in this database
    go with them (``DROP OWNED``). Other databases must be dropped first. Returns the
    names dropped.
    """
    roles = Roles(prefix)
    url = _pg_url(admin_url)
    with _admin_conn(url, "cannot drop llmbench roles") as (conn, fail):
        try:
            pattern = prefix.replace("_", r"\_") + r"\_u\_%"
            names = [
                r[0]
                for r in conn.execute(
                    "SELECT rolname::text FROM pg_roles WHERE rolname LIKE %s ORDER BY 1",
                    (pattern,),
                ).fetchall()
            ]
            names += [r for r in (roles.admin, roles.user, roles.owner) if _role_exists(conn, r)]
            for name in names:
                conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
                conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))
        except psycopg.Error as exc:
            raise fail(exc) from None
    return names
