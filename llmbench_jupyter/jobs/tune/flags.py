"""The ``tune`` flags, shared by ``llmbench tune`` and ``%llmbench tune``.

With ``--proposer MODEL`` the search is over system prompts (``--method quick|evolve|
reflect``) and the parameters stay fixed; otherwise over ``--space``. With ``--workload``
each trial is a benchmark run (``--runs``, ``--context-tiers``, ``--max-tokens``,
``--rate``, ``--concurrency``) instead of a suite, for speed and cost objectives.

A search space on the command line is one ``--space NAME=SPEC`` per parameter:
``temperature=0..1`` (a range), ``top_p=0.5..1:0.1`` (a range with a step),
``max_tokens=256,512,1024`` (choices), ``temperature=default`` (what the model accepts);
or a whole YAML/JSON mapping in ``--space-file``. ``--baseline NAME=VALUE`` sets trial 0.
"""

from __future__ import annotations

import argparse
from typing import Any

from llmbench_jupyter.jobs.flags import (
    _int_list,
    _positive_float,
    _positive_int,
    add_profile_argument,
    stored_profile,
)
from llmbench_jupyter.jobs.tune.bench_objectives import BENCH_OBJECTIVES
from llmbench_jupyter.jobs.tune.objectives import OBJECTIVES
from llmbench_jupyter.jobs.tune.prompt_search import METHODS
from llmbench_jupyter.jobs.tune.search import SAMPLERS


