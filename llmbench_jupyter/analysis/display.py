"""HTML summaries of runs for notebooks and reports (no Jupyter imports).

Every figure in the table comes from :func:`llmbench_jupyter.stats.summarize`; the run's
overhead line comes from what the engine recorded (client CPU share, event-loop lag,
the CLIENT-BOUND verdict of ``stats.is_client_bound``). All text is HTML-escaped and no
object address appears anywhere, so saved notebooks diff cleanly.
"""

from __future__ import annotations

import html
import math
from typing import Any

from llmbench_jupyter.core.errors import scrub

_CSS = """<style>
.llmbench-result{font-size:13px;line-height:1.4;max-width:100%;overflow-x:auto}
.llmbench-result table{border-collapse:collapse;margin:6px 0}
.llmbench-result th,.llmbench-result td{padding:3px 8px;text-align:right;white-space:nowrap;
border-bottom:1px solid rgba(128,128,128,.25)}
.llmbench-result th{font-weight:600;white-space:normal;vertical-align:bottom}
.llmbench-result .lbr-l{text-align:left}
.llmbench-result .lbr-muted{opacity:.7}
.llmbench-result .lbr-bad{color:#d32f2f;font-weight:600}
.llmbench-result .lbr-ok{color:#388e3c}
</style>"""

# (header, unit, metric, statistic): one column each, after provider/model/tier/ok-err.
_COLUMNS = (
    ("TTFT p50 [p95]", "ms", "ttft_ms", "p50_p95"),
    ("TTFAT p50", "ms", "ttfat_ms", "p50"),
    ("Decode p50", "tok/s", "decode_tps", "p50"),
    ("TPOT p50", "ms", "tpot_ms", "p50"),
    ("E2E p50", "ms", "e2e_ms", "p50"),
    ("Output tokens p50", "", "output_tokens", "p50"),
)


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_num(value: Any) -> str:
    """A number with precision by magnitude (3 significant-ish digits); '—' when absent."""
    if _missing(value):
        return "—"
    v = float(value)
    a = abs(v)
    digits = 0 if a >= 100 or v.is_integer() else 1 if a >= 10 else 2
    return f"{v:,.{digits}f}"


def pct_points(value: float) -> int:
    """Whole percentage points of a share, rounded half up: ``floor(100·x + 0.5)``.

    The one rounding rule for percentages in every view (tables, reprs, CLI, HTML). The
    widgets' JavaScript does the same double-precision arithmetic (``Math.floor(100 * x +
    0.5)``), so 0.625 is "63%" everywhere; ``format(x, ".0%")`` would say "62%" (half to
    even) and is not used.
    """
    return math.floor(100.0 * float(value) + 0.5)


def fmt_pct(value: Any) -> str:
    """``"63%"`` for 0.625; ``"N/A"`` when absent (never 0%)."""
    if _missing(value):
        return "N/A"
    return f"{pct_points(value)}%"


def fmt_rate_ci(rate: Any, ci_low: Any, ci_high: Any) -> str:
    """``"68% [53–80%]"``: a rate and its 95% interval, each rounded by :func:`pct_points`."""
    if _missing(rate):
        return "N/A"
    if _missing(ci_low) or _missing(ci_high):
        return fmt_pct(rate)
    return f"{pct_points(rate)}% [{pct_points(ci_low)}–{pct_points(ci_high)}%]"


def _round_value(column: str, value: Any) -> Any:
    """One rounding per kind of column, read from its name's unit suffix."""
    if not isinstance(value, float) or math.isnan(value) or math.isinf(value):
        return value
    if "_usd" in column:  # costs: 4 significant digits (per 1k tokens they are small)
        return float(f"{value:.4g}")
    if "_ms" in column or "_tps" in column or "tokens" in column or column.endswith("_s"):
        return round(value, 1)
    return round(value, 3)  # rates, shares, F1, accuracy, CV


