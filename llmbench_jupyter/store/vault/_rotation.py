"""Master key rotation: re-encrypt every hub row under a new master, and its CLI.

Run on the hub side as ``python -m llmbench_jupyter.store.vault rotate``; secrets come
from the environment only.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence

from llmbench_jupyter.core.errors import LLMBenchError, scrub
from llmbench_jupyter.store.vault._crypto import (
    MIN_MASTER_BYTES,
    VaultError,
    derive_user_key,
    fernet_from_keys,
)

#: For ``python -m llmbench_jupyter.store.vault rotate``: admin store URL, new and old masters.
ADMIN_URL_ENV = "LLMBENCH_ADMIN_DB_URL"
NEW_MASTER_ENV = "LLMBENCH_VAULT_MASTER"
OLD_MASTERS_ENV = "LLMBENCH_VAULT_OLD_MASTERS"
#: Key in the JSON comment ``provision_user`` puts on a login role: the hub username,
#: from which rotation re-derives that user's vault key.
ROLE_COMMENT_KEY = "llmbench_username"


# ------------------------------------------------------------------ rotation
def rotate_keys(admin_url: str, old_masters: Sequence[bytes], new_master: bytes) -> int:
    """Re-encrypt every hub ``api_keys`` row under ``new_master``; returns rows rotated.

    Runs on the hub side as the admin URL's role (superuser, or a member of the owner
    role). Each row's user comes from its role's comment (set by ``provision_user``), or
    is the owner itself for stores without hub roles. All rows or none: if any row
    decrypts under none of ``old_masters`` (nor the new one), nothing changes. After
    this, the hub can drop the old masters and give users only their new derived key.
    """
    import uuid

    import psycopg
    from cryptography.fernet import InvalidToken

    from llmbench_jupyter.store.db import mask_url, parse_url

    url = parse_url(admin_url)
    masters = [new_master, *old_masters]
    for master in masters:
        if not isinstance(master, bytes | bytearray) or len(master) < MIN_MASTER_BYTES:
            raise VaultError(f"vault master key: expected at least {MIN_MASTER_BYTES} bytes")
    known = [url.password] if isinstance(url.password, str) else []
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    failed: list[str] = []
    try:
        with psycopg.connect(conninfo, connect_timeout=10) as conn:
            rows = conn.execute(
                "SELECT k.owner, k.provider, k.ciphertext, "
                "shobj_description(r.oid, 'pg_authid') "
                "FROM api_keys k LEFT JOIN pg_roles r ON r.rolname = k.owner "
                "ORDER BY k.owner, k.provider FOR UPDATE OF k"
            ).fetchall()
            updates = []
            for owner, provider, token, comment in rows:
                username = _username_of(owner, comment, ROLE_COMMENT_KEY)
                multi = fernet_from_keys([derive_user_key(m, username) for m in masters])
                try:
                    new_token = multi.rotate(token.encode("ascii"))
                except (InvalidToken, ValueError):
                    failed.append(f"{owner}/{provider}")
                    continue
                updates.append((new_token.decode("ascii"), owner, provider))
            if failed:
                conn.rollback()
                raise VaultError(
                    f"vault rotation aborted, nothing changed: {len(failed)} key(s) decrypt "
                    f"under none of the given master keys: {', '.join(failed[:10])}"
                )
            with conn.cursor() as cur:
                cur.executemany(
                    "UPDATE api_keys SET ciphertext = %s WHERE owner = %s AND provider = %s",
                    updates,
                )
                cur.execute(
                    "INSERT INTO audit_log (id, owner, action, target, details) "
                    "VALUES (%s, current_user, 'vault.rotate', 'api_keys', %s)",
                    (uuid.uuid4().hex, json.dumps({"rows": len(updates)})),
                )
            conn.commit()
    except psycopg.Error as exc:
        reason = " ".join(str(exc).strip().splitlines()[:2])
        raise VaultError(
            f"vault rotation failed ({mask_url(url)}): {scrub(reason, known)}"
        ) from None
    return len(updates)


def _username_of(owner: str, comment: str | None, marker: str) -> str:
    if comment:
        try:
            value = json.loads(comment)
        except ValueError:
            value = None
        if isinstance(value, dict) and isinstance(value.get(marker), str):
            return str(value[marker])
    return owner


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m llmbench_jupyter.store.vault rotate``: secrets come from the environment only.

    ``$LLMBENCH_ADMIN_DB_URL`` (the hub's admin store URL), ``$LLMBENCH_VAULT_MASTER``
    (the new master key text) and ``$LLMBENCH_VAULT_OLD_MASTERS`` (comma-separated old
    ones): never on the command line, where other users' ``ps`` would see them. Master
    keys are the bytes of their text, as in the hub's secret file.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if args != ["rotate"]:
        print("usage: python -m llmbench_jupyter.store.vault rotate", file=sys.stderr)
        return 2
    missing = [v for v in (ADMIN_URL_ENV, NEW_MASTER_ENV) if not os.environ.get(v, "").strip()]
    if missing:
        print(f"error: set {', '.join(missing)} in the environment", file=sys.stderr)
        return 2
    new = os.environ[NEW_MASTER_ENV].strip().encode()
    olds = [p.strip().encode() for p in os.environ.get(OLD_MASTERS_ENV, "").split(",") if p.strip()]
    try:
        n = rotate_keys(os.environ[ADMIN_URL_ENV].strip(), olds, new)
    except LLMBenchError as exc:
        print(f"error: {scrub(str(exc))}", file=sys.stderr)
        return 1
    print(f"re-encrypted {n} stored API key(s) under the new master key")
    return 0
