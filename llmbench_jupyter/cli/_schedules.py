"""``llmbench schedule`` (add, list, delete) and ``llmbench scheduler`` (fire what is due)."""

from __future__ import annotations

import argparse
import json
import shutil
import sys

from llmbench_jupyter.cli._tables import _console


def add_schedule_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sch = sub.add_parser("schedule", help="benchmarks and evals that run on a cron expression")
    ssub = sch.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = ssub.add_parser("add", help="schedule a benchmark or an eval")
    add.add_argument("name")
    add.add_argument("--cron", required=True, help="5 fields, e.g. '0 6 * * *' (6:00 daily)")
    add.add_argument("--kind", choices=("bench", "eval"), default="bench")
    add.add_argument(
        "--options",
        default="{}",
        help='the run\'s options as JSON, e.g. \'{"model": "sim-fast", "runs": 5}\'',
    )
    add.add_argument("--timezone", default="UTC", help="the cron's time zone (default UTC)")
    add.add_argument(
        "--missed",
        choices=("skip", "catch_up"),
        default="skip",
        help="after downtime: skip missed firings, or run once to catch up",
    )
    add.add_argument("--replace", action="store_true", help="replace a schedule of this name")
    ssub.add_parser("list", help="your schedules and when they fire next")
    rm = ssub.add_parser("delete", help="delete a schedule (its runs stay)")
    rm.add_argument("name")
    run = sub.add_parser("scheduler", help="fire due schedules (a loop, or --once)")
    run.add_argument("--once", action="store_true", help="fire what is due now, then exit")
    run.add_argument("--interval", type=float, default=30.0, help="seconds between checks")
    run.add_argument(
        "--print-timer",
        action="store_true",
        help="print a systemd user timer (and a crontab line) that runs --once",
    )
    for p in (run, *ssub.choices.values()):
        p.add_argument("--db", help="store URL (default $LLMBENCH_DB_URL or the local SQLite)")


def cmd_schedule(args: argparse.Namespace) -> int:
    from rich.table import Table

    from llmbench_jupyter.core.errors import InputError
    from llmbench_jupyter.jobs.scheduler import add_schedule
    from llmbench_jupyter.store import open_store

    store, out = open_store(args.db), _console()
    if args.action == "add":
        try:
            options = json.loads(args.options)
        except ValueError:
            raise InputError(f"--options {args.options!r}: not JSON") from None
        if not isinstance(options, dict):
            raise InputError("--options: expected a JSON object of the run's options")
        row = add_schedule(
            args.name,
            args.cron,
            kind=args.kind,
            timezone=args.timezone,
            missed=args.missed,
            store=store,
            replace=args.replace,
            **options,
        )
        out.print(f"schedule {row['name']}: next at {row['next_due_at']:%Y-%m-%d %H:%M} UTC",
                  markup=False)  # fmt: skip
    elif args.action == "list":
        table = Table(title=f"schedules in {store.url}", title_justify="left")
        for col in ("name", "kind", "cron", "timezone", "next due (UTC)", "last run", "status"):
            table.add_column(col)
        for s in store.list_schedules():
            table.add_row(s["name"], s["kind"], s["cron"], s["timezone"],
                          f"{s['next_due_at']:%Y-%m-%d %H:%M}", s["last_run_id"] or "",
                          s["last_status"] or "")  # fmt: skip
        out.print(table)
    else:
        store.delete_schedule(args.name)
        out.print(f"deleted schedule {args.name}", markup=False)
    return 0


def cmd_scheduler(args: argparse.Namespace) -> int:
    from llmbench_jupyter.jobs.scheduler import run_due, serve, timer_units
    from llmbench_jupyter.store import open_store

    out = _console()
    if args.print_timer:
        exe = shutil.which("llmbench") or f"{sys.executable} -m llmbench_jupyter"
        db = f" --db {args.db}" if args.db else ""
        print(timer_units(f"{exe} scheduler --once{db}"))
        return 0
    store = open_store(args.db)
    if args.once:
        for done in run_due(store):
            out.print(" ".join(f"{k}={v}" for k, v in done.items() if v is not None),
                      markup=False)  # fmt: skip
        return 0
    try:
        serve(store, interval_s=args.interval, log=lambda line: out.print(line, markup=False))
    except KeyboardInterrupt:
        return 0
    return 0
