"""``llmbench sweep``: a load sweep or SLO search through the job runner notebooks use;
prints one row per step and the limit found (numbers from ``SweepResult``/``stats``)."""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from llmbench_jupyter.cli._job import EXIT_ALL_FAILED, job_setup
from llmbench_jupyter.cli._tables import _fmt
from llmbench_jupyter.core.private_files import write_atomic

_COLUMNS = (
    ("load", "load", 4), ("decision", "verdict", 0), ("requests", "requests", 0),
    ("errors", "errors", 0), ("ttft_ms_p50", "TTFT p50 ms", 1),
    ("ttft_ms_p99", "TTFT p99 ms", 1), ("tpot_ms_p99", "TPOT p99 ms", 1),
    ("throughput_rps", "req/s", 2), ("goodput_rps", "goodput req/s", 2),
)  # fmt: skip


def steps_table(result: Any) -> Any:
    """The steps, by offered load, as a rich table."""
    from rich.table import Table

    unit = "req/s" if result.mode == "rate" else "streams"
    what = "SLO search" if result.search else "sweep"
    shape = result.arrivals if result.mode == "rate" else "closed loop"
    table = Table(title=f"{result.target}: {what} ({unit}, {shape})")
    for _, head, _ in _COLUMNS:
        table.add_column(head, justify="left" if head == "verdict" else "right")
    for step in sorted(result.steps, key=lambda s: s["load"]):
        cells = []
        for key, _, digits in _COLUMNS:
            value = step.get(key)
            cells.append(f"{value:g}" if key == "load" else
                         _fmt(value, digits) if isinstance(value, float) else
                         str(value) if value is not None else "—")  # fmt: skip
        table.add_row(*cells)
    return table


def cmd_sweep(args: argparse.Namespace) -> int:
    from llmbench_jupyter.jobs import JobManager
    from llmbench_jupyter.jobs.sweep import build_sweep_spec
    from llmbench_jupyter.jobs.sweep_flags import sweep_options
    from llmbench_jupyter.jobs.sweep_work import SweepWork

    spec, snapshot = build_sweep_spec(**sweep_options(args))
    out, err, store, progress, show_progress = job_setup(args, "sweep")

    async def run_job() -> Any:
        work = SweepWork(spec, save=store is not None, config_snapshot=snapshot,
                         sim_url=args.sim_url)  # fmt: skip
        job = JobManager(store).submit(work)
        job.subscribe(show_progress)
        return await job, job.records

    with progress:
        result, records = asyncio.run(run_job())
    out.print(steps_table(result))
    out.print(result.verdict(), markup=False, highlight=False)
    if args.output:
        rows = [r for r in records if args.include_warmup or not r.is_warmup]
        path = write_atomic(args.output, "".join(json.dumps(r.to_dict()) + "\n" for r in rows))
        err.print(f"wrote {len(rows)} records to {path}", markup=False, highlight=False)
    if store is not None:
        out.print(f"stored sweep {result.sweep_id} ({sum(s['batches'] for s in result.steps)} "
                  f"runs) in {store.url}", markup=False, highlight=False)  # fmt: skip
    served = sum(s["requests"] - s["errors"] for s in result.steps)
    if not served:
        err.print("error: every measured request failed", markup=False)
        return EXIT_ALL_FAILED
    return 0
