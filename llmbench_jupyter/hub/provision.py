"""Database roles and row-level security that keep hub users apart, enforced by PostgreSQL.

Every notebook user runs arbitrary code and holds the URL of their own login role, so
isolation must live in the database, keyed on that login role (``session_user``),
never on a session variable a kernel can set. The layout:

- ``<prefix>_owner`` (NOLOGIN) owns every table; migrations run as it. No user is a
  member of it, and tables have FORCE ROW LEVEL SECURITY, so even it sees rows only
  through a policy (``<prefix>_hub``, for hub admin roles that are its members).
- ``<prefix>_user`` (NOLOGIN) holds the table privileges users need (never TRUNCATE,
  REFERENCES, TRIGGER, nor CREATE anywhere). Each hub user logs in as
  ``<prefix>_u_<name>``, a member of it. Policies compare ``owner`` with
  ``session_user``, which ``SET ROLE`` cannot change, so switching to the group role
  gains nothing.
- ``<prefix>_admin`` (NOLOGIN) has no privileges at all: membership only makes the
  admin read policy (``pg_has_role(session_user, '<prefix>_admin', 'MEMBER')``) true.

Tables are taken from ``store.models.Base.metadata``: any table with an ``owner``
column gets row-level security, and any table with a foreign key to ``runs.run_id``
gets the "published run" read policy and may only reference its writer's own runs.
Re-running :func:`setup_database` after a new migration covers new tables.

Only this hub side migrates; user servers get ``LLMBENCH_DB_MIGRATE=0``. Administration
uses psycopg directly (utility statements cannot take bound parameters, so identifiers
and literals are composed with ``psycopg.sql``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Table, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from llmbench_jupyter.core.errors import LLMBenchError, scrub
from llmbench_jupyter.store.db import mask_url, parse_url, upgrade_to_head
from llmbench_jupyter.store.models import Base
from llmbench_jupyter.store.vault import ROLE_COMMENT_KEY

DEFAULT_PREFIX = "llmbench"
#: Connections one user may hold at once (a kernel's pool is 5 + 10 overflow at most).
DEFAULT_CONNECTION_LIMIT = 20
MAX_ROLE_BYTES = 63  # PostgreSQL truncates longer identifiers: we never rely on that
#: Privileges on tables that have an ``owner`` column, unless listed in _TABLE_GRANTS.
_OWNED_TABLE_GRANTS = ("SELECT", "INSERT", "UPDATE", "DELETE")
#: Tables with special grants: users append to and read the audit log, nothing more,
#: and may not write created_at (the database stamps it).
_APPEND_ONLY = {"audit_log": ("created_at",)}
#: Tables whose rows admins do not read (ciphertexts help no one but their owner).
_NO_ADMIN_READ = frozenset({"api_keys"})
_VERSION_TABLE = "alembic_version"
_PREFIX_RE = re.compile(r"^[a-z][a-z0-9_]{0,29}$")
_CLEAN_NAME = re.compile(r"^[a-z0-9_]+$")
_HASH_TAIL = re.compile(r"_x[0-9a-f]{16}$")
_SETUP_LOCK = 0x11BE_5EC0


class ProvisionError(LLMBenchError):
    """Setting up the database or a user's role failed, or found an unsafe state."""


@dataclass(frozen=True)
class Roles:
    """The group role names of one deployment (``prefix`` keeps two hubs on one cluster apart)."""

    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        if not isinstance(self.prefix, str) or not _PREFIX_RE.match(self.prefix):
            raise ProvisionError(
                f"role prefix {self.prefix!r}: expected 1-30 lower-case letters, digits or _, "
                "starting with a letter"
            )

    @property
    def owner(self) -> str:
        return f"{self.prefix}_owner"

    @property
    def user(self) -> str:
        return f"{self.prefix}_user"

    @property
    def admin(self) -> str:
        return f"{self.prefix}_admin"


