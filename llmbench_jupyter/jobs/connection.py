"""Is a provider set up? Where its key comes from, and one cheap request to prove it works.

A newcomer's first failure is nearly always set-up: no key, a refused key, a wrong URL, a
model name the endpoint does not know. :func:`key_sources` says for every configured
provider where its key would come from (the vault, an environment variable, the config, or
nowhere), never the key itself. :func:`check_connection` sends one request through the
bench engine (the same transport, timing and error categories as a benchmark; nothing is
stored), asking for at most a few tokens, and turns a failure into what to do about it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from llmbench_jupyter.core import errors
from llmbench_jupyter.core.config import Config, load_config
from llmbench_jupyter.core.errors import InputError
from llmbench_jupyter.core.redact import redact_url
from llmbench_jupyter.jobs.blocking import wait_for

#: Where a provider's key comes from (``KeySource.source``).
VAULT, ENV, INLINE, NOT_NEEDED, MISSING = "vault", "environment", "config", "not needed", "missing"
#: The one request: short, and capped at a handful of tokens.
CHECK_PROMPT = "Reply with the single word: ready"
CHECK_MAX_TOKENS = 8
#: ``ConnectionCheck.error_category`` when no request was sent because there is no key.
MISSING_KEY = "missing_key"
_LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1", "0.0.0.0")

_ADVICE = {
    errors.AUTH_FAILED: "the endpoint refused the key: save the right key for this provider "
    "(keys.set or the set-up widget), or check its environment variable",
    errors.CONNECTION: "nothing answered at the endpoint: check api_base in config.yaml, and "
    "that the server (or your network path to it) is up",
    errors.TIMEOUT: "the endpoint took longer than the timeout: try again, or raise the "
    "provider's timeout_s in config.yaml",
    errors.RATE_LIMITED: "the endpoint is rate-limiting this key: wait and try again",
    errors.OVERLOADED: "the endpoint is overloaded: wait and try again",
    "http_404": "the endpoint does not know this model (or api_base has a wrong path): "
    "discover the models it offers and add the right one",
}


def advice_for(category: str | None) -> str | None:
    """What to do about a failed check, by its error category (None if nothing useful)."""
    if category in _ADVICE:
        return _ADVICE[category]
    if category and category.startswith("http_5"):
        return "the endpoint failed on its side: try again later"
    if (category and category.startswith("http_4")) or category == errors.CLIENT:
        return "the endpoint rejected the request: its message above says why"
    return None


@dataclass(frozen=True)
class KeySource:
    """Where a provider's key would come from; ``detail`` names the variable, never a key."""

    provider: str
    source: str
    detail: str = ""

    def describe(self) -> str:
        return f"{self.source} ({self.detail})" if self.detail else self.source


@dataclass(frozen=True)
class ConnectionCheck:
    """What one request to a provider's model did: ``ok``, the timings, or why it failed."""

    provider: str
    model: str
    endpoint: str
    key_source: str
    ok: bool
    http_status: int | None = None
    error_category: str | None = None
    error_message: str | None = None
    advice: str | None = None
    ttft_ms: float | None = None
    e2e_ms: float | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None

    def summary(self) -> str:
        """One line for a person: what answered, how fast, or what to do."""
        where = f"{self.provider}/{self.model}"
        if self.ok:
            first = f"first token {self.ttft_ms:.0f} ms, " if self.ttft_ms is not None else ""
            total = f"whole answer {self.e2e_ms:.0f} ms" if self.e2e_ms is not None else ""
            return f"{where} answered (HTTP {self.http_status or 200}): {first}{total}"
        status = f"HTTP {self.http_status}, " if self.http_status else ""
        text = f"{where} failed ({status}{self.error_category}): {self.error_message}"
        return f"{text}. {self.advice}" if self.advice else text

    def __repr__(self) -> str:
        return f"<ConnectionCheck {self.summary()} [key: {self.key_source}]>"


def _is_local(api_base: str | None) -> bool:
    host = urlsplit(api_base or "").hostname or ""
    return host in _LOCAL_HOSTS


