"""``llmbench results``: list, show, publish, audit and export stored runs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from llmbench_jupyter.cli._tables import _console, _overhead_line, eval_tables, summary_table


def cmd_results(args: argparse.Namespace) -> int:
    from rich.table import Table

    from llmbench_jupyter.store import open_store

    store = open_store(args.db)
    out = _console()
    if args.action == "list":
        runs = store.list_runs(limit=args.limit, all_owners=args.all_owners)
        table = Table(title=f"runs in {store.url}", title_justify="left")
        for col in ("run_id", "created_at", "owner", "name", "status", "requests", "errors"):
            table.add_column(col)
        for run in runs:
            table.add_row(
                run["run_id"],
                str(run["created_at"])[:19],
                run["owner"],
                run.get("name") or "",
                run["status"],
                str(run["n_requests"]),
                str(run["n_errors"]),
            )
        out.print(table)
        return 0
    if args.action == "audit":
        table = Table(title=f"audit log in {store.url}", title_justify="left")
        for col in ("created_at", "owner", "action", "target", "details"):
            table.add_column(col)
        for e in store.audit_log(all_owners=args.all_owners, limit=args.limit):
            table.add_row(
                str(e["created_at"])[:19],
                e["owner"],
                e["action"],
                e["target"] or "",
                json.dumps(e["details"] or {}, default=str)[:120],
            )
        out.print(table)
        return 0
    run = store.get_run(args.run_id)
    if args.action == "publish":
        store.publish(run["run_id"], published=not args.undo)
        state = "private again" if args.undo else "published: every hub user can read it"
        out.print(f"run {run['run_id']} is {state}", markup=False, highlight=False)
        return 0
    if run["kind"] == "eval" and args.action == "show":
        from llmbench_jupyter.analysis.eval_history import load_eval

        for table in eval_tables(load_eval(run["run_id"], store, owner=run["owner"])):
            out.print(table)
        return 0
    if run["kind"] == "eval":
        from llmbench_jupyter.analysis.eval_history import load_eval
        from llmbench_jupyter.analysis.eval_result import ROW_COLUMNS, case_row
        from llmbench_jupyter.store.export import write

        evald = load_eval(run["run_id"], store, owner=run["owner"])
        rows = [case_row(r, evald.run_id) for r in evald.runs]
        nested = ("score", "calls", "transcript", "final_state")
        n = write(rows, Path(args.output), args.format, ROW_COLUMNS, nested)
        out.print(f"wrote {n} case rows of eval run {run['run_id']} to {args.output} "
                  f"({args.format})", markup=False, highlight=False)  # fmt: skip
        return 0
    if args.action == "show":
        from llmbench_jupyter.analysis.bench_result import BenchResult

        records = store.records(run["run_id"])
        result = BenchResult(
            run_id=run["run_id"],
            spec=run["spec"],
            records=records,
            skipped=(run["spec"] or {}).get("plan", {}).get("skipped", []),
            overhead=run.get("overhead") or {},
            status=run["status"],
        )
        out.print(
            f"run {run['run_id']}  {run['status']}  {str(run['created_at'])[:19]}  "
            f"owner {run['owner']}  {run['n_requests']} requests, {run['n_errors']} errors",
            markup=False,
            highlight=False,
        )
        if records:
            out.print(summary_table(result))
            out.print(_overhead_line(result), markup=False, highlight=False)
        return 0
    n = store.export(run["run_id"], args.output, args.format, args.include_warmup)
    out.print(
        f"wrote {n} records of run {run['run_id']} to {args.output} ({args.format})",
        markup=False,
        highlight=False,
    )
    return 0
