"""An experiment in a notebook: its runs, the baseline, every run against it, the best run.

Everything shown is read from the store through :class:`Experiment` (the same numbers as
``compare``, ``best`` and the HTML report), again on every change and on Refresh, so runs
added by a job started with ``experiment=`` appear without rebuilding the widget. Choosing
a metric redraws the comparison (its test, interval and verdict per run, target and tier)
and the forest plot; the controls add and remove runs, move the baseline and write the
offline report.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import ipywidgets as w

from llmbench_jupyter.analysis.experiment_chart import VERDICT_COLOURS, comparison_figure
from llmbench_jupyter.analysis.experiments import LATENCY, METRICS, Experiment, experiment
from llmbench_jupyter.core.errors import LLMBenchError, scrub

_CMP_COLUMNS = ("run_id", "target", "context_tier", "baseline_value", "value", "diff",
                "diff_ci_low", "diff_ci_high", "p_value", "effect", "verdict", "note")  # fmt: skip


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def _table(rows: list[dict[str, Any]], columns: tuple[str, ...], testid: str) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for row in rows:
        colour = VERDICT_COLOURS.get(str(row.get("verdict")), "")
        style = (
            f' style="color:{colour}"'
            if colour and row.get("verdict") != "no significant difference"
            else ""
        )
        cells = "".join(f"<td>{_cell(row.get(c))}</td>" for c in columns)
        body.append(f'<tr data-run="{html.escape(str(row.get("run_id", "")))}"{style}>{cells}</tr>')
    return (f'<table class="llmbench-exp-table" data-testid="{testid}"><thead><tr>{head}</tr>'
            f"</thead><tbody>{''.join(body)}</tbody></table>")  # fmt: skip


class ExperimentWidget(w.VBox):
    """The experiment ``exp``, live from the store: runs, baseline, comparison, best."""

    def __init__(self, exp: Experiment, metric: str | None = None) -> None:
        self.experiment = exp
        self.header = w.HTML()
        self.runs_html = w.HTML()
        self.run_choice = w.Dropdown(description="Run", layout=w.Layout(width="420px"))
        self.baseline_button = w.Button(description="Make baseline", icon="flag")
        self.remove_button = w.Button(description="Remove", icon="minus", button_style="warning")
        self.add_text = w.Text(placeholder="run id or prefix", description="Add run")
        self.add_button = w.Button(description="Add", icon="plus")
        self.metric = w.Dropdown(options=list(METRICS), description="Metric")
        self.refresh_button = w.Button(description="Refresh", icon="refresh")
        self.compare_html = w.HTML()
        self.chart = w.Output()
        self.figure: Any = None  # the forest plot drawn last (None when nothing to draw)
        self.best_html = w.HTML()
        self.report_path = w.Text(value=f"{_slug(exp.name)}.html", description="Report")
        self.report_button = w.Button(description="Write report", icon="file")
        self.status = w.HTML()
        for name, widget in (("compare", self.compare_html), ("best", self.best_html),
                             ("runs", self.runs_html), ("status", self.status),
                             ("chart", self.chart)):  # fmt: skip
            widget.add_class(f"llmbench-exp-{name}")
        self.baseline_button.on_click(lambda _b: self._act(self._make_baseline))
        self.remove_button.on_click(lambda _b: self._act(self._remove))
        self.add_button.on_click(lambda _b: self._act(self._add))
        self.refresh_button.on_click(lambda _b: self.refresh())
        self.report_button.on_click(lambda _b: self._act(self._report))
        super().__init__([
            self.header, self.runs_html,
            w.HBox([self.run_choice, self.baseline_button, self.remove_button]),
            w.HBox([self.add_text, self.add_button]),
            w.HBox([self.metric, self.refresh_button]), self.compare_html, self.chart,
            self.best_html, w.HBox([self.report_path, self.report_button]), self.status,
        ])  # fmt: skip
        self.add_class("llmbench-experiment")
        self._metric_given = metric
        self.refresh()
        self.metric.observe(lambda _c: self._draw_analysis(), "value")

    def __repr__(self) -> str:
        return f"ExperimentWidget({self.experiment.name!r})"

    # --- actions ----------------------------------------------------------------------
    def _act(self, action: Any) -> None:
        try:
            done = action()
        except LLMBenchError as exc:
            self._say(scrub(str(exc)), error=True)
            return
        self._say(done)
        self.refresh(keep_status=True)

    def _make_baseline(self) -> str:
        run = self._chosen()
        self.experiment.set_baseline(run)
        return f"run {run[:8]} is the baseline now"

    def _remove(self) -> str:
        run = self._chosen()
        self.experiment.remove(run)
        return f"removed run {run[:8]} (the run itself is kept)"

    def _add(self) -> str:
        given = self.add_text.value.strip()
        if not given:
            raise LLMBenchError("type a run id (or a unique prefix) to add")
        self.experiment.add(given)
        self.add_text.value = ""
        return f"added run {given}"

    def _report(self) -> str:
        path = Path(self.report_path.value.strip() or f"{_slug(self.experiment.name)}.html")
        written = Path(self.experiment.report(str(path)))
        return f"wrote {written} ({written.stat().st_size / 1e6:.2f} MB)"

    def _chosen(self) -> str:
        if not self.run_choice.value:
            raise LLMBenchError("the experiment has no runs yet")
        return str(self.run_choice.value)

    # --- drawing ----------------------------------------------------------------------
    def refresh(self, keep_status: bool = False) -> None:
        """Read the experiment again and redraw everything."""
        try:
            runs = self.experiment.runs()
            summary = repr(self.experiment)
        except LLMBenchError as exc:
            self._say(scrub(str(exc)), error=True)
            return
        if not keep_status:
            self.status.value = ""
        self.header.value = f"<h3>{html.escape(summary.strip('<>'))}</h3>"
        rows = runs.to_dict("records")
        for row in rows:
            row["baseline"] = "baseline" if row["baseline"] else ""
        self.runs_html.value = _table(rows, ("run_id", "kind", "name", "created_at", "status",
                                             "baseline"), "llmbench-exp-runs")  # fmt: skip
        current = self.run_choice.value
        self.run_choice.options = [(f"{r['run_id'][:8]} {r['kind']} {r['name'] or ''}".strip(),
                                    r["run_id"]) for r in rows]  # fmt: skip
        ids = [r["run_id"] for r in rows]
        self.run_choice.value = current if current in ids else (ids[0] if ids else None)
        base_kind = next((r["kind"] for r in rows if r["baseline"]), None)
        wanted = self._metric_given or ("pass_rate" if base_kind == "eval" else "ttft_ms")
        self._metric_given = None
        if wanted != self.metric.value:
            self.metric.value = wanted  # its observer redraws
        else:
            self._draw_analysis()

    def _draw_analysis(self) -> None:
        metric = self.metric.value
        self.chart.clear_output()
        self.figure = None
        try:
            table = self.experiment.compare(metric)
        except LLMBenchError as exc:
            self.compare_html.value = f"<i>{html.escape(scrub(str(exc)))}</i>"
            table = None
        if table is not None:
            better = "lower" if LATENCY.get(metric, False) else "higher"
            test = "McNemar exact on paired cases" if metric == "pass_rate" else (
                "median difference with its bootstrap 95% CI; Mann-Whitney U")  # fmt: skip
            self.compare_html.value = (
                f"<p><b>Against the baseline: {html.escape(metric)}</b> ({test}; {better} is "
                "better)</p>"
                + _table(table.to_dict("records"), _CMP_COLUMNS, "llmbench-exp-compare")
            )  # fmt: skip
            if table["diff"].notna().any():
                self.figure = comparison_figure(table)
                with self.chart:
                    self.figure.show()
        self._draw_best(metric)

    def _draw_best(self, metric: str) -> None:
        if metric == "ttfat_ms":
            self.best_html.value = "<i>best run: not kept for ttfat_ms</i>"
            return
        best = self.experiment.best(metric)
        if best.empty:
            self.best_html.value = f"<i>no run has {html.escape(metric)} yet</i>"
            return
        self.best_html.value = f"<p><b>Best run per target: {html.escape(metric)}</b></p>" + (
            _table(best.to_dict("records"), tuple(best.columns), "llmbench-exp-best"))  # fmt: skip

    def _say(self, text: str, error: bool = False) -> None:
        colour = "#b00020" if error else "#1b5e20"
        self.status.value = f'<span style="color:{colour}">{html.escape(text)}</span>'


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name).strip("-") or "report"


def experiment_widget(exp: Experiment | str, *, metric: str | None = None,
                      store: Any = None) -> ExperimentWidget:  # fmt: skip
    """The widget of an experiment (an :class:`Experiment` or its name; it must exist)."""
    found = exp if isinstance(exp, Experiment) else experiment(exp, create=False, store=store)
    return ExperimentWidget(found, metric)
