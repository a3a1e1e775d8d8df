"""``llmbench results``: list, show, publish, audit and export stored runs."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from llmbench_jupyter.cli._tables import _console, _overhead_line, eval_tables, summary_table


def _count(row: dict[str, Any], col: str) -> str:
    """A count cell; "—" where the field does not apply (requests of an eval run)."""
    import pandas as pd

    value = row.get(col)
    return "—" if value is None or pd.isna(value) else str(int(value))


def _cell(value: object) -> str:
    if value is None or value != value:  # None or NaN
        return ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def cmd_results(args: argparse.Namespace) -> int:
    from rich.table import Table

    from llmbench_jupyter.store import open_store

    store = open_store(args.db)
    out = _console()
    if args.action == "list":
        from llmbench_jupyter.analysis.results import history

        # the same columns and meanings as lj.history(): requests and errors are measured
        # requests, warm-ups counted apart; an eval run counts case attempts
        df = history(args.limit, all_owners=args.all_owners, store=store, full=True)
        table = Table(title=f"runs in {store.url}", title_justify="left")
        cols = ("run_id", "created_at", "kind", "owner", "name", "status", "requests", "errors",
                "warmup_requests", "attempts")  # fmt: skip
        for col in cols:
            table.add_column(col, justify="right" if col in cols[6:] else "left")
        for row in df.to_dict("records"):
            table.add_row(
                row["run_id"],
                str(row["created_at"])[:19],
                row["kind"],
                row["owner"],
                row["name"] if isinstance(row.get("name"), str) else "",
                row["status"],
                *(_count(row, col) for col in cols[6:]),
            )
        out.print(table)
        return 0
    if args.action == "changes":
        from llmbench_jupyter.analysis.trends import changes

        df = changes(args.metric, days=args.days, recent_days=args.recent, store=store,
                     all_owners=args.all_owners)  # fmt: skip
        table = Table(title=f"{args.metric}: the last {args.recent:g} days against the "
                      f"{args.days - args.recent:g} before", title_justify="left")  # fmt: skip
        cols = ("provider", "model", "context_tier", "flagged", "direction", "ratio",
                "p_value", "runs_reference", "runs_recent", "note")  # fmt: skip
        for col in cols:
            table.add_column(col)
        for row in df.to_dict("records"):
            table.add_row(*(_cell(row[c]) for c in cols))
        out.print(table)
        return 0
    if args.action == "import":
        from datetime import UTC, datetime

        from llmbench_jupyter.core.errors import InputError
        from llmbench_jupyter.store.import_predecessor import import_predecessor

        when = None
        if args.when:
            try:
                when = datetime.fromisoformat(args.when)
            except ValueError:
                raise InputError(f"--when {args.when!r}: expected an ISO date and time") from None
            when = when if when.tzinfo else when.replace(tzinfo=UTC)
        done = import_predecessor(store, args.file, when=when)
        for run_id in done["imported"]:
            out.print(f"imported run {run_id}", markup=False)
        for run_id in done["skipped"]:
            out.print(f"skipped run {run_id}: imported from this file before", markup=False)
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
    if args.action == "export" and args.format is None:
        from llmbench_jupyter.store.export import FORMATS

        ext = Path(args.output).suffix.lstrip(".").lower()
        args.format = ext if ext in FORMATS else "csv"  # csv: what every other name got
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
        from llmbench_jupyter.analysis.eval_history import run_from_row
        from llmbench_jupyter.analysis.eval_result import ROW_COLUMNS, case_row
        from llmbench_jupyter.store.export import write_batches

        rid = run["run_id"]  # streamed: one batch of case rows in memory at a time
        batches = (
            [case_row(run_from_row(row), rid) for row in part]
            for part in store.iter_eval_results(rid)
        )
        nested = ("score", "calls", "transcript", "final_state")
        n = write_batches(batches, Path(args.output), args.format, ROW_COLUMNS, nested)
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
            f"owner {run['owner']}  {result.error_count + result.ok_count} requests, "
            f"{result.error_count} errors, {len(records) - len(result.measured)} warm-up",
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
