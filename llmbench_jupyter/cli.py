"""``llmbench``: the command-line surface. It parses, calls the engine, and prints.

Nothing here measures or aggregates: numbers come from ``workloads`` and ``stats``.
Exit codes: 0 success, 1 every measured request failed, 2 bad input, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import sys
from pathlib import Path
from typing import Any

from .errors import LLMBenchError, scrub
from .records import RequestRecord

EXIT_ALL_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v.strip().replace("_", "")) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"found {text!r}, expected comma-separated token counts such as 0,1000,8000"
        ) from None
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"found {text!r}, expected integers >= 0")
    return values


def _int_at_least(minimum: int) -> Any:
    """An argparse type for integers >= ``minimum`` with a message saying what was found."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"found {text!r}, expected an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"found {value}, expected an integer >= {minimum}")
        return value

    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"found {text!r}, expected a number") from None
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"found {text}, expected a number > 0")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmbench", description="Benchmark LLM providers: TTFT, decode speed, cost."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    bench = sub.add_parser(
        "bench",
        help="run a benchmark",
        description="Run a benchmark against configured or ad-hoc targets.",
    )
    add_bench_arguments(bench)

    ev = sub.add_parser(
        "eval",
        help="score tool calling on a suite",
        description="Run a tool-calling suite and score every case.",
    )
    ev.add_argument(
        "--suite",
        default="example",
        help="suite file (YAML/JSON), or 'example' for the shipped 42-case suite",
    )
    ev.add_argument("--config", help="config file (as for bench)")
    ev.add_argument("--provider", "-p", action="append", help="provider name (repeatable)")
    ev.add_argument("--model", "-m", action="append", help="model id or provider/model")
    ev.add_argument("--api-base", help="ad-hoc OpenAI-compatible base URL")
    ev.add_argument("--api-key", help="API key for --api-base")
    ev.add_argument("--k", type=_positive_int, default=1, help="attempts per case (default 1)")
    ev.add_argument(
        "--mode",
        choices=("default", "bfcl"),
        default="default",
        help="scoring rules: optimal pairing (default) or BFCL parity",
    )
    ev.add_argument("--concurrency", "-c", type=_positive_int, default=4)
    ev.add_argument("--timeout", type=_positive_float, default=60.0)
    ev.add_argument(
        "--sim-rules",
        help="rules file for the simulated endpoint (default: the "
        "example suite's rules when --suite is 'example')",
    )
    ev.add_argument("--output", "-o", help="write one JSON record per case attempt (JSONL)")

    sim = sub.add_parser("sim", help="serve the simulated OpenAI/Anthropic-compatible endpoint")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=8765)
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--rules", help="YAML/JSON rules file for scripted responses")
    sim.add_argument("--require-key", help="answer 401 unless this API key is sent")

    results = sub.add_parser("results", help="list, show and export stored runs")
    rsub = results.add_subparsers(dest="action", required=True, metavar="ACTION")
    lst = rsub.add_parser("list", help="list recent runs")
    lst.add_argument("--limit", type=_positive_int, default=20)
    lst.add_argument("--all-owners", action="store_true", help="include other users' runs")
    show = rsub.add_parser("show", help="summary of one run")
    show.add_argument("run_id", help="run id or a unique prefix")
    exp = rsub.add_parser("export", help="export a run's per-request records")
    exp.add_argument("run_id", help="run id or a unique prefix")
    exp.add_argument("--format", choices=("csv", "json", "jsonl"), default="csv")
    exp.add_argument("--output", "-o", required=True, help="file to write")
    for p in (lst, show, exp):
        p.add_argument("--db", help="database URL (default: $LLMBENCH_DB_URL or the local SQLite)")
    return parser