def round_frame(df: Any) -> Any:
    """A copy of ``df`` with each float column rounded by its unit (:func:`_round_value`):
    ms, tok/s, tokens and seconds to 0.1; USD to 4 significant digits; rates to 0.001."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype.kind == "f" or out[col].dtype == object:
            out[col] = [_round_value(str(col), v) for v in out[col]]
            if df[col].dtype.kind == "f":
                out[col] = out[col].astype(float)
    return out


def compact_frame(df: Any, keep: tuple[str, ...] = ()) -> Any:
    """The default view of a DataFrame: columns holding no value in any row left out
    (except ``keep``), numbers rounded by :func:`round_frame`. The data is not changed."""
    if df.empty:
        return df.copy()
    shown = [c for c in df.columns if c in keep or df[c].notna().any()]
    return round_frame(df[shown])


def fmt_cost(value: Any) -> str:
    if _missing(value):
        return "—"
    return f"${float(value):.4g}"


def _tier(value: Any) -> str:
    if _missing(value):
        return "—"
    return f"{int(value):,}"


def _metric_cell(row: dict[str, Any], metric: str, stat: str) -> str:
    if stat == "p50_p95":
        p50, p95 = row.get(f"{metric}_p50"), row.get(f"{metric}_p95")
        if _missing(p50):
            return "—"
        return f"{fmt_num(p50)} <span class='lbr-muted'>[{fmt_num(p95)}]</span>"
    return fmt_num(row.get(f"{metric}_{stat}"))


def _ok_err_cell(row: dict[str, Any]) -> str:
    errors = int(row.get("errors") or 0)
    cats = row.get("error_categories") or {}
    title = ", ".join(f"{k}: {v}" for k, v in sorted(cats.items())) if cats else ""
    err = f"<span class='lbr-bad'>{errors}</span>" if errors else "0"
    attr = f" title='{_e(title)}'" if title else ""
    return f"<td{attr}>{int(row.get('ok') or 0)} / {err}</td>"


def summary_table_html(result: Any) -> str:
    """The per provider/model/tier table of a run, from ``stats.summarize``."""
    from llmbench_jupyter.stats import summarize

    summary = summarize(result.records)
    if summary.empty:
        return "<p class='lbr-muted'>No measured requests.</p>"
    head = (
        "".join(f"<th class='lbr-l'>{h}</th>" for h in ("Provider", "Model"))
        + "<th>Tier</th><th>OK / err</th>"
    )
    head += "".join(f"<th>{_e(h)}{f' ({_e(u)})' if u else ''}</th>" for h, u, _, _ in _COLUMNS)
    head += "<th>Cost (USD)</th>"
    body = []
    for row in summary.to_dict("records"):
        cells = [
            f"<td class='lbr-l'>{_e(row['provider'])}</td>",
            f"<td class='lbr-l'>{_e(row['model'])}</td>",
            f"<td>{_tier(row.get('context_tier'))}</td>",
            _ok_err_cell(row),
            *(f"<td>{_metric_cell(row, m, s)}</td>" for _, _, m, s in _COLUMNS),
            f"<td>{fmt_cost(row.get('total_cost_usd'))}</td>",
        ]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def overhead_html(overhead: dict[str, Any] | None) -> str:
    """One line: client CPU share, event-loop lag p99 and the CLIENT-BOUND verdict."""
    if not overhead or "client_cpu_share" not in overhead:
        return "<p class='lbr-muted'>Client overhead: not recorded.</p>"
    share: Any = overhead.get("client_cpu_share")
    lag = overhead.get("loop_lag_p99_ms")
    idle = overhead.get("loop_lag_idle_ms")
    parts = [
        f"client CPU {'—' if _missing(share) else fmt_num(100 * float(share))}% of one core",
        f"event-loop lag p99 {fmt_num(lag)} ms"
        + ("" if _missing(idle) else f" (idle {fmt_num(idle)} ms)"),
    ]
    workers = (overhead.get("workers") or {}).get("count")
    if workers:
        parts.insert(0, f"busiest of {workers} worker processes")
    if overhead.get("client_bound"):
        why = overhead.get("client_bound_reason") or "the client may have limited this measurement"
        verdict = f"<span class='lbr-bad'>CLIENT-BOUND</span>: {_e(why)}"
    else:
        verdict = "<span class='lbr-ok'>client not limiting</span>"
    return f"<p class='lbr-muted'>Overhead: {_e(' · '.join(parts))} · {verdict}</p>"


def result_html(result: Any) -> str:
    """Compact HTML summary of a :class:`~llmbench_jupyter.analysis.bench_result.BenchResult`."""
    run = f"run {result.run_id[:8]}" if result.run_id else "unsaved run"
    run_title = f" title='{_e(result.run_id)}'" if result.run_id else ""
    spec = result.spec if isinstance(result.spec, dict) else {}
    name = f" <b>{_e(spec['name'])}</b> ·" if spec.get("name") else ""
    measured = result.measured
    errors = sum(r.status != "ok" for r in measured)
    status_cls = "lbr-ok" if result.status == "done" else "lbr-bad"
    header = (
        f"<p><b>llmbench</b>{name} <span{run_title}>{_e(run)}</span> · "
        f"<span class='{status_cls}'>{_e(result.status)}</span> · "
        f"{len(measured)} measured requests, {errors} errors</p>"
    )
    parts = [_CSS, "<div class='llmbench-result'>", header, summary_table_html(result)]
    parts.append(overhead_html(result.overhead))
    from llmbench_jupyter.analysis.timing_selftest import selftest_html

    parts.append(selftest_html((result.overhead or {}).get("timing_selftest")))
    for skip in result.skipped or []:
        parts.append(
            f"<p class='lbr-muted'>Skipped {_e(skip.get('provider'))}/{_e(skip.get('model'))} "
            f"tier {_e(skip.get('context_tier'))}: {_e(skip.get('reason'))}</p>"
        )
    store_errors = list(result.store_errors or []) or list(
        (result.overhead or {}).get("store_errors") or []
    )
    if store_errors:
        parts.append(
            f"<p class='lbr-bad'>Store errors ({len(store_errors)}): "
            f"{_e(scrub(str(store_errors[0])))}</p>"
        )
    parts.append("</div>")
    return "".join(parts)
