"""Targets: one provider+model, fully resolved (URL, key, limits, prices) before a run starts.

Resolution happens once, up front, so no config lookup or key lookup sits on the
timing path, and an unknown provider or model fails before anything is sent.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlparse, urlsplit, urlunsplit

from llmbench_jupyter.core.errors import LLMBenchError, register_secret
from llmbench_jupyter.core.limits import DEFAULT_LIMITS, Limits
from llmbench_jupyter.core.redact import exact_secrets, redact_headers, redact_url


def join_url(api_base: str, path: str) -> str:
    """``path`` appended to the path of ``api_base``, its query string kept after it.

    ``http://h/v1?token=x`` + ``/chat/completions`` is ``http://h/v1/chat/completions?token=x``,
    not a URL whose query swallowed the path.
    """
    if not path:
        return api_base
    parts = urlsplit(api_base)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + path))


@dataclass(frozen=True)
class Target:
    provider: str
    model: str
    kind: str = "openai"
    api_base: str = ""
    api_model: str = ""
    api_key: str | None = field(default=None, repr=False)
    display_name: str = ""
    context_window: int | None = None
    max_output_tokens: int | None = None
    skip_params: tuple[str, ...] = ()
    system_prompt: str | None = None
    tokenizer_hint: str | None = None
    input_cost_per_mtok: float | None = None
    output_cost_per_mtok: float | None = None
    litellm_model: str | None = None
    headers: tuple[tuple[str, str], ...] = ()
    timeout_s: float | None = None
    simulated: bool = False
    sequential: bool = True
    limits: Limits = DEFAULT_LIMITS
    #: Request parameters every request to this target carries (canonical names), and the
    #: model profile they came from (``with_profile``).
    params: tuple[tuple[str, Any], ...] = ()
    profile: str | None = None

    @property
    def key(self) -> str:
        return f"{self.provider}/{self.model}"

    def __post_init__(self) -> None:
        # URL user-info goes out as "Authorization: Basic ..."; so do an OpenAI-style key
        # and an explicit header. HTTP carries one: refuse the clash before anything is sent.
        try:
            has_userinfo = "@" in urlsplit(self.api_base).netloc
        except ValueError:
            has_userinfo = False
        bearer = bool(self.api_key) and self.kind != "anthropic"
        header = any(name.lower() == "authorization" for name, _ in self.headers)
        if has_userinfo and (bearer or header):
            raise LLMBenchError(
                f"{self.provider}: api_base {redact_url(self.api_base)!r} carries user:password "
                f"and {'an API key' if bearer else 'an Authorization header'} is set; both "
                "would be the request's Authorization header. Keep one (e.g. put the "
                "proxy's credentials in extra_headers under another name)"
            )

    def secrets(self) -> tuple[str, ...]:
        """Exact values to mask wherever text from this endpoint goes: key, URL, headers."""
        return exact_secrets(self.api_key, self.api_base, self.headers)

    def with_api_base(self, api_base: str) -> Target:
        return replace(self, api_base=api_base)

    def with_profile(self, name: str, params: dict[str, Any], system_prompt: str | None) -> Target:
        """This target as a model profile says: its parameters on every request, and its
        system prompt (when it has one) instead of the configured one."""
        prompt = system_prompt if system_prompt is not None else self.system_prompt
        return replace(self, params=tuple(sorted(params.items())), system_prompt=prompt,
                       profile=name)  # fmt: skip

    def __repr__(self) -> str:
        # what a notebook shows: no key, URL credentials masked, header values masked
        return (
            f"Target(provider={self.provider!r}, model={self.model!r}, kind={self.kind!r}, "
            f"api_base={redact_url(self.api_base)!r}, api_model={self.api_model!r}, "
            f"headers={redact_headers(self.headers)!r}, has_api_key={bool(self.api_key)}, "
            f"simulated={self.simulated})"
        )

    def describe(self) -> dict[str, Any]:
        """JSON-able description for run metadata: no key, URL credentials and header
        values masked (:mod:`llmbench_jupyter.core.redact`)."""
        return {
            "provider": self.provider,
            "model": self.model,
            "kind": self.kind,
            "api_base": redact_url(self.api_base),
            "headers": redact_headers(self.headers),
            "api_model": self.api_model,
            "display_name": self.display_name,
            "context_window": self.context_window,
            "max_output_tokens": self.max_output_tokens,
            "skip_params": list(self.skip_params),
            "has_api_key": bool(self.api_key),
            "simulated": self.simulated,
            "profile": self.profile,
            "params": dict(self.params),
            "has_system_prompt": bool(self.system_prompt),
        }


def _split_filters(models: list[str] | None) -> tuple[set[str], set[tuple[str, str]]]:
    bare: set[str] = set()
    qualified: set[tuple[str, str]] = set()
    for item in models or ():
        if "/" in item:
            prov, _, mod = item.partition("/")
            qualified.add((prov, mod))
        else:
            bare.add(item)
    return bare, qualified


#: Looks up the user's stored key for a provider (``store.keys.lookup``), None if none.
KeyLookup = Callable[[str], str | None]


def from_config(
    config: Any,
    providers: list[str] | None = None,
    models: list[str] | None = None,
    *,
    stored_keys: KeyLookup | None = None,
) -> list[Target]:
    """Targets for the named providers (default: ``local-sim``), filtered by model ids.

    ``models`` entries may be bare ids or ``provider/id``. A key from ``stored_keys`` (the
    user's encrypted vault, passed in by the jobs layer) wins over config.yaml's
    ``api_key_env`` or inline key; the engine itself never opens the vault.
    """
    bare, qualified = _split_filters(models)
    names = list(providers or [])
    for prov, _ in sorted(qualified):
        if prov not in names:
            names.append(prov)
    if not names:
        names = ["local-sim"]
    targets: list[Target] = []
    for name in names:
        prov = config.provider(name)  # raises ConfigError with suggestions
        filtered_here = bool(bare) or any(p == name for p, _ in qualified)
        api_key = (stored_keys(prov.name) if stored_keys else None) or prov.resolve_api_key()
        for secret in exact_secrets(api_key, prov.api_base or "", prov.extra_headers):
            register_secret(secret)  # masked in every later error and log of this process
        for model in prov.models:
            if not filtered_here or model.id in bare or (name, model.id) in qualified:
                targets.append(_target(prov, model, config, api_key))
    chosen = {t.model for t in targets} | {f"{t.provider}/{t.model}" for t in targets}
    missing = [m for m in (models or []) if m not in chosen]
    if missing:
        known = [f"{n}/{m.id}" for n in names for m in config.provider(n).models]
        hint = difflib.get_close_matches(missing[0], known, n=3)
        raise LLMBenchError(
            f"model {missing[0]!r} is not configured under provider(s) {', '.join(names)}"
            + (f"; did you mean {', '.join(hint)}?" if hint else f"; known: {', '.join(known)}")
        )
    return targets


def _target(prov: Any, model: Any, config: Any, api_key: str | None) -> Target:
    return Target(
        provider=prov.name,
        model=model.id,
        kind=prov.kind,
        api_base=(prov.api_base or ""),
        api_model=prov.api_model(model),
        api_key=api_key,
        display_name=model.display_name or model.id,
        context_window=model.context_window,
        max_output_tokens=model.max_output_tokens,
        skip_params=tuple(model.skip_params),
        system_prompt=model.system_prompt,
        tokenizer_hint=model.tokenizer,
        input_cost_per_mtok=model.input_cost_per_mtok,
        output_cost_per_mtok=model.output_cost_per_mtok,
        litellm_model=model.litellm_model
        or (prov.api_model(model) if prov.kind == "litellm" else None),
        headers=tuple(sorted(prov.extra_headers.items())),
        timeout_s=prov.timeout_s,
        simulated=prov.simulated,
        sequential=prov.sequential,
        limits=prov.limits.to_limits(),
    )


def adhoc(
    api_base: str,
    model: str,
    api_key: str | None = None,
    kind: str = "openai",
    label: str | None = None,
) -> Target:
    """A target with no config entry: ``--api-base URL --model NAME``.

    Its provider name is ``label`` (``--provider`` with ``--api-base``), else the URL's
    host[:port] only: user-info in the URL must not become a name that is stored, shown and
    logged everywhere. Results are keyed by provider/model, so give a label when the port
    changes between runs (a restarted local server) and the rows should stay one.
    """
    if label is not None and (not isinstance(label, str) or not label.strip() or "/" in label):
        raise LLMBenchError(
            f"provider label {label!r} for --api-base: expected a non-empty name without '/'"
        )
    try:
        parsed = urlparse(api_base)
        host = parsed.netloc.rpartition("@")[2]
    except ValueError:
        parsed, host = None, ""
    if parsed is None or parsed.scheme not in ("http", "https") or not host:
        raise LLMBenchError(
            f"--api-base: found {redact_url(api_base)!r}, expected an http(s) base URL "
            "such as http://127.0.0.1:8000/v1"
        )
    if not model:
        raise LLMBenchError(
            "--model is required with --api-base (the model name the server serves)"
        )
    return Target(
        provider=label.strip() if label else host,
        model=model,
        kind=kind,
        api_base=api_base.rstrip("/"),
        api_model=model,
        api_key=api_key,
        display_name=model,
        litellm_model=model if kind == "litellm" else None,
    )
