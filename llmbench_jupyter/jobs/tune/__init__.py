"""Parameter tuning as job work: a search over an eval suite, within budget, persisted.

``build_tune_spec`` resolves the user's options (the same model and suite options as an
eval) into a validated :class:`TuneSpec`; :class:`TuneWork` runs it as a background job.
See docs/tuning.md for what is searched and how the result is tested.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmbench_jupyter.core.errors import InputError
from llmbench_jupyter.jobs.tune.budget import Budget
from llmbench_jupyter.jobs.tune.objectives import OBJECTIVES
from llmbench_jupyter.jobs.tune.search import SAMPLERS
from llmbench_jupyter.jobs.tune.spec import TuneSpec
from llmbench_jupyter.jobs.tune.work import TuneWork

#: Options of :func:`build_tune_spec` besides the eval's model and suite options.
TUNE_OPTIONS = (
    "space", "objectives", "sampler", "seed", "budget", "holdout", "prune", "baseline",
    "system_prompt", "n_startup", "concurrency", "timeout", "mode", "name", "resume",
    "sim_rules", "mock_tools", "config", "api_base", "api_key", "profile", "judge",
)  # fmt: skip


def build_tune_spec(
    suite: Any = "example",
    model: str | Sequence[str] | None = None,
    *,
    provider: str | Sequence[str] | None = None,
    space: dict[str, Any] | None = None,
    config: Any = None,
    api_base: str | None = None,
    api_key: str | None = None,
    timeout: float = 60.0,
    sim_rules: str | None = None,
    mock_tools: dict[str, Any] | None = None,
    **options: Any,
) -> tuple[TuneSpec, dict[str, Any]]:
    """A validated TuneSpec for one model, and the config snapshot."""
    _check_options("tune", options, TUNE_OPTIONS)
    if space is None:
        raise InputError("tune: space= is required, e.g. {'temperature': (0.0, 1.0)}")
    evaluated, snapshot = _one_model(
        "tune", options, suite=suite, model=model, provider=provider, config=config,
        api_base=api_base, api_key=api_key, timeout=timeout, sim_rules=sim_rules,
        mock_tools=mock_tools,
    )  # fmt: skip
    spec = TuneSpec(space=dict(space), **_from_eval(evaluated, timeout), **options)
    spec.validate()
    return spec, snapshot


def _check_options(what: str, options: dict[str, Any], allowed: Sequence[str]) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise InputError(f"{what}: unknown option(s) {unknown}; expected {', '.join(allowed)}")


def _one_model(what: str, options: dict[str, Any], **eval_options: Any) -> tuple[Any, Any]:
    """The eval spec of the one model a search tunes (its suite, target, judge, profile);
    takes ``judge`` and ``profile`` out of ``options``."""
    from llmbench_jupyter.jobs.specs import build_eval_spec

    evaluated, snapshot = build_eval_spec(
        judge=options.pop("judge", None), profile=options.pop("profile", None),
        concurrency=options.get("concurrency", 4), **eval_options,
    )  # fmt: skip
    if len(evaluated.targets) != 1:
        keys = ", ".join(t.key for t in evaluated.targets)
        raise InputError(
            f"{what}: a search tunes one model; {len(evaluated.targets)} match ({keys}): "
            "name one (model=..., --model)"
        )
    return evaluated, snapshot


def _from_eval(evaluated: Any, timeout: float) -> dict[str, Any]:
    """The TuneSpec fields an eval spec settles."""
    return {
        "suite": evaluated.suite, "target": evaluated.targets[0], "judge": evaluated.judge,
        "timeout_s": timeout, "sim_rules": evaluated.sim_rules,
        "mock_classes": evaluated.mock_classes,
    }  # fmt: skip


#: Options of :func:`build_prompt_spec` besides the eval's model and suite options.
PROMPT_OPTIONS = (
    "method", "n_variants", "population", "generations", "elite", "crossover_rate",
    "iterations", "system_prompt", "baseline", "objectives", "seed", "budget", "holdout",
    "prune", "concurrency", "timeout", "mode", "name", "resume", "sim_rules", "mock_tools",
    "config", "api_base", "api_key", "profile", "judge",
)  # fmt: skip


def build_prompt_spec(
    suite: Any = "tuning-example",
    model: str | Sequence[str] | None = None,
    *,
    proposer: Any = None,
    provider: str | Sequence[str] | None = None,
    method: str = "quick",
    n_variants: int = 4,
    population: int = 6,
    generations: int = 3,
    elite: int = 2,
    crossover_rate: float = 0.5,
    iterations: int = 4,
    config: Any = None,
    api_base: str | None = None,
    api_key: str | None = None,
    timeout: float = 60.0,
    sim_rules: str | None = None,
    mock_tools: dict[str, Any] | None = None,
    **options: Any,
) -> TuneSpec:
    """A validated prompt search: ``proposer`` (a configured model, provider/model) writes
    system prompts for ``model`` by ``method`` (quick, evolve, reflect)."""
    from llmbench_jupyter.jobs.tune.prompt_search import PromptMethod

    _check_options("tune_prompts", options, PROMPT_OPTIONS)
    if proposer is None:
        raise InputError("tune_prompts: proposer= names the model that writes the prompts")
    evaluated, _snapshot = _one_model(
        "tune_prompts", options, suite=suite, model=model, provider=provider, config=config,
        api_base=api_base, api_key=api_key, timeout=timeout, sim_rules=sim_rules,
        mock_tools=mock_tools,
    )  # fmt: skip
    chosen = PromptMethod(method, n_variants, population, generations, elite, crossover_rate,
                          iterations)  # fmt: skip
    spec = TuneSpec(
        space={}, kind="prompt", method=chosen, proposer=_proposer(proposer, config),
        **_from_eval(evaluated, timeout), **options,
    )  # fmt: skip
    spec.validate()
    return spec


def _proposer(proposer: Any, config: Any) -> Any:
    """The proposer as a Target: one already built, or a configured model by name."""
    from llmbench_jupyter.core.config import Config, load_config
    from llmbench_jupyter.jobs.specs import resolve_model

    if not isinstance(proposer, str):
        return proposer
    loaded = config if isinstance(config, Config) else load_config(config)
    return resolve_model(loaded, proposer, "proposer")


__all__ = [
    "OBJECTIVES",
    "PROMPT_OPTIONS",
    "SAMPLERS",
    "TUNE_OPTIONS",
    "Budget",
    "TuneSpec",
    "TuneWork",
    "build_prompt_spec",
    "build_tune_spec",
]
