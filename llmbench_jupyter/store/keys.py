"""Your provider API keys, encrypted at rest: ``keys.set("openai", "sk-...")``.

Stored keys take precedence over the environment variable a provider names in
config.yaml (``api_key_env``). On a hub they live in the shared database, readable only
by you and encrypted with a key only your server has; on your own machine in a local
encrypted file (see :mod:`llmbench_jupyter.store.vault`). ``list()`` shows providers and
times, never a key. Every ``set`` and ``delete`` is written to the audit log.

This module's function names shadow the builtins ``set`` and ``list`` on purpose (they
read well as ``keys.set``), so the code below never uses those builtins.
"""

from __future__ import annotations

import builtins
import logging
from typing import Any

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.store.vault import (
    HubVault,
    LocalVault,
    check_key,
    check_provider,
    open_vault,
    valid_provider,
)

log = logging.getLogger(__name__)


def vault() -> HubVault | LocalVault:
    """The backend in use: ``HubVault`` on a hub, else ``LocalVault``."""
    return open_vault()


def set(provider: str, key: str) -> None:
    """Store (or replace) your API key for ``provider``, encrypted."""
    check_provider(provider)
    check_key(provider, key)
    backend = vault()
    backend.set(provider, key)
    _audit(backend, "key.set", provider, {"backend": backend.backend})


def get(provider: str) -> str | None:
    """Your stored key for ``provider`` or None."""
    return vault().get(check_provider(provider))


def lookup(provider: str) -> str | None:
    """Target resolution's view of the vault (``targets.from_config(stored_keys=lookup)``):
    a provider name the vault cannot hold simply has no stored key."""
    return get(provider) if valid_provider(provider) else None


def list() -> builtins.list[dict[str, Any]]:
    """Your stored providers: ``provider``, ``created_at``, ``updated_at``, ``backend``."""
    return vault().list()


def delete(provider: str) -> None:
    """Delete your stored key for ``provider``; an error if there is none."""
    check_provider(provider)
    backend = vault()
    if not backend.delete(provider):
        raise LLMBenchError(f"no stored API key for {provider!r} (keys.list() shows them)")
    _audit(backend, "key.delete", provider, {"backend": backend.backend})


def _audit(backend: HubVault | LocalVault, action: str, provider: str, details: Any) -> None:
    """Audit through the vault's store on a hub; else through the default store if it opens."""
    if isinstance(backend, HubVault):
        backend.store.audit(action, provider, details)
        return
    from llmbench_jupyter.store import open_store

    try:
        open_store().audit(action, provider, details)
    except LLMBenchError as exc:  # single user, store unavailable: the key is still saved
        log.warning("%s %s: not written to the audit log: %s", action, provider, exc)