def key_source(prov: Any, stored: set[str]) -> KeySource:
    """Where ``prov``'s key comes from, in the order a benchmark looks (vault first)."""
    if prov.simulated:
        return KeySource(prov.name, NOT_NEEDED, "built-in simulator")
    if prov.name in stored:
        return KeySource(prov.name, VAULT)
    if prov.api_key_env and os.environ.get(prov.api_key_env):
        return KeySource(prov.name, ENV, f"${prov.api_key_env}")
    if prov.api_key:
        return KeySource(prov.name, INLINE, "inline in config.yaml")
    if prov.kind == "litellm":
        return KeySource(prov.name, ENV, "litellm reads its own variables")
    if not prov.api_key_env and _is_local(prov.api_base):  # naming a variable asks for a key
        return KeySource(prov.name, NOT_NEEDED, "local server")
    wanted = f"${prov.api_key_env} is not set" if prov.api_key_env else "no api_key_env"
    return KeySource(prov.name, MISSING, wanted)


def key_sources(config: Any = None) -> dict[str, KeySource]:
    """Every configured provider's key source (the vault is listed once, not per provider)."""
    from llmbench_jupyter.store import keys

    loaded = config if isinstance(config, Config) else load_config(config)
    try:
        stored = {row["provider"] for row in keys.list()}
    except errors.LLMBenchError:
        stored = set()
    return {name: key_source(prov, stored) for name, prov in loaded.providers.items()}


async def acheck_connection(provider: str, model: str | None = None, *, config: Any = None,
                            sim_url: str | None = None) -> ConnectionCheck:  # fmt: skip
    """Send one short request to ``provider``'s ``model`` (default: its first) and report."""
    from llmbench_jupyter.core import targets as targets_mod
    from llmbench_jupyter.core.workload import BenchSpec
    from llmbench_jupyter.jobs.bench_run import arun
    from llmbench_jupyter.store import keys

    loaded = config if isinstance(config, Config) else load_config(config)
    prov = loaded.provider(provider)  # ConfigError with suggestions
    if not prov.models:
        raise InputError(f"check_connection: provider {provider!r} has no models configured; "
                         "discover its models and add one first")  # fmt: skip
    chosen = model or prov.models[0].id
    prov.model(chosen)  # ConfigError with suggestions
    found = targets_mod.from_config(
        loaded, [prov.name], [f"{prov.name}/{chosen}"], stored_keys=keys.lookup
    )
    target = found[0]
    where = key_sources(loaded)[prov.name]
    source = where.describe()
    endpoint = "built-in simulator" if prov.simulated else redact_url(prov.api_base or "litellm")
    if where.source == MISSING:  # a request without a key can only be refused
        return ConnectionCheck(
            prov.name, chosen, endpoint, source, ok=False, error_category=MISSING_KEY,
            error_message=f"no key for {prov.name}: {where.detail}, none in the vault",
            advice=f"save one with keys.set({prov.name!r}, ...) or the set-up widget, or set "
            f"${prov.api_key_env or 'the variable api_key_env names'}; nothing was sent",
        )  # fmt: skip
    spec = BenchSpec(targets=[target], runs=1, warmup=0, max_tokens=CHECK_MAX_TOKENS,
                     prompt=CHECK_PROMPT, timeout_s=min(target.timeout_s or 30.0, 60.0),
                     name="connection check")  # fmt: skip
    result = await arun(spec, save=False, sim_url=sim_url)
    if not result.records:
        why = "the model was skipped (see its context window)"
        return ConnectionCheck(prov.name, chosen, endpoint, source, ok=False,
                               error_category=errors.CLIENT, error_message=why)  # fmt: skip
    rec = result.records[0]
    ok = rec.status == "ok"
    return ConnectionCheck(
        prov.name, chosen, endpoint, source, ok=ok, http_status=rec.http_status,
        error_category=rec.error_category, error_message=rec.error_message,
        advice=None if ok else advice_for(rec.error_category),
        ttft_ms=rec.ttft_ms, e2e_ms=rec.e2e_ms, output_tokens=rec.output_tokens,
        cost_usd=rec.cost_usd,
    )  # fmt: skip


def check_connection(provider: str, model: str | None = None, *, config: Any = None,
                     sim_url: str | None = None) -> ConnectionCheck:  # fmt: skip
    """One short request to ``provider`` (its first model unless ``model``): does the key
    work, does the endpoint answer, how fast. Nothing is stored. In a notebook it waits in
    a worker thread (the kernel's own loop is running)."""
    coro = acheck_connection(provider, model, config=config, sim_url=sim_url)
    return wait_for(coro)
