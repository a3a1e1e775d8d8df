"""The hub's secrets as files: one directory (0700), one file per secret (0600).

Secrets are generated on first start and only ever read afterwards, so a restart keeps
every user's derived database password and vault key. Nothing here prints a value; a
directory or file that others can read is refused rather than silently used.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.private_files import create_exclusive

#: The HMAC secret from which each user's database password is derived.
HMAC_SECRET = "hmac_secret"
#: The vault master keys, one hex key per line, newest first (rotation adds a line on top).
VAULT_MASTER_KEYS = "vault_master_keys"
#: The password of the hub's private PostgreSQL superuser.
PG_SUPERUSER_PASSWORD = "pg_superuser_password"
#: configurable-http-proxy's API token (stable, so a restarted hub can reuse the proxy).
PROXY_AUTH_TOKEN = "proxy_auth_token"


class SecretFileError(LLMBenchError):
    """A secret directory or file is missing, unreadable or readable by others."""


def secret_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` (mode 0700) if needed; refuse one that group or others can enter."""
    directory = Path(path)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = directory.stat()
    if info.st_uid != os.geteuid():
        raise SecretFileError(
            f"secret directory {directory}: owned by uid {info.st_uid}, expected the hub's "
            f"uid {os.geteuid()}"
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        raise SecretFileError(
            f"secret directory {directory}: mode {stat.S_IMODE(info.st_mode):04o}, expected "
            "0700 (others must not list or read the hub's secrets): chmod 700 it"
        )
    return directory


def read_or_create(directory: Path, name: str, nbytes: int = 32) -> bytes:
    """The secret in ``directory/name``, generated (``nbytes`` random, hex) on first use."""
    path = directory / name
    # whole or absent: hub threads spawning at once must never read a half-made file
    create_exclusive(path, (secrets.token_hex(nbytes) + "\n").encode())
    return read_secret(path)


def read_secret(path: Path) -> bytes:
    """The first line of a 0600 secret file, as bytes (hex text stays text-encoded)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise SecretFileError(f"secret file {path}: missing") from None
    if stat.S_IMODE(info.st_mode) & 0o077:
        raise SecretFileError(
            f"secret file {path}: mode {stat.S_IMODE(info.st_mode):04o}, expected 0600: "
            "chmod 600 it"
        )
    lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    if not lines:
        raise SecretFileError(f"secret file {path}: empty, expected one secret per line")
    return lines[0].encode()


def read_lines(directory: Path, name: str, nbytes: int = 32) -> list[bytes]:
    """Every line of a multi-line secret file (e.g. master keys newest first), created if absent."""
    read_or_create(directory, name, nbytes)
    text = (directory / name).read_text()
    return [ln.strip().encode() for ln in text.splitlines() if ln.strip()]
