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
    import plotly.io as pio

    from llmbench_jupyter.analysis.charts import result_figure
    from llmbench_jupyter.analysis.display import result_html

    items = _as_results(results)
    sections = []
    plotlyjs_embedded = False
    for i, result in enumerate(items, start=1):
        parts = [f"<section><h2>{html.escape(_heading(result, i))}</h2>", result_html(result)]
        if any(r.status == "ok" and not r.is_warmup for r in result.records):
            fig = result_figure(result)
            parts.append(
                pio.to_html(
                    fig,
                    full_html=False,
                    include_plotlyjs=not plotlyjs_embedded,
                    include_mathjax=False,
                    div_id=f"llmbench-figure-{i}",
                    config={"displaylogo": False, "responsive": True},
                )
            )
            plotlyjs_embedded = True
        else:
            parts.append("<p class='llmbench-meta'>No successful requests: no figure.</p>")
        parts.append("</section>")
        sections.append("".join(parts))
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = (
        "<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{_PAGE_CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f"<p class='llmbench-meta'>{len(items)} run(s) · generated {generated} · "
        "statistics from llmbench stats.summarize</p>" + "".join(sections) + "</body></html>\n"
    )
    out = Path(path)
    try:
        write_atomic(out, page)
    except OSError as exc:
        raise LLMBenchError(f"export_html: cannot write {out}: {exc.strerror or exc}") from None
    return out
