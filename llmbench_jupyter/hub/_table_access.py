"""Who may touch which table: ownership, grants and row-level security policies.

Tables are taken from ``store.models.Base.metadata``: any table with an ``owner`` column
gets row-level security, and a row of a table with a foreign key to another owned table
(``runs``, ``tune_studies``) may only reference its writer's own parent row. Tables with
a foreign key to ``runs.run_id`` also get the "published run" read policy.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import Table

from llmbench_jupyter.hub._role_names import Roles
from llmbench_jupyter.store.models import Base

#: Privileges on tables that have an ``owner`` column, unless listed in _TABLE_GRANTS.
_OWNED_TABLE_GRANTS = ("SELECT", "INSERT", "UPDATE", "DELETE")
#: Tables with special grants: users append to and read the audit log, nothing more,
#: and may not write created_at (the database stamps it).
_APPEND_ONLY = {"audit_log": ("created_at",)}
#: Tables whose rows admins do not read (ciphertexts help no one but their owner).
_NO_ADMIN_READ = frozenset({"api_keys"})
#: Tables not readable through a published run: which experiments hold a run is its
#: experiment owner's business, even when the run itself is public.
_NO_PUBLISHED_READ = frozenset({"experiment_runs"})
_VERSION_TABLE = "alembic_version"


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


def _owned_parents(table: Table) -> list[tuple[str, str, str]]:
    """(parent table, its key column, our column) of each foreign key to an owned table."""
    return sorted(
        (str(fk.column.table.name), str(fk.column.name), str(fk.parent.name))
        for fk in table.foreign_keys
        if "owner" in fk.column.table.columns and fk.column.table is not table
    )


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
        check: sql.Composable = own
        for parent, key, column in _owned_parents(table):
            # A child row may only hang off its writer's own parent: otherwise anyone could
            # add rows to someone else's (published) run or to their tuning study. Foreign
            # key checks bypass row-level security, so the policy has to say it.
            check = sql.SQL(
                "{check} AND EXISTS (SELECT 1 FROM public.{parent} p "
                "WHERE p.{key} = {t}.{column} AND p.owner = {me})"
            ).format(
                check=check,
                parent=sql.Identifier(parent),
                key=sql.Identifier(key),
                t=t,
                column=sql.Identifier(column),
                me=me,
            )
        fk = _run_fk_column(table)
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
        elif fk is not None and table.name not in _NO_PUBLISHED_READ:
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
