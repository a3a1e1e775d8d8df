"""Static plotly figures of a run, for notebooks and reports.

Every number drawn comes from :func:`llmbench_jupyter.stats.summarize` (medians and their
bootstrap 95% CIs) or is a raw per-request value; plotly computes nothing (no box or
histogram traces, whose statistics would be computed in the browser).

Importing this module sets ``plotly.io.renderers.default = "plotly_mimetype"``: a figure
shown in a notebook is then stored once as ``application/vnd.plotly.v1+json`` (a few kB)
and drawn by JupyterLab's bundled plotly renderer, instead of embedding ~4.8 MB of
plotly.js per figure (the notebook renderers) or needing a FigureWidget. Reports embed
plotly.js once themselves (:mod:`llmbench_jupyter.analysis.report`).

Every name drawn that comes from data (model and provider names, suite and category
names) goes through :func:`~llmbench_jupyter.analysis.labels.plain_label` first: plotly
would draw markup in it, a link included.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

from llmbench_jupyter.analysis.labels import plain_label
from llmbench_jupyter.core.errors import LLMBenchError

pio.renderers.default = "plotly_mimetype"

#: Units of the metrics a figure can show (the per-request metrics of stats.METRICS).
UNITS = {
    "ttft_ms": ("TTFT", "ms"),
    "ttfat_ms": ("Time to first answer token", "ms"),
    "e2e_ms": ("End-to-end latency", "ms"),
    "tpot_ms": ("TPOT", "ms/token"),
    "decode_tps": ("Decode speed", "tok/s"),
    "total_tps": ("Total speed (incl. TTFT)", "tok/s"),
    "prefill_tps": ("Prefill speed (approx.)", "tok/s"),
    "output_tokens": ("Output tokens", "tokens"),
    "input_tokens": ("Input tokens", "tokens"),
    "cost_usd": ("Cost per request", "USD"),
}
DEFAULT_METRICS = ("ttft_ms", "decode_tps")
#: Categorical colours readable on light and dark backgrounds (same as the live widget).
PALETTE = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b", "#9d755d")
TEMPLATE = "llmbench"


def _register_template() -> None:
    """A template with transparent backgrounds and mid-grey ink: legible on light and dark
    notebook themes alike (the notebook renderer does not switch templates with the theme)."""
    if TEMPLATE in pio.templates:
        return
    grid = "rgba(128,128,128,0.25)"
    axis = {
        "gridcolor": grid,
        "zerolinecolor": grid,
        "linecolor": "rgba(128,128,128,0.6)",
        "showline": True,
        "ticks": "outside",
        "tickcolor": "rgba(128,128,128,0.6)",
        "automargin": True,
    }
    pio.templates[TEMPLATE] = go.layout.Template(
        layout={
            "paper_bgcolor": "rgba(0,0,0,0)",
            "plot_bgcolor": "rgba(0,0,0,0)",
            "font": {
                "color": "#808080",
                "family": "system-ui, -apple-system, Segoe UI, sans-serif",
            },
            "colorway": list(PALETTE),
            "xaxis": axis,
            "yaxis": axis,
            "hoverlabel": {"font": {"color": "#111"}, "bgcolor": "#fafafa"},
            "legend": {"bgcolor": "rgba(0,0,0,0)"},
        }
    )


_register_template()


def _records(result: Any) -> list[Any]:
    records = getattr(result, "records", None)
    if records is None:
        raise LLMBenchError(
            f"result_figure(result): expected a BenchResult (or an object with .records), "
            f"got {type(result).__name__}"
        )
    return list(records)


def _metrics(metric: str | Sequence[str] | None) -> tuple[str, ...]:
    chosen = (
        DEFAULT_METRICS
        if metric is None
        else ((metric,) if isinstance(metric, str) else tuple(metric))
    )
    unknown = [m for m in chosen if m not in UNITS]
    if unknown or not chosen:
        raise LLMBenchError(
            f"result_figure(metric=...): unknown metric {', '.join(map(repr, unknown)) or '()'}; "
            f"expected one of {', '.join(UNITS)}"
        )
    return chosen


def _labels(result: Any, keys: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """Display names from the run's spec, as plain text; the provider is added when two
    targets share one."""
    names: dict[tuple[Any, Any], str] = {}
    spec = getattr(result, "spec", None) or {}
    for t in spec.get("targets", []) if isinstance(spec, dict) else []:
        if isinstance(t, dict) and t.get("display_name"):
            names[(t.get("provider"), t.get("model"))] = str(t["display_name"])
    out = {k: names.get(k, k[1]) for k in keys}
    counts: dict[str, int] = {}
    for label in out.values():
        counts[label] = counts.get(label, 0) + 1
    return {k: plain_label(f"{k[0]}/{v}" if counts[v] > 1 else v) for k, v in out.items()}


def _tier_label(tokens: Any) -> str:
    tokens = int(tokens)
    if tokens < 1000:
        return str(tokens)
    k = tokens / 1000
    return f"{k:g}k"


def result_figure(result: Any, metric: str | Sequence[str] | None = None, **kw: Any) -> go.Figure:
    """Figure of a run: per model, every request's value and the median with its 95% CI.

    By default two panels, TTFT (ms) and decode speed (tok/s); ``metric`` picks one (or
    several) of :data:`UNITS`. With several context tiers the x axis is the tier and each
    model is one line of medians with CI error bars. ``kw`` goes to ``update_layout``.
    """
    from plotly.subplots import make_subplots

    from llmbench_jupyter.stats import summarize

    metrics = _metrics(metric)
    records = _records(result)
    tiers = sorted({r.context_tier for r in records if not r.is_warmup})
    tiered = len(tiers) > 1
    by = ("provider", "model", "context_tier") if tiered else ("provider", "model")
    summary = summarize(records, by=by, metrics=metrics)
    keys = list(dict.fromkeys(zip(summary["provider"], summary["model"], strict=True)))
    labels = _labels(result, keys)
    colors = {k: PALETTE[i % len(PALETTE)] for i, k in enumerate(keys)}

    titles = []
    for m in metrics:
        name, unit = UNITS[m]
        n = int(summary[f"{m}_n"].fillna(0).sum()) if len(summary) else 0
        titles.append(
            f"{name} ({unit}): median, 95% bootstrap CI<br>"
            f"<sup>source: llmbench stats.summarize, n={n}</sup>"
        )
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=titles, horizontal_spacing=0.12)
    for col, m in enumerate(metrics, start=1):
        name, unit = UNITS[m]
        if tiered:
            _tier_traces(fig, summary, m, unit, keys, labels, colors, tiers, col)
            fig.update_xaxes(title_text="context tier (tokens)", type="category", row=1, col=col)
        else:
            _model_traces(fig, summary, records, m, unit, keys, labels, colors, col)
        fig.update_yaxes(title_text=f"{name} ({unit})", rangemode="tozero", row=1, col=col)
    fig.update_layout(
        template=TEMPLATE,
        height=420,
        margin={"t": 90, "l": 60, "r": 20, "b": 100 if tiered else 60},
        legend={"orientation": "h", "yanchor": "top", "y": -0.25, "xanchor": "center", "x": 0.5},
        showlegend=tiered,
        hovermode="closest",
    )
    fig.update_annotations(font_size=13)
    if kw:
        fig.update_layout(**kw)
    return fig


def _ci(row: Any, m: str) -> tuple[float | None, float | None]:
    """Error-bar lengths above/below the median (None when no CI: n < 2)."""
    med, lo, hi = row[f"{m}_p50"], row[f"{m}_median_ci_low"], row[f"{m}_median_ci_high"]
    if _missing(med) or _missing(lo) or _missing(hi):
        return None, None
    return float(hi) - float(med), float(med) - float(lo)


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def _model_traces(
    fig: go.Figure,
    summary: Any,
    records: list[Any],
    m: str,
    unit: str,
    keys: list[tuple[str, str]],
    labels: dict[tuple[str, str], str],
    colors: dict[tuple[str, str], str],
    col: int,
) -> None:
    """Strip of successful measured requests (seeded spread) plus median and CI per model."""
    import numpy as np

    rng = np.random.default_rng(0)
    rows = {(r["provider"], r["model"]): r for r in summary.to_dict("records")}
    for i, key in enumerate(keys):
        values = [
            getattr(r, m)
            for r in records
            if (r.provider, r.model) == key
            and not r.is_warmup
            and r.status == "ok"
            and getattr(r, m) is not None
        ]
        label = labels[key]
        if values:
            fig.add_trace(
                go.Scatter(
                    x=(i + rng.uniform(-0.18, 0.18, len(values))).tolist(),
                    y=values,
                    mode="markers",
                    marker={"size": 6, "color": colors[key], "opacity": 0.45},
                    name=f"{label} requests",
                    legendgroup=label,
                    meta=label,
                    hovertemplate=f"%{{meta}}<br>%{{y:.4g}} {unit}<extra>request</extra>",
                    showlegend=False,
                ),
                row=1,
                col=col,
            )
        row = rows[key]
        if _missing(row[f"{m}_p50"]):
            continue
        up, down = _ci(row, m)
        fig.add_trace(
            go.Scatter(
                x=[i],
                y=[row[f"{m}_p50"]],
                mode="markers",
                marker={
                    "size": 13,
                    "symbol": "diamond",
                    "color": colors[key],
                    "line": {"width": 1.5, "color": "#808080"},
                },
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [up],
                    "arrayminus": [down],
                    "visible": up is not None,
                    "thickness": 2,
                    "width": 8,
                    "color": colors[key],
                },
                name=f"{label} median",
                legendgroup=label,
                meta=label,
                hovertemplate=(
                    f"%{{meta}}<br>median %{{y:.4g}} {unit}<br>n={int(row[f'{m}_n'])}"
                    "<extra>stats.summarize</extra>"
                ),
                showlegend=False,
            ),
            row=1,
            col=col,
        )
    fig.update_xaxes(
        tickmode="array",
        tickvals=list(range(len(keys))),
        ticktext=[labels[k] for k in keys],
        range=[-0.6, len(keys) - 0.4],
        showgrid=False,
        zeroline=False,
        row=1,
        col=col,
    )


def _tier_traces(
    fig: go.Figure,
    summary: Any,
    m: str,
    unit: str,
    keys: list[tuple[str, str]],
    labels: dict[tuple[str, str], str],
    colors: dict[tuple[str, str], str],
    tiers: list[int],
    col: int,
) -> None:
    """One line per model across context tiers: medians with CI error bars."""
    for key in keys:
        rows = [
            r
            for r in summary.to_dict("records")
            if (r["provider"], r["model"]) == key and not _missing(r[f"{m}_p50"])
        ]
        rows.sort(key=lambda r: tiers.index(r["context_tier"]))
        if not rows:
            continue
        cis = [_ci(r, m) for r in rows]
        label = labels[key]
        fig.add_trace(
            go.Scatter(
                x=[_tier_label(r["context_tier"]) for r in rows],
                y=[r[f"{m}_p50"] for r in rows],
                mode="lines+markers",
                marker={"size": 8, "color": colors[key]},
                line={"color": colors[key]},
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [u for u, _ in cis],
                    "arrayminus": [d for _, d in cis],
                    "thickness": 1.5,
                    "width": 5,
                },
                customdata=[int(r[f"{m}_n"]) for r in rows],
                name=label,
                legendgroup=label,
                meta=label,
                showlegend=col == 1,
                hovertemplate=(
                    f"%{{meta}}<br>tier %{{x}}<br>median %{{y:.4g}} {unit}<br>n=%{{customdata}}"
                    "<extra>stats.summarize</extra>"
                ),
            ),
            row=1,
            col=col,
        )
    fig.update_xaxes(
        categoryorder="array", categoryarray=[_tier_label(t) for t in tiers], row=1, col=col
    )


def eval_pass_rates(result: Any, **kw: Any) -> go.Figure:
    """Pass rate per model overall and per category, with Wilson 95% intervals.

    Categories that did not run are left out of the bars (N/A), never drawn as 0. Numbers
    come from ``EvalResult.scores()`` (``scoring.score_suite``).
    """
    scores = result.scores()
    groups = ["all (micro)", *(plain_label(c) for c in result.categories)]
    fig = go.Figure()
    for i, (target, s) in enumerate(scores.items()):
        name = plain_label(target)
        rates = [s.micro, *(s.categories.get(c) for c in result.categories)]
        xs = [g for g, r in zip(groups, rates, strict=True) if r is not None]
        ys = [r.rate for r in rates if r is not None]
        hi = [r.ci_high - r.rate for r in rates if r is not None]
        lo = [r.rate - r.ci_low for r in rates if r is not None]
        ns = [f"{r.successes}/{r.n}" for r in rates if r is not None]
        fig.add_bar(
            name=name,
            meta=name,
            x=xs,
            y=ys,
            marker_color=PALETTE[i % len(PALETTE)],
            error_y={"type": "data", "array": hi, "arrayminus": lo, "visible": True},
            customdata=ns,
            hovertemplate="%{x}: %{y:.0%} (%{customdata})<extra>%{meta}</extra>",
        )
    n = sum(s.n_attempts for s in scores.values())
    fig.update_layout(
        template=TEMPLATE,
        barmode="group",
        height=420,
        title={
            "text": f"Tool-calling pass rate: {plain_label(result.suite.name)}, Wilson 95% CI<br>"
            f"<sup>source: llmbench scoring.score_suite, {plain_label(result.mode)} rules, "
            f"{n} case attempts</sup>",
            "font": {"size": 14},
        },
        yaxis={"title": "pass rate", "tickformat": ".0%", "range": [0, 1.05]},
        legend={"orientation": "h", "yanchor": "top", "y": -0.2, "xanchor": "center", "x": 0.5},
        margin={"t": 80, "l": 60, "r": 20, "b": 80},
    )
    if kw:
        fig.update_layout(**kw)
    return fig
