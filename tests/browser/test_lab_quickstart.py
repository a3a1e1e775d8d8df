"""quickstart.ipynb in a real JupyterLab and Chromium: live widget, cancel, final charts.

Cells are run the way a user runs them (the Run menu, Shift+Enter, a click on Cancel).
The lab's application object (exposed by the test server) is only read, to know when the
kernel is idle and what the cells hold. Progress is recorded in the page by a
MutationObserver, so no intermediate value is lost between two polls.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import nbformat
import pytest

pytestmark = pytest.mark.browser

#: Outputs saved in the notebook are marked stale before running, so every assertion
#: below is about an output this run produced.
FRESH = ".jp-OutputArea-output:not([data-stale-output])"
JOB = f"{FRESH} [data-testid=llmbench-job]"
MARK_STALE_JS = """() => document.querySelectorAll('.jp-OutputArea-output')
  .forEach(n => n.setAttribute('data-stale-output', ''))"""
CANCEL = "[data-testid=llmbench-cancel]"
PANEL = ".jp-NotebookPanel:visible"
KERNEL_START_MS = 180_000
JOB_MS = 240_000

#: True once `name` is the current notebook and its kernel is connected and idle.
KERNEL_IDLE_JS = """(name) => {
  const app = window.jupyterapp;
  const w = app && app.shell.currentWidget;
  if (!w || !w.context || w.context.path !== name || !w.sessionContext) return false;
  const sc = w.sessionContext;
  const k = sc.session && sc.session.kernel;
  return sc.isReady && !!k && k.connectionStatus === 'connected' && k.status === 'idle';
}"""

#: True once every code cell of the current notebook has run and the kernel is idle.
ALL_RUN_JS = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  if (!k || k.status !== 'idle') return false;
  return w.content.widgets.every(c => c.model.type !== 'code' || (
    c.model.executionCount !== null && !c.node.querySelector('.jp-InputArea-prompt')
      .textContent.includes('*')));
}"""

#: Cells of the current notebook: type, source, error outputs.
CELLS_JS = """() => window.jupyterapp.shell.currentWidget.content.widgets.map(c => ({
  type: c.model.type,
  source: c.model.sharedModel.getSource(),
  errors: c.model.type === 'code'
    ? c.model.outputs.toJSON().filter(o => o.output_type === 'error')
        .map(o => `${o.ename}: ${o.evalue}`)
    : [],
}))"""

#: Record every (data-done, data-state) the job widget shows, from its first render on.
RECORD_PROGRESS_JS = """() => {
  window.__llmbenchSeen = [];
  const sel = '[data-testid=llmbench-job]';
  const fresh = el => !el.closest('[data-stale-output]');
  const rec = el => window.__llmbenchSeen.push(
    {done: el.getAttribute('data-done'), state: el.getAttribute('data-state')});
  new MutationObserver(muts => {
    for (const m of muts) {
      if (m.type === 'attributes') {
        if (m.target.matches && m.target.matches(sel) && fresh(m.target)) rec(m.target);
      } else {
        for (const n of m.addedNodes) {
          if (n.nodeType !== 1) continue;
          if (n.matches(sel) && fresh(n)) rec(n);
          n.querySelectorAll(sel).forEach(el => fresh(el) && rec(el));
        }
      }
    }
  }).observe(document.body, {subtree: true, childList: true, attributes: true,
                             attributeFilter: ['data-done', 'data-state']});
}"""


def open_notebook(page: Any, lab: Any, name: str) -> None:
    """Open a notebook in a fresh workspace; wait for its kernel to be idle.

    A fresh workspace keeps notebooks opened by earlier tests (and their live widgets)
    out of this page.
    """
    page.goto(lab.url(f"/lab/workspaces/t{uuid.uuid4().hex[:12]}/tree/{name}"))
    page.wait_for_function(KERNEL_IDLE_JS, arg=name, timeout=KERNEL_START_MS, polling=250)


def wait_widget(page: Any, condition: str, timeout: int) -> None:
    """Wait until ``condition`` (JS over ``el``, this notebook's job widget root) holds."""
    page.wait_for_function(
        f"() => {{ const el = window.jupyterapp.shell.currentWidget.node.querySelector({JOB!r});"
        f" return !!el && ({condition}); }}",
        timeout=timeout,
        polling=100,
    )


def run_all_from_menu(page: Any) -> None:
    """Run → Run All Cells, clicked like a user would."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    page.locator(".lm-Menu-item[data-command='runmenu:run-all']").click()


def run_cell(page: Any, index: int) -> None:
    """Click into a cell's editor and press Shift+Enter."""
    page.locator(f"{PANEL} .jp-Notebook .jp-Cell").nth(index).locator(
        ".jp-InputArea-editor"
    ).click()
    page.keyboard.press("Shift+Enter")


