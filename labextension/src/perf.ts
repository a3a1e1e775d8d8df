/**
 * Performance marks around the panel's first paint with data, read by
 * benchmarks/panel_first_paint.py (and visible in the browser's performance
 * tools). `llmbench:load-start`: the plugin starts its first poll;
 * `llmbench:panel-shown`: the panel is first shown; `llmbench:first-paint`: the
 * first frame after the visible panel showed its jobs and runs (or an error
 * state; the leaderboard and the rest may still be on their way). The
 * measure `llmbench:time-to-first-paint` runs from the later start to that
 * paint: what a person waits for after opening the panel, or after loading the
 * page with the panel open.
 */

export const MARK = {
  loadStart: 'llmbench:load-start',
  shown: 'llmbench:panel-shown',
  firstPaint: 'llmbench:first-paint',
  measure: 'llmbench:time-to-first-paint'
} as const;

function perf(): Performance | null {
  const p = globalThis.performance;
  return p && typeof p.mark === 'function' ? p : null;
}

/** A mark, if the browser keeps marks (never an error: this is measurement). */
export function mark(name: string): void {
  try {
    perf()?.mark(name);
  } catch {
    // no marks here: nothing to measure
  }
}

/** After the next paint: the next animation frame, then a task after it. */
function afterPaint(callback: () => void): void {
  if (typeof requestAnimationFrame === 'function') {
    requestAnimationFrame(() => setTimeout(callback, 0));
  } else {
    setTimeout(callback, 0);
  }
}

/** Mark the first paint and measure it from the later of the two starts. */
export function markFirstPaint(schedule = afterPaint): void {
  schedule(() => {
    const p = perf();
    if (!p) {
      return;
    }
    try {
      p.mark(MARK.firstPaint);
      const starts = [MARK.loadStart, MARK.shown]
        .map(name => p.getEntriesByName(name, 'mark'))
        .filter(entries => entries.length > 0)
        .map(entries => entries[entries.length - 1].startTime);
      if (starts.length > 0) {
        p.measure(MARK.measure, {
          start: Math.max(...starts),
          end: MARK.firstPaint
        });
      }
    } catch {
      // an old browser without measure options: the marks are enough
    }
  });
}
