"""Key checks and key material shared by both vault backends.

Provider and key validation (errors never quote a key), the HKDF derivation of a hub
user's Fernet key from a master key, Fernet helpers, and the :class:`Vault` protocol.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from llmbench_jupyter.core.errors import LLMBenchError, register_secret

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

#: Comma-separated Fernet keys of this user, newest first (set by the hub per user).
VAULT_KEYS_ENV = "LLMBENCH_VAULT_KEYS"
MIN_MASTER_BYTES = 32
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


def check_new_key(provider: str, key: str) -> None:
    """Validate a provider and the key about to be stored under it; mask the key from now on."""
    check_provider(provider)
    check_key(provider, key)
    register_secret(key)


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
