"""Names from data never become markup: plotly draws a subset of HTML (a link included) in
every text of a figure, and the report and the notebook tables are HTML.

A run whose model display names, provider name, suite, categories and case ids are
markup, published to every hub user, measured for real against the simulated endpoint
and read back from the store: every figure the package draws and the HTML report.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import llmbench_jupyter as lj
from llmbench_jupyter.analysis import charts
from llmbench_jupyter.analysis.bench_result import BenchResult
from llmbench_jupyter.analysis.eval_result import EvalResult
from llmbench_jupyter.analysis.labels import plain_label
from llmbench_jupyter.jobs import JobManager, reset_manager
from llmbench_jupyter.jobs.bench_run import arun
from llmbench_jupyter.jobs.specs import build_bench_spec
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.store import open_store

LINK = '<a href="https://evil.example">click</a>'
MARKUP = "<b>x</b><br>y"
EVIL_PROVIDER = '<a href="https://evil.example/p">prov</a>'
#: What must not reach a figure: a tag of any kind, or what is left of one.
TAG = re.compile(r"<\s*/?\s*[A-Za-z]")


def strings(value: Any) -> Iterator[str]:
    """Every string in a figure's JSON, decoded (plotly writes "<" as \\u003c)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def assert_no_markup_from_data(fig: Any, where: str) -> None:
    data = json.loads(fig.to_json())
    data["layout"].pop("template", None)  # the package's own template, no data in it
    texts = list(strings(data))
    # the figure's own markup (<br>, <sup>, <extra>) is in titles and hover templates
    for text in texts:
        assert "href" not in text and "evil.example" not in text, f"{where}: {text!r}"
        own = re.sub(r"</?(br|sup|extra)>", "", text)
        assert not TAG.search(own), f"{where}: markup from data in {text!r}"
    assert any("click" in t for t in texts), f"{where}: the label's text is gone"


@pytest.fixture
def config(sim: SimServer, tmp_path: Path) -> Path:
    def models(*names: str) -> list[dict[str, str]]:
        ids = ["sim-fast", "sim-medium"]
        return [{"id": i, "display_name": n} for i, n in zip(ids, names, strict=False)]

    data = {
        "providers": {
            "hostile": {"api_base": sim.base_url, "models": models(LINK, MARKUP)},
            # the same display name twice: labels become provider/display name
            EVIL_PROVIDER: {"api_base": sim.base_url, "models": models(LINK)},
        }
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def store_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    url = f"sqlite:///{tmp_path / 'labels.db'}"
    monkeypatch.setenv("LLMBENCH_DB_URL", url)
    reset_manager(JobManager(open_store(url)))
    yield url
    reset_manager(None)


def _published_run(config: Path, store_url: str, **options: Any) -> BenchResult:
    spec, snapshot = build_bench_spec(
        config=str(config), provider=["hostile", EVIL_PROVIDER], warmup=0, **options
    )
    store = open_store(store_url)
    result = asyncio.run(arun(spec, store=store, config_snapshot=snapshot))
    assert result.ok_count == len(result.measured) > 0
    store.publish(result.run_id)
    loaded = lj.load(result.run_id, store)
    assert isinstance(loaded, BenchResult)
    return loaded


def test_bench_figures_and_report_carry_no_markup_from_names(
    config: Path, store_url: str, tmp_path: Path
) -> None:
    flat = _published_run(config, store_url, runs=2, name=f"run {LINK}")
    tiered = _published_run(config, store_url, runs=2, context_tiers=[0, 200])
    figures = {
        "default": flat.plot(),
        "every metric": flat.plot(metric=[m for m in charts.UNITS if m != "cost_usd"]),
        "tiers": tiered.plot(),
        "tiers, one metric": charts.result_figure(tiered, metric="e2e_ms"),
    }
    for where, fig in figures.items():
        assert_no_markup_from_data(fig, where)
    # the collision of display names is resolved with the provider, as plain text too
    ticks = figures["default"].layout.xaxis.ticktext
    assert set(ticks) == {"hostile/click", "prov/click", "x y"}

    page = lj.export_html([flat, tiered], tmp_path / "report.html").read_text()
    assert '<a href="https://evil.example' not in page  # the HTML tables escape names
    assert "&lt;a href=&quot;https://evil.example&quot;&gt;click&lt;/a&gt;" in page
    # the figures' JSON sits in a script with "<" written \u003c: read it as plotly will
    decoded = page.replace("\\u003c", "<").replace("\\u003e", ">").replace("\\u002f", "/")
    assert '<a href="https://evil.example' not in decoded  # (plotly.js has links of its own)
    assert decoded.count("evil.example") == page.count("&quot;https://evil.example")
    for result in (flat, tiered):
        html = result._repr_html_()
        assert "<a href" not in html and "<b>x</b>" not in html


def test_eval_figure_carries_no_markup_from_suite_categories_or_targets(
    config: Path, store_url: str
) -> None:
    suite = {
        "name": f"suite {LINK}",
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
                },
            }
        ],
        "cases": [
            {
                "id": f"case-{i} {LINK}",
                "category": category,
                "prompt": "What's the weather in Paris right now?",
                "expected": [{"name": "get_weather", "params": {"city": {"text": "Paris"}}}],
            }
            for i, category in enumerate([LINK, MARKUP, "plain"])
        ],
    }
    job = lj.evaluate(
        suite, ["sim-fast"], provider=["hostile", EVIL_PROVIDER], config=str(config), display=False
    )
    result = job.wait(120)
    assert isinstance(result, EvalResult) and len(result.runs) == 6
    open_store(store_url).publish(result.run_id)
    again = lj.load(result.run_id)
    for where, r in (("eval", result), ("stored eval", again)):
        assert_no_markup_from_data(r.plot(), where)
        html = r._repr_html_()
        assert "<a href" not in html and "<b>x</b>" not in html


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        (LINK, "click"),
        (MARKUP, "x y"),
        ("a<b", "a&lt;b"),
        ("1 < 2 > 0", "1 &lt; 2 > 0"),
        ('x <a href="https://evil.example"', 'x &lt;a href="https://evil.example"'),
        ("<<b>a href='https://evil.example'>y", "y"),
        ("<sup>2</sup>", "2"),
        ("plain name", "plain name"),
        (None, ""),
    ],
)
def test_plain_label(text: Any, shown: str) -> None:
    assert plain_label(text) == shown
    # what is left never starts a tag, whatever follows it
    assert not TAG.search(plain_label(text) + ">")
