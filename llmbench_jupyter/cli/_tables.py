"""What the commands print: rich tables of bench and eval results, and their formatting.

Nothing here computes a number: the tables arrange what ``stats`` and ``EvalResult`` return.
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
    """CPU share and loop-lag p99 as recorded; "—" where a run has none (never 0)."""
    o = result.overhead or {}
    if "client_cpu_share" not in o:
        return "client overhead: not recorded"
    share, lag = o.get("client_cpu_share"), o.get("loop_lag_p99_ms")
    idle = o.get("loop_lag_idle_ms")
    line = (
        f"client overhead: CPU {_fmt(None if share is None else share * 100, 0)}% of one core, "
        f"event-loop lag p99 {_fmt(lag, 1)} ms"
        + ("" if idle is None else f" (idle {_fmt(idle, 1)} ms)")
    )
    if o.get("client_bound"):
        line += "\nCLIENT-BOUND: " + (
            o.get("client_bound_reason") or "numbers include client queueing"
        )
    return line


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


def _console(stderr: bool = False) -> Any:
    """A rich console that does not squeeze tables to 80 columns when output is piped."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 160)
