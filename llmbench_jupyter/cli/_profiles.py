"""``llmbench profile``: list, show, save (from a stored search) and delete model profiles."""

from __future__ import annotations

import argparse
import json

from llmbench_jupyter.cli._tables import _console


def cmd_profile(args: argparse.Namespace) -> int:
    from rich.table import Table

    from llmbench_jupyter.analysis import profiles as prof
    from llmbench_jupyter.store import open_store

    out, err = _console(), _console(stderr=True)
    store = open_store(args.db)
    if args.action == "list":
        table = Table(title="model profiles")
        for column in ("name", "target", "params", "system prompt", "from"):
            table.add_column(column)
        for row in store.list_profiles():
            source = row.get("source") or {}
            made = f"{source.get('search')} #{source.get('trial')}" if "trial" in source else "hand"
            prompt = (row.get("system_prompt") or "")[:60]
            table.add_row(row["name"], row["target"], json.dumps(row["params"]), prompt, made)
        out.print(table)
    elif args.action == "show":
        row = prof.load_profile(args.name, store=store)
        out.print_json(json.dumps(row, default=str))
    elif args.action == "save":
        from llmbench_jupyter.analysis.tune_result import load_tune

        result = load_tune(args.search, store=store)
        row = prof.save_profile(args.name, result, trial=args.trial, replace=args.replace,
                                store=store)  # fmt: skip
        verdict = (row.get("source") or {}).get("verdict")
        err.print(f"saved profile {row['name']!r} for {row['target']} ({verdict})", markup=False)
    else:
        prof.delete_profile(args.name, store=store)
        err.print(f"deleted profile {args.name!r}", markup=False)
    return 0


def add_profile_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pr = sub.add_parser("profile", help="model profiles: the best parameters and prompt by name")
    psub = pr.add_subparsers(dest="action", required=True, metavar="ACTION")
    psub.add_parser("list", help="your profiles")
    show = psub.add_parser("show", help="one profile")
    show.add_argument("name")
    save = psub.add_parser("save", help="save a stored search's best trial as a profile")
    save.add_argument("name")
    save.add_argument("--search", required=True, help="the search's id or name")
    save.add_argument("--trial", type=int, help="this trial instead of the best")
    save.add_argument("--replace", action="store_true", help="overwrite a profile of that name")
    rm = psub.add_parser("delete", help="delete a profile")
    rm.add_argument("name")
    for p in (pr, show, save, rm):
        p.add_argument("--db", help="store URL")
