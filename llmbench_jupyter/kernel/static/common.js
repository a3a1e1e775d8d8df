// What the job widgets share: DOM and number helpers, the progress bar, and the status
// block at the top of every job widget (header with title, state badge, meta line and
// cancel button; overall progress; counts; error line).
//
// Not a module of its own: anywidget loads a widget's `_esm` as one module from a blob
// URL, where a relative import of a sibling file cannot work, so kernel/widget.py puts
// this file in front of each widget's source (job_widget.js, eval_widget.js) when the
// widget class is defined. It exports nothing: the widget's source holds the default
// export. Classes lbw-* are styled by common.css, lbj-* / lbe-* by the widget's own sheet.

const FINAL = new Set(["done", "failed", "cancelled", "interrupted"]);

function h(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "text") node.textContent = String(v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const child of children) if (child) node.appendChild(child);
  return node;
}

function isNum(v) {
  return typeof v === "number" && Number.isFinite(v);
}

function fmtDuration(sec) {
  if (!isNum(sec)) return "—";
  if (sec < 60) return `${sec.toFixed(1)} s`;
  const m = Math.floor(sec / 60);
  const rest = Math.floor(sec % 60);
  return m < 60 ? `${m}:${String(rest).padStart(2, "0")} min` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

function progressBar(done, total, state, label) {
  const pctDone = total > 0 ? Math.min(100, (100 * done) / total) : 0;
  return h("div", {
    class: `lbw-bar lbw-bar-${state}`,
    role: "progressbar",
    "aria-label": label,
    "aria-valuemin": 0,
    "aria-valuemax": total,
    "aria-valuenow": done,
  }, [h("div", { class: "lbw-bar-fill", style: `width:${pctDone}%` })]);
}

/**
 * The top of a job widget: `nodes` to put first in its root, and `update(root, snap,
 * title, meta)` to show a snapshot (the root gets data-state / data-done / data-total).
 * The cancel button sends {type: "cancel"} once and says "Cancelling…" until the job ends.
 * Options: `metaClass` (the meta line's own class), `unit` (what `done` counts: text, or
 * a function of the snapshot),
 * `cancelLabel`, `errorRole`, `progressLabel` (attributes, left out when not given),
 * `hideCancelWhenFinal`, `stateClass` (the badge's class suffix for a state).
 */
function jobStatus(model, opts) {
  const stateClass = opts.stateClass || ((state) => state);
  const title = h("span", { class: "lbw-title" });
  const badge = h("span", { class: "lbw-badge" });
  const meta = h("span", { class: `lbw-muted ${opts.metaClass}` });
  const cancel = h("button", { class: "lbw-cancel", type: "button", "data-testid": "llmbench-cancel", "aria-label": opts.cancelLabel, text: "Cancel" });
  const header = h("div", { class: "lbw-header" }, [title, badge, meta, h("span", { class: "lbw-spacer" }), cancel]);
  const overall = h("div", { class: "lbw-overall" });
  const stats = h("div", { class: "lbw-stats" });
  const error = h("div", { class: "lbw-error", role: opts.errorRole, hidden: true });

  let cancelling = false;
  cancel.addEventListener("click", () => {
    if (cancel.disabled) return;
    cancelling = true;
    cancel.disabled = true;
    cancel.textContent = "Cancelling…";
    model.send({ type: "cancel" });
  });

  function update(root, snap, titleText, metaText) {
    const state = snap.state || "pending";
    const done = snap.done || 0;
    const total = snap.total || 0;
    root.setAttribute("data-state", state);
    root.setAttribute("data-done", String(done));
    root.setAttribute("data-total", String(total));
    title.textContent = titleText;
    title.title = snap.job_id ? `job ${snap.job_id}` : "";
    badge.textContent = state;
    badge.className = `lbw-badge lbw-state-${stateClass(state)}`;
    meta.textContent = metaText;
    const final = FINAL.has(state);
    if (opts.hideCancelWhenFinal) cancel.hidden = final;
    cancel.disabled = final || cancelling;
    cancel.textContent = !final && cancelling ? "Cancelling…" : "Cancel";

    overall.replaceChildren(progressBar(done, total, state, opts.progressLabel));
    const parts = [
      `${done}/${total} ${typeof opts.unit === "function" ? opts.unit(snap) : opts.unit}`,
      `${snap.errors || 0} error${snap.errors === 1 ? "" : "s"}`,
      `elapsed ${fmtDuration(snap.elapsed_s)}`,
    ];
    if (!final) parts.push(`ETA ${fmtDuration(snap.eta_s)}`);
    stats.replaceChildren(...parts.map((p) => h("span", { text: p })));
    stats.children[1].classList.toggle("lbw-bad", Boolean(snap.errors));
    error.hidden = !snap.error;
    error.textContent = snap.error || "";
  }

  return { nodes: [header, overall, stats, error], update };
}
