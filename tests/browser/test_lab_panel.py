"""The llmbench side panel in a real JupyterLab and Chromium, used as a person would.

A notebook starts a long benchmark and leaves it running. The panel, opened from the
command palette, shows the job with live progress (read from the store, not from the
kernel); its Cancel button ends the job as cancelled with its records kept; a click on the
run inserts a cell that loads it. The page may log no JavaScript error.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from test_lab_quickstart import (
    CELLS_JS,
    KERNEL_START_MS,
    PANEL,
    open_notebook,
    run_cell,
    write_notebook,
)

pytestmark = pytest.mark.browser

CELLS = [
    "import llmbench_jupyter as lj\n"
    "from llmbench_jupyter.sim import SimServer\n"
    "sim = SimServer(seed=0).start_in_thread()",
    'long = lj.bench(model=["sim-slow"], runs=40, warmup=0, sim_url=sim.base_url,\n'
    '                name="panel-long", display=False)\n'
    'print(f"JOB={long.id}")',
    'print(f"KEPT={len(long.result().records)} STATE={long.state} RUN={long.run_id}")',
]
SIDE = "[data-testid=llmbench-panel]"


def _output(page: Any, index: int, marker: str) -> str:
    out = (page.locator(f"{PANEL} .jp-Notebook .jp-Cell").nth(index)
           .locator(".jp-OutputArea-output").filter(has_text=marker))  # fmt: skip
    out.wait_for(state="visible", timeout=60_000)
    return str(out.inner_text())


@pytest.mark.timeout(600)
def test_the_panel_follows_cancels_and_loads_a_job(page: Any, lab: Any, artifacts: Path) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"[pageerror] {exc}"))
    page.on("console", lambda msg: msg.type == "error" and errors.append(msg.text))
    write_notebook(lab.root_dir / "panel_job.ipynb", CELLS)
    open_notebook(page, lab, "panel_job.ipynb")
    run_cell(page, 0)
    run_cell(page, 1)
    job_id = re.search(r"JOB=(\w+)", _output(page, 1, "JOB="))[1]  # type: ignore[index]

    # the panel, from the command palette
    page.keyboard.press("Control+Shift+c")
    page.keyboard.type("llmbench: Open panel")
    page.keyboard.press("Enter")
    side = page.locator(SIDE)
    side.wait_for(state="visible", timeout=KERNEL_START_MS)
    row = side.locator(f"[data-testid=llmbench-panel-job][data-job-id='{job_id}']")
    expect(row).to_have_attribute("data-state", "running", timeout=60_000)
    counts = row.locator("[data-testid=llmbench-panel-counts]")
    seen: list[int] = []
    while len(set(seen)) < 3:  # live: the count moves while we watch (each request ~2 s)
        text = counts.inner_text()
        if m := re.match(r"(\d+)/40", text):
            seen.append(int(m[1]))
        page.wait_for_timeout(250)
        assert len(seen) < 400, f"progress did not advance: {seen[-5:]}"
    assert seen == sorted(seen), f"progress went backwards: {seen}"
    side.screenshot(path=artifacts / "panel-running.png")

    row.locator("[data-testid=llmbench-panel-cancel]").click()
    expect(row).to_have_attribute("data-state", "cancelled", timeout=30_000)
    run_cell(page, 2)
    match = re.search(r"KEPT=(\d+) STATE=(\w+) RUN=(\w+)", _output(page, 2, "KEPT="))
    assert match and match[2] == "cancelled", match
    kept, run_id = int(match[1]), match[3]
    assert max(seen) <= kept < 40
    from llmbench_jupyter.store import open_store

    store = open_store(lab.db_url)
    try:
        assert store.get_job(job_id)["state"] == "cancelled"
        assert len(store.records(run_id)) >= kept
    finally:
        store.close()

    # the run, in the panel's recent runs: a click inserts a cell that loads it
    run = side.locator(f"[data-testid=llmbench-panel-run][data-run-id='{run_id}']")
    run.wait_for(state="visible", timeout=60_000)
    run.click()
    page.wait_for_function(
        "(id) => window.jupyterapp.shell.currentWidget.content.widgets.some("
        "c => c.model.sharedModel.getSource().includes(`lj.load(\"${id}\")`))",
        arg=run_id, timeout=30_000,
    )  # fmt: skip
    cells: list[dict[str, Any]] = page.evaluate(CELLS_JS)
    assert any(f'lj.load("{run_id}")' in c["source"] for c in cells)
    side.screenshot(path=artifacts / "panel-final.png")
    shown = side.inner_text()
    assert "undefined" not in shown and "NaN" not in shown, shown
    assert errors == [], f"JavaScript errors in the page: {errors}"
