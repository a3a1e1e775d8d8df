"""Aggregation across cases: pass rates per category, micro and macro, with intervals.

Plus the suite-level counts and means (outcomes, error types, tool F1, argument
accuracy, hallucination, schema validity, abstention).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from llmbench_jupyter.core.errors import InputTypeError
from llmbench_jupyter.evals.scoring._results import ERROR_TYPES, OUTCOMES, CaseScore


@dataclass(slots=True)
class Rate:
    """A pass rate with its Wilson 95% interval. ``successes`` is None for macro averages.

    Pass rates over case attempts carry ``n_cases`` and ``n_eff``: the interval is
    clustered by case (``stats.clustered_proportion``), Wilson's at ``n_eff`` trials.
    """

    rate: float
    ci_low: float
    ci_high: float
    n: int
    successes: int | None = None
    n_cases: int | None = None
    n_eff: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "rate": self.rate,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "n": self.n,
            "successes": self.successes,
            "n_cases": self.n_cases,
            "n_eff": self.n_eff,
        }


@dataclass(slots=True)
class SuiteScore:
    """Aggregate of case scores. A category that did not run is None ("N/A"), never 0."""

    n_attempts: int  # case attempts scored (cases × k); ``micro.n_cases`` counts cases
    n_passed: int  # attempts that passed
    micro: Rate | None  # over all attempts
    macro: Rate | None  # mean of the categories that ran; n = number of those categories
    categories: dict[str, Rate | None]
    outcomes: dict[str, int]
    error_types: dict[str, int]
    mean_tool_f1: float | None
    mean_argument_accuracy: float | None
    hallucination_rate: float | None
    schema_validity: Rate | None
    abstention: Rate | None  # irrelevance cases answered with no call
    bfcl_differs: int = 0

    def to_dict(self) -> dict[str, Any]:
        def rate(r: Rate | None) -> dict[str, Any] | None:
            return None if r is None else r.to_dict()

        return {
            "n_attempts": self.n_attempts,
            "n_passed": self.n_passed,
            "micro": rate(self.micro),
            "macro": rate(self.macro),
            "categories": {k: rate(v) for k, v in self.categories.items()},
            "outcomes": dict(self.outcomes),
            "error_types": dict(self.error_types),
            "mean_tool_f1": self.mean_tool_f1,
            "mean_argument_accuracy": self.mean_argument_accuracy,
            "hallucination_rate": self.hallucination_rate,
            "schema_validity": rate(self.schema_validity),
            "abstention": rate(self.abstention),
            "bfcl_differs": self.bfcl_differs,
        }


def _rate(successes: int, n: int) -> Rate | None:
    from llmbench_jupyter.stats import proportion

    if n == 0:
        return None
    r = proportion(successes, n)
    return Rate(r["rate"], r["ci_low"], r["ci_high"], n, successes)


def _pass_rate(scores: list[CaseScore]) -> Rate | None:
    """Pass rate over case attempts, its interval clustered by case id."""
    from llmbench_jupyter.stats import clustered_proportion

    by_case: dict[str, list[bool]] = {}
    for s in scores:
        by_case.setdefault(s.case_id, []).append(s.passed)
    if not by_case:
        return None
    r = clustered_proportion(by_case)
    return Rate(r["rate"], r["ci_low"], r["ci_high"], r["n"], r["successes"],
                r["n_cases"], r["n_eff"])  # fmt: skip


def _mean(values: Iterable[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def score_suite(case_scores: Iterable[CaseScore], categories: Iterable[str] = ()) -> SuiteScore:
    """Pass rates per category, micro (all cases) and macro (mean of categories) with CIs.

    ``categories``: every category the suite has, so one that did not run shows as None.
    Each score is one observation: with repeats, every attempt counts in the rate, but
    the pass-rate intervals (micro, per category, and the macro's category weights) are
    clustered by case id, since attempts at one case are not independent (docs/scoring.md).
    """
    from llmbench_jupyter.stats import macro_average

    scores = list(case_scores)
    by_category: dict[str, list[CaseScore]] = {str(c): [] for c in categories}
    for s in scores:
        if not isinstance(s, CaseScore):
            raise InputTypeError(f"score_suite needs CaseScore objects, got {type(s).__name__}")
        by_category.setdefault(s.category, []).append(s)
    per_category = {name: _pass_rate(members) for name, members in by_category.items()}
    ran = [
        (r.successes or 0, r.n) if r.n_eff == r.n else (r.rate * (r.n_eff or r.n), r.n_eff or r.n)
        for r in per_category.values()
        if r is not None
    ]
    macro = None
    if ran:
        mean, low, high = macro_average(ran)
        macro = Rate(mean, low, high, len(ran), None)
    n_args = sum(s.n_arguments for s in scores)
    validity = [s.schema_valid for s in scores if s.schema_valid is not None]
    abstain = [s.abstention_correct for s in scores if s.abstention_correct is not None]
    outcomes = dict.fromkeys(OUTCOMES, 0)
    outcomes.update(Counter(s.outcome for s in scores))
    error_types = dict.fromkeys(ERROR_TYPES, 0)
    error_types.update(Counter(s.error_type for s in scores if s.error_type))
    return SuiteScore(
        n_attempts=len(scores),
        n_passed=sum(s.passed for s in scores),
        micro=_pass_rate(scores),
        macro=macro,
        categories=per_category,
        outcomes=outcomes,
        error_types=error_types,
        mean_tool_f1=_mean(s.tool_f1 for s in scores),
        mean_argument_accuracy=_mean(s.argument_accuracy for s in scores),
        hallucination_rate=sum(s.hallucinated_arguments for s in scores) / n_args
        if n_args
        else None,
        schema_validity=_rate(sum(validity), len(validity)),
        abstention=_rate(sum(abstain), len(abstain)),
        bfcl_differs=sum(1 for s in scores if s.bfcl_differs),
    )
