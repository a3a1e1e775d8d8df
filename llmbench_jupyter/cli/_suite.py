"""``llmbench suite``: import a tool-calling suite (file, BFCL, predecessor, MCP)."""

from __future__ import annotations

import argparse

from llmbench_jupyter.cli._tables import _console


def cmd_suite(args: argparse.Namespace) -> int:
    """Import a suite (BFCL, predecessor JSON, MCP tools) into a file and the store."""
    from llmbench_jupyter.evals.suites import dump_suite, load_suite

    err = _console(stderr=True)
    if args.format == "bfcl":
        from llmbench_jupyter.evals.importers import import_bfcl

        failed: list[tuple[str, str]] = []
        suite = import_bfcl(args.source, args.answers, name=args.name or "bfcl", failed=failed)
        for _, reason in failed:
            err.print(f"skipped: {reason}", markup=False)
        if failed:
            err.print(f"{len(failed)} BFCL entries left out, {len(suite.cases)} imported",
                      markup=False)  # fmt: skip
    elif args.format == "predecessor":
        from llmbench_jupyter.evals.importers import import_predecessor

        suite = import_predecessor(args.source, name=args.name)
    elif args.format == "mcp":
        from llmbench_jupyter.evals.importers import suite_from_mcp

        suite = suite_from_mcp(args.source, name=args.name)
    else:
        suite = load_suite(args.source)
    if args.output:
        path = dump_suite(suite, args.output)
        err.print(f"wrote {path} ({len(suite.tools)} tools, {len(suite.cases)} cases)",
                  markup=False)  # fmt: skip
    if not args.no_save:
        from llmbench_jupyter.store import open_store

        row = open_store(args.db).save_suite(suite)
        err.print(f"stored suite {row['name']!r} version {row['version']}", markup=False)
    return 0
