"""job_widget.js in headless Chromium: a run's timing self-test bound is shown as text,
marked when the machine was too loaded, and absent for a run without a self-test."""

from __future__ import annotations

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
