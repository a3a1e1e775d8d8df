"""The experiment's comparison as a forest plot: each run's difference from the baseline.

One row per run, target and context tier; the dot is the difference in medians (or in
pass rates), the bar its bootstrap 95% interval where there is one, coloured by the
verdict of :meth:`Experiment.compare` (the chart decides nothing itself). The zero line
is "same as the baseline". Rows that could not be compared are left out and counted in
the title.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from llmbench_jupyter.analysis.charts import TEMPLATE, UNITS
from llmbench_jupyter.analysis.labels import plain_label

VERDICT_COLOURS = {"better": "#388e3c", "worse": "#d32f2f",
                   "no significant difference": "#757575"}  # fmt: skip


def _row_label(row: Any) -> str:
    tier = "" if row.context_tier != row.context_tier or row.context_tier is None else (
        f" · tier {int(row.context_tier)}")  # fmt: skip
    return f"{str(row.run_id)[:8]} · {plain_label(str(row.target))}{tier}"


def comparison_figure(table: Any) -> go.Figure:
    """A forest plot of ``Experiment.compare(metric)``'s rows against the baseline."""
    metric = table.attrs.get("metric", "")
    shown = table.dropna(subset=["diff"])
    left_out = len(table) - len(shown)
    fig = go.Figure()
    for verdict, colour in VERDICT_COLOURS.items():
        part = shown[shown["verdict"] == verdict]
        if part.empty:
            continue
        has_ci = part["diff_ci_low"].notna() & part["diff_ci_high"].notna()
        plus = (part["diff_ci_high"] - part["diff"]).where(has_ci, 0.0)
        minus = (part["diff"] - part["diff_ci_low"]).where(has_ci, 0.0)
        fig.add_scatter(
            name=verdict, x=part["diff"].tolist(), y=[_row_label(r) for r in part.itertuples()],
            mode="markers", marker={"color": colour, "size": 10},
            error_x={"type": "data", "array": plus.tolist(), "arrayminus": minus.tolist(),
                     "visible": True},
            customdata=part["p_value"].tolist(),
            hovertemplate="%{y}: %{x:.4g} (p = %{customdata:.3g})<extra>" + verdict + "</extra>",
        )  # fmt: skip
    if metric == "pass_rate":
        axis, sub = "pass rate − baseline's", "McNemar exact test on paired cases"
    else:
        name, unit = UNITS.get(metric, (metric, ""))
        axis = f"{name} median − baseline's ({unit})"
        sub = "bootstrap 95% CI of the median difference; verdict when it excludes 0"
    skipped = f"; {left_out} row(s) not comparable" if left_out else ""
    base = plain_label(str(table.attrs.get("baseline", "")))[:8]
    fig.add_vline(x=0, line={"color": "#9e9e9e", "dash": "dash"})
    fig.update_layout(
        template=TEMPLATE, height=max(260, 80 + 34 * len(shown)),
        title={"text": f"Against the baseline {base}"
               f": {plain_label(metric)}<br><sup>source: Experiment.compare, {sub}{skipped}</sup>",
               "font": {"size": 14}},
        xaxis={"title": axis, "zeroline": False}, yaxis={"autorange": "reversed"},
        legend={"orientation": "h", "yanchor": "top", "y": -0.25, "xanchor": "center", "x": 0.5},
        margin={"t": 80, "l": 20, "r": 20, "b": 80},
    )  # fmt: skip
    return fig