# ------------------------------------------------------------------ names and secrets
def role_name(username: str, prefix: str = DEFAULT_PREFIX) -> str:
    """The login role of hub user ``username``: ``<prefix>_u_<username>`` when that is safe.

    Names that are not lower-case ``[a-z0-9_]``, are too long, or end like a hash tail
    are sanitised and get ``_x`` + 16 hex digits of SHA-256 of the original name. A clean
    name never ends in such a tail, so the two forms cannot collide, and distinct
    hashed names differ unless SHA-256 collides on 64 bits chosen by no one.
    """
    head = f"{Roles(prefix).prefix}_u_"
    if not isinstance(username, str) or not username:
        raise ProvisionError(f"username must be a non-empty string, got {username!r}")
    room = MAX_ROLE_BYTES - len(head)
    if _CLEAN_NAME.match(username) and len(username) <= room and not _HASH_TAIL.search(username):
        return head + username
    digest = hashlib.sha256(username.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    readable = re.sub(r"[^a-z0-9]+", "_", username.lower()).strip("_")[: room - 18]
    return f"{head}{readable}_x{digest}"


def derive_password(secret: bytes, username: str) -> str:
    """The database password of ``username``: HMAC-SHA256 of the name under the hub secret.

    The hub keeps one secret and can recompute any user's password, so passwords are
    never stored; a user learns only their own.
    """
    if not isinstance(secret, bytes | bytearray) or len(secret) < 16:
        raise ProvisionError("the hub's password secret must be at least 16 bytes")
    if not isinstance(username, str) or not username:
        raise ProvisionError(f"username must be a non-empty string, got {username!r}")
    mac = hmac.new(bytes(secret), b"llmbench-db-password\x00" + username.encode(), hashlib.sha256)
    return base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode("ascii")


def store_url_for(
    admin_url: str, username: str, secret: bytes, *, prefix: str = DEFAULT_PREFIX
) -> str:
    """The store URL of ``username``: the admin URL's host, port and database, their role."""
    url = parse_url(admin_url)
    user_url = url.set(
        drivername="postgresql+psycopg",
        username=role_name(username, prefix),
        password=derive_password(secret, username),
    )
    return user_url.render_as_string(hide_password=False)


# ------------------------------------------------------------------------ set-up
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


def _our_tables() -> list[Table]:
    return list(Base.metadata.sorted_tables)


def _existing(conn: psycopg.Connection[Any], name: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"public.{name}",)).fetchone()
    return bool(row and row[0])


def _take_ownership(conn: psycopg.Connection[Any], roles: Roles) -> None:
    """Hand existing tables (created before set-up, or by someone else) to the owner role."""
    for name in [t.name for t in _our_tables()] + [_VERSION_TABLE]:
        if not _existing(conn, name):
            continue
        owner = conn.execute(
            "SELECT pg_get_userbyid(relowner)::text FROM pg_class WHERE oid = %s::regclass",
            (f"public.{name}",),
        ).fetchone()
        if owner and owner[0] != roles.owner:
            conn.execute(
                sql.SQL("ALTER TABLE public.{} OWNER TO {}").format(
                    sql.Identifier(name), sql.Identifier(roles.owner)
                )
            )


def _grant_tables(conn: psycopg.Connection[Any], roles: Roles) -> None:
    user, admin = sql.Identifier(roles.user), sql.Identifier(roles.admin)
    for table in _our_tables():
        ident = sql.Identifier(table.name)
        # Revoking table privileges revokes column privileges too: a clean slate.
        conn.execute(
            sql.SQL("REVOKE ALL ON public.{} FROM PUBLIC, {}, {}").format(ident, user, admin)
        )
        if "owner" not in table.columns:
            continue  # no row-level security possible: users get nothing
        if table.name in _APPEND_ONLY:
            writable = [c.name for c in table.columns if c.name not in _APPEND_ONLY[table.name]]
            conn.execute(sql.SQL("GRANT SELECT ON public.{} TO {}").format(ident, user))
            conn.execute(
                sql.SQL("GRANT INSERT ({}) ON public.{} TO {}").format(
                    sql.SQL(", ").join(sql.Identifier(c) for c in writable), ident, user
                )
            )
        else:
            conn.execute(
                sql.SQL("GRANT {} ON public.{} TO {}").format(
                    sql.SQL(", ".join(_OWNED_TABLE_GRANTS)), ident, user
                )
            )
    version = sql.Identifier(_VERSION_TABLE)
    conn.execute(
        sql.SQL("REVOKE ALL ON public.{} FROM PUBLIC, {}, {}").format(version, user, admin)
    )
    conn.execute(sql.SQL("GRANT SELECT ON public.{} TO {}").format(version, user))
    # Serial columns a later migration may add need their sequence (USAGE = nextval).
    conn.execute(sql.SQL("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {}").format(user))


def _run_fk_column(table: Table) -> str | None:
    """The column of ``table`` that references ``runs.run_id``, if any."""
    for fk in table.foreign_keys:
        if fk.column.table.name == "runs" and fk.column.name == "run_id":
            return str(fk.parent.name)
    return None


