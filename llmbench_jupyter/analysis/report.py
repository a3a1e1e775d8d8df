"""Self-contained offline HTML reports of one or more runs.

A report is one file: summary tables (:mod:`.display`) and static figures (:mod:`.charts`).
plotly.js (~4.8 MB) is embedded exactly once, by the first figure; the others reuse it,
so the file opens offline and does not grow by megabytes per figure.
"""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.private_files import write_atomic

_PAGE_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1100px;
padding:0 16px;color:#1f2328;background:#fff}
@media (prefers-color-scheme: dark){body{color:#e0e0e0;background:#161616}}
h1{font-size:1.6em;margin-bottom:4px} h2{font-size:1.2em;margin-top:32px}
section{border-top:1px solid rgba(128,128,128,.3);padding-top:8px}
.llmbench-meta{opacity:.7;font-size:.9em}
"""


def _as_results(results: Any) -> list[Any]:
    items = list(results) if isinstance(results, Sequence) else [results]
    out = []
    for i, item in enumerate(items):
        if getattr(item, "records", None) is None and callable(getattr(item, "result", None)):
            item = item.result()  # a finished Job
        if getattr(item, "records", None) is None:
            raise LLMBenchError(
                f"export_html(results): item {i} is {type(item).__name__}; expected a "
                "BenchResult, a finished Job, or a list of them"
            )
        out.append(item)
    if not out:
        raise LLMBenchError("export_html(results): no results given")
    return out


def _heading(result: Any, index: int) -> str:
    spec = result.spec if isinstance(result.spec, dict) else {}
    label = spec.get("name") or (f"run {result.run_id[:8]}" if result.run_id else "unsaved run")
    return f"{index}. {label}"


def export_html(
    results: Any, path: str | os.PathLike[str], *, title: str = "llmbench report"
) -> Path:
    """Write an offline HTML report of ``results`` (a BenchResult or a list) to ``path``.

    Returns the path written. Parent directories are created. The file is private (0600)
    and never written through a link planted at its name
    (:func:`~llmbench_jupyter.core.private_files.write_atomic`).
    """
    items = _as_results(results)
    figures = _Figures()
    sections = [_result_section(result, i, figures) for i, result in enumerate(items, start=1)]
    meta = f"{len(items)} run(s) · statistics from llmbench stats.summarize"
    page = _page(title, meta, sections)
    return _write("export_html", path, page)


class _Figures:
    """plotly figures as HTML, plotly.js embedded in the first one only."""

    def __init__(self) -> None:
        self.embedded = False
        self.count = 0

    def html(self, fig: Any, number: int | str) -> str:
        """``fig`` in a div ``llmbench-figure-<number>`` (the section's number)."""
        import plotly.io as pio

        self.count += 1
        out = pio.to_html(
            fig, full_html=False, include_plotlyjs=not self.embedded, include_mathjax=False,
            div_id=f"llmbench-figure-{number}",
            config={"displaylogo": False, "responsive": True},
        )  # fmt: skip
        self.embedded = True
        return str(out)


def _result_section(result: Any, index: int, figures: _Figures, note: str = "") -> str:
    from llmbench_jupyter.analysis.charts import result_figure
    from llmbench_jupyter.analysis.display import result_html

    parts = [f"<section><h2>{html.escape(_heading(result, index))}</h2>", note,
             result_html(result)]  # fmt: skip
    if any(r.status == "ok" and not r.is_warmup for r in result.records):
        parts.append(figures.html(result_figure(result), index))
    else:
        parts.append("<p class='llmbench-meta'>No successful requests: no figure.</p>")
    return "".join(parts) + "</section>"


def _page(title: str, meta: str, sections: Sequence[str]) -> str:
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{_PAGE_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p class='llmbench-meta'>{html.escape(meta)} · generated {generated}</p>"
        + "".join(sections) + "</body></html>\n"
    )  # fmt: skip


def _write(what: str, path: str | os.PathLike[str], page: str) -> Path:
    out = Path(path)
    try:
        write_atomic(out, page)
    except OSError as exc:
        raise LLMBenchError(f"{what}: cannot write {out}: {exc.strerror or exc}") from None
    return out


def experiment_html(exp: Any, path: str | os.PathLike[str]) -> Path:
    """An offline HTML report of an experiment: its runs, every run against the baseline
    on each metric that fits it, then each bench run's tables and figure (plotly.js once)."""
    from llmbench_jupyter.analysis.experiment_chart import comparison_figure
    from llmbench_jupyter.analysis.experiments import LATENCY
    from llmbench_jupyter.analysis.results import load

    runs = exp.runs()
    sections = ["<section><h2>Runs</h2>" + runs.to_html(index=False, border=0) + "</section>"]
    base = exp.baseline
    base_kind = next((r.kind for r in runs.itertuples() if r.run_id == base), None)
    metrics = ["pass_rate"] if base_kind == "eval" else ["ttft_ms", "decode_tps"] if base else []
    figures = _Figures()
    for metric in metrics:
        compared = exp.compare(metric)
        table = compared.drop(columns=["test"])
        drawn = (figures.html(comparison_figure(compared), f"compare-{metric}")
                 if compared["diff"].notna().any() else "")  # fmt: skip
        sections.append(
            f"<section><h2>Against the baseline ({html.escape(base or '')}): "
            f"{html.escape(metric)}</h2><p class='llmbench-meta'>"
            + ("McNemar exact on paired cases" if metric == "pass_rate" else
               "median difference with its bootstrap 95% CI; Mann-Whitney U p-value; "
               f"{'lower' if LATENCY[metric] else 'higher'} is better")
            + "</p>" + table.to_html(index=False, border=0, na_rep="") + drawn + "</section>"
        )  # fmt: skip
    for i, row in enumerate((r for r in runs.itertuples() if r.kind == "bench"), start=1):
        note = "<p class='llmbench-meta'>the baseline</p>" if row.run_id == base else ""
        sections.append(_result_section(load(row.run_id, store=exp.store), i, figures, note))
    meta = f"experiment {exp.name!r} · {len(runs)} run(s) · baseline {base or 'not set'}"
    return _write("report", path, _page(f"Experiment {exp.name}", meta, sections))