def cell_index(cells: list[dict[str, Any]], needle: str) -> int:
    for i, cell in enumerate(cells):
        if cell["type"] == "code" and needle in cell["source"]:
            return i
    raise AssertionError(f"no code cell containing {needle!r} in the notebook")


@pytest.mark.timeout(900)
def test_quickstart_runs_with_live_progress_and_charts(
    page: Any, lab: Any, artifacts: Path
) -> None:
    assert (lab.root_dir / "quickstart.ipynb").is_file(), "notebooks/quickstart.ipynb is missing"
    open_notebook(page, lab, "quickstart.ipynb")
    page.evaluate(MARK_STALE_JS)
    page.evaluate(RECORD_PROGRESS_JS)
    run_all_from_menu(page)

    widget = page.locator(f"{PANEL} {JOB}").first
    widget.wait_for(state="visible", timeout=KERNEL_START_MS)
    # a few requests in (or the end, on a very fast machine): a telling screenshot
    wait_widget(page, "Number(el.dataset.done) >= 4 || el.dataset.state !== 'running'", JOB_MS)
    widget.scroll_into_view_if_needed()
    widget.screenshot(path=artifacts / "quickstart-running.png")

    wait_widget(page, "el.dataset.state === 'done'", JOB_MS)
    seen: list[dict[str, str | None]] = page.evaluate("window.__llmbenchSeen")
    before_done = {s["done"] for s in seen if s["state"] != "done"}
    assert len(before_done) >= 2, f"progress did not advance before completion: {seen}"
    done_values = [int(s["done"]) for s in seen if s["done"] is not None]
    assert done_values == sorted(done_values), f"progress went backwards: {seen}"
    assert widget.get_attribute("data-done") == widget.get_attribute("data-total")
    assert int(widget.get_attribute("data-total") or 0) > 0
    assert widget.locator(CANCEL).is_disabled(), "cancel stays enabled after the job is done"
    for chart in ("llmbench-chart-ttft", "llmbench-chart-decode"):
        assert widget.locator(f"[data-testid={chart}] svg").count() >= 1, f"{chart} missing"

    page.wait_for_function(ALL_RUN_JS, timeout=JOB_MS, polling=250)
    cells: list[dict[str, Any]] = page.evaluate(CELLS_JS)
    failed = [(i, c["errors"]) for i, c in enumerate(cells) if c["errors"]]
    assert not failed, f"cells raised errors: {failed}"

    plot_cell = page.locator(f"{PANEL} .jp-Notebook .jp-Cell").nth(cell_index(cells, ".plot("))
    # the plotly renderer's node is the output node itself
    chart = plot_cell.locator(f"{FRESH}.js-plotly-plot, {FRESH} .js-plotly-plot").first
    chart.wait_for(state="visible", timeout=JOB_MS)
    assert chart.locator(".main-svg").count() >= 1
    widget.screenshot(path=artifacts / "quickstart-final-widget.png")
    chart.scroll_into_view_if_needed()
    plot_cell.locator(".jp-OutputArea").screenshot(path=artifacts / "quickstart-final-charts.png")
    page.screenshot(path=artifacts / "quickstart-final-page.png")

    from llmbench_jupyter.store import open_store

    store = open_store(lab.db_url)
    try:
        runs = [r for r in store.list_runs(owner="browser-test") if r["name"] == "quickstart"]
        assert runs and runs[0]["status"] == "done", f"quickstart run not stored: {runs}"
    finally:
        store.close()


CANCEL_CELLS = [
    "import llmbench_jupyter as lj\n"
    "from llmbench_jupyter.sim import SimServer\n"
    "sim = SimServer(seed=0).start_in_thread()",
    'long = lj.bench(model=["sim-slow"], runs=40, warmup=0, sim_url=sim.base_url)',
    'print(f"KEPT={len(long.result().records)} STATE={long.state} '
    'JOB={long.id} RUN={long.run_id}")',
]


def write_notebook(path: Path, sources: list[str]) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.cells = [nbformat.v4.new_code_cell(src) for src in sources]
    nbformat.write(nb, path)


