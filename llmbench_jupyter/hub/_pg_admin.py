"""The hub's admin connection to PostgreSQL, and the lock that set-up and provisioning share.

Administration uses psycopg directly (utility statements cannot take bound parameters, so
identifiers and literals are composed with ``psycopg.sql``); driver errors become
:class:`ProvisionError` with the URL masked and secrets scrubbed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from sqlalchemy.engine import URL

from llmbench_jupyter.core.errors import scrub
from llmbench_jupyter.hub._role_names import ProvisionError
from llmbench_jupyter.store.db import mask_url, parse_url

#: Advisory lock that set-up and provisioning take turns on.
_SETUP_LOCK = 0x11BE_5EC0


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
