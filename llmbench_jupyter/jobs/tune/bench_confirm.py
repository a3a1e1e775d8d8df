"""The end of a workload search: is the best trial really faster than the baseline?

The best of many noisy trials is flattered by its luck, and it was measured at another
moment than the baseline, on a shared machine and a shared endpoint. So both run again,
fresh, interleaved as baseline, best, best, baseline (linear drift in the endpoint's
speed then weighs on both alike), each block half the workload's runs, and the pooled
requests are compared by ``stats.compare``: the median difference with a bootstrap 95%
interval. "No significant improvement" is reported whenever the interval holds zero,
and without a run when the best trial is the baseline itself.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any

from llmbench_jupyter.core.records import RequestRecord
from llmbench_jupyter.jobs.tune.bench_trial import BenchTrial
from llmbench_jupyter.jobs.tune.holdout import BETTER, NOT_BETTER, WORSE, best_row
from llmbench_jupyter.jobs.tune.trial import COMPLETE
from llmbench_jupyter.stats import compare

#: The blocks of the confirmation, in order.
ORDER = ("baseline", "best", "best", "baseline")


def block_runs(runs: int) -> int:
    """Runs per context tier in each confirmation block (each side gets two blocks)."""
    return max(1, math.ceil(runs / 2))


def confirmation_requests(spec: Any) -> int:
    """The most requests the confirmation sends (kept aside during the search)."""
    w = spec.workload
    return len(ORDER) * len(w.context_tiers) * (block_runs(w.runs) + w.warmup)


async def confirm_best(
    book: Any,
    spec: Any,
    run_block: Callable[[dict[str, Any], int, int], Awaitable[BenchTrial]],
) -> dict[str, Any]:
    """Run the blocks (``run_block(params, runs, seed)``) and give the verdict on the
    first objective."""
    objective = spec.chosen[0]
    out: dict[str, Any] = {"kind": "confirmation", "objective": objective.name,
                           "order": list(ORDER)}  # fmt: skip
    best = best_row(book.rows, spec)
    if best is None:
        return out | {"verdict": "not tested: no trial finished"}
    out["best_trial"] = best["number"]
    if best["number"] == 0:
        return out | {"verdict": f"{NOT_BETTER}: no trial beat the baseline in the search"}
    rows = {"baseline": book.row(0), "best": best}
    pooled: dict[str, list[RequestRecord]] = {"baseline": [], "best": []}
    runs = block_runs(spec.workload.runs)
    out["runs_per_block"] = runs
    for i, label in enumerate(ORDER):
        # a fresh seed per pair of blocks: new prompts, the same for both sides of a pair
        got = await run_block(rows[label]["params"], runs, spec.workload.seed + 1 + i // 2)
        pooled[label].extend(got.records)
        if got.state != COMPLETE:
            return out | {"verdict": f"not tested: {got.reason}"}
    field = objective.name
    test = compare(pooled["baseline"], pooled["best"], metric=field, seed=spec.seed)
    out["compare"] = test
    if not test["significant"]:
        verdict = NOT_BETTER
    else:
        lower_is_better = objective.direction == "minimize"
        improved = test["diff_ci_high"] < 0 if lower_is_better else test["diff_ci_low"] > 0
        verdict = BETTER if improved else WORSE
    return out | {"verdict": verdict}
