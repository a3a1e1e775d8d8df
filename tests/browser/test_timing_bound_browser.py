"""job_widget.js in headless Chromium: a run's timing self-test bound is shown as text,
marked when the machine was too loaded, and absent for a run without a self-test."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from widget_harness import open_widget_page

pytestmark = pytest.mark.browser

BOUND = "[data-testid=llmbench-timing-bound]"


def _snapshot(timing: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "job_id": "j1", "kind": "bench", "name": "bounded", "state": "done", "run_id": "r1",
        "done": 2, "total": 2, "requests": 2, "warmup_requests": 0, "errors": 0,
        "targets": [{"key": "sim/sim-fast", "provider": "sim", "model": "sim-fast",
                     "display_name": "sim-fast", "done": 2, "total": 2, "requests": 2,
                     "warmup_requests": 0, "errors": 0, "ttft_ms_p50": 31.0,
                     "decode_tps_p50": 240.0, "tpot_ms_p50": 4.1, "e2e_ms_p50": 540.0,
                     "state": "done"}],
        "tiers": [], "tier_count": 1, "timing_selftest": timing,
    }  # fmt: skip


def test_the_bound_is_shown_and_a_loaded_machine_is_marked(browser: Any) -> None:
    pg = open_widget_page(browser)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    text = "timing error ≤ 1.3 ms p99 on this machine at 32 streams"
    fine = {"bound_ms": 1.3, "concurrency": 32, "too_loaded": None, "text": text}
    pg.evaluate("(s) => window.mountWidget('job', {snapshot: s})", _snapshot(fine))
    shown = pg.locator(BOUND).first
    assert shown.is_visible() and shown.text_content() == f"Timing self-test: {text}"
    assert "lbj-bound-warn" not in (shown.get_attribute("class") or "")
    loaded = {**fine, "too_loaded": "the client was the bottleneck", "text": text + "; x"}
    pg.evaluate("(s) => window.mountWidget('job', {snapshot: s})", _snapshot(loaded))
    marked = pg.locator(BOUND).nth(1)
    assert "lbj-bound-warn" in (marked.get_attribute("class") or "")
    assert marked.get_attribute("title") == "the client was the bottleneck"
    pg.evaluate("(s) => window.mountWidget('job', {snapshot: s})", _snapshot(None))
    assert not pg.locator(BOUND).nth(2).is_visible()
    pg.context.close()
    assert errors == [], errors


def test_a_real_run_with_its_self_test_shows_the_measured_bound(
    browser: Any, sim: Any, tmp_path: Path, artifacts: Path
) -> None:
    """A real job (a self-test, then a bench against the simulated endpoint over HTTP):
    its own final snapshot, rendered by the widget's JS, shows the bound it measured."""
    import llmbench_jupyter as lj
    from llmbench_jupyter.jobs import JobManager, reset_manager
    from llmbench_jupyter.store import open_store

    reset_manager(JobManager(open_store(f"sqlite:///{tmp_path / 'b.db'}")))
    try:

        async def main() -> dict[str, Any]:
            job = lj.bench(model="sim-fast", sim_url=sim.base_url, runs=6,
                           warmup=1, concurrency=2, selftest=True, display=False,
                           name="with its self-test")  # fmt: skip
            await job
            return dict(job.progress)

        with ThreadPoolExecutor(1) as pool:  # Playwright's sync API holds this thread's loop
            snapshot = pool.submit(asyncio.run, main()).result()
    finally:
        reset_manager(None)
    timing = snapshot["timing_selftest"]
    assert timing["bound_ms"] > 0 and timing["concurrency"] == 2
    pg = open_widget_page(browser)
    pg.evaluate("(s) => window.mountWidget('job', {snapshot: s})", snapshot)
    shown = pg.locator(BOUND).first
    assert shown.text_content() == f"Timing self-test: {timing['text']}"
    assert timing["text"].startswith("timing error ≤ ") and "at 2 streams" in timing["text"]
    pg.locator("[data-testid=llmbench-job]").first.screenshot(
        path=artifacts / "timing-bound-widget.png"
    )
    pg.context.close()
