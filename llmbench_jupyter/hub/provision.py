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

This module is the entry point; the work is split by responsibility: names and passwords
(``_role_names``), the admin connection and role checks (``_pg_admin``), grants and
policies (``_table_access``), database set-up (``_db_setup``) and user roles
(``_user_roles``).
"""

from __future__ import annotations

from llmbench_jupyter.hub._db_setup import setup_database
from llmbench_jupyter.hub._role_names import (
    DEFAULT_PREFIX,
    MAX_ROLE_BYTES,
    ProvisionError,
    Roles,
    derive_password,
    role_name,
    store_url_for,
)
from llmbench_jupyter.hub._user_roles import DEFAULT_CONNECTION_LIMIT, drop_roles, provision_user

__all__ = [
    "DEFAULT_CONNECTION_LIMIT",
    "DEFAULT_PREFIX",
    "MAX_ROLE_BYTES",
    "ProvisionError",
    "Roles",
    "derive_password",
    "drop_roles",
    "provision_user",
    "role_name",
    "setup_database",
    "store_url_for",
]
