"""Static figures, HTML summaries and the offline report, built from real runs against the sim."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from llmbench_jupyter.analysis.bench_result import BenchResult
from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.core.targets import adhoc
from llmbench_jupyter.core.workload import BenchSpec
from llmbench_jupyter.jobs.bench_run import arun
from llmbench_jupyter.jobs.specs import build_bench_spec
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.stats import summarize

ADDRESS = re.compile(r"0x[0-9a-fA-F]{4,}")
PLOTLY_MIME = "application/vnd.plotly.v1+json"


def _run(sim: SimServer, **options: Any) -> BenchResult:
    spec, _ = build_bench_spec(**options)
    return asyncio.run(arun(spec, save=False, sim_url=sim.base_url))


@pytest.fixture(scope="module")
def models_run(sim: SimServer) -> BenchResult:
    return _run(
        sim, model=["sim-fast", "sim-medium"], runs=5, warmup=1, concurrency=2, name="charts <test>"
    )


@pytest.fixture(scope="module")
def tiers_run(sim: SimServer) -> BenchResult:
    return _run(
        sim,
        model=["sim-fast", "sim-medium"],
        runs=3,
        warmup=0,
        concurrency=3,
        context_tiers=[0, 2000],
    )


@pytest.fixture(scope="module")
def failed_run(sim: SimServer) -> BenchResult:
    spec = BenchSpec(targets=[adhoc(sim.base_url, "sim:fault=500")], runs=2, warmup=0)
    return asyncio.run(arun(spec, save=False))


def _traces(fig: Any, suffix: str, xaxis: str) -> dict[str, Any]:
    return {
        t.name.removesuffix(suffix): t
        for t in fig.data
        if t.name.endswith(suffix) and t.xaxis == xaxis
    }


def test_renderer_is_the_plotly_mimetype_and_figures_carry_no_plotlyjs(
    models_run: BenchResult,
) -> None:
    import plotly.io as pio

    from llmbench_jupyter.analysis import charts

    assert pio.renderers.default == "plotly_mimetype"
    bundle = pio.renderers["plotly_mimetype"].to_mimebundle(charts.result_figure(models_run))
    assert set(bundle) == {PLOTLY_MIME}
    assert len(str(bundle)) < 200_000  # a figure, not a 4.8 MB copy of plotly.js


def test_default_figure_shows_points_and_medians_from_stats(models_run: BenchResult) -> None:
    fig = models_run.plot()
    summary = summarize(models_run.records, by=("provider", "model"))
    ok = [r for r in models_run.records if r.status == "ok" and not r.is_warmup]
    assert ok, "the run produced no successful requests"
    for metric, axis in (("ttft_ms", "x"), ("decode_tps", "x2")):
        points = _traces(fig, " requests", axis)
        medians = _traces(fig, " median", axis)
        assert set(points) == set(medians) == {"Sim Fast", "Sim Medium"}
        for label, model in (("Sim Fast", "sim-fast"), ("Sim Medium", "sim-medium")):
            row = summary[summary["model"] == model].iloc[0]
            expected = sorted(getattr(r, metric) for r in ok if r.model == model)
            assert sorted(points[label].y) == pytest.approx(expected)
            assert medians[label].y[0] == pytest.approx(row[f"{metric}_p50"])
            err = medians[label].error_y
            assert medians[label].y[0] + err.array[0] == pytest.approx(
                row[f"{metric}_median_ci_high"]
            )
            assert medians[label].y[0] - err.arrayminus[0] == pytest.approx(
                row[f"{metric}_median_ci_low"]
            )
    titles = " ".join(a.text for a in fig.layout.annotations)
    assert "TTFT (ms)" in titles and "Decode speed (tok/s)" in titles
    assert f"source: llmbench stats.summarize, n={len(ok)}" in titles
    assert fig.layout.yaxis.title.text == "TTFT (ms)"


def test_several_tiers_give_one_line_per_model_over_the_tiers(tiers_run: BenchResult) -> None:
    fig = tiers_run.plot()
    summary = summarize(tiers_run.records)
    lines = [t for t in fig.data if t.xaxis == "x"]
    assert {t.name for t in lines} == {"Sim Fast", "Sim Medium"}
    for trace in lines:
        model = "sim-fast" if trace.name == "Sim Fast" else "sim-medium"
        rows = summary[summary["model"] == model].sort_values("context_tier")
        assert list(trace.x) == ["0", "2k"]
        assert list(trace.y) == pytest.approx(rows["ttft_ms_p50"].tolist())
        assert trace.mode == "lines+markers"


def test_metric_selects_one_panel_and_bad_metrics_are_named(models_run: BenchResult) -> None:
    fig = models_run.plot(metric="e2e_ms", height=300)
    assert {t.xaxis for t in fig.data} == {"x"}
    assert fig.layout.height == 300
    assert "End-to-end latency (ms)" in fig.layout.annotations[0].text
    with pytest.raises(LLMBenchError, match=r"unknown metric 'ttft'.*expected one of ttft_ms"):
        models_run.plot(metric="ttft")


def test_html_summary_matches_stats_and_has_no_addresses(models_run: BenchResult) -> None:
    from llmbench_jupyter.analysis.display import fmt_num

    page = models_run._repr_html_()
    summary = summarize(models_run.records)
    for row in summary.to_dict("records"):
        assert f"{fmt_num(row['ttft_ms_p50'])} <span" in page
        assert fmt_num(row["decode_tps_p50"]) in page
    assert models_run.run_id is None and "unsaved run" in page
    assert "charts &lt;test&gt;" in page and "<test>" not in page
    assert "client CPU" in page and "event-loop lag p99" in page
    assert ("CLIENT-BOUND" in page) == bool(models_run.overhead["client_bound"])
    assert not ADDRESS.search(page)
    assert not ADDRESS.search(repr(models_run))


def test_html_summary_escapes_names_and_flags_a_client_bound_run(
    models_run: BenchResult,
) -> None:
    from llmbench_jupyter.analysis.display import result_html

    evil = "<script>alert(1)</script>"
    records = [dataclasses.replace(r, model=evil) for r in models_run.records]
    result = dataclasses.replace(models_run, records=records, run_id="ab" * 16, status="done")
    for bound in (True, False):
        result.overhead = {**models_run.overhead, "client_bound": bound}
        assert ("CLIENT-BOUND" in result_html(result)) is bound
    page = result_html(result)
    assert evil not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "run abababab" in page


def test_failed_run_summarizes_errors_without_a_crash(failed_run: BenchResult) -> None:
    page = failed_run._repr_html_()
    assert "0 / <span class='lbr-bad'>2</span>" in page
    assert "http_500: 2" in page


class _Scripts(HTMLParser):
    """Collects script tags (their content is CDATA, so plotly.js's text is not parsed)."""

    def __init__(self) -> None:
        super().__init__()
        self.srcs: list[str] = []
        self.links: list[str] = []
        self.count = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            self.count += 1
            if values.get("src"):
                self.srcs.append(values["src"] or "")
        if tag in ("link", "iframe", "img") and (values.get("href") or values.get("src")):
            self.links.append(values.get("href") or values.get("src") or "")


def test_export_html_embeds_plotlyjs_once_and_needs_no_network(
    models_run: BenchResult, tiers_run: BenchResult, failed_run: BenchResult, tmp_path: Path
) -> None:
    from plotly.offline import get_plotlyjs

    from llmbench_jupyter.analysis.report import export_html

    banner = get_plotlyjs()[:40]  # "/**\n* plotly.js vX.Y.Z ..."
    path = export_html([failed_run, models_run, tiers_run], tmp_path / "out" / "report.html")
    page = path.read_text(encoding="utf-8")
    assert path == tmp_path / "out" / "report.html"
    assert page.count(banner) == 1
    assert page.count("plotly.js v") == get_plotlyjs().count("plotly.js v")
    scripts = _Scripts()
    scripts.feed(page)
    assert scripts.srcs == [] and scripts.links == []  # nothing fetched: no CDN
    assert page.count("Plotly.newPlot(") >= 2
    assert "llmbench-figure-2" in page and "llmbench-figure-3" in page
    assert "No successful requests" in page  # the failed run has a table, no figure
    assert not ADDRESS.search(page.replace(get_plotlyjs(), ""))
    single = export_html(models_run, tmp_path / "one.html").read_text(encoding="utf-8")
    assert single.count(banner) == 1


def test_export_html_renders_offline_in_chromium(
    models_run: BenchResult, tiers_run: BenchResult, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    from llmbench_jupyter.analysis.report import export_html

    path = export_html([models_run, tiers_run], tmp_path / "report.html")
    requested: list[str] = []
    from chromium_flags import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()

            def block(route: Any) -> None:
                requested.append(route.request.url)
                route.abort()

            page.route(re.compile(r"^(?!file:).*"), block)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(path.as_uri())
            page.wait_for_selector("#llmbench-figure-2 .main-svg", timeout=30_000)
            assert page.locator(".js-plotly-plot").count() == 2
            assert page.locator("#llmbench-figure-1 .point").count() > 0
        finally:
            browser.close()
    assert errors == []
    assert [u for u in requested if not u.startswith("data:")] == []


def test_export_html_rejects_what_is_not_a_result(tmp_path: Path) -> None:
    from llmbench_jupyter.analysis.report import export_html

    with pytest.raises(LLMBenchError, match="item 0 is str; expected a BenchResult"):
        export_html(["nope"], tmp_path / "x.html")
    with pytest.raises(LLMBenchError, match="no results"):
        export_html([], tmp_path / "x.html")
