"""``llmbench models discover``: what a provider offers against the config, and adding it;
``llmbench models check``: where each key comes from, and one short request to prove it."""

from __future__ import annotations

import argparse
import json

from llmbench_jupyter.cli._tables import _console


def add_models_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    models = sub.add_parser("models", help="discover a provider's models, add them to the config")
    msub = models.add_subparsers(dest="action", required=True, metavar="ACTION")
    disc = msub.add_parser(
        "discover",
        help="list the models a provider offers, marked new / configured / not offered",
        description="Read a configured provider's model list (OpenAI-compatible /models, "
        "Anthropic, Gemini or Ollama) and compare it with the config; --add or --add-new "
        "writes models into your config file, its comments and layout kept.",
    )
    disc.add_argument("--provider", "-p", required=True, help="a provider of the config")
    disc.add_argument(
        "--shape",
        choices=("openai", "anthropic", "gemini", "ollama"),
        help="the model list's shape (default: from the provider's kind and host)",
    )
    disc.add_argument("--config", help="config file (default: the usual search order)")
    disc.add_argument(
        "--add", action="append", metavar="MODEL", help="add this model to the config (repeatable)"
    )
    disc.add_argument("--add-new", action="store_true", help="add every new model")
    disc.add_argument("--json", action="store_true", help="print the rows as JSON")  # fmt: skip
    check = msub.add_parser(
        "check",
        help="where each provider's key comes from; with -p, one short request to it",
        description="Without --provider: every configured provider and where its key would "
        "come from (vault, environment, config, missing). With --provider: send one short "
        "request (a few tokens, nothing stored) and say how fast it answered or what to fix; "
        "exit status 1 if it failed.",
    )
    check.add_argument("--provider", "-p", help="the provider to send one request to")
    check.add_argument("--model", "-m", help="its model (default: the provider's first)")
    check.add_argument("--config", help="config file (default: the usual search order)")


def cmd_models(args: argparse.Namespace) -> int:
    if args.action == "check":
        return _check(args)
    from rich.table import Table

    from llmbench_jupyter.jobs.discovery import add_models, discover_models

    out, err = _console(), _console(stderr=True)
    found = discover_models(args.provider, config=args.config, shape=args.shape)
    if args.json:
        out.print_json(json.dumps(found.rows, default=str))
    else:
        table = Table(title=f"{found.provider}: {found.listing.url}")
        for column in ("id", "status", "display name", "context", "max output"):
            table.add_column(
                column, justify="right" if column in ("context", "max output") else "left"
            )
        for r in found.rows:
            table.add_row(r["id"], r["status"], r["display_name"] or "",
                          _n(r["context_window"]), _n(r["max_output_tokens"]))  # fmt: skip
        out.print(table)
    err.print(repr(found).strip("<>"), markup=False)
    wanted = "new" if args.add_new else args.add
    if wanted:
        added = add_models(args.provider, wanted, config=args.config, discovery=found)
        where = found.config_path or "the config"
        err.print(f"added {len(added)} model(s) to {where}: {', '.join(added) or '-'}",
                  markup=False)  # fmt: skip
    return 0


def _n(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else ""


def _check(args: argparse.Namespace) -> int:
    from rich.table import Table

    from llmbench_jupyter.jobs.connection import MISSING, check_connection, key_sources

    out = _console()
    if args.provider is None:
        table = Table(title="where each provider's key comes from")
        table.add_column("provider")
        table.add_column("key")
        for name, source in key_sources(args.config).items():
            style = "red" if source.source == MISSING else None
            table.add_row(name, source.describe(), style=style)
        out.print(table)
        return 0
    result = check_connection(args.provider, args.model, config=args.config)
    out.print(result.summary(), markup=False)
    out.print(f"key: {result.key_source}; endpoint: {result.endpoint}", markup=False)
    return 0 if result.ok else 1
