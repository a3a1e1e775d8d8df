"""Turn user options into a ``BenchSpec``: one resolver for the CLI, the magics and ``bench()``.

Every surface passes the same option names (the CLI's flags, with underscores), so a
default or a validation rule can never differ between them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from llmbench_jupyter.core.errors import LLMBenchError

if TYPE_CHECKING:
    from llmbench_jupyter.core.config import Config


def _as_list(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def load_profile(profile: Any, store: Any = None) -> dict[str, Any] | None:
    """A model profile: a stored one by name (your own), or one already loaded (a dict)."""
    if profile is None or isinstance(profile, Mapping):
        return dict(profile) if profile is not None else None
    if not isinstance(profile, str) or not profile:
        raise LLMBenchError(f"profile: expected a profile name, got {profile!r}")
    if store is None:
        from llmbench_jupyter.store import open_store

        store = open_store()
    found: dict[str, Any] | None = store.profile(profile)
    if found is None:
        raise LLMBenchError(
            f"no model profile named {profile!r} in {store.url} (lj.profiles() lists yours)"
        )
    return found


def apply_profile(chosen: list[Any], profile: dict[str, Any] | None) -> list[Any]:
    """The chosen targets, the profile's model among them set up as the profile says."""
    if profile is None:
        return chosen
    if not any(t.key == profile["target"] for t in chosen):
        keys = ", ".join(t.key for t in chosen)
        raise LLMBenchError(
            f"profile {profile['name']!r} is for {profile['target']}, which is not among the "
            f"chosen models ({keys})"
        )
    return [
        t.with_profile(profile["name"], dict(profile["params"]), profile.get("system_prompt"))
        if t.key == profile["target"] else t
        for t in chosen
    ]  # fmt: skip


def resolve_model(loaded: Any, name: str, role: str) -> Any:
    """One configured model by ``provider/model`` or a bare id (a judge, a proposer)."""
    from llmbench_jupyter.core import targets as targets_mod
    from llmbench_jupyter.store import keys

    found = targets_mod.from_config(loaded, None, [name], stored_keys=keys.lookup)
    if len(found) != 1:
        raise LLMBenchError(
            f"{role} {name!r} matches {len(found)} models "
            f"({', '.join(t.key for t in found)}); name one as provider/model"
        )
    return found[0]


def build_bench_spec(
    *,
    config: Any = None,
    provider: str | Sequence[str] | None = None,
    model: str | Sequence[str] | None = None,
    api_base: str | None = None,
    api_key: str | None = None,
    kind: str = "openai",
    runs: int | None = None,
    warmup: int | None = None,
    context_tiers: Sequence[int] | None = None,
    max_tokens: int | None = None,
    temperature: float | None = None,
    concurrency: int | None = None,
    rate: float | None = None,
    prompt: str | None = None,
    prompt_template: str | None = None,
    seed: int = 0,
    timeout: float | None = None,
    name: str | None = None,
    profile: Any = None,
    arrivals: str | None = None,
    workers: int | None = None,
) -> tuple[Any, dict[str, Any]]:
    """Resolve options (and the config, unless ad hoc) into a validated spec and a snapshot.

    ``config`` is a loaded ``Config``, a path, or None for the default search order.
    ``profile`` (a model profile's name) applies its parameters and system prompt to its
    model, which is benchmarked when no model is named.
    """
    from llmbench_jupyter.core import targets as targets_mod
    from llmbench_jupyter.core.workload import DEFAULT_PROMPT, BenchSpec

    models = _as_list(model)
    found = load_profile(profile)
    if found is not None and not models and not api_base:
        models = [found["target"]]
    loaded: Config | None = None
    if config is not None or not api_base:  # an ad hoc target alone needs no YAML/pydantic
        from llmbench_jupyter.core.config import Config, load_config

        loaded = config if isinstance(config, Config) else None
    if api_base:
        if models and len(models) > 1:
            raise LLMBenchError("--api-base takes exactly one --model")
        chosen = [targets_mod.adhoc(api_base, (models or [""])[0], api_key, kind, _label(provider))]
        if loaded is None and isinstance(config, str | os.PathLike):
            loaded = load_config(config)
        snapshot: dict[str, Any] = {"adhoc": True}
    else:
        from llmbench_jupyter.store import keys  # the key vault: configured providers only

        if loaded is None:
            loaded = load_config(config)
        chosen = targets_mod.from_config(
            loaded, _as_list(provider), models, stored_keys=keys.lookup
        )
        snapshot = loaded.snapshot()
    defaults = loaded.defaults if loaded is not None else None
    if prompt is None:
        if loaded is not None:
            prompt = loaded.prompt(prompt_template)
        elif prompt_template:
            raise LLMBenchError("--prompt-template needs a config file (--config)")
        else:
            prompt = DEFAULT_PROMPT

    def pick(value: Any, field: str, fallback: Any) -> Any:
        if value is not None:
            return value
        return getattr(defaults, field) if defaults is not None else fallback

    spec = BenchSpec(
        targets=apply_profile(chosen, found),
        runs=pick(runs, "runs", 3),
        warmup=pick(warmup, "warmup", 1),
        context_tiers=list(pick(context_tiers, "context_tiers", [0])),
        max_tokens=pick(max_tokens, "max_tokens", 256),
        temperature=pick(temperature, "temperature", 0.0),
        concurrency=pick(concurrency, "concurrency", 1),
        rate=rate,
        arrivals=arrivals or "poisson",
        prompt=prompt,
        seed=seed,
        timeout_s=pick(timeout, "timeout_s", 120.0),
        name=name,
        workers=workers,
    )
    spec.validate()
    return spec, snapshot


