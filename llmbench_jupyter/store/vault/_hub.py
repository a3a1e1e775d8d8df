"""The hub backend (ciphertexts in the store's ``api_keys`` table) and the backend choice.

Row-level security shows each login role only its own rows, and each user's server holds
only that user's derived keys, so another user's ciphertext (even a copy) does not decrypt.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llmbench_jupyter.store.vault._crypto import (
    _decrypt,
    check_new_key,
    check_provider,
    env_keys,
    fernet_from_keys,
)
from llmbench_jupyter.store.vault._local import LocalVault

if TYPE_CHECKING:
    from llmbench_jupyter.store import Store


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
        check_new_key(provider, key)
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
