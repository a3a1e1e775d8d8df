"""``llmbench experiment`` (list, add, show, report, delete) and ``llmbench eval-calibrate``."""

from __future__ import annotations

import argparse
from typing import Any

from llmbench_jupyter.cli._tables import _console

_DB = "store URL (default $LLMBENCH_DB_URL or the local SQLite)"


def add_experiment_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    exp = sub.add_parser("experiment", help="runs grouped with a baseline, compared by test")
    esub = exp.add_subparsers(dest="action", required=True, metavar="ACTION")
    esub.add_parser("list", help="your experiments")
    add = esub.add_parser("add", help="add runs to an experiment (made if new)")
    add.add_argument("name")
    add.add_argument("runs", nargs="*", help="run ids or unique prefixes")
    add.add_argument("--baseline", help="a run (id or prefix) to make the baseline")
    add.add_argument("--description", help="what the experiment is about (when made)")
    show = esub.add_parser("show", help="its runs and each against the baseline")
    show.add_argument("name")
    show.add_argument(
        "--metric",
        default=None,
        help="ttft_ms, ttfat_ms, e2e_ms, tpot_ms, "
        "decode_tps or pass_rate (default: TTFT, or pass rate for evals)",
    )
    rep = esub.add_parser("report", help="an offline HTML report of the experiment")
    rep.add_argument("name")
    rep.add_argument("--output", "-o", required=True, help="the .html file to write")
    rm = esub.add_parser("delete", help="delete the experiment (its runs stay)")
    rm.add_argument("name")
    cal = sub.add_parser(
        "eval-calibrate", help="the judge of an eval run against your labels (Cohen's kappa)"
    )
    cal.add_argument("run_id", help="an eval run judged with --judge (id or prefix)")
    cal.add_argument("--labels", required=True,
                     help="a CSV with case_id and verdict (pass/fail) or score (1-10)")  # fmt: skip
    cal.add_argument("--target", help="the judged model, when the run has several")
    for p in (cal, *esub.choices.values()):
        p.add_argument("--db", help=_DB)


def _table(title: str, df: Any) -> Any:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for col in df.columns:
        table.add_column(str(col))
    for row in df.itertuples(index=False):
        table.add_row(*("" if v is None or v != v else f"{v:.4g}" if isinstance(v, float)
                        else str(v) for v in row))  # fmt: skip
    return table


def cmd_experiment(args: argparse.Namespace) -> int:
    from llmbench_jupyter.analysis.experiments import experiment
    from llmbench_jupyter.store import open_store

    store, out = open_store(args.db), _console()
    if args.action == "list":
        for e in store.list_experiments():
            base = next((r["run_id"] for r in e["runs"] if r["baseline"]), "-")
            out.print(f"{e['name']}: {len(e['runs'])} runs, baseline {base}", markup=False)
        return 0
    if args.action == "delete":
        store.delete_experiment(args.name)
        out.print(f"deleted experiment {args.name} (its runs stay)", markup=False)
        return 0
    exp = experiment(args.name, store=store, create=args.action == "add",
                     description=getattr(args, "description", None))  # fmt: skip
    if args.action == "add":
        if args.runs:
            exp.add(*args.runs)
        if args.baseline:
            exp.add(args.baseline).set_baseline(args.baseline)
        out.print(repr(exp), markup=False)
    elif args.action == "show":
        runs = exp.runs()
        out.print(_table(repr(exp), runs))
        base = exp.baseline
        if base is not None and len(runs) > 1:
            kind = runs.set_index("run_id").loc[base, "kind"]
            metric = args.metric or ("pass_rate" if kind == "eval" else "ttft_ms")
            table = exp.compare(metric).drop(columns=["test", "kind"])
            out.print(_table(f"against the baseline {base}: {metric}", table))
    else:
        path = exp.report(args.output)
        out.print(f"wrote {path}", markup=False)
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from llmbench_jupyter.analysis.judge_calibration import calibrate_judge
    from llmbench_jupyter.store import open_store

    out = _console()
    cal = calibrate_judge(args.labels, args.run_id, target=args.target, store=open_store(args.db))
    out.print(repr(cal).strip("<>"), markup=False)
    out.print(_table("confusion (rows: your labels, columns: the judge)",
                     cal.confusion().reset_index()))  # fmt: skip
    return 0
