"""Figures of the analytics DataFrames: ``lj.plot(df)`` draws what ``trends``,
``changes``, ``leaderboard`` and ``compare_runs`` returned.

Each frame says what it is (``df.attrs["kind"]``) and where its numbers come from
(``attrs["source"]``, shown under the title); the figure draws those numbers and computes
none. Names from data go through ``plain_label`` (plotly would render markup in them).
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from llmbench_jupyter.analysis.charts import PALETTE, TEMPLATE, UNITS
from llmbench_jupyter.analysis.labels import plain_label
from llmbench_jupyter.core.errors import InputError

KINDS = ("trends", "changes", "leaderboard", "compare_runs")


def _unit(metric: str) -> str:
    name, unit = UNITS.get(metric, (metric, ""))
    return f"{name} ({unit})" if unit else name


def _title(text: str, source: str | None) -> dict[str, Any]:
    sub = f"<br><sup>source: {plain_label(source)}</sup>" if source else ""
    return {"text": plain_label(text) + sub, "font": {"size": 14}}


def _target(row: Any, tiers: bool) -> str:
    name = plain_label(f"{row['provider']}/{row['model']}")
    return f"{name} @{row['context_tier']}" if tiers else name


def trends_figure(df: Any) -> go.Figure:
    """One line per provider/model (and tier, when there are several): each period's p50."""
    metric, freq = df.attrs.get("metric", "p50"), df.attrs.get("freq", "D")
    fig = go.Figure()
    tiers = df["context_tier"].nunique() > 1
    for i, ((p, m, t), part) in enumerate(df.groupby(["provider", "model", "context_tier"])):
        name = _target({"provider": p, "model": m, "context_tier": t}, tiers)
        fig.add_scatter(
            x=part["period"], y=part["p50"], mode="lines+markers", name=name, meta=name,
            line={"color": PALETTE[i % len(PALETTE)]}, customdata=part[["runs", "requests"]],
            hovertemplate="%{x}: %{y:.4g}<br>%{customdata[0]} runs, %{customdata[1]} "
            "requests<extra>%{meta}</extra>",
        )  # fmt: skip
    unit = "week" if freq == "W" else "day"
    title = _title(f"{metric} median per {unit}", df.attrs.get("source"))
    fig.update_layout(template=TEMPLATE, title=title, xaxis_title="period (UTC)",
                      yaxis_title=_unit(metric), height=420)  # fmt: skip
    return fig


def changes_figure(df: Any) -> go.Figure:
    """Each group's ratio of recent to earlier medians; flagged changes in colour."""
    metric = df.attrs.get("metric", "")
    shown = df.dropna(subset=["ratio"])
    tiers = shown["context_tier"].nunique() > 1
    colours = ["#d32f2f" if f and d == "slower" else "#388e3c" if f else "#9e9e9e"
               for f, d in zip(shown["flagged"], shown["direction"], strict=True)]  # fmt: skip
    fig = go.Figure(go.Bar(
        x=shown["ratio"] - 1, base=1, y=[_target(r, tiers) for _i, r in shown.iterrows()],
        orientation="h", marker_color=colours, customdata=shown["p_value"],
        hovertemplate="ratio %{x:.3f}+1, p = %{customdata:.3g}<extra></extra>",
    ))  # fmt: skip
    fig.add_vline(x=1, line={"color": "#616161", "dash": "dash"})
    test = df.attrs.get("test", "")
    fig.update_layout(template=TEMPLATE, height=max(260, 80 + 30 * len(shown)),
                      title=_title(f"{metric}: recent median / earlier median (coloured: "
                                   "flagged)", test),
                      xaxis_title="ratio", yaxis={"autorange": "reversed"})  # fmt: skip
    return fig


def leaderboard_figure(df: Any) -> go.Figure:
    """Speed against latency per model and tier: TTFT across, decode speed up, the size of
    a point its cost per 1k output tokens, its colour the pass rate when quality was
    asked for."""
    shown = df.dropna(subset=["ttft_ms_p50", "decode_tps_p50"])
    tiers = shown["context_tier"].nunique() > 1
    cost = shown["cost_per_1k_output_usd"].astype(float)
    top = cost.max() if cost.notna().any() else 0.0
    sizes = [10 + 30 * (c / top) if top and c == c else 10 for c in cost]
    marker: dict[str, Any] = {"size": sizes, "color": PALETTE[0], "line": {"width": 1}}
    if "pass_rate" in shown and shown["pass_rate"].notna().any():
        marker.update(color=shown["pass_rate"], colorscale="RdYlGn", cmin=0, cmax=1,
                      colorbar={"title": "pass rate"})  # fmt: skip
    labels = [_target(r, tiers) for _i, r in shown.iterrows()]
    fig = go.Figure(go.Scatter(
        x=shown["ttft_ms_p50"], y=shown["decode_tps_p50"], mode="markers+text", text=labels,
        textposition="top center", marker=marker, customdata=cost,
        hovertemplate="%{text}<br>TTFT %{x:.4g} ms, decode %{y:.4g} tok/s<br>"
        "$%{customdata:.4g} per 1k output tokens<extra></extra>",
    ))  # fmt: skip
    title = _title("Leaderboard: up and to the left is better; size = cost",
                   df.attrs.get("source"))  # fmt: skip
    fig.update_layout(template=TEMPLATE, height=460, title=title, xaxis_title="TTFT p50 (ms)",
                      yaxis_title="decode speed p50 (tok/s)")  # fmt: skip
    return fig


def compare_runs_figure(df: Any) -> go.Figure:
    """One panel per metric: each target's p50 in each run, side by side."""
    metrics = [m for m in dict.fromkeys(df.columns.get_level_values(0)) if m != "requests"]
    runs = list(dict.fromkeys(df.columns.get_level_values(1)))
    fig = make_subplots(rows=len(metrics), cols=1, subplot_titles=[_unit(m) for m in metrics],
                        vertical_spacing=0.12)  # fmt: skip
    tiers = df.index.get_level_values("context_tier").nunique() > 1
    xs = [plain_label(t) + (f" @{tier}" if tiers else "") for t, tier in df.index]
    for row, metric in enumerate(metrics, start=1):
        for i, run in enumerate(runs):
            fig.add_bar(x=xs, y=df[(metric, run)], name=str(run)[:8], legendgroup=str(run),
                        showlegend=row == 1, marker_color=PALETTE[i % len(PALETTE)],
                        row=row, col=1)  # fmt: skip
    fig.update_layout(template=TEMPLATE, barmode="group", height=280 * len(metrics) + 80,
                      title=_title("Runs side by side", df.attrs.get("source")))  # fmt: skip
    return fig


_FIGURES = {"trends": trends_figure, "changes": changes_figure,
            "leaderboard": leaderboard_figure, "compare_runs": compare_runs_figure}  # fmt: skip


def plot(df: Any) -> go.Figure:
    """The figure of an analytics DataFrame (``trends``, ``changes``, ``leaderboard``,
    ``compare_runs``), chosen by what the frame says it is."""
    kind = getattr(df, "attrs", {}).get("kind")
    if kind not in _FIGURES:
        raise InputError(
            f"plot: expected a DataFrame from one of {', '.join(KINDS)} (it says so in "
            f"df.attrs['kind']), got {type(df).__name__} of kind {kind!r}"
        )
    if len(df) == 0:
        raise InputError(f"plot: the {kind} DataFrame is empty: nothing to draw")
    return _FIGURES[kind](df)