def add_bench_arguments(p: argparse.ArgumentParser) -> None:
    """The bench flags; the notebook magic reuses this so both surfaces take the same flags."""
    p.add_argument(
        "--config",
        help="config file (default: $LLMBENCH_CONFIG, ./config.yaml, then the packaged one)",
    )
    p.add_argument(
        "--provider",
        "-p",
        action="append",
        help="provider name from the config (repeatable; default local-sim)",
    )
    p.add_argument(
        "--model",
        "-m",
        action="append",
        help="model id, or provider/model "
        "(repeatable); with --api-base, the model name the server serves",
    )
    p.add_argument(
        "--api-base",
        help="ad-hoc OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 (no config needed)",
    )
    p.add_argument("--api-key", help="API key for --api-base (prefer an env var in config)")
    p.add_argument(
        "--kind",
        choices=("openai", "anthropic", "litellm"),
        default="openai",
        help="protocol of --api-base (default openai)",
    )
    p.add_argument(
        "--runs", "-n", type=_positive_int, help="measured requests per target and context tier"
    )
    p.add_argument("--warmup", type=_non_negative_int, help="unmeasured requests first")
    p.add_argument(
        "--context-tiers", type=_int_list, help="padding sizes in tokens, e.g. 0,1000,32000"
    )
    p.add_argument("--max-tokens", type=_positive_int)
    p.add_argument("--temperature", type=float)
    p.add_argument(
        "--concurrency",
        "-c",
        type=_positive_int,
        help="requests in flight per target (default from config, 1); with --rate a cap "
        "on requests in flight (1 = no cap)",
    )
    p.add_argument("--rate", type=_positive_float, help="open-loop Poisson arrivals per second")
    p.add_argument("--prompt", help="prompt text (default from config)")
    p.add_argument("--prompt-template", help="named prompt template from the config")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=_positive_float, help="per-request timeout in seconds")
    p.add_argument("--name", help="a label for the stored run")
    p.add_argument("--no-save", action="store_true", help="do not store the run")
    p.add_argument("--db", help="database URL (default: $LLMBENCH_DB_URL or the local SQLite)")
    p.add_argument("--output", "-o", help="write one JSON record per measured request (JSONL)")
    p.add_argument(
        "--include-warmup", action="store_true", help="also write warm-up requests to --output"
    )
    p.add_argument("--sim-url", help="use this running simulated endpoint for local-sim")
    p.add_argument("--verbose", "-v", action="store_true", help="print every request")


