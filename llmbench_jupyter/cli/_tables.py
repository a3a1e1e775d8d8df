"""What the commands print: rich tables of bench and eval results, and their formatting.

Nothing here computes a number: the tables arrange what ``stats`` and ``EvalResult`` return.
Every import is inside the function that needs it: ``llmbench bench`` must not pay for the
eval modules, nor for pandas (its table takes ``stats.summary_rows``' plain rows).
"""

from __future__ import annotations

import math
import sys
from typing import Any


def _fmt(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


#: (header, summarize column, digits) of the bench summary table, after target and tier.
#: Each header names its statistic and unit; the columns are ``stats.summarize``'s.
SUMMARY_COLUMNS = (
    ("requests", "requests", 0),
    ("errors", "errors", 0),
    ("TTFT\np50 ms", "ttft_ms_p50", 0),
    ("TTFT\np95 ms", "ttft_ms_p95", 0),
    ("TTFAT\np50 ms", "ttfat_ms_p50", 0),
    ("decode\np50 tok/s", "decode_tps_p50", 1),
    ("TPOT\np50 ms", "tpot_ms_p50", 2),
    ("e2e\np50 ms", "e2e_ms_p50", 0),
    ("output\ntok p50", "output_tokens_p50", 0),
    ("$ per 1k\noutput tok", "cost_per_1k_output_usd", 5),
)


def summary_table(result: Any) -> Any:
    """A rich table of the per-target summary computed by ``stats.summarize``."""
    from rich import box
    from rich.table import Table

    from llmbench_jupyter.stats import summary_rows

    rows = summary_rows(result.records)
    table = Table(
        title="llmbench summary of measured requests (warm-up excluded); "
        "tier = context tokens added",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 1),
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("target", justify="left", no_wrap=True)
    table.add_column("tier", justify="right")
    for header, _, _ in SUMMARY_COLUMNS:
        table.add_column(header, justify="right")
    for row in rows:
        errs = row.get("error_categories") or {}
        cells = [_fmt(row[col], digits) for _, col, digits in SUMMARY_COLUMNS]
        if errs:
            cells[1] += f" ({', '.join(f'{k}×{v}' for k, v in errs.items())})"
        table.add_row(f"{row['provider']}/{row['model']}", _fmt(row["context_tier"]), *cells)
    return table


def _overhead_line(result: Any) -> str:
    """CPU share and loop-lag p99 as recorded; "—" where a run has none (never 0); the
    timing self-test's bound under it when the run carries one."""
    from llmbench_jupyter.cli._selftest import selftest_line

    o = result.overhead or {}
    timing = selftest_line(o)
    line = _client_line(o)
    return line if timing is None else f"{line}\n{timing}"


def _client_line(o: dict[str, Any]) -> str:
    if "client_cpu_share" not in o:
        return "client overhead: not recorded"
    share, lag = o.get("client_cpu_share"), o.get("loop_lag_p99_ms")
    idle = o.get("loop_lag_idle_ms")
    workers = (o.get("workers") or {}).get("count")
    who = f" (busiest of {workers} worker processes)" if workers else ""
    line = (
        f"client overhead{who}: CPU {_fmt(None if share is None else share * 100, 0)}% of one "
        "core, "
        f"event-loop lag p99 {_fmt(lag, 1)} ms"
        + ("" if idle is None else f" (idle {_fmt(idle, 1)} ms)")
    )
    if o.get("client_bound"):
        line += "\nCLIENT-BOUND: " + (
            o.get("client_bound_reason") or "numbers include client queueing"
        )
    return line


def _rate_cell(r: Any) -> str:
    from llmbench_jupyter.analysis.display import fmt_rate_ci

    return "N/A" if r is None else fmt_rate_ci(r.rate, r.ci_low, r.ci_high)


def eval_tables(result: Any) -> list[Any]:
    """Rich tables of an EvalResult: overall pass rates with CIs per target, the rate per
    category (one row per category, so a suite with many categories never squeezes a
    rate cell over two lines), then consistency over repeats."""
    from rich.table import Table

    from llmbench_jupyter.analysis.display import fmt_rate_ci
    from llmbench_jupyter.evals.scoring import summary_fields

    suite = result.suite
    cats = result.categories
    table = Table(
        title=f"tool-calling eval: {suite.name}, {len(result.runs)} attempts "
        f"({len(suite.cases)} cases × k={result.k}), {result.mode} rules; "
        "rate [95% CI, clustered by case]",
        title_justify="left",
    )
    table.add_column("target", justify="left", no_wrap=True)
    judged = any(result.judge_mean(t) is not None for t in result.targets)
    cols = ["attempts", "passed", "pass rate", "macro rate", "tool F1", "arg acc", "errors"]
    for col in [*cols, *(["judge /10"] if judged else [])]:
        table.add_column(col, justify="right", no_wrap=True)
    scores = result.scores()
    for target, s in scores.items():
        n_err = sum(1 for r in result.runs if f"{r.provider}/{r.model}" == target and r.error)
        f = summary_fields(s)
        cells = [
            target,
            _fmt(f["attempts"]),
            _fmt(f["passed"]),
            fmt_rate_ci(f["pass_rate"], f["pass_ci_low"], f["pass_ci_high"]),
            fmt_rate_ci(f["macro_rate"], f["macro_ci_low"], f["macro_ci_high"]),
            _fmt(f["tool_f1"], 2),
            _fmt(f["argument_accuracy"], 2),
            str(n_err),
        ]
        if judged:
            cells.append(_fmt(result.judge_mean(target), 1))
        table.add_row(*cells)
    tables = [table]
    if cats:
        by_cat = Table(
            title="pass rate by category [95% CI, clustered by case]; N/A: not in this run",
            title_justify="left",
        )
        by_cat.add_column("category", justify="left", no_wrap=True)
        for target in scores:
            by_cat.add_column(target, justify="right", no_wrap=True)
        for c in cats:
            by_cat.add_row(c, *(_rate_cell(s.categories[c]) for s in scores.values()))
        tables.append(by_cat)
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
                *(fmt_rate_ci(c["rate"], c["ci_low"], c["ci_high"]) for c in cells),
            )
        tables.append(rep)
    return tables


def _console(stderr: bool = False) -> Any:
    """A rich console that does not squeeze tables to 80 columns when output is piped."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 160)
