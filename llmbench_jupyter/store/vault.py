"""The key vault: provider API keys encrypted at rest, per user.

Two backends, chosen by :func:`open_vault`:

- **hub**: when ``$LLMBENCH_VAULT_KEYS`` is set and the store is PostgreSQL. Ciphertexts
  live in the store's ``api_keys`` table, where row-level security shows each login role
  only its own rows. The hub derives each user's Fernet key from its master key(s) with
  HKDF-SHA256 (``info`` = the username) and gives a user's server only that user's keys,
  newest first, so another user's ciphertext (even a copy) does not decrypt.
- **local**: otherwise (single user). A Fernet key generated on first use in
  ``<user data dir>/vault/vault.key`` (0600) encrypts ``vault.json`` (0600) in the same
  0700 directory. Nothing to set up.

Every key stored or loaded is registered with :func:`errors.register_secret`, so it is
masked wherever :func:`errors.scrub` cleans text. Objects here never show a key in their
``repr``; errors never quote one. :func:`rotate_keys` re-encrypts every hub row under a new
master key (``python -m llmbench_jupyter.store.vault rotate``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import re
import stat
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from llmbench_jupyter.core.errors import LLMBenchError, register_secret, scrub
from llmbench_jupyter.core.private_files import create_exclusive

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

    from llmbench_jupyter.store import Store

log = logging.getLogger(__name__)

#: Comma-separated Fernet keys of this user, newest first (set by the hub per user).
VAULT_KEYS_ENV = "LLMBENCH_VAULT_KEYS"
#: For ``python -m llmbench_jupyter.store.vault rotate``: admin store URL, new and old masters.
ADMIN_URL_ENV = "LLMBENCH_ADMIN_DB_URL"
NEW_MASTER_ENV = "LLMBENCH_VAULT_MASTER"
OLD_MASTERS_ENV = "LLMBENCH_VAULT_OLD_MASTERS"
MIN_MASTER_BYTES = 32
#: Same as ``store.db.APP_NAME`` (not imported: that would load alembic on every key lookup).
APP_NAME = "llmbench-jupyter"
#: Key in the JSON comment ``provision_user`` puts on a login role: the hub username,
#: from which rotation re-derives that user's vault key.
ROLE_COMMENT_KEY = "llmbench_username"
MAX_KEY_CHARS = 4096
_PROVIDER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class VaultError(LLMBenchError):
    """A key could not be stored, found or decrypted; the message never contains the key."""


# ------------------------------------------------------------------ validation
def valid_provider(provider: object) -> bool:
    """True for a name a key can be stored under (see :func:`check_provider`)."""
    return isinstance(provider, str) and bool(_PROVIDER.match(provider))


def check_provider(provider: object) -> str:
    """A provider name as stored: 1-64 letters, digits, ``.``, ``_`` or ``-``."""
    if not isinstance(provider, str) or not valid_provider(provider):
        raise VaultError(
            f"provider name {provider!r}: expected 1-64 letters, digits, '.', '_' or '-' "
            "(the provider's name in config.yaml, e.g. 'openai')"
        )
    return provider


def check_key(provider: str, key: object) -> str:
    """Validate an API key without ever putting it (or a piece of it) in the error."""
    if not isinstance(key, str):
        raise VaultError(f"API key for {provider!r}: expected a string, got {type(key).__name__}")
    if not key:
        raise VaultError(f"API key for {provider!r} is empty")
    if any(ch.isspace() for ch in key):
        raise VaultError(
            f"API key for {provider!r} contains whitespace (a space or line break copied "
            "with it?); paste the key alone"
        )
    if not key.isascii() or not key.isprintable():
        raise VaultError(
            f"API key for {provider!r} contains characters that are not printable ASCII; "
            "API keys never do"
        )
    if len(key) > MAX_KEY_CHARS:
        raise VaultError(f"API key for {provider!r} is longer than {MAX_KEY_CHARS} characters")
    return key


# ------------------------------------------------------------------ key material
def derive_user_key(master: bytes, username: str) -> bytes:
    """The Fernet key (urlsafe base64) of ``username`` under the hub master key.

    HKDF-SHA256 with ``info`` = the username: one master serves every user, and no
    user's key reveals the master or another user's key.
    """
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    if not isinstance(master, bytes | bytearray) or len(master) < MIN_MASTER_BYTES:
        raise VaultError(f"vault master key: expected at least {MIN_MASTER_BYTES} bytes")
    if not isinstance(username, str) or not username:
        raise VaultError(f"username must be a non-empty string, got {username!r}")
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=username.encode())
    return base64.urlsafe_b64encode(hkdf.derive(bytes(master)))


def fernet_from_keys(keys: Sequence[bytes | str]) -> MultiFernet:
    """A MultiFernet over ``keys`` (newest first): encrypts with the first, decrypts with any."""
    from cryptography.fernet import Fernet, MultiFernet

    if not keys:
        raise VaultError("no vault key given")
    fernets = []
    for i, key in enumerate(keys):
        try:
            fernets.append(Fernet(key))
        except (ValueError, TypeError):
            raise VaultError(
                f"vault key #{i + 1}: not a Fernet key (32 bytes, urlsafe base64)"
            ) from None
    return MultiFernet(fernets)


def env_keys(value: str | None = None) -> list[bytes]:
    """The Fernet keys in ``$LLMBENCH_VAULT_KEYS`` (or ``value``), newest first."""
    raw = os.environ.get(VAULT_KEYS_ENV, "") if value is None else value
    keys = [part.strip() for part in raw.split(",") if part.strip()]
    for key in keys:
        register_secret(key)
    return [k.encode("ascii", "replace") for k in keys]


class Vault(Protocol):
    """What both backends offer. ``list`` never returns keys or ciphertexts."""

    backend: str

    def set(self, provider: str, key: str) -> None: ...

    def get(self, provider: str) -> str | None: ...

    def list(self) -> list[dict[str, Any]]: ...

    def delete(self, provider: str) -> bool: ...


def _decrypt(fernet: MultiFernet, token: str, provider: str, where: str) -> str:
    from cryptography.fernet import InvalidToken

    try:
        key = fernet.decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError, UnicodeError):
        raise VaultError(
            f"the stored key for {provider!r} cannot be decrypted with {where} (the vault key "
            "changed or the entry was copied from elsewhere); store it again with "
            f"keys.set({provider!r}, ...)"
        ) from None
    register_secret(key)
    return key


# ------------------------------------------------------------------ hub backend
class HubVault:
    """Keys in the store's ``api_keys`` table, encrypted with this user's derived key(s)."""

    backend = "hub"

    def __init__(self, store: Store, keys: Sequence[bytes | str]) -> None:
        self.store = store
        self._fernet = fernet_from_keys(keys)
        self._n_keys = len(keys)

    def __repr__(self) -> str:
        return f"HubVault(store={self.store!r}, keys={self._n_keys})"

    def set(self, provider: str, key: str) -> None:
        check_provider(provider)
        check_key(provider, key)
        register_secret(key)
        token = self._fernet.encrypt(key.encode("utf-8")).decode("ascii")
        self.store.put_api_key(provider, token)

    def get(self, provider: str) -> str | None:
        check_provider(provider)
        token = self.store.get_api_key(provider)
        if token is None:
            return None
        return _decrypt(self._fernet, token, provider, "this server's vault key")

    def list(self) -> list[dict[str, Any]]:
        return [{**row, "backend": self.backend} for row in self.store.list_api_keys()]

    def delete(self, provider: str) -> bool:
        check_provider(provider)
        return self.store.delete_api_key(provider)


# ------------------------------------------------------------------ local backend
class LocalVault:
    """Keys in a 0600 file in a 0700 directory, encrypted with a local 0600 key file."""

    backend = "local"
    KEY_FILE = "vault.key"
    DATA_FILE = "vault.json"

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_vault_dir()

    def __repr__(self) -> str:
        return f"LocalVault({str(self.directory)!r})"

    def set(self, provider: str, key: str) -> None:
        check_provider(provider)
        check_key(provider, key)
        register_secret(key)
        with self._locked(create=True):
            token = self._fernet(create=True).encrypt(key.encode("utf-8")).decode("ascii")
            data = self._read()
            now = datetime.now(UTC).isoformat()
            old = data.get(provider) or {}
            data[provider] = {
                "ciphertext": token,
                "created_at": old.get("created_at", now),
                "updated_at": now,
            }
            self._write(data)

    def get(self, provider: str) -> str | None:
        check_provider(provider)
        if not (self.directory / self.DATA_FILE).exists():
            return None  # reading never creates the vault
        entry = self._read().get(provider)
        if entry is None:
            return None
        return _decrypt(
            self._fernet(create=False), entry["ciphertext"], provider, f"{self._key_path()}"
        )

    def list(self) -> list[dict[str, Any]]:
        if not (self.directory / self.DATA_FILE).exists():
            return []
        return [
            {
                "provider": provider,
                "created_at": datetime.fromisoformat(entry["created_at"]),
                "updated_at": datetime.fromisoformat(entry["updated_at"]),
                "backend": self.backend,
            }
            for provider, entry in sorted(self._read().items())
        ]

    def delete(self, provider: str) -> bool:
        check_provider(provider)
        if not (self.directory / self.DATA_FILE).exists():
            return False
        with self._locked(create=False):
            data = self._read()
            if data.pop(provider, None) is None:
                return False
            self._write(data)
        return True

    # -------------------------------------------------------------- files
    def _key_path(self) -> Path:
        return self.directory / self.KEY_FILE

    def _ensure_dir(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        _tighten(self.directory, 0o700)

    def _fernet(self, create: bool) -> MultiFernet:
        from cryptography.fernet import Fernet

        path = self._key_path()
        if create:
            self._ensure_dir()
            create_exclusive(path, Fernet.generate_key())  # whole or absent, even if racing
        try:
            _tighten(path, 0o600)
            key = path.read_bytes().strip()
        except FileNotFoundError:
            raise VaultError(
                f"the local vault key file {path} is missing, so stored keys cannot be "
                "decrypted; store them again with keys.set(...)"
            ) from None
        register_secret(key.decode("ascii", "replace"))
        return fernet_from_keys([key])

    def _read(self) -> dict[str, dict[str, str]]:
        path = self.directory / self.DATA_FILE
        try:
            _tighten(path, 0o600)
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise VaultError(f"cannot read the local vault {path}: {exc}") from None
        entries = data.get("keys") if isinstance(data, dict) else None
        if not isinstance(entries, dict):
            raise VaultError(f"the local vault {path} is not a vault file (no 'keys' object)")
        return entries

    def _write(self, entries: Mapping[str, Any]) -> None:
        self._ensure_dir()
        body = json.dumps({"version": 1, "keys": dict(entries)}, indent=1, sort_keys=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".vault-", suffix=".tmp")
        try:  # mkstemp creates 0600; rename makes the update atomic
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(body)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.directory / self.DATA_FILE)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise

    @contextlib.contextmanager
    def _locked(self, create: bool) -> Iterator[None]:
        """One writer at a time across processes (two kernels saving keys at once)."""
        try:
            import fcntl
        except ImportError:  # not POSIX: single-process use only
            yield
            return
        if create:
            self._ensure_dir()
        fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)


def _tighten(path: Path, mode: int) -> None:
    """Give ``path`` exactly ``mode`` if group or others have any access to it."""
    current = stat.S_IMODE(path.stat().st_mode)
    if current & 0o077:
        log.warning("%s had mode %04o; setting %04o", path, current, mode)
        os.chmod(path, mode)


def default_vault_dir() -> Path:
    """``<user data dir>/vault``, next to the default SQLite store."""
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False)) / "vault"


# ------------------------------------------------------------------ choosing
def open_vault(store: Store | None = None) -> HubVault | LocalVault:
    """The hub vault when ``$LLMBENCH_VAULT_KEYS`` is set and the store is PostgreSQL,
    else the local vault. ``store`` defaults to ``open_store()`` (hub case only)."""
    keys = env_keys()
    if keys:
        from llmbench_jupyter.store import open_store

        db = store if store is not None else open_store()
        if db.url.startswith("postgresql"):
            return HubVault(db, keys)
    return LocalVault()


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


if __name__ == "__main__":
    raise SystemExit(main())