#: Option names accepted by :func:`build_bench_spec` (the CLI flags, underscored).
BENCH_OPTIONS = (
    "config",
    "provider",
    "model",
    "api_base",
    "api_key",
    "kind",
    "runs",
    "warmup",
    "context_tiers",
    "max_tokens",
    "temperature",
    "concurrency",
    "rate",
    "arrivals",
    "prompt",
    "prompt_template",
    "seed",
    "timeout",
    "name",
    "profile",
    "workers",
)


def resolve_suite(suite: Any) -> tuple[Any, str | None]:
    """A Suite from ``"example"``, a file path, a mapping or a Suite; plus default sim rules.

    The shipped example suite comes with the simulated endpoint's scripted answers, so a
    simulated model gives a realistic mix of right and wrong calls.
    """
    from llmbench_jupyter.evals.suites import EXAMPLES, example_files, load_suite

    if isinstance(suite, str) and suite in EXAMPLES:
        path, rules = example_files(suite)
        return load_suite(path), rules
    if suite is None:
        raise LLMBenchError("give a suite: 'example', a YAML/JSON file, a mapping or a Suite")
    return load_suite(suite), None


def build_eval_spec(
    *,
    suite: Any = "example",
    config: Any = None,
    provider: str | Sequence[str] | None = None,
    model: str | Sequence[str] | None = None,
    api_base: str | None = None,
    api_key: str | None = None,
    k: int = 1,
    mode: str = "default",
    concurrency: int = 4,
    timeout: float = 60.0,
    name: str | None = None,
    judge: Any = None,
    judge_threshold: float | None = None,
    sim_rules: str | None = None,
    mock_tools: dict[str, Any] | None = None,
    profile: Any = None,
) -> tuple[Any, dict[str, Any]]:
    """Resolve eval options (the CLI's ``eval`` flags, underscored) into a validated EvalSpec.

    ``judge`` names a configured model (``provider/model`` or a bare id) that grades answers.
    ``profile`` applies a model profile to its model (evaluated when no model is named).
    """
    from llmbench_jupyter.core import targets as targets_mod
    from llmbench_jupyter.core.config import Config, load_config
    from llmbench_jupyter.jobs.eval_work import EvalSpec
    from llmbench_jupyter.store import keys

    the_suite, default_rules = resolve_suite(suite)
    models = _as_list(model)
    chosen_profile = load_profile(profile)
    if chosen_profile is not None and not models and not api_base:
        models = [chosen_profile["target"]]
    loaded: Config | None = config if isinstance(config, Config) else None
    if api_base:
        if not models or len(models) != 1:
            raise LLMBenchError("--api-base takes exactly one --model")
        chosen = [targets_mod.adhoc(api_base, models[0], api_key, label=_label(provider))]
        snapshot: dict[str, Any] = {"adhoc": True}
    else:
        loaded = loaded or load_config(config)
        chosen = targets_mod.from_config(
            loaded, _as_list(provider), models, stored_keys=keys.lookup
        )
        snapshot = loaded.snapshot()
    judge_target = judge if not isinstance(judge, str | type(None)) else None
    if isinstance(judge, str) and judge:
        loaded = loaded or load_config(config if not api_base else None)
        judge_target = resolve_model(loaded, judge, "judge")
    spec = EvalSpec(
        suite=the_suite,
        targets=apply_profile(chosen, chosen_profile),
        k=k,
        mode=mode,
        concurrency=concurrency,
        timeout_s=timeout,
        name=name,
        judge=judge_target,
        judge_threshold=judge_threshold,
        mock_classes=dict(mock_tools or {}),
        sim_rules=sim_rules or default_rules,
    )
    spec.validate()
    return spec, snapshot


#: Option names accepted by :func:`build_eval_spec`.
EVAL_OPTIONS = (
    "suite",
    "config",
    "provider",
    "model",
    "api_base",
    "api_key",
    "k",
    "mode",
    "concurrency",
    "timeout",
    "name",
    "judge",
    "judge_threshold",
    "sim_rules",
    "mock_tools",
    "profile",
)


def _label(provider: str | Sequence[str] | None) -> str | None:
    """With ``api_base``, ``provider`` names the ad-hoc endpoint (one name)."""
    names = _as_list(provider)
    if not names:
        return None
    if len(names) > 1:
        raise LLMBenchError(
            f"with --api-base, --provider names the endpoint: give one name, got {names}"
        )
    return names[0]
