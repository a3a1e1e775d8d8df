"""A throw-away hub database for tests: its own database and its own role prefix.

Roles are cluster-wide, so each deployment gets a unique prefix and drops its roles at
the end; the database is dropped first (with FORCE), which also ends user sessions.
Tests connect as the users' own roles. The server trusts 127.0.0.1, so passwords are not
checked here: nothing below relies on them, only on the role a connection logs in as.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from pg_admin import PG_ADMIN_URL

from llmbench_jupyter.hub.provision import Roles, provision_user, role_name, setup_database


@dataclass
class HubDB:
    admin_url: str  # the superuser, on the deployment's database
    prefix: str
    secret: bytes
    urls: dict[str, str] = field(default_factory=dict)  # username -> store URL

    @property
    def roles(self) -> Roles:
        return Roles(self.prefix)

    def role(self, username: str) -> str:
        return role_name(username, self.prefix)

    def connect(self, username: str | None = None) -> psycopg.Connection[Any]:
        """An autocommit connection as ``username``'s role (None: the superuser)."""
        url = self.urls[username] if username is not None else self.admin_url
        conninfo = sa.make_url(url).set(drivername="postgresql")
        return psycopg.connect(conninfo.render_as_string(hide_password=False), autocommit=True)


def libpq(url: str) -> str:
    return sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def hub_database(users: Mapping[str, bool]) -> Iterator[HubDB]:
    """A database set up by ``setup_database`` with ``users`` (name -> admin) provisioned."""
    server = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"llmbench_hub_{uuid.uuid4().hex[:12]}"
    try:
        with server.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        server.dispose()
        pytest.fail(
            f"PostgreSQL is required for these tests and is not reachable at "
            f"{server.url.render_as_string(hide_password=True)}: {exc.orig}",
            pytrace=False,
        )
    admin_url = server.url.set(database=name).render_as_string(hide_password=False)
    hub = HubDB(admin_url=admin_url, prefix=f"llmbt{uuid.uuid4().hex[:8]}", secret=b"s" * 32)
    try:
        setup_database(admin_url, prefix=hub.prefix)
        for user, is_admin in users.items():
            hub.urls[user] = provision_user(
                admin_url, user, hub.secret, admin=is_admin, prefix=hub.prefix
            )
        yield hub
    finally:
        from llmbench_jupyter.hub.provision import drop_roles
        from llmbench_jupyter.store import close_all

        close_all()
        with server.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        drop_roles(PG_ADMIN_URL, prefix=hub.prefix)
        server.dispose()


def scram_matches(verifier: str, password: str) -> bool:
    """Whether a stored SCRAM-SHA-256 verifier (RFC 5802/7677) was made from ``password``."""
    mechanism, rest = verifier.split("$", 1)
    iterations_salt, keys = rest.split("$")
    iterations, salt = iterations_salt.split(":")
    stored_key, server_key = keys.split(":")
    if mechanism != "SCRAM-SHA-256":
        return False
    salted = hashlib.pbkdf2_hmac(
        "sha256", password.encode(), base64.b64decode(salt), int(iterations)
    )
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    server = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    return hashlib.sha256(client_key).digest() == base64.b64decode(stored_key) and server == (
        base64.b64decode(server_key)
    )
