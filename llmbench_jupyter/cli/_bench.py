"""``llmbench bench``: run a benchmark through the job runner, print its summary, store it."""

from __future__ import annotations

import argparse
import asyncio
import json
from collections import Counter
from typing import Any

from llmbench_jupyter.cli._job import EXIT_ALL_FAILED, job_setup
from llmbench_jupyter.cli._tables import _fmt, _overhead_line, summary_table
from llmbench_jupyter.core.private_files import write_atomic
from llmbench_jupyter.core.records import RequestRecord
from llmbench_jupyter.jobs.flags import spec_from_args


def _verbose_line(r: RequestRecord) -> str:
    if r.status != "ok":
        return (
            f"  {r.provider}/{r.model} tier={r.context_tier} #{r.run_index}"
            f"{' warmup' if r.is_warmup else ''}: {r.error_category}: {r.error_message}"
        )
    return (
        f"  {r.provider}/{r.model} tier={r.context_tier} #{r.run_index}"
        f"{' warmup' if r.is_warmup else ''}: ttft={_fmt(r.ttft_ms)} ms "
        f"e2e={_fmt(r.e2e_ms)} ms out={r.output_tokens} ({r.output_tokens_source}) "
        f"decode={_fmt(r.decode_tps)} tok/s"
    )


def cmd_bench(args: argparse.Namespace) -> int:
    from llmbench_jupyter.jobs import JobManager

    spec, snapshot = spec_from_args(args)
    out, err, store, progress, show_progress = job_setup(args, "run")

    from llmbench_jupyter.jobs.selftest import resolve_mode

    selftest = resolve_mode(args.selftest, snapshot)

    async def run_job() -> Any:
        # the same job runner as notebooks: states and progress are persisted alike
        job = JobManager(store).submit(
            spec, save=not args.no_save, config_snapshot=snapshot, sim_url=args.sim_url,
            selftest=selftest,
        )  # fmt: skip
        printed = 0

        def on_progress(snap: dict[str, Any]) -> None:
            nonlocal printed
            show_progress(snap)
            if args.verbose:
                for record in job.records[printed:]:
                    progress.console.print(_verbose_line(record), markup=False, highlight=False)
                printed = len(job.records)

        job.subscribe(on_progress)
        return await job

    with progress:
        result = asyncio.run(run_job())
    for skip in result.skipped:
        err.print(
            f"skipped {skip['provider']}/{skip['model']} tier {skip['context_tier']}: "
            f"{skip['reason']}",
            markup=False,
            highlight=False,
        )
    if result.records:
        out.print(summary_table(result))
        tp = result.throughput()
        out.print(
            f"aggregate: {_fmt(tp.get('requests_per_s'), 2)} req/s, "
            f"{_fmt(tp.get('output_tps'))} output tok/s across streams",
            markup=False,
            highlight=False,
        )
        out.print(_overhead_line(result), markup=False, highlight=False)
    if args.output:
        rows = [r for r in result.records if args.include_warmup or not r.is_warmup]
        path = write_atomic(args.output, "".join(json.dumps(r.to_dict()) + "\n" for r in rows))
        err.print(f"wrote {len(rows)} records to {path}", markup=False, highlight=False)
    if result.run_id:
        out.print(
            f"stored run {result.run_id} in {store.url if store else ''}",
            markup=False,
            highlight=False,
        )
    for problem in result.store_errors:
        err.print(f"warning: a record could not be stored: {problem}", markup=False)
    if result.all_failed:
        err.print(f"error: all {result.error_count} measured requests failed", markup=False)
        for line in failure_causes(result.measured):
            err.print(f"  {line}", markup=False, highlight=False)
        return EXIT_ALL_FAILED
    return 0


def failure_causes(records: list[Any], limit: int = 3) -> list[str]:
    """``N × category: first message`` for the commonest causes of failed requests."""
    failed = [r for r in records if r.status != "ok"]
    counts = Counter(r.error_category or "unknown" for r in failed)
    first: dict[str, str] = {}
    for r in failed:
        first.setdefault(r.error_category or "unknown", r.error_message or "")
    return [f"{n} × {cat}: {first[cat][:200]}" for cat, n in counts.most_common(limit)]