def _scalar(text: str) -> Any:
    """``"0.5"`` -> 0.5, ``"256"`` -> 256, ``"true"`` -> True, anything else the text."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text.strip()


def _pair(text: str, what: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise argparse.ArgumentTypeError(f"found {text!r}, expected NAME={what}")
    return name.strip(), value.strip()


def space_flag(text: str) -> tuple[str, Any]:
    """``NAME=SPEC`` as (name, the space entry ``build_space`` reads)."""
    name, spec = _pair(text, "low..high[:step] or a,b,c or default")
    if spec == "default":
        return name, spec
    if ".." in spec:
        bounds, _, step = spec.partition(":")
        low, high = (_scalar(v) for v in bounds.split("..", 1))
        if not all(isinstance(v, int | float) for v in (low, high)):
            raise argparse.ArgumentTypeError(f"found {text!r}: a range needs two numbers")
        out: dict[str, Any] = {"low": low, "high": high}
        if step:
            out["step"] = _scalar(step)
        return name, out
    return name, [_scalar(v) for v in spec.split(",") if v.strip()]


def baseline_flag(text: str) -> tuple[str, Any]:
    name, value = _pair(text, "VALUE")
    return name, _scalar(value)


def add_tune_arguments(tp: argparse.ArgumentParser) -> None:
    """The ``tune`` flags, shared by the CLI and ``%llmbench tune``."""
    tp.add_argument(
        "--suite", default="tuning-example",
        help="suite file (YAML/JSON), 'example', or 'tuning-example' (default: answers that "
        "depend on temperature and top_p, a known optimum)",
    )  # fmt: skip
    tp.add_argument("--model", "-m", action="append", help="the model to tune (provider/model)")
    tp.add_argument("--provider", "-p", action="append", help="provider name")
    tp.add_argument("--config", help="config file")
    tp.add_argument("--api-base", help="ad-hoc OpenAI-compatible base URL")
    tp.add_argument("--api-key", help="API key for --api-base")
    tp.add_argument(
        "--space", action="append", type=space_flag, metavar="NAME=SPEC",
        help="a parameter to search: temperature=0..1, top_p=0.5..1:0.1, "
        "max_tokens=256,512,1024, seed=default (repeatable)",
    )  # fmt: skip
    tp.add_argument("--space-file", help="the search space as a YAML/JSON mapping")
    tp.add_argument(
        "--objective", action="append", choices=list({**OBJECTIVES, **BENCH_OBJECTIVES}),
        help="what to optimise (repeatable: several give a Pareto front; default pass_rate, "
        "or ttft_ms with --workload)",
    )  # fmt: skip
    tp.add_argument("--judge", help="the model that grades each case (for --objective judge_score)")
    tp.add_argument("--sampler", choices=SAMPLERS, default="tpe")
    tp.add_argument("--seed", type=int, default=0)
    tp.add_argument("--trials", type=_positive_int, help="trial budget (baseline included)")
    tp.add_argument("--requests", type=_positive_int, help="request budget")
    tp.add_argument("--dollars", type=_positive_float, help="dollar budget")
    tp.add_argument("--minutes", type=_positive_float, help="time budget")
    tp.add_argument("--holdout", type=float, default=0.3, help="held-out share (default 0.3)")
    tp.add_argument("--no-prune", action="store_true", help="run every trial to the end")
    tp.add_argument(
        "--baseline", action="append", type=baseline_flag, metavar="NAME=VALUE",
        help="a parameter of trial 0 (default: the model as configured)",
    )  # fmt: skip
    tp.add_argument("--system-prompt", help="system prompt sent with every case (a prompt "
                    "search: the baseline prompt)")  # fmt: skip
    prompts = tp.add_argument_group("prompt search (instead of --space)")
    prompts.add_argument("--proposer", help="the model that writes system prompts")
    prompts.add_argument("--method", choices=METHODS, default="quick")
    prompts.add_argument("--n-variants", type=_positive_int, default=4, help="quick: variants")
    prompts.add_argument("--population", type=_positive_int, default=6, help="evolve")
    prompts.add_argument("--generations", type=_positive_int, default=3, help="evolve")
    prompts.add_argument("--elite", type=_positive_int, default=2, help="evolve: kept as is")
    prompts.add_argument(
        "--crossover-rate", type=float, default=0.5,
        help="evolve: share of children made by crossover (the rest by mutation)",
    )  # fmt: skip
    prompts.add_argument("--iterations", type=_positive_int, default=4, help="reflect")
    bench = tp.add_argument_group("bench workload search (instead of --suite)")
    bench.add_argument("--workload", action="store_true",
                       help="each trial is a benchmark run of the workload below")  # fmt: skip
    bench.add_argument("--runs", type=_positive_int, help="measured requests per context tier")
    bench.add_argument("--warmup", type=int, help="warm-up requests per context tier")
    bench.add_argument("--context-tiers", type=_int_list, help="padding sizes, e.g. 0,4000")
    bench.add_argument("--max-tokens", type=_positive_int, help="output cap per request")
    bench.add_argument("--rate", type=_positive_float, help="open-loop arrivals per second")
    bench.add_argument("--prompt", help="the benchmark prompt")
    bench.add_argument("--no-confirm", action="store_true",
                       help="skip the final runs of the best against the baseline")  # fmt: skip
    tp.add_argument("--name", help="the search's name (needed to --resume it)")
    add_profile_argument(tp)
    tp.add_argument("--resume", action="store_true", help="continue the search of this --name")
    tp.add_argument(
        "--concurrency",
        "-c",
        type=_positive_int,
        help="cases (default 4), or a workload's streams, in flight at once",
    )
    tp.add_argument(
        "--timeout",
        type=_positive_float,
        help="seconds per request (default 60, a workload's as configured)",
    )
    tp.add_argument("--mode", choices=("default", "bfcl"), default="default")
    tp.add_argument("--sim-rules", help="rules file for the simulated endpoint")
    tp.add_argument("--db", help="store URL (default $LLMBENCH_DB_URL or the local SQLite file)")
    tp.add_argument("--no-save", action="store_true", help="do not store the search")


def tune_options(args: argparse.Namespace) -> dict[str, Any]:
    """The parsed flags as :func:`llmbench_jupyter.jobs.tune.build_tune_spec` arguments."""
    from llmbench_jupyter.core.errors import InputError

    space: dict[str, Any] = {}
    if args.space_file:
        from llmbench_jupyter.evals.suites import read_data_file

        loaded, origin = read_data_file(args.space_file, "--space-file")
        if not isinstance(loaded, dict):
            raise InputError(f"{origin}: expected a mapping of parameters, e.g. temperature: 0..1")
        space.update(loaded)
    space.update(dict(args.space or []))
    budget = {k: getattr(args, k) for k in ("trials", "requests", "dollars", "minutes")}
    if args.workload:
        return _workload_options(args, space, budget)
    shared = {
        "suite": args.suite, "model": args.model, "provider": args.provider,
        "config": args.config, "api_base": args.api_base, "api_key": args.api_key,
        "objectives": args.objective or ["pass_rate"], "seed": args.seed,
        "budget": {k: v for k, v in budget.items() if v is not None},
        "holdout": args.holdout, "prune": not args.no_prune,
        "baseline": dict(args.baseline or []), "system_prompt": args.system_prompt,
        "name": args.name, "resume": args.resume,
        "concurrency": 4 if args.concurrency is None else args.concurrency,
        "timeout": 60.0 if args.timeout is None else args.timeout, "mode": args.mode,
        "sim_rules": args.sim_rules,
        "profile": stored_profile(args), "judge": args.judge,
    }  # fmt: skip
    if not args.proposer:
        return shared | {"space": space or None, "sampler": args.sampler}
    if space:
        raise InputError("a prompt search (--proposer) keeps parameters fixed: drop --space")
    prompt_flags = ("proposer", "method", "n_variants", "population", "generations", "elite",
                    "crossover_rate", "iterations")  # fmt: skip
    return shared | {name: getattr(args, name) for name in prompt_flags}


#: Suite-search flags a workload search refuses (what they set does not exist there).
_SUITE_ONLY = {"proposer": "--proposer", "judge": "--judge", "system_prompt": "--system-prompt"}


def _workload_options(args: argparse.Namespace, space: dict[str, Any],
                      budget: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    """The flags of a search over a bench workload (``--workload``)."""
    from llmbench_jupyter.core.errors import InputError

    given = [flag for name, flag in _SUITE_ONLY.items() if getattr(args, name)]
    if given:
        raise InputError(f"--workload searches request parameters: drop {', '.join(given)}")
    names = ("runs", "warmup", "context_tiers", "max_tokens", "rate", "prompt",
             "concurrency", "timeout")  # fmt: skip
    workload = {n: getattr(args, n) for n in names if getattr(args, n) is not None}
    return {
        "suite": None, "model": args.model, "provider": args.provider, "config": args.config,
        "api_base": args.api_base, "api_key": args.api_key, "space": space or None,
        "objectives": args.objective or ["ttft_ms"], "sampler": args.sampler,
        "seed": args.seed, "budget": {k: v for k, v in budget.items() if v is not None},
        "prune": not args.no_prune, "baseline": dict(args.baseline or []), "name": args.name,
        "resume": args.resume, "sim_rules": args.sim_rules, "profile": stored_profile(args),
        "workload": workload, "confirm": not args.no_confirm,
    }  # fmt: skip
