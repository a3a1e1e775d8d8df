"""Model discovery for a configured provider: what it offers against what the config lists.

The endpoint is the provider's own (its base URL, headers, and key: the vault's first,
as for a benchmark); a simulated provider gets the built-in endpoint started for the
call. :func:`add_models` writes chosen models into the user's config file, never into
the copy shipped inside the package.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llmbench_jupyter.core.config import Config, ConfigError, default_config_path, load_config
from llmbench_jupyter.core.config._edit import add_models_to_file
from llmbench_jupyter.core.discovery import Endpoint, FoundModel, Listing, list_models
from llmbench_jupyter.core.errors import InputError, register_secret
from llmbench_jupyter.core.redact import exact_secrets
from llmbench_jupyter.jobs.blocking import wait_for

if TYPE_CHECKING:
    import pandas as pd

#: ``status`` of a row: offered and not configured, both, configured and not offered.
NEW, CONFIGURED, NOT_OFFERED = "new", "configured", "not offered"
_PACKAGE_DIR = Path(__file__).resolve().parents[1]


@dataclass
class Discovery:
    """A provider's model list next to its configured models (``rows``, one per id)."""

    provider: str
    listing: Listing
    config_path: str | None
    rows: list[dict[str, Any]] = field(default_factory=list)

    @property
    def new(self) -> list[str]:
        """Config ids of the models offered and not configured yet."""
        return [r["id"] for r in self.rows if r["status"] == NEW]

    def to_pandas(self) -> pd.DataFrame:
        import pandas as pd

        columns = ["id", "status", "api_model", "display_name", "context_window",
                   "max_output_tokens", "created", "owned_by"]  # fmt: skip
        return pd.DataFrame(self.rows, columns=columns)

    def __repr__(self) -> str:
        counts = {s: sum(r["status"] == s for r in self.rows) for s in (NEW, CONFIGURED,
                                                                          NOT_OFFERED)}  # fmt: skip
        skipped = f", {self.listing.skipped} entries skipped" if self.listing.skipped else ""
        return (
            f"<Discovery {self.provider} ({self.listing.shape} list at {self.listing.url}): "
            f"{len(self.listing.models)} offered, {counts[NEW]} new, {counts[CONFIGURED]} "
            f"configured, {counts[NOT_OFFERED]} configured but not offered{skipped}>"
        )


def _endpoint(loaded: Config, provider: str, api_base: str | None) -> Endpoint:
    from llmbench_jupyter.store import keys

    prov = loaded.provider(provider)  # ConfigError with suggestions
    if prov.kind == "litellm" and not prov.api_base:
        raise InputError(
            f"discover: provider {provider!r} is kind litellm without an api_base; its model "
            "list is litellm's own, not an endpoint's"
        )
    key = keys.lookup(prov.name) or prov.resolve_api_key()
    for secret in exact_secrets(key, prov.api_base or "", prov.extra_headers):
        register_secret(secret)
    return Endpoint(
        provider=prov.name, kind=prov.kind, api_base=api_base or prov.api_base or "",
        api_key=key, headers=tuple(sorted(prov.extra_headers.items())),
        timeout_s=prov.timeout_s or 30.0,
    )  # fmt: skip


async def adiscover(provider: str, *, config: Any = None, shape: str | None = None,
                    sim_url: str | None = None, page_size: int = 1000) -> Discovery:  # fmt: skip
    """Read ``provider``'s model list and compare it with its configured models."""
    import aiohttp

    loaded = config if isinstance(config, Config) else load_config(config)
    path = None if isinstance(config, Config) else str(default_config_path(config))
    prov = loaded.provider(provider)
    with contextlib.ExitStack() as stack:
        if prov.simulated and not sim_url:
            from llmbench_jupyter.sim.process import sim_process

            sim_url = await asyncio.to_thread(stack.enter_context, sim_process())
        endpoint = _endpoint(loaded, provider, sim_url if prov.simulated else None)
        async with aiohttp.ClientSession() as session:
            listing = await list_models(session, endpoint, shape, page_size)
    return Discovery(prov.name, listing, path, _rows(prov, listing.models))


def discover_models(provider: str, *, config: Any = None, shape: str | None = None,
                    sim_url: str | None = None) -> Discovery:  # fmt: skip
    """The models ``provider`` offers next to its configured ones (``.new``,
    ``.to_pandas()``); ``shape`` (openai, anthropic, gemini, ollama) when the provider's
    kind and host do not say. In a notebook it waits in a worker thread (the kernel's
    own loop is running), a second or so."""
    coro = adiscover(provider, config=config, shape=shape, sim_url=sim_url)
    return wait_for(coro)


def _rows(prov: Any, found: Sequence[FoundModel]) -> list[dict[str, Any]]:
    configured = {prov.api_model(m): m for m in prov.models}
    rows = []
    for model in found:
        mine = configured.get(model.id)
        config_id = mine.id if mine is not None else model.id.removeprefix(prov.model_id_prefix)
        rows.append({
            "id": config_id, "status": CONFIGURED if mine is not None else NEW,
            "api_model": model.id, "display_name": model.display_name,
            "context_window": model.context_window, "max_output_tokens": model.max_output_tokens,
            "created": model.created, "owned_by": model.owned_by,
        })  # fmt: skip
    offered = {m.id for m in found}
    for api_model, m in configured.items():
        if api_model not in offered:
            rows.append({"id": m.id, "status": NOT_OFFERED, "api_model": api_model,
                         "display_name": m.display_name, "context_window": m.context_window,
                         "max_output_tokens": m.max_output_tokens, "created": None,
                         "owned_by": None})  # fmt: skip
    return rows


def add_models(provider: str, models: Sequence[str] | str, *, config: Any = None,
               discovery: Discovery | None = None) -> list[str]:  # fmt: skip
    """Add ``models`` (config ids from a discovery, or ``"new"`` for every new one) to
    ``provider`` in the config file; returns the ids added. Models a discovery saw carry
    what it learned (display name, context window, output limit)."""
    if isinstance(config, Config):
        raise InputError("add_models: give the config file's path (or None), not a loaded Config")
    path = default_config_path(config)
    if path.resolve().parent == _PACKAGE_DIR:
        raise ConfigError(
            f"{path} is the config shipped inside the package; copy it to ./config.yaml (or "
            "set $LLMBENCH_CONFIG to your own copy) and add models there"
        )
    found = discovery if discovery is not None else discover_models(provider, config=path)
    by_id = {r["id"]: r for r in found.rows}
    wanted = found.new if models == "new" else [models] if isinstance(models, str) else list(models)
    current = {m.id for m in load_config(path).provider(found.provider).models}
    configured = [m for m in wanted if m in current]  # the file now, not the discovery's
    if configured:
        raise InputError(f"add_models: {configured} already configured for {provider!r}")
    unknown = [m for m in wanted if m not in by_id]
    if unknown:
        raise InputError(
            f"add_models: {unknown} not offered by {provider!r} (it lists {len(by_id)} "
            "models; see discover_models)"
        )
    if not wanted:
        return []
    entries = [{k: by_id[m].get(k) for k in ("display_name", "context_window",
                                             "max_output_tokens")} | {"id": m}
               for m in wanted]  # fmt: skip
    add_models_to_file(path, found.provider, entries)
    return wanted
