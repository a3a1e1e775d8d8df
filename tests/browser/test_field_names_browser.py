"""The widgets' JavaScript names and rounds fields as the Python views do (issue 11 D).

The eval widget shows a pass rate of exactly 0.625 as Python's ``fmt_rate_ci`` does
("63% [...]", half up, not "62%"), its progress counts attempts and names the cases and
k; the bench widget counts requests sent with measured requests and warm-ups apart.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from widget_harness import bench_snapshot, eval_rows, eval_snapshot, open_widget_page

from llmbench_jupyter.analysis.display import fmt_pct, fmt_rate_ci

pytestmark = pytest.mark.browser

#: Shares whose percentage is a half: Python's format(x, ".0%") and the old JS disagreed
#: with each other or with half-up on some of them.
HALVES = (0.625, 0.125, 0.285, 0.005, 0.995)


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    pg = open_widget_page(browser)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    pg.context.close()
    assert errors == [], errors


def test_eval_widget_rounds_like_python_and_counts_attempts(page: Any) -> None:
    snap = eval_snapshot(8)
    for target, share in zip(snap["targets"], HALVES, strict=False):
        target.update(pass_rate=share, pass_ci_low=share / 2, pass_ci_high=(1 + share) / 2)
        target.update(macro_rate=share, macro_ci_low=None, macro_ci_high=None)
    snap.update(done=132, total=132, k=3, suite={"name": "example", "version": 1, "n_cases": 44})
    page.evaluate("([snap, rows]) => window.mountWidget('eval', {snapshot: snap, rows})",
                  [snap, eval_rows(8)])  # fmt: skip
    root = page.locator("[data-testid=llmbench-eval]")
    assert "132/132 attempts (44 cases × k=3)" in root.locator(".lbw-stats").text_content()
    for target in snap["targets"]:
        row = root.locator(f"[data-testid=llmbench-eval-targets] tr[data-target='{target['key']}']")
        want = fmt_rate_ci(target["pass_rate"], target["pass_ci_low"], target["pass_ci_high"])
        assert row.locator("td.lbe-rate").text_content() == want
        assert row.locator("td").nth(5).text_content() == fmt_pct(target["macro_rate"])
    first = snap["targets"][0]
    assert fmt_pct(first["pass_rate"]) == "63%"


def test_bench_widget_says_what_its_counter_counts(page: Any) -> None:
    snap = bench_snapshot()
    snap.update(done=18, total=18, requests=15, warmup_requests=3)
    page.evaluate("(snap) => window.mountWidget('job', {snapshot: snap})", snap)
    stats = page.locator("[data-testid=llmbench-job] .lbw-stats").text_content()
    assert "18/18 sent: 15 requests + 3 warm-up" in stats
