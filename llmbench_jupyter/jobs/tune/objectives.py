"""What a tuner can optimise, each with one definition over a trial's case results.

Every objective has a per-case value (what the pruner compares case by case, and what
the paired held-out test uses) and a trial value (what the sampler is told):

- ``pass_rate`` (maximise): cases passed / cases run, with its Wilson 95% interval; a
  case that failed with an API error counts as not passed.
- ``latency_ms`` (minimise): the median of the cases' end-to-end latencies (all rounds).
- ``cost_usd`` (minimise): the mean cost of a case, from its ``usage`` tokens at the
  target's price; unknown when the target has no price.
- ``judge_score`` (maximise): the judge's mean score (1-10) over the cases it graded
  (``stats.judge_mean``: invalid and failed judge calls are left out, never scored 0).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llmbench_jupyter.core.errors import InputError
from llmbench_jupyter.core.pricing import Price
from llmbench_jupyter.stats import describe, judge_mean, wilson_interval

if TYPE_CHECKING:  # annotations only: the CLI's parser reads this module's names
    from llmbench_jupyter.evals.runner import CaseRun


@dataclass(frozen=True)
class Objective:
    name: str
    direction: str  # maximize | minimize
    doc: str
    #: The value of one case (a ``CaseRun``), or of one request (a ``RequestRecord``) for
    #: the objectives of a bench workload (``bench_objectives``).
    case_value: Callable[[Any, Price | None], float | None]


def _passed(run: CaseRun, price: Price | None) -> float:
    return 1.0 if run.score.passed else 0.0


def _latency(run: CaseRun, price: Price | None) -> float | None:
    return run.latency_ms


def _cost(run: CaseRun, price: Price | None) -> float | None:
    return None if price is None else price.cost(run.input_tokens, run.output_tokens)


def _judged(run: CaseRun, price: Price | None) -> float | None:
    return run.judge_score


OBJECTIVES: dict[str, Objective] = {
    o.name: o
    for o in (
        Objective("pass_rate", "maximize", "share of cases passed (Wilson 95% CI)", _passed),
        Objective("latency_ms", "minimize", "median end-to-end latency of a case", _latency),
        Objective("cost_usd", "minimize", "mean cost of a case in USD", _cost),
        Objective("judge_score", "maximize", "mean judge score of a case (1-10)", _judged),
    )
}


def objectives_of(
    given: str | Sequence[str], known: Mapping[str, Objective] = OBJECTIVES, what: str = "a suite"
) -> list[Objective]:
    """The named objectives, from those ``known`` for what is searched (``what``)."""
    names = [given] if isinstance(given, str) else list(given)
    if not names:
        raise InputError(f"objectives: name at least one of {', '.join(known)}")
    out = []
    for name in names:
        if name not in known:
            raise InputError(
                f"objectives: unknown {name!r} for a search over {what}; expected one or "
                f"more of {', '.join(known)}"
            )
        out.append(known[name])
    if len(set(names)) != len(names):
        raise InputError(f"objectives: {names} names one twice")
    return out


def trial_metrics(
    runs: Sequence[CaseRun],
    price: Price | None,
    judgements: Sequence[Mapping[str, Any]] = (),
    target: str = "",
) -> dict[str, Any]:
    """Every objective's trial value over ``runs`` (one per case), with the pass rate's
    interval and the counts behind them; ``judge_score`` from the ``judgements`` of
    ``target``'s cases, when a judge graded them."""
    n = len(runs)
    passed = sum(1 for r in runs if r.score.passed)
    out: dict[str, Any] = {
        "cases": n,
        "passed": passed,
        "api_errors": sum(1 for r in runs if r.error),
    }
    if n:
        low, high = wilson_interval(passed, n)
        out.update(pass_rate=passed / n, pass_rate_ci_low=low, pass_rate_ci_high=high)
    else:
        out.update(pass_rate=None, pass_rate_ci_low=None, pass_rate_ci_high=None)
    latencies = [r.latency_ms for r in runs if r.latency_ms is not None]
    out["latency_ms"] = describe(latencies, n_boot=200)["p50"] if latencies else None
    costs = [_cost(r, price) for r in runs]
    known = [c for c in costs if c is not None]
    out["cost_usd"] = sum(known) / len(known) if known and len(known) == n else None
    out["requests"] = sum(r.requests for r in runs)
    out["judge_score"] = judge_mean(judgements, target) if judgements else None
    out["judged"] = len(judgements)
    return out