@pytest.mark.timeout(900)
def test_cancel_button_stops_a_long_job_and_keeps_results(
    page: Any, lab: Any, artifacts: Path
) -> None:
    write_notebook(lab.root_dir / "cancel_long_job.ipynb", CANCEL_CELLS)
    open_notebook(page, lab, "cancel_long_job.ipynb")
    run_cell(page, 0)
    run_cell(page, 1)

    widget = page.locator(f"{PANEL} {JOB}").first
    widget.wait_for(state="visible", timeout=KERNEL_START_MS)
    wait_widget(page, "Number(el.dataset.done) >= 1", JOB_MS)
    assert widget.get_attribute("data-state") == "running"
    total = int(widget.get_attribute("data-total") or 0)
    assert total == 40
    widget.locator(CANCEL).click()
    wait_widget(page, "el.dataset.state === 'cancelled'", 60_000)
    assert widget.locator(CANCEL).is_disabled(), "cancel stays enabled after cancelling"
    widget.screenshot(path=artifacts / "cancel-cancelled.png")
    shown_done = int(widget.get_attribute("data-done") or 0)
    assert 1 <= shown_done < total

    run_cell(page, 2)
    out = (
        page.locator(f"{PANEL} .jp-Notebook .jp-Cell")
        .nth(2)
        .locator(".jp-OutputArea-output")
        .filter(has_text="KEPT=")
    )
    out.wait_for(state="visible", timeout=60_000)
    match = re.search(r"KEPT=(\d+) STATE=(\w+) JOB=(\w+) RUN=(\w+)", out.inner_text())
    assert match, f"unexpected output: {out.inner_text()!r}"
    kept, state, job_id, run_id = int(match[1]), match[2], match[3], match[4]
    assert state == "cancelled"
    assert 1 <= kept < total
    assert kept == shown_done, "the widget and the result disagree on completed requests"

    from llmbench_jupyter.store import open_store

    store = open_store(lab.db_url)
    try:
        assert store.get_job(job_id)["state"] == "cancelled"
        stored = store.records(run_id)
        assert len(stored) >= kept, "completed requests were not kept in the store"
        assert sum(r.status == "ok" for r in stored) >= 1
    finally:
        store.close()


EVAL = f"{FRESH} [data-testid=llmbench-eval]"


@pytest.mark.timeout(900)
def test_tool_eval_notebook_shows_the_live_eval_widget(
    page: Any, lab: Any, artifacts: Path
) -> None:
    """tool_eval.ipynb end to end in JupyterLab: the eval widget fills while the job runs
    and ends with the two models' pass rates, categories and all 88 case rows."""
    assert (lab.root_dir / "tool_eval.ipynb").is_file(), "notebooks/tool_eval.ipynb is missing"
    open_notebook(page, lab, "tool_eval.ipynb")
    page.evaluate(MARK_STALE_JS)
    run_all_from_menu(page)
    widget = page.locator(f"{PANEL} {EVAL}").first
    widget.wait_for(state="visible", timeout=KERNEL_START_MS)
    page.wait_for_function(
        f"() => {{ const el = window.jupyterapp.shell.currentWidget.node.querySelector({EVAL!r});"
        " return !!el && el.dataset.state === 'done'; }",
        timeout=JOB_MS,
        polling=100,
    )
    assert widget.get_attribute("data-done") == widget.get_attribute("data-total") == "88"
    targets = widget.locator("[data-testid=llmbench-eval-targets] tr[data-target]")
    assert targets.count() == 2
    table = "[data-testid=llmbench-eval-targets]"
    fast = widget.locator(f"{table} tr[data-target='local-sim/sim-fast']")
    assert "68% [53–80%]" in fast.inner_text()
    count = widget.locator("[data-testid=llmbench-eval-count]")
    page.wait_for_function(  # the rows trait follows the snapshot within a second
        f"() => window.jupyterapp.shell.currentWidget.node.querySelector({EVAL!r})"
        ".querySelector('[data-testid=llmbench-eval-count]').dataset.total === '88'",
        timeout=30_000,
    )
    widget.locator("[data-testid=llmbench-eval-filter-failures]").check()
    assert count.get_attribute("data-shown") == "30"  # 14 + 16 failed attempts
    office = widget.locator("tr[data-case='mt-office-evening'] td.lbe-etype").first
    assert "lbe-err-wrong_value" in (office.get_attribute("class") or "")
    page.wait_for_function(ALL_RUN_JS, timeout=JOB_MS, polling=250)
    cells: list[dict[str, Any]] = page.evaluate(CELLS_JS)
    failed = [(i, c["errors"]) for i, c in enumerate(cells) if c["errors"]]
    assert not failed, f"cells raised errors: {failed}"
    widget.scroll_into_view_if_needed()
    widget.screenshot(path=artifacts / "tool-eval-widget.png")
