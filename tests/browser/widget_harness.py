"""The job widgets' ESM in a plain Chromium page, with a minimal anywidget ``model``.

No Jupyter: the page is served by Playwright's request routing (nothing leaves the
machine) with exactly the ES module and stylesheet each widget class sends (``_esm`` and
``_css``: ``static/common.*`` followed by the widget's own file), and
``window.mountWidget(kind, state)`` renders the job or eval widget into a fresh element
with a fake model (get / set / on / off / send / save_changes) that records what the
widget sends.
Used by tests/browser/test_eval_widget_browser.py and benchmarks/eval_table_render.py.
Also builds deterministic eval snapshots and case rows of any size.
"""

from __future__ import annotations

from typing import Any

from llmbench_jupyter.kernel.eval_widget import EvalWidget
from llmbench_jupyter.kernel.widget import JobWidget

ORIGIN = "http://widgets.llmbench.test"
#: What the page serves: each widget class's module and stylesheet, as anywidget sends them.
FILES = {
    "/job_widget.js": JobWidget._esm,
    "/job_widget.css": JobWidget._css,
    "/eval_widget.js": EvalWidget._esm,
    "/eval_widget.css": EvalWidget._css,
}

INDEX_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>llmbench widgets</title>
<link rel="stylesheet" href="/job_widget.css">
<link rel="stylesheet" href="/eval_widget.css">
</head><body>
<script>
// The part of anywidget's model API the widgets use; state changes fire change:<name>.
window.makeModel = (state) => {
  const listeners = {};
  return {
    sent: [],
    get(name) { return state[name]; },
    set(name, value) {
      state[name] = value;
      for (const cb of [...(listeners["change:" + name] || [])]) cb();
    },
    on(event, cb) { (listeners[event] = listeners[event] || []).push(cb); },
    off(event, cb) { listeners[event] = (listeners[event] || []).filter((x) => x !== cb); },
    send(msg) { this.sent.push(msg); },
    save_changes() {},
    listenerCount(event) { return (listeners[event] || []).length; },
  };
};
window.mounted = [];
</script>
<script type="module">
import evalWidget from "/eval_widget.js";
import jobWidget from "/job_widget.js";
const widgets = { eval: evalWidget, job: jobWidget };
// Render a widget into a new element; returns its index in window.mounted.
window.mountWidget = (kind, state) => {
  const el = document.createElement("div");
  document.body.appendChild(el);
  const model = window.makeModel(state);
  const cleanup = widgets[kind].render({ model, el });
  window.mounted.push({ el, model, cleanup });
  return window.mounted.length - 1;
};
// Render, force style and layout, return the milliseconds it took; then remove it.
window.timeRender = (kind, state) => {
  const t0 = performance.now();
  const i = window.mountWidget(kind, state);
  const { el, cleanup } = window.mounted[i];
  el.getBoundingClientRect();
  void document.body.offsetHeight;
  const ms = performance.now() - t0;
  cleanup();
  el.remove();
  return ms;
};
window.widgetsReady = true;
</script>
</body></html>
"""

ERROR_TYPES = [
    "wrong_tool",
    "missing_call",
    "extra_call",
    "wrong_value",
    "hallucinated_param",
    "missing_param",
    "type_error",
    "parse_error",
    "api_error",
]
CATEGORIES = ["simple", "multiple", "parallel", "irrelevance", "multi_turn"]
TARGETS = [
    ("sim/sim-fast", "sim-fast"),
    ("sim/sim-medium", "sim-medium"),
    ("openai/gpt-4o-mini", "gpt-4o-mini"),
]
#: The case id of row 7: markup that must show as text, never run.
HOSTILE_CASE_ID = "<script>window.__xss = 1</script>case-\"quoted\" & 'apos'"
HOSTILE_CALL = "get_weather(city='<img src=x onerror=\"window.__xss=2\">')"


def stat(successes: int, n: int, low: float, high: float) -> dict[str, Any]:
    return {
        "rate": successes / n if n else None,
        "ci_low": low,
        "ci_high": high,
        "successes": successes,
        "n": n,
    }


def eval_rows(n: int) -> list[dict[str, Any]]:
    """``n`` case rows: every third one fails, error types cycle, row 7 is hostile."""
    rows = []
    for i in range(n):
        target = TARGETS[i % len(TARGETS)][0]
        failed = i % 3 == 0
        error_type = ERROR_TYPES[(i // 3) % len(ERROR_TYPES)] if failed else None
        case_id = HOSTILE_CASE_ID if i == 7 else f"case-{i:05d}"
        actual = [f"get_weather(city='paris', days={i % 7})"]
        if i == 7:
            actual = [HOSTILE_CALL]
        elif error_type == "missing_call":
            actual = []
        rows.append(
            {
                "target": target,
                "case_id": case_id,
                "category": CATEGORIES[i % len(CATEGORIES)],
                "attempt": i % 4 + 1,
                "passed": not failed,
                "outcome": "failed" if failed else "passed",
                "error_type": error_type,
                "expected": ["get_weather(city≈'Paris', unit?)", "get_time(tz='Europe/Paris')"],
                "actual": actual,
                "explanation": (
                    f"Call 1: {error_type.replace('_', ' ')} in get_weather. "
                    "The model answered with a different argument."
                    if failed
                    else "All expected calls matched."
                ),
                "judge": {"status": "ok", "score": 4, "passed": True} if i % 10 == 0 else None,
            }
        )
    return rows


def eval_snapshot(n_rows: int, state: str = "running") -> dict[str, Any]:
    """An eval snapshot whose targets match :func:`eval_rows` (the last category not run
    for the last target, to show N/A)."""
    targets = []
    for t_index, (key, name) in enumerate(TARGETS):
        cats: dict[str, Any] = {}
        for c_index, cat in enumerate(CATEGORIES):
            if t_index == len(TARGETS) - 1 and c_index == len(CATEGORIES) - 1:
                cats[cat] = None
            else:
                cats[cat] = stat(7 - c_index, 10, 0.40 - 0.05 * c_index, 0.89)
        targets.append(
            {
                "key": key,
                "display_name": name,
                "done": n_rows // len(TARGETS),
                "total": 2 * (n_rows // len(TARGETS)),
                "errors": t_index,
                # the flat summary fields (analysis.eval_result.SUMMARY_FIELDS)
                "attempts": 100,
                "cases": 25,
                "passed": 72,
                "pass_rate": 0.72,
                "pass_ci_low": 0.6049,
                "pass_ci_high": 0.8112,
                "macro_rate": 0.70,
                "macro_ci_low": 0.58,
                "macro_ci_high": 0.80,
                "categories": cats,
                "tool_f1": 0.8765,
                "argument_accuracy": 0.91,
                "judge_mean": 4.25 if t_index == 0 else None,
            }
        )
    return {
        "job_id": "e" * 32,
        "kind": "eval",
        "name": "weather-suite",
        "state": state,
        "run_id": "r" * 32,
        "done": n_rows,
        "total": 2 * n_rows,
        "errors": 3,
        "elapsed_s": 12.5,
        "eta_s": 12.5,
        "error": None,
        "suite": {"name": "weather", "version": 2, "n_cases": n_rows},
        "k": 4,
        "mode": "default",
        "categories": CATEGORIES,
        "targets": targets,
        "rows_version": 1,
    }


def bench_snapshot() -> dict[str, Any]:
    """A finished four-target bench snapshot: the job widget's everyday content."""
    targets = []
    for i in range(4):
        targets.append(
            {
                "key": f"sim/sim-{i}",
                "provider": "sim",
                "display_name": f"sim-{i}",
                "done": 20,
                "total": 20,
                "errors": 0,
                "ttft_ms_p50": 50.0 + i * 10,
                "decode_tps_p50": 100.0 - i * 5,
                "tpot_ms_p50": 10.0 + i,
                "e2e_ms_p50": 500.0 + i * 50,
                "state": "done",
            }
        )
    return {
        "job_id": "b" * 32,
        "kind": "bench",
        "name": "baseline",
        "state": "done",
        "run_id": "r" * 32,
        "done": 80,
        "total": 80,
        "errors": 0,
        "elapsed_s": 8.0,
        "eta_s": None,
        "error": None,
        "targets": targets,
        "tiers": [],
        "tier_count": 1,
    }


def open_widget_page(browser: Any) -> Any:
    """A new page with both widget modules loaded (the classes' ``_esm``/``_css``, offline)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    page = context.new_page()

    def serve(route: Any) -> None:
        path = route.request.url[len(ORIGIN) :].split("?")[0]
        if path in ("/", "/index.html"):
            route.fulfill(status=200, content_type="text/html", body=INDEX_HTML)
            return
        if path in FILES:
            kind = "text/javascript" if path.endswith(".js") else "text/css"
            route.fulfill(status=200, content_type=kind, body=str(FILES[path]))
            return
        route.fulfill(status=404, body="not found")

    context.route(f"{ORIGIN}/**", serve)
    context.route(lambda url: not url.startswith(ORIGIN), lambda route: route.abort())
    page.goto(f"{ORIGIN}/index.html")
    page.wait_for_function("window.widgetsReady === true")
    return page
