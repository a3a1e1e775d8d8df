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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from llmbench_jupyter.core.errors import LLMBenchError, scrub
from llmbench_jupyter.core.records import RequestRecord

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


def add_eval_arguments(ev: argparse.ArgumentParser) -> None:
    """The ``eval`` flags, shared by the CLI and ``%llmbench eval``."""
    ev.add_argument(
        "--suite",
        default="example",
        help="suite file (YAML/JSON), or 'example' for the shipped 44-case suite",
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
    ev.add_argument("--name", help="a label for this eval run")
    ev.add_argument("--judge", help="a configured model that grades each answer (provider/model)")
    ev.add_argument(
        "--judge-threshold",
        type=float,
        help="judge only cases whose case value is below this (0–1); default: every case",
    )
    ev.add_argument(
        "--report", action="store_true", help="ask the judge for a cross-case report per model"
    )
    ev.add_argument("--db", help="store URL (default $LLMBENCH_DB_URL or the local SQLite file)")
    ev.add_argument("--no-save", action="store_true", help="do not store the run")


def eval_options(args: argparse.Namespace) -> dict[str, Any]:
    """The parsed ``eval`` flags as ``specs.build_eval_spec`` options (CLI and magic alike)."""
    from llmbench_jupyter.jobs.specs import EVAL_OPTIONS

    return {name: getattr(args, name) for name in EVAL_OPTIONS if hasattr(args, name)}


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
    add_eval_arguments(ev)

    cmp_ = sub.add_parser(
        "eval-compare",
        help="compare two stored eval runs (paired McNemar test, optional pairwise judge)",
    )
    cmp_.add_argument("run_a", help="first eval run id (or unique prefix)")
    cmp_.add_argument("run_b", help="second eval run id (or unique prefix)")
    cmp_.add_argument("--target-a", help="target of run A when it evaluated several models")
    cmp_.add_argument("--target-b", help="target of run B when it evaluated several models")
    cmp_.add_argument("--judge", help="also judge answers pairwise, in both orders")
    cmp_.add_argument("--sim-rules", help="rules file when the judge is a simulated model")
    cmp_.add_argument("--config", help="config file")
    cmp_.add_argument("--db", help="store URL")

    su = sub.add_parser("suite", help="import a tool-calling suite (file, BFCL, predecessor, MCP)")
    su.add_argument("source", help="file path; for MCP a server URL or command line")
    su.add_argument(
        "--format", choices=("suite", "bfcl", "predecessor", "mcp"), default="suite",
        help="what the source is (default: a suite file in our YAML/JSON format)",
    )  # fmt: skip
    su.add_argument("--name", help="suite name (for imports)")
    su.add_argument("--answers", help="BFCL possible_answer file (with --format bfcl)")
    su.add_argument("--output", "-o", help="write the suite as YAML/JSON here")
    su.add_argument("--db", help="store URL")
    su.add_argument("--no-save", action="store_true", help="do not store the suite")

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
    pub = rsub.add_parser("publish", help="make one of your runs readable by every hub user")
    pub.add_argument("run_id", help="run id or a unique prefix")
    pub.add_argument("--undo", action="store_true", help="make the run private again")
    aud = rsub.add_parser("audit", help="the audit log: who ran what, key changes")
    aud.add_argument("--limit", type=_positive_int, default=50)
    aud.add_argument("--all-owners", action="store_true", help="everyone's (hub admins)")
    exp = rsub.add_parser("export", help="export a run's per-request records (eval: case rows)")
    exp.add_argument("run_id", help="run id or a unique prefix")
    exp.add_argument("--format", choices=("csv", "json", "jsonl"), default="csv")
    exp.add_argument("--output", "-o", required=True, help="file to write")
    for p in (lst, show, exp, pub, aud):
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
    from llmbench_jupyter.jobs.specs import BENCH_OPTIONS, build_bench_spec

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


def _job_progress(err: Any, label: str) -> tuple[Any, Callable[[dict[str, Any]], None]]:
    """A transient progress bar on stderr, and the job subscriber that drives it."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

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
    task = progress.add_task(label, total=None, errors=0)

    def update(snap: dict[str, Any]) -> None:
        progress.update(
            task,
            total=snap["total"] or None,
            completed=snap["done"],
            errors=snap["errors"],
            description=f"{label} {snap['run_id'][:8]}" if snap["run_id"] else snap["state"],
        )

    return progress, update


def cmd_bench(args: argparse.Namespace) -> int:
    from llmbench_jupyter.jobs import JobManager

    spec, snapshot = spec_from_args(args)
    out, err = _console(), _console(stderr=True)
    store = None
    if not args.no_save:
        from llmbench_jupyter.store import open_store

        store = open_store(args.db)
    progress, show_progress = _job_progress(err, "run")

    async def run_job() -> Any:
        # the same job runner as notebooks: states and progress are persisted alike
        job = JobManager(store).submit(
            spec, save=not args.no_save, config_snapshot=snapshot, sim_url=args.sim_url
        )
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


def _rate_cell(r: Any) -> str:
    return "N/A" if r is None else f"{r.rate:.0%} [{r.ci_low:.0%}–{r.ci_high:.0%}]"


def eval_tables(result: Any) -> list[Any]:
    """Rich tables of an EvalResult: pass rates with CIs per target, then repeats."""
    from rich.table import Table

    suite = result.suite
    cats = result.categories
    table = Table(
        title=f"tool-calling eval: {suite.name} ({len(suite.cases)} cases × {result.k}, "
        f"{result.mode} rules); pass rate [Wilson 95% CI]",
        title_justify="left",
    )
    table.add_column("target", justify="left", no_wrap=True)
    judged = any(result.judge_mean(t) is not None for t in result.targets)
    cols = ["pass (micro)", "macro", *cats, "tool F1", "arg acc", "errors"]
    for col in [*cols, *(["judge /10"] if judged else [])]:
        table.add_column(col, justify="right")
    for target, s in result.scores().items():
        n_err = sum(1 for r in result.runs if f"{r.provider}/{r.model}" == target and r.error)
        cells = [
            target,
            _rate_cell(s.micro),
            _rate_cell(s.macro),
            *(_rate_cell(s.categories[c]) for c in cats),
            _fmt(s.mean_tool_f1, 2),
            _fmt(s.mean_argument_accuracy, 2),
            str(n_err),
        ]
        if judged:
            cells.append(_fmt(result.judge_mean(target), 1))
        table.add_row(*cells)
    tables = [table]
    if result.k > 1:
        rep = Table(
            title=f"consistency over k={result.k} attempts per case [Wilson 95% CI]",
            title_justify="left",
        )
        for col in ("target", "pass@k", "pass^k", "flip rate"):
            rep.add_column(col, justify="left" if col == "target" else "right")
        for target in result.targets:
            rr = result.repeats(target)
            if rr is None:
                continue
            cells = [rr[key] for key in ("pass_at_k", "pass_hat_k", "flip_rate")]
            rep.add_row(
                target,
                *(f"{c['rate']:.0%} [{c['ci_low']:.0%}–{c['ci_high']:.0%}]" for c in cells),
            )
        tables.append(rep)
    return tables


def cmd_eval(args: argparse.Namespace) -> int:
    """Score a tool-calling suite through the job runner notebooks use; store it."""
    from llmbench_jupyter.analysis.eval_result import case_row
    from llmbench_jupyter.jobs import JobManager
    from llmbench_jupyter.jobs.eval_work import EvalWork
    from llmbench_jupyter.jobs.specs import build_eval_spec

    spec, snapshot = build_eval_spec(**eval_options(args))
    out, err = _console(), _console(stderr=True)
    store = None
    if not args.no_save:
        from llmbench_jupyter.store import open_store

        store = open_store(args.db)
    progress, show_progress = _job_progress(err, "eval")

    async def run_job() -> Any:
        work = EvalWork(spec, save=store is not None, config_snapshot=snapshot)
        job = JobManager(store).submit(work)
        job.subscribe(show_progress)
        return await job

    with progress:
        result = asyncio.run(run_job())
    for table in eval_tables(result):
        out.print(table)
    if args.report and spec.judge is not None:
        for target in result.targets:
            report = asyncio.run(result.judge_report(spec.judge, target, save=store is not None))
            out.print(_report_text(target, report), markup=False, highlight=False)
    if result.run_id:
        err.print(f"stored as eval run {result.run_id}", markup=False)
    if args.output:
        with Path(args.output).open("w") as fh:
            for run in result.runs:
                fh.write(json.dumps(case_row(run, result.run_id), default=str) + "\n")
        err.print(f"wrote {len(result.runs)} case records to {args.output}", markup=False)
    n_err = sum(1 for r in result.runs if r.error)
    if result.runs and n_err == len(result.runs):
        err.print(
            f"error: all {len(result.runs)} case attempts failed to get a response", markup=False
        )
        return EXIT_ALL_FAILED
    return 0


def _report_text(target: str, report: dict[str, Any]) -> str:
    if report.get("status") != "ok":
        return f"judge report for {target}: {report.get('status')} ({report.get('error')})"
    p = report["parsed"]
    lines = [f"judge report for {target}: grade {p['grade']}", f"  {p.get('summary', '')}"]
    for key in ("strengths", "weaknesses", "recommendations"):
        lines.append(f"  {key}:")
        lines += [f"    - {item}" for item in p.get(key) or []]
    return "\n".join(lines)


def cmd_eval_compare(args: argparse.Namespace) -> int:
    """Paired McNemar test of two stored eval runs; optionally a pairwise judge."""
    from rich.table import Table

    from llmbench_jupyter.analysis.eval_result import load_eval
    from llmbench_jupyter.store import open_store

    store = open_store(args.db)
    a, b = load_eval(args.run_a, store), load_eval(args.run_b, store)
    res = a.compare(b, target=args.target_a, other_target=args.target_b)
    out = _console()
    table = Table(title="paired comparison (exact McNemar) on cases both runs attempted")
    for col in ("run", "target", "pass rate", "passed only here"):
        table.add_column(col)
    table.add_row(a.run_id[:8] if a.run_id else "-", res["a"], f"{res['a_pass_rate']:.0%}",
                  str(res["a_only"]))  # fmt: skip
    table.add_row(b.run_id[:8] if b.run_id else "-", res["b"], f"{res['b_pass_rate']:.0%}",
                  str(res["b_only"]))  # fmt: skip
    out.print(table)
    out.print(
        f"{res['cases']} paired cases, p = {res['p_value']:.3g}: {res['verdict']}"
        + ("" if res["significant"] else " (the difference could be chance)"),
        markup=False,
    )
    if args.judge:
        from llmbench_jupyter.jobs.specs import build_eval_spec

        spec, _ = build_eval_spec(suite=a.suite, config=args.config, judge=args.judge,
                                  model=[a.targets[0]])  # fmt: skip
        assert spec.judge is not None
        with contextlib.ExitStack() as stack:
            judge = spec.judge
            if judge.simulated:
                from llmbench_jupyter.sim.process import sim_process

                judge = judge.with_api_base(
                    stack.enter_context(sim_process(rules=args.sim_rules))
                )
            report = asyncio.run(a.judge_pairwise(b, judge))
        s = report.summary
        pc = s["position_consistency"]
        consistency = (
            "N/A"
            if not pc or pc.get("rate") is None
            else f"{pc['rate']:.0%} [{pc['ci_low']:.0%}–{pc['ci_high']:.0%}]"
        )
        out.print(
            f"pairwise judge {judge.key}: first wins {s['first_wins']}, second wins "
            f"{s['second_wins']}, ties {s['ties']}, invalid {s['invalid']}; position "
            f"consistency {consistency}",
            markup=False,
        )
    return 0


def cmd_suite(args: argparse.Namespace) -> int:
    """Import a suite (BFCL, predecessor JSON, MCP tools) into a file and the store."""
    from llmbench_jupyter.evals.suites import dump_suite, load_suite

    if args.format == "bfcl":
        from llmbench_jupyter.evals.importers import import_bfcl

        suite = import_bfcl(args.source, args.answers, name=args.name or "bfcl")
    elif args.format == "predecessor":
        from llmbench_jupyter.evals.importers import import_predecessor

        suite = import_predecessor(args.source, name=args.name)
    elif args.format == "mcp":
        from llmbench_jupyter.evals.mcp_import import suite_from_mcp

        suite = suite_from_mcp(args.source, name=args.name)
    else:
        suite = load_suite(args.source)
    err = _console(stderr=True)
    if args.output:
        path = dump_suite(suite, args.output)
        err.print(f"wrote {path} ({len(suite.tools)} tools, {len(suite.cases)} cases)",
                  markup=False)  # fmt: skip
    if not args.no_save:
        from llmbench_jupyter.store import open_store

        row = open_store(args.db).save_suite(suite)
        err.print(f"stored suite {row['name']!r} version {row['version']}", markup=False)
    return 0


def cmd_sim(args: argparse.Namespace) -> int:
    from llmbench_jupyter.sim import run_forever

    run_forever(args.host, args.port, args.seed, args.rules, args.require_key)
    return 0


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
        from llmbench_jupyter.analysis.eval_result import load_eval

        for table in eval_tables(load_eval(run["run_id"], store, owner=run["owner"])):
            out.print(table)
        return 0
    if run["kind"] == "eval":
        from llmbench_jupyter.analysis.eval_result import ROW_COLUMNS, case_row, load_eval
        from llmbench_jupyter.store.export import write

        evald = load_eval(run["run_id"], store, owner=run["owner"])
        rows = [case_row(r, evald.run_id) for r in evald.runs]
        nested = ("score", "calls", "transcript", "final_state")
        n = write(rows, Path(args.output), args.format, ROW_COLUMNS, nested)
        out.print(f"wrote {n} case rows of eval run {run['run_id']} to {args.output} "
                  f"({args.format})", markup=False, highlight=False)  # fmt: skip
        return 0
    if args.action == "show":
        from llmbench_jupyter.core.workload import BenchResult

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
        if args.command == "eval-compare":
            return cmd_eval_compare(args)
        if args.command == "suite":
            return cmd_suite(args)
        return cmd_results(args)
    except LLMBenchError as exc:
        print(f"error: {scrub(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
