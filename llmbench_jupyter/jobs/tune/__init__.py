"""Parameter tuning as job work: a search over an eval suite or a bench workload, within
budget, persisted.

``build_tune_spec`` resolves the user's options (the same model and suite options as an
eval, or with ``workload=`` a benchmark's) into a validated :class:`TuneSpec` or
:class:`BenchTuneSpec`; :func:`work_for` wraps either as a background job's work.
See docs/tuning.md for what is searched and how the result is tested.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llmbench_jupyter.core.errors import InputError
from llmbench_jupyter.jobs.tune.bench_objectives import BENCH_OBJECTIVES
from llmbench_jupyter.jobs.tune.bench_spec import BenchTuneSpec
from llmbench_jupyter.jobs.tune.bench_work import BenchTuneWork
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
    timeout: float | None = None,
    sim_rules: str | None = None,
    mock_tools: dict[str, Any] | None = None,
    workload: Any = None,
    **options: Any,
) -> tuple[TuneSpec | BenchTuneSpec, dict[str, Any]]:
    """A validated TuneSpec for one model, and the config snapshot; with ``workload`` (a
    dict of benchmark options, or True for the configured defaults) a BenchTuneSpec."""
    if space is None:
        raise InputError("tune: space= is required, e.g. {'temperature': (0.0, 1.0)}")
    if workload is not None and workload is not False:
        if suite not in ("example", None):
            raise InputError("tune: give a suite or a workload=, not both")
        return _bench_tune_spec(
            workload, model, provider=provider, space=space, config=config, api_base=api_base,
            api_key=api_key, sim_rules=sim_rules, timeout=timeout, **options,
        )  # fmt: skip
    _check_options("tune", options, TUNE_OPTIONS)
    timeout = 60.0 if timeout is None else timeout
    evaluated, snapshot = _one_model(
        "tune", options, suite=suite, model=model, provider=provider, config=config,
        api_base=api_base, api_key=api_key, timeout=timeout, sim_rules=sim_rules,
        mock_tools=mock_tools,
    )  # fmt: skip
    spec = TuneSpec(space=dict(space), **_from_eval(evaluated, timeout), **options)
    spec.validate()
    return spec, snapshot


#: Options of a search over a bench workload, besides the model options.
WORKLOAD_TUNE_OPTIONS = (
    "space", "objectives", "sampler", "seed", "budget", "prune", "baseline", "n_startup",
    "name", "resume", "sim_rules", "config", "api_base", "api_key", "profile", "confirm",
)  # fmt: skip
#: Keys of ``workload=``: the benchmark's own options.
WORKLOAD_KEYS = ("runs", "warmup", "context_tiers", "max_tokens", "temperature", "concurrency",
                 "rate", "prompt", "prompt_template", "timeout")  # fmt: skip


def _bench_tune_spec(
    workload: Any, model: Any, *, provider: Any, space: dict[str, Any], config: Any,
    api_base: str | None, api_key: str | None, sim_rules: str | None, timeout: float | None,
    **options: Any,
) -> tuple[BenchTuneSpec, dict[str, Any]]:  # fmt: skip
    from llmbench_jupyter.jobs.specs import build_bench_spec

    _check_options("tune (workload)", options, WORKLOAD_TUNE_OPTIONS)
    given = {} if workload is True else workload
    if not isinstance(given, dict):
        raise InputError(
            f"tune: workload= must be a dict of benchmark options ({', '.join(WORKLOAD_KEYS)}) "
            f"or True for the configured defaults, got {workload!r}"
        )
    _check_options("tune: workload", given, WORKLOAD_KEYS)
    if timeout is not None:
        if "timeout" in given:
            raise InputError("tune: give the timeout once (timeout= or workload['timeout'])")
        given = {**given, "timeout": timeout}
    bench, snapshot = build_bench_spec(
        config=config, provider=provider, model=model, api_base=api_base, api_key=api_key,
        profile=options.pop("profile", None), seed=options.get("seed", 0), **given,
    )  # fmt: skip
    _require_one("tune", bench.targets)
    spec = BenchTuneSpec(workload=bench, target=bench.targets[0], space=dict(space),
                         sim_rules=sim_rules, **options)  # fmt: skip
    spec.validate()
    return spec, snapshot


def work_for(spec: TuneSpec | BenchTuneSpec, *, save: bool = True,
             sim_url: str | None = None) -> TuneWork:  # fmt: skip
    """The job work that runs ``spec``."""
    if isinstance(spec, BenchTuneSpec):
        return BenchTuneWork(spec, save=save, sim_url=sim_url)
    return TuneWork(spec, save=save, sim_url=sim_url)


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
    _require_one(what, evaluated.targets)
    return evaluated, snapshot


def _require_one(what: str, targets: Sequence[Any]) -> None:
    if len(targets) != 1:
        keys = ", ".join(t.key for t in targets)
        raise InputError(
            f"{what}: a search tunes one model; {len(targets)} match ({keys}): "
            "name one (model=..., --model)"
        )


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
    "BENCH_OBJECTIVES",
    "OBJECTIVES",
    "PROMPT_OPTIONS",
    "SAMPLERS",
    "TUNE_OPTIONS",
    "WORKLOAD_KEYS",
    "WORKLOAD_TUNE_OPTIONS",
    "BenchTuneSpec",
    "BenchTuneWork",
    "Budget",
    "TuneSpec",
    "TuneWork",
    "build_prompt_spec",
    "build_tune_spec",
    "work_for",
]
