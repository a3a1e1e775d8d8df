"""How long the eval widget takes to render its case table, against the bench widget.

Debian's headless Chromium (Playwright, never its own browser downloads) loads
``eval_widget.js`` and ``job_widget.js`` in a plain page with a fake anywidget model
(tests/browser/widget_harness.py: the same harness as the browser tests). For 100,
1,000 and 5,000 case rows it times ``render()`` plus the forced style and layout
(``getBoundingClientRect``), median of 5 fresh renders after one warm-up; also the
re-render after "failures only" is ticked and after a click on a column header, and
the sum of the "Show more" presses that put every row in the DOM (the table lists 200
rows at a time; scrolling lists the next ones). The baseline is the bench job widget
rendering a finished four-target snapshot.

    .venv/bin/python benchmarks/eval_table_render.py [--repeats 5] [--json FILE]

Target: 1,000 rows in under 1 s. Exit code 0 even when it is missed: this is a
measurement, not a test (2 when Chromium cannot start).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "browser")]

from chromium_flags import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from widget_harness import bench_snapshot, eval_rows, eval_snapshot, open_widget_page  # noqa: E402

SIZES = (100, 1000, 5000)
TARGET_MS = 1000.0

#: Mount once, then time: tick "failures only", untick, click the Case header.
INTERACT_JS = """([snap, rows]) => {
  const i = window.mountWidget('eval', {snapshot: snap, rows});
  const el = window.mounted[i].el;
  el.getBoundingClientRect();  // the first layout belongs to the render, not to the tick
  const box = el.querySelector('[data-testid=llmbench-eval-filter-failures]');
  const sortButton = el.querySelector('th[data-key=case_id] button');
  const time = (fn) => { const t0 = performance.now(); fn(); el.getBoundingClientRect();
                         void document.body.offsetHeight; return performance.now() - t0; };
  const out = {
    failures: time(() => { box.checked = true; box.dispatchEvent(new Event('change')); }),
    all: time(() => { box.checked = false; box.dispatchEvent(new Event('change')); }),
    sort: time(() => sortButton.click()),
  };
  // every row in the DOM: press "Show more" until it is gone (each press timed)
  out.list_all = 0;
  const more = () => el.querySelector('[data-testid=llmbench-eval-more]');
  for (let b = more(); b; b = more()) out.list_all += time(() => b.click());
  out.listed = el.querySelectorAll('[data-testid=llmbench-eval-cases] tbody tr[data-case]').length;
  window.mounted[i].cleanup();
  el.remove();
  return out;
}"""


def median_ms(page: Any, kind: str, state: dict[str, Any], repeats: int) -> float:
    page.evaluate("([k, s]) => window.timeRender(k, s)", [kind, state])  # warm-up (JIT)
    times = [
        page.evaluate("([k, s]) => window.timeRender(k, s)", [kind, state]) for _ in range(repeats)
    ]
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="renders per size (median)")
    parser.add_argument("--json", metavar="FILE", help="also save the figures as JSON")
    args = parser.parse_args(argv)
    if not os.access(CHROMIUM, os.X_OK):
        print(f"Chromium is missing at {CHROMIUM}: apt-get install -y chromium", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    figures: dict[str, Any] = {"repeats": args.repeats, "sizes": {}}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = open_widget_page(browser)
            print(f"Chromium {browser.version}; render + layout, median of {args.repeats}")
            base = median_ms(page, "job", {"snapshot": bench_snapshot()}, args.repeats)
            figures["baseline_job_widget_ms"] = base
            print(f"baseline: bench JobWidget, 4 targets: {base:8.1f} ms")
            print(
                f"{'rows':>6} {'render ms':>10} {'x baseline':>11} {'failures-only ms':>17} "
                f"{'show-all ms':>12} {'sort ms':>8} {'list every row ms':>18}"
            )
            for n in SIZES:
                state = {"snapshot": eval_snapshot(n), "rows": eval_rows(n)}
                ms = median_ms(page, "eval", state, args.repeats)
                inter = [
                    page.evaluate(INTERACT_JS, [state["snapshot"], state["rows"]])
                    for _ in range(args.repeats)
                ]
                med = {k: statistics.median(x[k] for x in inter) for k in inter[0]}
                assert med["listed"] == n, f"listed {med['listed']} of {n} rows"
                figures["sizes"][n] = {"render_ms": ms, "ratio": ms / base, **med}
                print(
                    f"{n:>6} {ms:>10.1f} {ms / base:>10.1f}x {med['failures']:>17.1f} "
                    f"{med['all']:>12.1f} {med['sort']:>8.1f} {med['list_all']:>18.1f}"
                )
        finally:
            browser.close()
    verdict = "PASS" if figures["sizes"][1000]["render_ms"] < TARGET_MS else "FAIL"
    print(f"1,000 rows under {TARGET_MS:.0f} ms: {verdict}")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
