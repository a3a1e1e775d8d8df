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

from llmbench_jupyter.store.vault._crypto import (
    MAX_KEY_CHARS,
    MIN_MASTER_BYTES,
    VAULT_KEYS_ENV,
    Vault,
    VaultError,
    check_key,
    check_provider,
    derive_user_key,
    env_keys,
    fernet_from_keys,
    valid_provider,
)
from llmbench_jupyter.store.vault._hub import HubVault, open_vault
from llmbench_jupyter.store.vault._local import APP_NAME, LocalVault, default_vault_dir
from llmbench_jupyter.store.vault._rotation import (
    ADMIN_URL_ENV,
    NEW_MASTER_ENV,
    OLD_MASTERS_ENV,
    ROLE_COMMENT_KEY,
    main,
    rotate_keys,
)

__all__ = [
    "ADMIN_URL_ENV",
    "APP_NAME",
    "MAX_KEY_CHARS",
    "MIN_MASTER_BYTES",
    "NEW_MASTER_ENV",
    "OLD_MASTERS_ENV",
    "ROLE_COMMENT_KEY",
    "VAULT_KEYS_ENV",
    "HubVault",
    "LocalVault",
    "Vault",
    "VaultError",
    "check_key",
    "check_provider",
    "default_vault_dir",
    "derive_user_key",
    "env_keys",
    "fernet_from_keys",
    "main",
    "open_vault",
    "rotate_keys",
    "valid_provider",
]
