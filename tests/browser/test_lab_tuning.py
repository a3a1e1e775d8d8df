"""tuning.ipynb in a real JupyterLab and Chromium: the live tune widget, end to end.

Run → Run All Cells, as a user would. The first search's widget must fill while it runs
(trial rows, the optimisation history drawn as SVG) and end with every trial and the
held-out verdict; the two-objective search's widget draws its Pareto front. No cell may
raise, and the page may log no JavaScript error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from test_lab_quickstart import (
    ALL_RUN_JS,
    CELLS_JS,
    FRESH,
    JOB_MS,
    KERNEL_START_MS,
    MARK_STALE_JS,
    PANEL,
    cell_index,
    open_notebook,
    run_all_from_menu,
)

pytestmark = pytest.mark.browser

TUNE = f"{FRESH} [data-testid=llmbench-tune]"
ROWS = "[data-testid=llmbench-tune-trials] tbody tr[data-trial]"

#: Record, for the first tune widget of this run, each (state, listed rows, drawn points).
RECORD_JS = """(sel) => {
  window.__tuneSeen = [];
  const look = () => {
    const el = window.jupyterapp.shell.currentWidget.node.querySelector(sel);
    if (!el) return;
    window.__tuneSeen.push({
      state: el.dataset.state,
      rows: el.querySelectorAll('[data-testid=llmbench-tune-trials] tbody tr[data-trial]').length,
      points: el.querySelectorAll('[data-testid=llmbench-tune-history] .lbt-pt').length,
    });
  };
  new MutationObserver(look).observe(document.body, {subtree: true, childList: true,
                                                      attributes: true});
}"""


def widget_js(index: int, condition: str) -> str:
    """JS: true once the index-th fresh tune widget of this notebook meets ``condition``."""
    return (
        "() => { const all = window.jupyterapp.shell.currentWidget.node"
        f".querySelectorAll({TUNE!r}); const el = all[{index}];"
        f" return !!el && ({condition}); }}"
    )


@pytest.mark.timeout(900)
def test_tuning_notebook_shows_the_live_tune_widget(page: Any, lab: Any, artifacts: Path) -> None:
    assert (lab.root_dir / "tuning.ipynb").is_file(), "notebooks/tuning.ipynb is missing"
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"[pageerror] {exc}"))
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    open_notebook(page, lab, "tuning.ipynb")
    page.evaluate(MARK_STALE_JS)
    page.evaluate(RECORD_JS, TUNE)
    run_all_from_menu(page)

    search = page.locator(f"{PANEL} {TUNE}").nth(0)
    search.wait_for(state="visible", timeout=KERNEL_START_MS)
    # while it runs: trial rows appear and the history is drawn
    page.wait_for_function(
        widget_js(0, f"el.querySelectorAll({ROWS!r}).length >= 3"), timeout=JOB_MS, polling=100
    )
    search.scroll_into_view_if_needed()
    search.screenshot(path=artifacts / "tuning-running.png")
    page.wait_for_function(widget_js(0, "el.dataset.state === 'done'"), timeout=JOB_MS)
    seen: list[dict[str, Any]] = page.evaluate("window.__tuneSeen")
    live = [s for s in seen if s["state"] == "running"]
    assert any(s["rows"] >= 2 for s in live), f"no trial rows while running: {seen[-5:]}"
    assert any(s["points"] >= 1 for s in live), f"no history point while running: {seen[-5:]}"
    assert search.get_attribute("data-done") == search.get_attribute("data-total") == "25"

    # the end: every trial, the baseline marked, the history, the held-out verdict
    page.wait_for_function(  # the rows trait follows the snapshot within a second
        widget_js(0, f"el.querySelectorAll({ROWS!r}).length === 25"), timeout=30_000
    )
    page.wait_for_function(
        widget_js(0, "!!el.querySelector('[data-testid=llmbench-tune-verdict][data-verdict]')"),
        timeout=30_000,
    )
    # what the widget shows is what the kernel's TuneResult says (its repr, next cell)
    page.wait_for_function(ALL_RUN_JS, timeout=JOB_MS, polling=250)
    cells: list[dict[str, Any]] = page.evaluate(CELLS_JS)
    failed = [(i, c["errors"]) for i, c in enumerate(cells) if c["errors"]]
    assert not failed, f"cells raised errors: {failed}"
    shown = output_text(page, cell_index(cells, "result = await job"))
    match = re.search(r"best trial (\d+): .*; held-out: (.+)>", shown)
    assert match, f"unexpected TuneResult repr: {shown!r}"
    best, verdict_text = match[1], match[2]
    verdict = search.locator("[data-testid=llmbench-tune-verdict]")
    assert verdict.get_attribute("data-verdict") == verdict_text
    assert re.search(rf"{re.escape(verdict_text)}: p = [0-9.]+, 6 cases", verdict.inner_text())
    assert "trial budget reached" in search.locator("[data-testid=llmbench-tune-stop]").inner_text()
    assert search.locator("[data-testid=llmbench-tune-best]").get_attribute("data-trial") == best
    assert search.locator(f"{ROWS}.lbt-row-best").get_attribute("data-trial") == best
    assert search.locator(f"{ROWS}.lbt-row-baseline").get_attribute("data-trial") == "0"
    assert search.locator(f"{ROWS}[data-state=pruned]").count() >= 1
    history = search.locator("[data-testid=llmbench-tune-history] svg")
    assert history.locator(".lbt-pt").count() >= 10
    assert history.locator("[data-testid=llmbench-tune-best-line]").count() == 1
    assert search.locator("[data-testid=llmbench-tune-pareto]").is_hidden()  # one objective
    assert search.locator("[data-testid=llmbench-cancel]").is_hidden()
    # newest first; a click on "#" sorts the other way: the baseline comes first
    assert search.locator(ROWS).first.get_attribute("data-trial") == "24"
    search.locator("button.lbt-sort[data-sort=number]").click()
    assert search.locator(ROWS).first.get_attribute("data-trial") == "0"
    search.screenshot(path=artifacts / "tuning-final.png")

    # the two-objective search: the front the kernel computed, in the scatter and the table
    pareto = page.locator(f"{PANEL} {TUNE}").nth(1)
    assert pareto.get_attribute("data-state") == "done"
    page.wait_for_function(
        widget_js(1, f"el.querySelectorAll({ROWS!r}).length === 16"), timeout=30_000
    )
    chart = pareto.locator("[data-testid=llmbench-tune-pareto]")
    assert chart.is_visible() and chart.locator("svg .lbt-pt").count() == 16
    front_points = {p.get_attribute("data-trial") for p in chart.locator(".lbt-front").all()}
    front_rows = {
        r.get_attribute("data-trial")
        for r in pareto.locator(ROWS).filter(has=page.locator(".lbt-chip-front")).all()
    }
    assert front_points and front_points == front_rows
    shown = output_text(page, cell_index(cells, "pareto.pareto_df()"))
    listed = {line.split()[1] for line in shown.splitlines()[1:] if line.split()}
    assert front_rows == listed, f"front {front_rows} but pareto_df() lists {listed}"
    assert pareto.locator("[data-testid=llmbench-tune-verdict]").get_attribute("data-verdict")
    pareto.scroll_into_view_if_needed()
    pareto.screenshot(path=artifacts / "tuning-pareto.png")

    # the workload search (the 4th widget, after the resumed one): its confirmation, the
    # first objective's interval per trial, no case counts
    speed = page.locator(f"{PANEL} {TUNE}").nth(3)
    assert speed.get_attribute("data-state") == "done"
    page.wait_for_function(widget_js(3, f"el.querySelectorAll({ROWS!r}).length === 4"),
                           timeout=30_000)  # fmt: skip
    verdict = speed.locator("[data-testid=llmbench-tune-verdict]")
    assert verdict.get_attribute("data-verdict") == "significant improvement"
    text = verdict.inner_text()
    assert "Confirmation" in text and "over 4 + 4 fresh requests" in text, text
    assert re.search(r"bootstrap 95% CI \[-?[0-9.]+ ms – -?[0-9.]+ ms\]", text), text
    headers = speed.locator("[data-testid=llmbench-tune-trials] thead").inner_text()
    assert "ttfat_ms 95% CI" in headers and "Cases" not in headers, headers
    best = speed.locator("[data-testid=llmbench-tune-best]").inner_text()
    assert "reasoning_effort = low" in best and " ms [" in best, best
    speed.scroll_into_view_if_needed()
    speed.screenshot(path=artifacts / "tuning-workload.png")
    assert errors == [], f"JavaScript errors in the page: {errors}"


def output_text(page: Any, index: int) -> str:
    """The text of a cell's (fresh) outputs."""
    cell = page.locator(f"{PANEL} .jp-Notebook .jp-Cell").nth(index)
    out = cell.locator(f"{FRESH}").first
    out.wait_for(state="visible", timeout=30_000)
    return str(out.inner_text())
