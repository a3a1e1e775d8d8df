"""The knee chart of a load sweep: latency against offered load, the SLO and the limit found.

Every number drawn is a step's statistic from :func:`llmbench_jupyter.stats.slo_check`
(through :class:`~llmbench_jupyter.analysis.sweep_result.SweepResult`); plotly computes
nothing. Markers show each step's verdict, dashed lines the SLO targets, a dotted line
the limit found and, when the target's capacity is known, a grey one at that knee.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from llmbench_jupyter.analysis.charts import PALETTE, TEMPLATE
from llmbench_jupyter.analysis.labels import plain_label

if TYPE_CHECKING:
    from llmbench_jupyter.analysis.sweep_result import SweepResult

_SYMBOL = {"pass": "circle", "fail": "x", "undecided": "diamond-open", None: "circle"}
_PANELS = (("ttft_ms", "TTFT (ms)"), ("tpot_ms", "TPOT (ms/token)"))


def knee_figure(result: SweepResult, height: int = 620) -> go.Figure:
    """Two panels over offered load: TTFT and TPOT p50/p99, then goodput and throughput."""
    steps = sorted(result.steps, key=lambda s: s["load"])
    x = [s["load"] for s in steps]
    q = f"p{(result.slo.quantile if result.slo else 0.99) * 100:g}"
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=("TTFT", "TPOT", "throughput and goodput"))  # fmt: skip
    for row, (metric, axis) in enumerate(_PANELS, start=1):
        for i, (stat, label) in enumerate((("p50", "p50"), ("p99", q))):
            fig.add_scatter(
                x=x, y=[s.get(f"{metric}_{stat}") for s in steps], mode="lines+markers",
                name=f"{axis.split(' ')[0]} {label}", legendgroup=metric,
                line={"color": PALETTE[i], "dash": "solid" if stat == "p99" else "dot"},
                marker={"symbol": [_SYMBOL.get(s.get("decision"), "circle") for s in steps],
                        "size": 9},
                customdata=[[s.get("decision") or "—", s.get("requests")] for s in steps],
                hovertemplate="%{x:.4g}: %{y:.4g} ms<br>%{customdata[0]}, "
                "%{customdata[1]} requests<extra>%{fullData.name}</extra>",
                row=row, col=1,
            )  # fmt: skip
        target = getattr(result.slo, metric, None) if result.slo else None
        if target is not None:
            fig.add_hline(y=target, line={"dash": "dash", "color": PALETTE[3]}, row=row, col=1,
                          annotation_text=f"SLO {q} ≤ {target:g}",
                          annotation_position="top left")  # fmt: skip
        fig.update_yaxes(title_text=axis, row=row, col=1, rangemode="tozero")
    fig.add_scatter(
        x=x,
        y=[s.get("throughput_rps") for s in steps],
        mode="lines+markers",
        name="throughput (req/s)",
        line={"color": PALETTE[2]},
        row=3,
        col=1,
    )
    if result.slo is not None:
        fig.add_scatter(
            x=x,
            y=[s.get("goodput_rps") for s in steps],
            mode="lines+markers",
            name="goodput (req/s)",
            line={"color": PALETTE[4]},
            row=3,
            col=1,
        )
    fig.update_yaxes(title_text="req/s", row=3, col=1, rangemode="tozero")
    for value, text, color in (
        (result.limit, f"limit {result.limit:g}" if result.limit is not None else "", PALETTE[2]),
        (result.known_knee_rps if result.mode == "rate" else None,
         f"known capacity {result.known_knee_rps or 0:g}", "#808080"),
    ):  # fmt: skip
        if value is not None:
            fig.add_vline(x=value, line={"dash": "dot", "color": color}, annotation_text=text,
                          annotation_position="top right")  # fmt: skip
    unit = "offered load (req/s)" if result.mode == "rate" else "concurrency (streams)"
    fig.update_xaxes(title_text=unit, row=3, col=1)
    title = f"{plain_label(result.target)}: latency against load"
    sub = plain_label(result.verdict())
    fig.update_layout(template=TEMPLATE, height=height, hovermode="x unified",
                      title={"text": f"{title}<br><sup>{sub}</sup>", "font": {"size": 14}},
                      legend={"orientation": "h", "y": -0.12})  # fmt: skip
    return fig