def _apply_policies(conn: psycopg.Connection[Any], roles: Roles) -> None:
    me = sql.SQL("(session_user)::text")
    is_admin = sql.SQL("(SELECT pg_has_role(session_user, {}, 'MEMBER'))").format(
        sql.Literal(roles.admin)
    )
    user, owner = sql.Identifier(roles.user), sql.Identifier(roles.owner)
    for table in _our_tables():
        if "owner" not in table.columns:
            continue
        t = sql.Identifier(table.name)
        for (policy,) in conn.execute(
            "SELECT policyname::text FROM pg_policies WHERE schemaname = 'public' "
            "AND tablename = %s",
            (table.name,),
        ).fetchall():
            conn.execute(sql.SQL("DROP POLICY {} ON public.{}").format(sql.Identifier(policy), t))
        conn.execute(sql.SQL("ALTER TABLE public.{} ENABLE ROW LEVEL SECURITY").format(t))
        conn.execute(sql.SQL("ALTER TABLE public.{} FORCE ROW LEVEL SECURITY").format(t))
        own = sql.SQL("{}.owner = {}").format(t, me)
        check = own
        fk = _run_fk_column(table)
        if fk is not None:
            # A child row may only hang off its writer's own run: otherwise anyone could
            # add rows to someone else's (published) run.
            check = sql.SQL(
                "{own} AND EXISTS (SELECT 1 FROM public.runs r "
                "WHERE r.run_id = {t}.{fk} AND r.owner = {me})"
            ).format(own=own, t=t, fk=sql.Identifier(fk), me=me)
        policies = [
            sql.SQL(
                "CREATE POLICY {prefix_own} ON public.{t} FOR ALL TO {user} "
                "USING ({own}) WITH CHECK ({check})"
            ).format(
                prefix_own=sql.Identifier(f"{roles.prefix}_own"),
                t=t,
                user=user,
                own=own,
                check=check,
            ),
            sql.SQL(
                "CREATE POLICY {} ON public.{} FOR ALL TO {} USING (true) WITH CHECK (true)"
            ).format(sql.Identifier(f"{roles.prefix}_hub"), t, owner),
        ]
        if table.name not in _NO_ADMIN_READ:
            policies.append(
                sql.SQL("CREATE POLICY {} ON public.{} FOR SELECT TO {} USING ({})").format(
                    sql.Identifier(f"{roles.prefix}_admin_read"), t, user, is_admin
                )
            )
        published: sql.Composable | None = None
        if table.name == "runs":
            published = sql.SQL("runs.published")
        elif fk is not None:
            published = sql.SQL(
                "EXISTS (SELECT 1 FROM public.runs r WHERE r.run_id = {t}.{fk} "
                "AND r.owner = {t}.owner AND r.published)"
            ).format(t=t, fk=sql.Identifier(fk))
        if published is not None:
            policies.append(
                sql.SQL("CREATE POLICY {} ON public.{} FOR SELECT TO {} USING ({})").format(
                    sql.Identifier(f"{roles.prefix}_published_read"), t, user, published
                )
            )
        for stmt in policies:
            conn.execute(stmt)


# --------------------------------------------------------------------- users
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


# ------------------------------------------------------------------- helpers
def _role_exists(conn: psycopg.Connection[Any], name: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() is not None


def _pg_url(admin_url: str) -> URL:
    url = parse_url(admin_url)
    if url.get_backend_name() != "postgresql":
        raise ProvisionError(
            f"hub store URL {mask_url(url)!r}: expected a PostgreSQL URL "
            "(postgresql+psycopg://admin@host:5432/llmbench)"
        )
    return url


@contextmanager
def _admin_conn(
    url: URL, what: str, secrets: list[str] | None = None
) -> Iterator[tuple[psycopg.Connection[Any], Any]]:
    """An autocommit psycopg connection, and a function turning driver errors into ours."""
    known = [*(secrets or []), *([url.password] if isinstance(url.password, str) else [])]

    def fail(exc: BaseException) -> ProvisionError:
        reason = " ".join(str(exc).strip().splitlines()[:2]) or type(exc).__name__
        return ProvisionError(f"{what} ({mask_url(url)}): {scrub(reason, known)}")

    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        conn = psycopg.connect(conninfo, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise fail(exc) from None
    try:
        yield conn, fail
    finally:
        conn.close()