def spec_from_args(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """Resolve parsed ``bench`` flags into a BenchSpec and a config snapshot."""
    from .specs import BENCH_OPTIONS, build_bench_spec

    return build_bench_spec(**{name: getattr(args, name) for name in BENCH_OPTIONS})


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def summary_table(result: Any) -> Any:
    """A rich table of the per-target summary computed by ``stats.summarize``."""
    from rich.table import Table

    df = result.summary()
    table = Table(title="llmbench summary: p50 \\[p95], warm-up excluded", title_justify="left")
    for col in (
        "target",
        "tier",
        "ok/err",
        "TTFT ms",
        "TTFAT ms",
        "decode tok/s",
        "TPOT ms",
        "e2e ms",
        "out tok",
        "cost $",
    ):
        table.add_column(col, justify="left" if col == "target" else "right")
    for row in df.to_dict("records"):
        errs = row.get("error_categories") or {}
        err_note = f" ({', '.join(f'{k}×{v}' for k, v in errs.items())})" if errs else ""
        table.add_row(
            f"{row['provider']}/{row['model']}",
            str(row["context_tier"]),
            f"{row['ok']}/{row['errors']}{err_note}",
            f"{_fmt(row['ttft_ms_p50'])} [{_fmt(row['ttft_ms_p95'])}]",
            _fmt(row["ttfat_ms_p50"]),
            f"{_fmt(row['decode_tps_p50'])} [{_fmt(row['decode_tps_p95'])}]",
            _fmt(row["tpot_ms_p50"], 2),
            _fmt(row["e2e_ms_p50"]),
            _fmt(row["output_tokens_mean"]),
            _fmt(row["total_cost_usd"], 5),
        )
    return table


def _overhead_line(result: Any) -> str:
    o = result.overhead
    bound = "  CLIENT-BOUND: numbers include client queueing" if o.get("client_bound") else ""
    return (
        f"client overhead: CPU {o.get('client_cpu_share', 0) * 100:.0f}% of one core, "
        f"event-loop lag p99 {o.get('loop_lag_p99_ms', 0):.1f} ms{bound}"
    )


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


def _console(stderr: bool = False) -> Any:
    """A rich console that does not squeeze tables to 80 columns when output is piped."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 160)


def cmd_bench(args: argparse.Namespace) -> int:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from .jobs import JobManager

    spec, snapshot = spec_from_args(args)
    out, err = _console(), _console(stderr=True)
    store = None
    if not args.no_save:
        from .store import open_store

        store = open_store(args.db)
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[errors]} errors"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        refresh_per_second=4,  # the refresh thread shares the GIL with the timing loop
    )
    task = progress.add_task("benchmark", total=None, errors=0)

    async def run_job() -> Any:
        # the same job runner as notebooks: states and progress are persisted alike
        job = JobManager(store).submit(
            spec, save=not args.no_save, config_snapshot=snapshot, sim_url=args.sim_url
        )
        printed = 0

        def on_progress(snap: dict[str, Any]) -> None:
            nonlocal printed
            label = f"run {snap['run_id'][:8]}" if snap["run_id"] else snap["state"]
            progress.update(
                task,
                total=snap["total"] or None,
                completed=snap["done"],
                errors=snap["errors"],
                description=label,
            )
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
        path = Path(args.output)
        with path.open("w") as fh:
            for r in rows:
                fh.write(json.dumps(r.to_dict()) + "\n")
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
        return EXIT_ALL_FAILED
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """Score a tool-calling suite; numbers come from ``evals.scoring`` and ``stats``."""
    from importlib.resources import files

    from rich.table import Table

    from . import targets as targets_mod
    from .evals.runner import run_suite
    from .evals.scoring import score_suite
    from .evals.suites import load_suite

    data = files("llmbench_jupyter.evals") / "data"
    suite = load_suite(str(data / "example_suite.yaml") if args.suite == "example" else args.suite)
    if args.api_base:
        if not args.model or len(args.model) != 1:
            raise LLMBenchError("--api-base takes exactly one --model")
        chosen = [targets_mod.adhoc(args.api_base, args.model[0], args.api_key)]
    else:
        from .config import load_config

        chosen = targets_mod.from_config(load_config(args.config), args.provider, args.model)
    rules = args.sim_rules or (
        str(data / "example_sim_rules.yaml") if args.suite == "example" else None
    )
    out, err = _console(), _console(stderr=True)
    with contextlib.ExitStack() as stack:
        if any(t.simulated for t in chosen):
            from .simproc import sim_process

            url = stack.enter_context(sim_process(rules=rules))
            chosen = [t.with_api_base(url) if t.simulated else t for t in chosen]
        runs = asyncio.run(
            run_suite(
                chosen,
                suite,
                k=args.k,
                mode=args.mode,
                concurrency=args.concurrency,
                timeout_s=args.timeout,
            )
        )
    categories = sorted({c.category for c in suite.cases})
    table = Table(
        title=f"tool-calling eval: {suite.name} ({len(suite.cases)} cases × {args.k}, "
        f"{args.mode} rules); pass rate [Wilson 95% CI]",
        title_justify="left",
    )
    table.add_column("target", justify="left", no_wrap=True)
    for col in ("pass (micro)", "macro", *categories, "tool F1", "arg acc", "errors"):
        table.add_column(col, justify="right")

    def rate(r: Any) -> str:
        return "N/A" if r is None else f"{r.rate:.0%} [{r.ci_low:.0%}–{r.ci_high:.0%}]"

    api_errors = 0
    for target in chosen:
        mine = [r for r in runs if (r.provider, r.model) == (target.provider, target.model)]
        summary = score_suite([r.score for r in mine], categories)
        n_err = sum(r.error is not None for r in mine)
        api_errors += n_err
        table.add_row(
            target.key,
            rate(summary.micro),
            rate(summary.macro),
            *(rate(summary.categories[c]) for c in categories),
            _fmt(summary.mean_tool_f1, 2),
            _fmt(summary.mean_argument_accuracy, 2),
            str(n_err),
        )
    out.print(table)
    if args.k > 1:
        from .stats import repeat_rates

        rep = Table(
            title=f"consistency over k={args.k} attempts per case [Wilson 95% CI]",
            title_justify="left",
        )
        for col in ("target", "pass@k", "pass^k", "flip rate"):
            rep.add_column(col, justify="left" if col == "target" else "right")
        for target in chosen:
            attempts: dict[str, list[bool]] = {}
            for r in sorted(runs, key=lambda r: r.attempt):
                if (r.provider, r.model) == (target.provider, target.model):
                    attempts.setdefault(r.case_id, []).append(r.score.passed)
            rr = repeat_rates(attempts)
            cells = [rr[key] for key in ("pass_at_k", "pass_hat_k", "flip_rate")]
            rep.add_row(
                target.key,
                *(f"{c['rate']:.0%} [{c['ci_low']:.0%}–{c['ci_high']:.0%}]" for c in cells),
            )
        out.print(rep)
    if args.output:
        with Path(args.output).open("w") as fh:
            for run in runs:
                fh.write(json.dumps(run.to_dict(), default=str) + "\n")
        err.print(f"wrote {len(runs)} case records to {args.output}", markup=False)
    if runs and api_errors == len(runs):
        err.print(f"error: all {len(runs)} case attempts failed to get a response", markup=False)
        return EXIT_ALL_FAILED
    return 0


def cmd_sim(args: argparse.Namespace) -> int:
    from .sim import run_forever

    run_forever(args.host, args.port, args.seed, args.rules, args.require_key)
    return 0


def cmd_results(args: argparse.Namespace) -> int:
    from rich.table import Table

    from .store import open_store

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
    run = store.get_run(args.run_id)
    if args.action == "show":
        from .workloads import BenchResult

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
    n = store.export(run["run_id"], args.output, args.format)
    out.print(
        f"wrote {n} records of run {run['run_id']} to {args.output} ({args.format})",
        markup=False,
        highlight=False,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "bench":
            return cmd_bench(args)
        if args.command == "sim":
            return cmd_sim(args)
        if args.command == "eval":
            return cmd_eval(args)
        return cmd_results(args)
    except LLMBenchError as exc:
        print(f"error: {scrub(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
