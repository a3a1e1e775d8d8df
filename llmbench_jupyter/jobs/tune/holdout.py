"""The end of a search: the best trial against the baseline, on cases it never saw.

A search that picks the best of many trials on the same cases overfits them, so its
score there flatters it. The held-out cases were split off before the first trial; both
the baseline and the best parameters run on them once, and an exact McNemar test on the
paired verdicts says whether the best is better. "No significant improvement" is
reported whenever that is the truth, including when the best trial is the baseline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiohttp

from llmbench_jupyter.core.targets import Target
from llmbench_jupyter.evals.model import Case
from llmbench_jupyter.jobs.tune.budget import Meter
from llmbench_jupyter.jobs.tune.objectives import trial_metrics
from llmbench_jupyter.jobs.tune.spec import TuneSpec
from llmbench_jupyter.jobs.tune.trial import COMPLETE, run_trial
from llmbench_jupyter.stats import mcnemar

NOT_BETTER = "no significant improvement"
BETTER = "significant improvement"
WORSE = "significantly worse than the baseline"


def best_row(rows: Sequence[dict[str, Any]], spec: TuneSpec) -> dict[str, Any] | None:
    """The complete trial (baseline included) best on the first objective."""
    done = [r for r in rows if r["state"] == "complete" and r.get("values")]
    if not done:
        return None
    sign = 1.0 if spec.directions[0] == "maximize" else -1.0
    return max(done, key=lambda r: (sign * r["values"][0], -r["number"]))


async def held_out_test(book: Any, spec: TuneSpec, session: aiohttp.ClientSession,
                        target: Target, held: Sequence[Case],
                        meter: Meter) -> dict[str, Any]:  # fmt: skip
    """Run the baseline and the best trial's parameters on ``held``; the paired verdict."""
    best = best_row(book.rows, spec)
    out: dict[str, Any] = {"cases": [c.id for c in held], "objective": "pass_rate"}
    if best is None:
        return out | {"verdict": "not tested: no trial finished"}
    out["best_trial"] = best["number"]
    if best["number"] == 0:
        return out | {"verdict": f"{NOT_BETTER}: no trial beat the baseline on the search cases"}
    baseline = book.row(0)
    verdicts: dict[str, dict[str, bool]] = {}
    for label, row in (("baseline", baseline), ("best", best)):
        run = await run_trial(
            session, target, spec.suite, held, params=row["params"], system_prompt=row["prompt"],
            meter=meter, order_seed=spec.seed, concurrency=spec.concurrency,
            timeout_s=spec.timeout_s, mode=spec.mode, mock_classes=spec.mock_classes,
        )  # fmt: skip
        out[label] = trial_metrics(run.runs, meter.price)
        if run.state != COMPLETE:
            return out | {"verdict": f"not tested: {run.reason}"}
        verdicts[label] = {r.case_id: bool(r.score.passed) for r in run.runs}
    test = mcnemar(verdicts["baseline"], verdicts["best"])
    out["mcnemar"] = test
    if not test["significant"]:
        verdict = NOT_BETTER
    else:
        verdict = BETTER if test["b_only"] > test["a_only"] else WORSE
    return out | {"verdict": verdict}
