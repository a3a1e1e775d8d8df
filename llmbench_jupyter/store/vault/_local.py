"""The local backend: one user's keys in a 0600 file, encrypted with a local 0600 key file.

Used when no hub vault key is set (single user); nothing to set up.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import stat
import tempfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmbench_jupyter.core.errors import register_secret
from llmbench_jupyter.core.private_files import create_exclusive
from llmbench_jupyter.store.vault._crypto import (
    VaultError,
    _decrypt,
    check_new_key,
    check_provider,
    fernet_from_keys,
)

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

log = logging.getLogger(__name__)

#: Same as ``store.db.APP_NAME`` (not imported: that would load alembic on every key lookup).
APP_NAME = "llmbench-jupyter"


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
        check_new_key(provider, key)
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
