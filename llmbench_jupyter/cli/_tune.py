"""``llmbench tune``: a parameter search through the job runner notebooks use."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from llmbench_jupyter.cli._job import EXIT_ALL_FAILED, job_setup


def cmd_tune(args: argparse.Namespace) -> int:
    """Search one model's request parameters on a suite; print the trials and the verdict."""
    from llmbench_jupyter.jobs import JobManager
    from llmbench_jupyter.jobs.tune import build_prompt_spec, build_tune_spec, work_for
    from llmbench_jupyter.jobs.tune.flags import tune_options

    options = tune_options(args)
    spec: Any
    suite, model, provider = options.pop("suite"), options.pop("model"), options.pop("provider")
    if "proposer" in options:
        spec = build_prompt_spec(suite, model, provider=provider, **options)
    else:
        spec, _snapshot = build_tune_spec(suite, model, provider=provider, **options)
    out, err, store, progress, show_progress = job_setup(args, "tune")

    async def run_job() -> Any:
        job = JobManager(store).submit(work_for(spec, save=store is not None))
        job.subscribe(show_progress)
        return await job

    with progress:
        result = asyncio.run(run_job())
    out.print(_trials_table(result))
    best = result.best
    if best is not None:
        shown = ", ".join(f"{k}={v}" for k, v in best["params"].items()) or "as configured"
        values = ", ".join(
            f"{o} {v:.4g}" for o, v in zip(result.objectives, best["values"], strict=False)
        )
        out.print(f"best: trial {best['number']} ({shown}): {values}", markup=False)
        if result.study.get("kind") == "prompt":
            out.print(f"best prompt: {best.get('prompt') or '(none)'}", markup=False)
    label = "confirmation" if result.holdout.get("kind") == "confirmation" else "held-out test"
    out.print(f"{label}: {_verdict(result.holdout)}", markup=False)
    err.print(f"stopped: {result.stop_reason}", markup=False)
    if result.study_id and store is not None:
        err.print(f"stored as search {result.study_id} ({result.name})", markup=False)
    if best is None:
        err.print("error: no trial finished", markup=False)
        return EXIT_ALL_FAILED
    return 0


def _verdict(holdout: dict[str, Any]) -> str:
    verdict = str(holdout.get("verdict") or "not tested: no held-out cases")
    test = holdout.get("mcnemar")
    if test:
        verdict += f" (McNemar p = {test['p_value']:.3g} over {test['cases']} held-out cases)"
    diff = holdout.get("compare") or {}
    if diff.get("diff_ci_low") is not None:
        verdict += (
            f" ({diff['metric']} median {diff['median_a']:.4g} -> {diff['median_b']:.4g}, "
            f"difference 95% CI [{diff['diff_ci_low']:.4g}, {diff['diff_ci_high']:.4g}] over "
            f"{diff['n_a']} + {diff['n_b']} fresh requests)"
        )
    return verdict


def _trials_table(result: Any) -> Any:
    from rich.table import Table

    df = result.trials_df()
    table = Table(title=f"{result.name}: {len(df)} trials ({result.status})")
    shown = [c for c in df.columns if c not in ("baseline", "cases", "passed", "error")]
    for column in shown:
        table.add_column(column, justify="left" if column == "state" else "right")
    for row in df.itertuples(index=False):
        cells = dict(zip(df.columns, row, strict=True))
        label = {"number": f"{cells['number']}{' (baseline)' if cells['baseline'] else ''}"}
        table.add_row(*(label.get(c) or _cell(cells[c]) for c in shown))
    return table


def _cell(value: Any) -> str:
    if value is None or value != value:  # None or NaN
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
