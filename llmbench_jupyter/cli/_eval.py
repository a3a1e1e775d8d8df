"""``llmbench eval`` and ``llmbench eval-compare``: score a tool-calling suite, compare runs."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from typing import Any

from llmbench_jupyter.analysis.display import fmt_pct, fmt_rate_ci
from llmbench_jupyter.cli._job import EXIT_ALL_FAILED, job_setup
from llmbench_jupyter.cli._tables import _console, eval_tables
from llmbench_jupyter.core.private_files import write_atomic
from llmbench_jupyter.jobs.flags import eval_options


def cmd_eval(args: argparse.Namespace) -> int:
    """Score a tool-calling suite through the job runner notebooks use; store it."""
    from llmbench_jupyter.analysis.eval_result import case_row
    from llmbench_jupyter.jobs import JobManager
    from llmbench_jupyter.jobs.eval_work import EvalWork
    from llmbench_jupyter.jobs.specs import build_eval_spec

    spec, snapshot = build_eval_spec(**eval_options(args))
    out, err, store, progress, show_progress = job_setup(args, "eval")

    async def run_job() -> Any:
        work = EvalWork(spec, save=store is not None, config_snapshot=snapshot)
        job = JobManager(store).submit(work)
        job.subscribe(show_progress)
        return await job

    with progress:
        result = asyncio.run(run_job())
    for table in eval_tables(result):
        out.print(table)
    if args.report and spec.judge is not None:
        with contextlib.ExitStack() as stack:
            judge = spec.judge
            if judge.simulated:  # the job's simulated endpoint stopped with the job
                from llmbench_jupyter.sim.process import sim_process

                judge = judge.with_api_base(stack.enter_context(sim_process(rules=spec.sim_rules)))
            for target in result.targets:
                report = asyncio.run(result.judge_report(judge, target, save=store is not None))
                out.print(_report_text(target, report), markup=False, highlight=False)
    if result.run_id:
        err.print(f"stored as eval run {result.run_id}", markup=False)
    if args.output:
        rows = [json.dumps(case_row(run, result.run_id), default=str) for run in result.runs]
        write_atomic(args.output, "".join(row + "\n" for row in rows))
        err.print(f"wrote {len(result.runs)} case records to {args.output}", markup=False)
    n_err = sum(1 for r in result.runs if r.error)
    if result.runs and n_err == len(result.runs):
        err.print(
            f"error: all {len(result.runs)} case attempts failed to get a response", markup=False
        )
        return EXIT_ALL_FAILED
    return 0


def _report_text(target: str, report: dict[str, Any]) -> str:
    if report.get("status") != "ok":
        return f"judge report for {target}: {report.get('status')} ({report.get('error')})"
    p = report["parsed"]
    lines = [f"judge report for {target}: grade {p['grade']}", f"  {p.get('summary', '')}"]
    for key in ("strengths", "weaknesses", "recommendations"):
        lines.append(f"  {key}:")
        lines += [f"    - {item}" for item in p.get(key) or []]
    return "\n".join(lines)


def cmd_eval_compare(args: argparse.Namespace) -> int:
    """Paired McNemar test of two stored eval runs; optionally a pairwise judge."""
    from rich.table import Table

    from llmbench_jupyter.analysis.eval_history import load_eval
    from llmbench_jupyter.store import open_store

    store = open_store(args.db)
    a, b = load_eval(args.run_a, store), load_eval(args.run_b, store)
    res = a.compare(b, target=args.target_a, other_target=args.target_b)
    out = _console()
    table = Table(title="paired comparison (exact McNemar) on cases both runs attempted")
    for col in ("run", "target", "pass rate", "passed only here"):
        table.add_column(col)
    table.add_row(a.run_id[:8] if a.run_id else "-", res["a"], fmt_pct(res["a_pass_rate"]),
                  str(res["a_only"]))  # fmt: skip
    table.add_row(b.run_id[:8] if b.run_id else "-", res["b"], fmt_pct(res["b_pass_rate"]),
                  str(res["b_only"]))  # fmt: skip
    out.print(table)
    out.print(
        f"{res['cases']} paired cases, p = {res['p_value']:.3g}: {res['verdict']}"
        + ("" if res["significant"] else " (the difference could be chance)"),
        markup=False,
    )
    if args.judge:
        from llmbench_jupyter.jobs.specs import build_eval_spec

        spec, _ = build_eval_spec(suite=a.suite, config=args.config, judge=args.judge,
                                  model=[a.targets[0]])  # fmt: skip
        assert spec.judge is not None
        with contextlib.ExitStack() as stack:
            judge = spec.judge
            if judge.simulated:
                from llmbench_jupyter.sim.process import sim_process

                judge = judge.with_api_base(stack.enter_context(sim_process(rules=args.sim_rules)))
            report = asyncio.run(a.judge_pairwise(b, judge))
        s = report.summary
        pc = s["position_consistency"]
        consistency = fmt_rate_ci(*((pc or {}).get(k) for k in ("rate", "ci_low", "ci_high")))
        out.print(
            f"pairwise judge {judge.key}: first wins {s['first_wins']}, second wins "
            f"{s['second_wins']}, ties {s['ties']}, invalid {s['invalid']}; position "
            f"consistency {consistency}",
            markup=False,
        )
    return 0
