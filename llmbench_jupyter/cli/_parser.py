"""The ``llmbench`` argument parser: every sub-command and its flags.

The bench and eval flags come from :mod:`llmbench_jupyter.jobs.flags`, shared with the
``%llmbench`` magics; the other sub-commands exist only on the command line.
"""

from __future__ import annotations

import argparse

from llmbench_jupyter.cli._experiments import add_experiment_parsers
from llmbench_jupyter.cli._models import add_models_parser
from llmbench_jupyter.cli._profiles import add_profile_parser
from llmbench_jupyter.cli._schedules import add_schedule_parsers
from llmbench_jupyter.cli._selftest import add_selftest_parser
from llmbench_jupyter.jobs.flags import _positive_int, add_bench_arguments, add_eval_arguments
from llmbench_jupyter.jobs.sweep_flags import add_sweep_arguments
from llmbench_jupyter.jobs.tune.flags import add_tune_arguments


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llmbench", description="Benchmark LLM providers: TTFT, decode speed, cost."
    )
    parser.add_argument("--version", action="version", version=f"llmbench {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    bench = sub.add_parser(
        "bench",
        help="run a benchmark",
        description="Run a benchmark against configured or ad-hoc targets.",
    )
    add_bench_arguments(bench)

    sw = sub.add_parser(
        "sweep",
        help="sweep request rate or concurrency; find the highest rate meeting an SLO",
        description="Run one model's workload at each load (--rates, --concurrencies) or "
        "bisect the rate for the highest one meeting --slo (--search); print each step and "
        "the limit. Every step is a stored run.",
    )
    add_sweep_arguments(sw)

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

    tp = sub.add_parser(
        "tune",
        help="search a model's request parameters on a suite",
        description="Search request parameters (temperature, top_p, max_tokens...) with "
        "Optuna: the baseline first, budgets never exceeded, a held-out paired test at the end.",
    )
    add_tune_arguments(tp)

    add_profile_parser(sub)
    add_models_parser(sub)
    add_schedule_parsers(sub)
    add_experiment_parsers(sub)
    add_selftest_parser(sub)

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
    exp.add_argument(
        "--format",
        choices=("csv", "json", "jsonl", "parquet"),  # store.export.FORMATS, without its imports
        help="csv, json, jsonl or parquet (default: the --output extension if it is one of "
        "these, else csv)",
    )
    exp.add_argument(
        "--output", "-o", required=True, help="file to write (.csv, .json, .jsonl, .parquet)"
    )
    exp.add_argument(
        "--include-warmup",
        action="store_true",
        help="also export warm-up requests (as `bench --output`: measured requests only)",
    )
    chg = rsub.add_parser(
        "changes", help="which providers/models got slower or faster lately (Mann-Whitney)"
    )
    chg.add_argument("--metric", default="ttft_ms",
                     choices=("ttft_ms", "e2e_ms", "tpot_ms", "decode_tps"))  # fmt: skip
    chg.add_argument("--days", type=float, default=30, help="the window (default 30)")
    chg.add_argument("--recent", type=float, default=7, help="the recent part (default 7)")
    chg.add_argument("--all-owners", action="store_true", help="include other users' runs")
    imp = rsub.add_parser(
        "import", help="import the predecessor's (llm-benchmark-studio) exported results"
    )
    imp.add_argument("file", help="benchmark_history.csv, a benchmark_run_<id>.csv, or a "
                     "tool eval's eval-<id>.json")  # fmt: skip
    imp.add_argument("--when", help="a one-run export's time (ISO 8601; UTC unless given)")
    for p in (lst, show, exp, pub, aud, imp, chg):
        p.add_argument("--db", help="database URL (default: $LLMBENCH_DB_URL or the local SQLite)")
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("llmbench-jupyter")
    except PackageNotFoundError:
        return "unknown (not installed)"
