"""The notebook-facing API: ``bench()`` returns a running Job; results as DataFrames.

In a Jupyter kernel the job's widget is displayed at once (unless ``display=False``);
from plain Python the same call returns the same Job, to ``await`` or ``wait()``.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from llmbench_jupyter.jobs import Job, get_manager

if TYPE_CHECKING:
    from llmbench_jupyter.analysis.bench_result import BenchResult
    from llmbench_jupyter.analysis.eval_result import EvalResult
    from llmbench_jupyter.analysis.sweep_result import SweepResult
    from llmbench_jupyter.analysis.tune_result import TuneResult
    from llmbench_jupyter.core.targets import Target


def _stored_profile(options: dict[str, Any]) -> None:
    """A ``profile`` name is looked up in the store the jobs write to (yours)."""
    name = options.get("profile")
    store = get_manager().store
    if isinstance(name, str) and store is not None:
        from llmbench_jupyter.jobs.specs import load_profile

        options["profile"] = load_profile(name, store)


def _shown(job: Job[Any], display: bool | None) -> Job[Any]:
    """The job, with its widget displayed when asked (default: inside a kernel)."""
    if display if display is not None else in_kernel():
        from llmbench_jupyter.kernel.show import show_job

        show_job(job)
    return job


def in_kernel() -> bool:
    """True inside a running IPython kernel (checked without importing IPython)."""
    ipython = sys.modules.get("IPython")
    if ipython is None or "ipykernel" not in sys.modules:
        return False
    shell = ipython.get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def bench(
    provider: str | Sequence[str] | None = None,
    model: str | Sequence[str] | None = None,
    *,
    save: bool = True,
    sim_url: str | None = None,
    display: bool | None = None,
    selftest: Any = None,
    cluster: Any = None,
    **options: Any,
) -> Job[BenchResult]:
    """Start a benchmark job and return its handle immediately.

    Options are the CLI's ``bench`` flags with underscores (``runs``, ``warmup``,
    ``context_tiers``, ``max_tokens``, ``temperature``, ``concurrency``, ``rate``,
    ``prompt``, ``prompt_template``, ``seed``, ``timeout``, ``name``, ``config``,
    ``api_base``, ``api_key``, ``kind``, ``workers``: client processes sharing the load,
    default automatic). ``sim_url`` points simulated providers at an
    endpoint you started (``SimServer``); otherwise one is started for the job.
    ``experiment``: the name of an experiment of yours (made if new) the run joins when
    it ends. ``selftest``: True runs the timing self-test first and stores its bound with
    the run ("long": only before runs of 200+ requests; default: ``defaults.selftest``).
    ``cluster``: a ``distributed.Client``; the load is split across its workers (each
    phase's requests, streams and arrival schedule) and the records come back here.
    """
    from llmbench_jupyter.core.errors import LLMBenchError
    from llmbench_jupyter.jobs.selftest import resolve_mode
    from llmbench_jupyter.jobs.specs import BENCH_OPTIONS, build_bench_spec

    unknown = sorted(set(options) - {*BENCH_OPTIONS, "experiment"})
    if unknown:
        raise LLMBenchError(
            f"bench(): unknown option(s) {', '.join(unknown)}; expected "
            f"{', '.join(o for o in BENCH_OPTIONS if o not in ('provider', 'model'))}"
        )
    _stored_profile(options)
    experiment = options.pop("experiment", None)
    spec, snapshot = build_bench_spec(provider=provider, model=model, **options)
    store = _experiment_store(experiment, save)
    manager, mode = get_manager(), resolve_mode(selftest, snapshot)
    if cluster is None:
        job = manager.submit(spec, save=save, config_snapshot=snapshot, sim_url=sim_url,
                             selftest=mode)  # fmt: skip
    else:
        from llmbench_jupyter.jobs.bench_work import BenchWork

        spec.validate()
        work = BenchWork(spec, save=save and manager.store is not None,
                         config_snapshot=snapshot, sim_url=sim_url, selftest=mode,
                         cluster=cluster)  # fmt: skip
        job = manager.submit(work)
    _join_experiment(job, experiment, store)
    return _shown(job, display)


def selftest(
    provider: str | Sequence[str] | None = None,
    model: str | Sequence[str] | None = None,
    *,
    sim_url: str | None = None,
    **options: Any,
) -> Any:
    """Measure this machine's timing error now: a ``SelftestReport`` (a few seconds).

    Shaped like the benchmark you are about to run: name its ``provider``/``model`` (and
    ``config``) to copy its streams and its simulated model's chunking; or set
    ``concurrency``, ``workers``, ``tokens_per_chunk``, ``itl_ms``, ``ttft_ms``,
    ``reasoning``, ``seconds``, ``limit_ms`` (error p99 above which the machine is too
    loaded). Inside a running event loop (a notebook cell) it runs on a thread of its
    own and blocks the cell until done.
    """
    import asyncio
    import concurrent.futures

    from llmbench_jupyter.core.errors import LLMBenchError
    from llmbench_jupyter.jobs.selftest import SelftestSpec, run_selftest

    fields = set(SelftestSpec.__dataclass_fields__)
    unknown = sorted(set(options) - fields - {"config"})
    if unknown:
        raise LLMBenchError(
            f"selftest(): unknown option(s) {', '.join(unknown)}; expected provider, model, "
            f"config, sim_url, {', '.join(sorted(fields))}"
        )
    config = options.pop("config", None)
    if provider is not None or model is not None:
        from llmbench_jupyter.jobs.specs import build_bench_spec

        bench_spec, _ = build_bench_spec(config=config, provider=provider, model=model)
        spec = SelftestSpec.for_bench(bench_spec, **options)
    else:
        spec = SelftestSpec(**options)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return run_selftest(spec, sim_url=sim_url)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(run_selftest, spec, sim_url=sim_url).result()


def _experiment_store(experiment: str | None, save: bool) -> Any:
    """The store an ``experiment=`` run joins (the experiment made now if new), or None."""
    if experiment is None:
        return None
    from llmbench_jupyter.core.errors import LLMBenchError

    store = get_manager().store
    if store is None or not save:
        raise LLMBenchError("experiment= needs a stored run: no store, or save=False")
    store.create_experiment(experiment, exist_ok=True)  # a bad name fails before any request
    return store


def _join_experiment(job: Any, experiment: str | None, store: Any) -> None:
    """Add the job's run to ``experiment`` when it ends with one."""
    if experiment is None:
        return
    from llmbench_jupyter.core.errors import LLMBenchError

    def join(result: Any) -> None:  # before `await job` returns: the run is in it then
        run_id, study_id = getattr(result, "run_id", None), getattr(result, "study_id", None)
        try:
            if run_id:
                store.add_experiment_runs(experiment, [run_id])
            elif study_id:
                store.add_experiment_studies(experiment, [study_id])
        except Exception as exc:  # the run is stored either way: say why not grouped
            raise LLMBenchError(f"{run_id or study_id} not added to experiment "
                                f"{experiment!r}: {exc}") from None  # fmt: skip

    job.before_delivery(join)


def evaluate(
    suite: Any = "example",
    models: str | Sequence[str] | None = None,
    *,
    provider: str | Sequence[str] | None = None,
    save: bool = True,
    sim_url: str | None = None,
    display: bool | None = None,
    cluster: Any = None,
    **options: Any,
) -> Job[EvalResult]:
    """Start a tool-calling eval job and return its handle immediately.

    ``suite``: ``"example"`` (the shipped suite, answered by scripted simulated models), a
    YAML/JSON file, a mapping or a ``Suite``. ``models``: model ids or ``provider/model``
    (default: every ``local-sim`` model). Options are the CLI's ``eval`` flags with
    underscores: ``k``, ``mode`` (``default`` or ``bfcl``), ``concurrency``, ``timeout``,
    ``name``, ``judge`` (a configured model that grades answers), ``judge_threshold``
    (judge only cases scoring below it), ``sim_rules``, ``mock_tools`` (``{name: class}``
    for stateful mock tools), ``config``, ``api_base``, ``api_key``, ``experiment`` (as
    in :func:`bench`). ``cluster``: a ``distributed.Client``; the cases are dealt out to
    its workers and every case run comes back here. The job's result is an ``EvalResult``.
    """
    from llmbench_jupyter.core.errors import LLMBenchError
    from llmbench_jupyter.jobs.eval_work import EvalWork
    from llmbench_jupyter.jobs.specs import EVAL_OPTIONS, build_eval_spec

    unknown = sorted(set(options) - {*EVAL_OPTIONS, "experiment"})
    if unknown:
        raise LLMBenchError(
            f"evaluate(): unknown option(s) {', '.join(unknown)}; expected "
            f"{', '.join(o for o in EVAL_OPTIONS if o not in ('suite', 'provider', 'model'))}"
        )
    _stored_profile(options)
    experiment = options.pop("experiment", None)
    spec, snapshot = build_eval_spec(suite=suite, model=models, provider=provider, **options)
    manager = get_manager()
    store = _experiment_store(experiment, save)
    work = EvalWork(
        spec,
        save=save and manager.store is not None,
        config_snapshot=snapshot,
        sim_url=sim_url,
        cluster=cluster,
    )
    job = manager.submit(work)
    _join_experiment(job, experiment, store)
    return _shown(job, display)


def tune(
    suite: Any = "example",
    model: str | Sequence[str] | None = None,
    *,
    space: dict[str, Any] | None = None,
    provider: str | Sequence[str] | None = None,
    save: bool = True,
    sim_url: str | None = None,
    display: bool | None = None,
    **options: Any,
) -> Job[TuneResult]:
    """Start a parameter search for one model over an eval suite, or with ``workload=``
    over a benchmark; returns the running Job.

    ``space``: ``{parameter: (low, high) | [choices] | {"low", "high", "step", "log"}}``
    in canonical names (``temperature``, ``top_p``, ``top_k``, ``max_tokens``,
    ``tool_choice``, ``parallel_tool_calls``, ``reasoning_effort``, ``seed``; provider
    extras as ``"extra.<name>"``), checked against what the model accepts. Options:
    ``objectives`` (``pass_rate``, ``latency_ms``, ``cost_usd``, ``judge_score`` with
    ``judge=`` a model that grades each case; several give a Pareto front), ``sampler``
    (``tpe``, ``random``, ``grid``, ``nsga2``), ``seed``, ``budget``
    (``{"trials", "requests", "dollars", "minutes"}``, never exceeded), ``holdout``
    (share of cases kept for the final paired test, default 0.3), ``prune``,
    ``baseline`` (parameters of trial 0; default: as configured), ``system_prompt``,
    ``name`` and ``resume=True`` (continue the search of that name), ``profile`` (a model
    profile: the baseline to beat), plus the eval's ``concurrency``, ``timeout``,
    ``mode``, ``sim_rules``, ``config``, ``api_base``, ``api_key``. ``experiment``: an
    experiment of yours (made if new) the search joins when it ends. The job's result is a
    ``TuneResult``.
    """
    from llmbench_jupyter.jobs.tune import build_tune_spec

    _stored_profile(options)
    experiment = options.pop("experiment", None)
    spec, _snapshot = build_tune_spec(suite, model, provider=provider, space=space, **options)
    return _submit_search(spec, save, sim_url, display, experiment)


def tune_prompts(
    suite: Any = "tuning-example",
    model: str | Sequence[str] | None = None,
    *,
    proposer: Any = None,
    method: str = "quick",
    provider: str | Sequence[str] | None = None,
    save: bool = True,
    sim_url: str | None = None,
    display: bool | None = None,
    **options: Any,
) -> Job[TuneResult]:
    """Start a system-prompt search for one model; returns the running Job.

    ``proposer``: the configured model that writes prompts. ``method``: ``quick``
    (``n_variants`` rewrites of the baseline prompt), ``evolve`` (``population``,
    ``generations``, ``elite`` kept unchanged, children by crossover of two whole parents
    or mutation, ``crossover_rate``) or ``reflect`` (``iterations``: the proposer sees the
    best prompt's failed cases and repairs it). ``system_prompt`` is the baseline prompt
    (trial 0; default: the model's configured one), ``baseline`` the request parameters
    every trial sends. Budgets, held-out test, ``name``/``resume`` and the eval options
    are those of :func:`tune`; the proposer's requests count against the budgets.
    """
    from llmbench_jupyter.jobs.tune import build_prompt_spec

    _stored_profile(options)
    experiment = options.pop("experiment", None)
    spec = build_prompt_spec(
        suite, model, proposer=proposer, method=method, provider=provider, **options
    )
    return _submit_search(spec, save, sim_url, display, experiment)


def _submit_search(spec: Any, save: bool, sim_url: str | None, display: bool | None,
                   experiment: str | None = None) -> Any:  # fmt: skip
    from llmbench_jupyter.jobs.tune import work_for

    manager = get_manager()
    store = _experiment_store(experiment, save)
    work = work_for(spec, save=save and manager.store is not None, sim_url=sim_url)
    job = manager.submit(work)
    _join_experiment(job, experiment, store)
    return _shown(job, display)


def sweep(
    provider: str | Sequence[str] | None = None,
    model: str | Sequence[str] | None = None,
    *,
    loads: Sequence[float] | str,
    mode: str = "rate",
    slo: Any = None,
    save: bool = True,
    sim_url: str | None = None,
    display: bool | None = None,
    **options: Any,
) -> Job[SweepResult]:
    """Run one model's workload at each offered load; returns the running Job.

    ``loads``: request rates (``mode="rate"``, open loop from the intended send) or
    concurrencies (``mode="concurrency"``), a list or text (``"10,20,40"``,
    ``"10:50:10"``). ``slo`` (``{"ttft_ms": 500, "tpot_ms": 50, "error_rate": 0.01}`` or
    ``"ttft_ms=500,..."``) decides each step and the limit. Options: ``requests`` per step
    (default ``runs``), ``max_requests`` (more batches while undecided), ``confidence``,
    ``name``, and the bench options (``arrivals``, ``max_tokens``, ``warmup`` per batch,
    ``config``, ``api_base``...). The result is a ``SweepResult`` (``.to_pandas()``,
    ``.plot()``: the knee chart); every step is a stored run (``lj.load_sweep(id)``).
    """
    return _submit_sweep(provider, model, save, sim_url, display,
                         dict(options, loads=loads, mode=mode, slo=slo))  # fmt: skip


def slo_search(
    provider: str | Sequence[str] | None = None,
    model: str | Sequence[str] | None = None,
    *,
    slo: Any,
    low: float,
    high: float | None = None,
    tolerance: float = 0.05,
    save: bool = True,
    sim_url: str | None = None,
    display: bool | None = None,
    **options: Any,
) -> Job[SweepResult]:
    """Find the highest request rate meeting ``slo`` by bisection; returns the running Job.

    Starts at ``low`` (which must pass) and ``high`` (doubling from ``low`` without one)
    and halves the bracket until ``high/low − 1 ≤ tolerance``. Each step is decided with
    ``confidence`` (default 0.95) by a binomial bound on the share of requests over each
    target: pass, fail, or undecided after ``max_requests`` (then treated as not passing).
    Default ``requests`` per batch: the fewest that can pass a p99 target (299 at 95 %).
    Other options as :func:`sweep`; the result's ``limit`` is the highest rate that passed.
    """
    return _submit_sweep(provider, model, save, sim_url, display,
                         dict(options, search=True, slo=slo, low=low, high=high,
                              tolerance=tolerance))  # fmt: skip


def _submit_sweep(provider: Any, model: Any, save: bool, sim_url: str | None,
                  display: bool | None, options: dict[str, Any]) -> Any:  # fmt: skip
    from llmbench_jupyter.jobs.sweep import build_sweep_spec
    from llmbench_jupyter.jobs.sweep_work import SweepWork

    _stored_profile(options)
    spec, snapshot = build_sweep_spec(provider=provider, model=model, **options)
    manager = get_manager()
    work = SweepWork(spec, save=save and manager.store is not None, config_snapshot=snapshot,
                     sim_url=sim_url)  # fmt: skip
    return _shown(manager.submit(work), display)


def target(model: str, *, config: Any = None, sim_url: str | None = None) -> Target:
    """One configured model as a Target (e.g. a judge): ``provider/model`` or a bare id.

    ``sim_url`` points a simulated model at an endpoint you started (``SimServer``).
    """
    from llmbench_jupyter.core import targets as targets_mod
    from llmbench_jupyter.core.config import load_config
    from llmbench_jupyter.core.errors import LLMBenchError
    from llmbench_jupyter.store import keys

    found = targets_mod.from_config(load_config(config), None, [model], stored_keys=keys.lookup)
    if len(found) != 1:
        raise LLMBenchError(
            f"{model!r} matches {len(found)} models ({', '.join(t.key for t in found)}); "
            "name one as provider/model"
        )
    chosen = found[0]
    return chosen.with_api_base(sim_url) if sim_url and chosen.simulated else chosen


def list_jobs() -> list[Job[Any]]:
    """Jobs started in this process, oldest first."""
    return get_manager().jobs()
