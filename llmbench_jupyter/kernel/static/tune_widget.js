// Live view of one llmbench parameter search (anywidget ESM: common.js, then this file).
//
// Two traits: `snapshot` (trials done, spent against each budget limit, stop reason, the
// best trial, the Pareto front's trial numbers, the held-out verdict; ≤10 updates/s) and
// `rows` (one per trial: state, parameters, objective values, best value so far; ≤1
// update/s). Every figure comes from the kernel (jobs.tune and analysis.tune_result
// computed it: dominance, best so far and the McNemar test included): this file only lays
// out, formats and sorts. Parameter names and values are text: they go through
// textContent or esc() before they reach the DOM.
//
// DOM contract (browser tests rely on it): root data-testid="llmbench-tune" with
// data-state / data-done / data-total; cancel button data-testid="llmbench-cancel";
// data-testid="llmbench-tune-budget" (one [data-limit] per budget limit),
// "llmbench-tune-stop" (the stop reason), "llmbench-tune-best" (data-trial),
// "llmbench-tune-verdict" (data-verdict once the held-out test ran); the charts are inline
// SVG in "llmbench-tune-history" (circle.lbt-pt[data-trial] per complete trial, the
// best-so-far path.lbt-best-line) and "llmbench-tune-pareto" (two objectives; front
// points have class lbt-front); the trial table "llmbench-tune-trials" has one
// <tr data-trial data-state> per trial, the baseline with class lbt-row-baseline;
// "llmbench-tune-count" has data-rows (rows received).

const SVG_NS = "http://www.w3.org/2000/svg";
const MAX_LISTED = 500;
const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const ESC_RE = /[&<>"']/g;
const NOT_RUN = {
  done: "Not run: a budget ran out before the held-out test.",
  cancelled: "Not run: the search was cancelled.",
  failed: "Not run: the search failed.",
};
const OBJECTIVE_LABELS = {
  pass_rate: "pass rate", latency_ms: "latency", cost_usd: "cost", ttft_ms: "time to first token",
  ttfat_ms: "time to first answer token", e2e_ms: "end-to-end latency", tpot_ms: "time per output token",
  decode_tps: "decode speed",
};
const LIMITS = {
  trials: { spent: (sp) => sp.trials, text: (v) => String(v) },
  requests: { spent: (sp) => sp.requests, text: (v) => String(v) },
  dollars: { spent: (sp) => sp.dollars, text: (v) => `$${sig(v)}` },
  // minutes are shown in minutes: the spent seconds converted, nothing more
  minutes: { spent: (sp) => (isNum(sp.seconds) ? sp.seconds / 60 : null), text: (v) => `${sig(v, 2)} min` },
};

/** Text made safe for innerHTML, in element content and in quoted attributes alike. */
function esc(value) {
  return value === null || value === undefined ? "" : String(value).replace(ESC_RE, (c) => ESC[c]);
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function titled(node, text) {
  node.appendChild(svg("title", {}, text));
  return node;
}

/** A number with `digits` significant digits (no exponent in the usual ranges). */
function sig(v, digits = 3) {
  if (!isNum(v)) return "—";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1000) return Math.round(v).toLocaleString("en-US");
  if (a < 1e-6) return v.toExponential(digits - 1);
  return String(Number(v.toPrecision(digits)));
}

// The one rounding rule for percentages (analysis.display.pct_points): half up.
function pctPoints(rate) {
  return Math.floor(100 * rate + 0.5);
}

function objText(name, v) {
  if (!isNum(v)) return "—";
  if (name === "pass_rate") return `${pctPoints(v)}%`;
  if (name === "cost_usd") return `$${sig(v)}`;
  if (name.endsWith("_ms")) return `${sig(v)} ms`;
  if (name === "decode_tps") return `${sig(v)} tok/s`;
  return sig(v);
}

// A 95% interval: a pass rate's in percent points, any other objective's in its units.
function ciText(lo, hi, name = "pass_rate") {
  if (!isNum(lo) || !isNum(hi)) return "";
  if (name === "pass_rate") return `[${pctPoints(lo)}–${pctPoints(hi)}%]`;
  return `[${objText(name, lo)} – ${objText(name, hi)}]`;
}

function paramText(v) {
  if (v === null || v === undefined) return "default";
  return typeof v === "number" ? sig(v) : String(v);
}

function pText(p) {
  if (!isNum(p)) return "?";
  return p < 0.001 ? "< 0.001" : `= ${p.toPrecision(2)}`;
}

function objLabel(name, direction) {
  return `${OBJECTIVE_LABELS[name] || name} (${direction === "minimize" ? "lower" : "higher"} is better)`;
}

function slug(text) {
  return String(text).toLowerCase().replace(/[^a-z0-9_-]/g, "-");
}

function metaText(snap) {
  const parts = [];
  if (snap.target) parts.push(`${snap.target} on ${snap.suite || "?"}`);
  if (snap.sampler) parts.push(snap.sampler);
  const objs = snap.objectives || [];
  if (objs.length) parts.push(objs.map((o, i) => `${(snap.directions || [])[i] === "minimize" ? "↓" : "↑"} ${o}`).join(", "));
  const split = snap.split || {};
  if (isNum(split.search)) parts.push(`${split.search} search + ${split.holdout || 0} held-out cases`);
  if (snap.study_id) parts.push(`study ${String(snap.study_id).slice(0, 8)}`);
  return parts.join(" · ");
}

// ------------------------------------------------------------------ summary blocks
function budgetBlock(snap) {
  const budget = snap.budget || {};
  const spent = snap.spent || {};
  const final = FINAL.has(snap.state);
  const items = Object.keys(LIMITS).filter((k) => isNum(budget[k])).map((key) => {
    const used = LIMITS[key].spent(spent);
    return h("div", { class: "lbt-limit", "data-limit": key }, [
      h("span", { class: "lbt-limit-name", text: key }),
      progressBar(isNum(used) ? used : 0, budget[key], final ? snap.state : "running", `${key} budget`),
      h("span", { class: "lbt-limit-value", text: `${LIMITS[key].text(isNum(used) ? used : 0)} / ${LIMITS[key].text(budget[key])}` }),
    ]);
  });
  if (!items.length) items.push(h("span", { class: "lbw-muted", text: "No budget limit: the search runs until you cancel it." }));
  const spentParts = [];
  if (isNum(spent.requests)) spentParts.push(`${spent.requests} requests`);
  if (isNum(spent.dollars)) spentParts.push(`$${sig(spent.dollars)}`);
  if (isNum(spent.seconds)) spentParts.push(fmtDuration(spent.seconds));
  if (spentParts.length) items.push(h("span", { class: "lbw-muted lbt-spent", text: `spent: ${spentParts.join(" · ")}` }));
  return items;
}

function bestBlock(snap) {
  const best = snap.best;
  const head = h("div", { class: "lbt-block-title", text: "Best so far" });
  if (!best) return [head, h("div", { class: "lbw-muted", text: "No complete trial yet." })];
  const objs = snap.objectives || [];
  const values = objs.map((o) => {
    const v = (best.values || {})[o];
    const interval = o === "pass_rate" ? best.pass_rate_ci : o === objs[0] ? best.ci : null;
    const [lo, hi] = interval || [];
    const ci = ciText(lo, hi, o);
    const how = o === "pass_rate" ? "Wilson 95% confidence interval" : "bootstrap 95% interval of the median";
    return h("span", { class: "lbt-best-value", "data-objective": o }, [
      h("span", { class: "lbw-muted", text: `${o} ` }),
      h("strong", { text: objText(o, v) }),
      ci ? h("span", { class: "lbw-muted", text: ` ${ci}`, title: how }) : null,
    ]);
  });
  const params = Object.entries(best.params || {});
  const paramLine = params.length
    ? params.map(([k, v]) => `${k} = ${paramText(v)}`).join(" · ")
    : "parameters as configured";
  return [
    head,
    h("div", { class: "lbt-best-trial" }, [
      h("span", { text: `trial ${best.number}` }),
      best.number === 0 ? h("span", { class: "lbt-chip lbt-chip-baseline", text: "baseline" }) : null,
    ]),
    h("div", { class: "lbt-best-values" }, values),
    h("div", { class: "lbt-best-params", text: paramLine }),
  ];
}

// ------------------------------------------------------------------------- charts
function scale(d0, d1, r0, r1) {
  const span = d1 - d0 || 1;
  return (v) => r0 + ((v - d0) / span) * (r1 - r0);
}

function domain(values, fixed) {
  if (fixed) return fixed;
  const nums = values.filter(isNum);
  if (!nums.length) return [0, 1];
  let lo = Math.min(...nums);
  let hi = Math.max(...nums);
  if (lo === hi) {
    const pad = Math.abs(lo) * 0.1 || 1;
    return [lo - pad, hi + pad];
  }
  const pad = (hi - lo) * 0.06;
  return [lo - pad, hi + pad];
}

/** An empty plot with axes, grid and tick labels; returns {node, x, y, box}. */
function plotFrame(label, xDom, yDom, xText, yText, xName, yName, xTicks) {
  const yTicks = [0, 1, 2, 3, 4].map((i) => yDom[0] + (i * (yDom[1] - yDom[0])) / 4);
  const yLabels = yTicks.map(yText);
  // the left margin fits the longest tick label (~6 px a character at 10 px) and the axis name
  const L = Math.max(56, 26 + 6 * Math.max(...yLabels.map((t) => t.length)));
  const R = 14, T = 14, B = 40, H = 210, W = L + 400 + R;
  const node = svg("svg", { class: "lbt-svg", role: "img", "aria-label": label, viewBox: `0 0 ${W} ${H}`, width: W, height: H });
  const x = scale(xDom[0], xDom[1], L, W - R);
  const y = scale(yDom[0], yDom[1], H - B, T);
  yTicks.forEach((v, i) => {
    node.appendChild(svg("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "lbt-grid" }));
    node.appendChild(svg("text", { x: L - 5, y: y(v) + 4, "text-anchor": "end", class: "lbt-tick" }, yLabels[i]));
  });
  const xs = xTicks || [0, 1, 2, 3, 4].map((i) => xDom[0] + (i * (xDom[1] - xDom[0])) / 4);
  for (const v of xs) {
    node.appendChild(svg("text", { x: x(v), y: H - B + 14, "text-anchor": "middle", class: "lbt-tick" }, xText(v)));
  }
  node.appendChild(svg("line", { x1: L, x2: W - R, y1: H - B, y2: H - B, class: "lbt-axis" }));
  node.appendChild(svg("line", { x1: L, x2: L, y1: T, y2: H - B, class: "lbt-axis" }));
  node.appendChild(svg("text", { x: (L + W - R) / 2, y: H - 6, "text-anchor": "middle", class: "lbt-axis-label" }, xName));
  node.appendChild(svg("text", { x: 12, y: (T + H - B) / 2, "text-anchor": "middle", class: "lbt-axis-label",
    transform: `rotate(-90 12 ${(T + H - B) / 2})` }, yName));
  return { node, x, y, box: { L, R: W - R, T, B: H - B } };
}

function historyChart(snap, rows) {
  const obj = (snap.objectives || [])[0] || "pass_rate";
  const dir = (snap.directions || [])[0];
  const bestNumber = snap.best ? snap.best.number : null;
  const done = rows.filter((r) => r.state === "complete" && isNum(r[obj]));
  const marked = rows.filter((r) => r.state === "pruned" || r.state === "fail");
  const maxN = Math.max(1, ...rows.map((r) => r.number));
  const yDom = obj === "pass_rate" ? [0, 1] : domain(done.flatMap((r) => [r[obj], r.best_so_far]));
  const step = Math.max(1, Math.ceil(maxN / 5));
  const ticks = [];
  for (let t = 0; t <= maxN; t += step) ticks.push(t);
  const f = plotFrame(`${obj} per trial and the best so far`, [0, maxN], yDom, String, (v) => objText(obj, v),
    "trial", OBJECTIVE_LABELS[obj] || obj, ticks);
  const { node, x, y, box } = f;
  const steps = done.filter((r) => isNum(r.best_so_far));
  if (steps.length) {
    let d = `M ${x(steps[0].number)} ${y(steps[0].best_so_far)}`;
    for (const r of steps.slice(1)) d += ` H ${x(r.number)} V ${y(r.best_so_far)}`;
    d += ` H ${x(maxN)}`;
    node.appendChild(titled(svg("path", { d, class: "lbt-best-line", "data-testid": "llmbench-tune-best-line" }), "best so far"));
  }
  for (const r of done) {
    const cls = ["lbt-pt", r.baseline ? "lbt-pt-baseline" : "", r.number === bestNumber ? "lbt-pt-best" : ""].join(" ").trim();
    const shape = r.baseline
      ? svg("rect", { x: x(r.number) - 4, y: y(r[obj]) - 4, width: 8, height: 8, class: cls, "data-trial": r.number })
      : svg("circle", { cx: x(r.number), cy: y(r[obj]), r: 3.5, class: cls, "data-trial": r.number });
    node.appendChild(titled(shape, `trial ${r.number}${r.baseline ? " (baseline)" : ""}: ${obj} ${objText(obj, r[obj])}`));
  }
  for (const r of marked) {
    node.appendChild(titled(svg("text", { x: x(r.number), y: box.B - 3, "text-anchor": "middle",
      class: `lbt-mark lbt-mark-${slug(r.state)}`, "data-trial": r.number }, "×"), `trial ${r.number}: ${r.state}`));
  }
  if (!done.length) {
    node.appendChild(svg("text", { x: (box.L + box.R) / 2, y: (box.T + box.B) / 2, "text-anchor": "middle", class: "lbt-empty" }, "no complete trial yet"));
  }
  return { node, caption: `${objLabel(obj, dir)} by trial · line: best so far · ■ baseline · × pruned/failed` };
}

function paretoChart(snap, rows) {
  const [o1, o2] = snap.objectives;
  const [d1, d2] = snap.directions || [];
  const front = new Set(snap.pareto || []);
  const pts = rows.filter((r) => r.state === "complete" && isNum(r[o1]) && isNum(r[o2]));
  const xDom = o1 === "pass_rate" ? [0, 1] : domain(pts.map((r) => r[o1]));
  const yDom = o2 === "pass_rate" ? [0, 1] : domain(pts.map((r) => r[o2]));
  const f = plotFrame(`Pareto front of ${o1} and ${o2}`, xDom, yDom, (v) => objText(o1, v), (v) => objText(o2, v),
    objLabel(o1, d1), objLabel(o2, d2));
  const { node, x, y } = f;
  const onFront = pts.filter((r) => front.has(r.number)).sort((a, b) => a[o1] - b[o1] || a[o2] - b[o2]);
  if (onFront.length > 1) {
    node.appendChild(svg("polyline", { points: onFront.map((r) => `${x(r[o1])},${y(r[o2])}`).join(" "), class: "lbt-front-line" }));
  }
  for (const r of pts) {
    const cls = ["lbt-pt", front.has(r.number) ? "lbt-front" : "lbt-dominated", r.baseline ? "lbt-pt-baseline" : ""].join(" ").trim();
    const shape = r.baseline
      ? svg("rect", { x: x(r[o1]) - 4, y: y(r[o2]) - 4, width: 8, height: 8, class: cls, "data-trial": r.number })
      : svg("circle", { cx: x(r[o1]), cy: y(r[o2]), r: front.has(r.number) ? 4.5 : 3.5, class: cls, "data-trial": r.number });
    node.appendChild(titled(shape, `trial ${r.number}${r.baseline ? " (baseline)" : ""}: ${o1} ${objText(o1, r[o1])}, ${o2} ${objText(o2, r[o2])}`
      + `${front.has(r.number) ? " · on the front" : ""}`));
  }
  const listed = [...front].sort((a, b) => a - b).join(", ");
  return { node, caption: `Pareto front: ${front.size} trial${front.size === 1 ? "" : "s"} no other beats on both (${listed || "none yet"})` };
}

// -------------------------------------------------------------------- trial table
function columns(snap, rows) {
  const cols = [{ key: "number", label: "#", num: true }, { key: "state", label: "State" }];
  for (const p of snap.params || []) cols.push({ key: p, label: p, num: true, param: true });
  for (const o of snap.objectives || []) cols.push({ key: o, label: o, num: true, objective: true });
  const first = (snap.objectives || [])[0];
  if (rows.some((r) => "pass_rate_ci_low" in r)) cols.push({ key: "pass_rate_ci_low", label: "Pass rate 95% CI", num: true, ci: "pass_rate" });
  else if (first && rows.some((r) => `${first}_ci_low` in r)) cols.push({ key: `${first}_ci_low`, label: `${first} 95% CI`, num: true, ci: first });
  if (snap.kind !== "bench") cols.push({ key: "cases", label: "Cases", num: true });
  cols.push({ key: "n_requests", label: "Requests", num: true },
    { key: "cost_usd_spent", label: "Cost spent", num: true }, { key: "duration_s", label: "Time", num: true });
  return cols;
}

function cellHtml(col, r, marks) {
  if (col.key === "state") {
    let out = `<span class="lbt-chip lbt-state-${esc(slug(r.state))}">${esc(r.state)}</span>`;
    for (const [cls, text] of marks) out += ` <span class="lbt-chip ${cls}">${text}</span>`;
    return `<td class="lbt-state">${out}</td>`;
  }
  let text;
  if (col.param) text = paramText(r[col.key]);
  else if (col.objective) text = objText(col.key, r[col.key]);
  else if (col.ci) text = ciText(r[`${col.ci}_ci_low`], r[`${col.ci}_ci_high`], col.ci) || "—";
  else if (col.key === "cost_usd_spent") text = isNum(r[col.key]) ? `$${sig(r[col.key])}` : "—";
  else if (col.key === "duration_s") text = fmtDuration(r[col.key]);
  else if (col.key === "cases") text = isNum(r.cases) ? `${r.passed ?? "?"}/${r.cases} passed` : "—";
  else text = String(r[col.key] ?? "—");
  return `<td class="${col.num ? "num" : ""}">${esc(text)}</td>`;
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

function compareRows(key, dir) {
  const empty = (v) => v === null || v === undefined || v === "";
  return (a, b) => {
    const x = a[key];
    const y = b[key];
    let c;
    if (empty(x)) c = empty(y) ? 0 : 1;
    else if (empty(y)) c = -1;
    else if (typeof x === "number" && typeof y === "number") c = x - y;
    else c = collator.compare(String(x), String(y));
    if (empty(x) || empty(y)) return c;  // no value: last in either direction
    return (dir === "desc" ? -c : c) || b.number - a.number;
  };
}

/** What of the snapshot the charts and the trial table show, besides the rows. */
function rowsSigOf(snap) {
  const best = snap.best ? snap.best.number : null;
  return JSON.stringify([best, snap.pareto, snap.objectives, snap.directions, snap.params, snap.states]);
}

function render({ model, el }) {
  const root = h("div", { class: "llmbench-widget llmbench-tune", "data-testid": "llmbench-tune" });
  const status = jobStatus(model, {
    metaClass: "lbt-meta",
    unit: "trials",
    cancelLabel: "Cancel this parameter search",
    errorRole: "alert",
    progressLabel: "search progress",
    hideCancelWhenFinal: true,
    stateClass: slug,
  });
  const budget = h("div", { class: "lbt-budget", "data-testid": "llmbench-tune-budget", role: "group", "aria-label": "Budget" });
  const stop = h("div", { class: "lbt-stop", "data-testid": "llmbench-tune-stop", hidden: true });
  const best = h("section", { class: "lbt-block lbt-best", "data-testid": "llmbench-tune-best" });
  const verdict = h("section", { class: "lbt-block lbt-verdict", "data-testid": "llmbench-tune-verdict", "aria-live": "polite" });
  const history = h("figure", { class: "lbt-chart", "data-testid": "llmbench-tune-history" });
  const pareto = h("figure", { class: "lbt-chart", "data-testid": "llmbench-tune-pareto", hidden: true });
  const count = h("div", { class: "lbw-muted lbt-count", "data-testid": "llmbench-tune-count" });
  const table = h("table", { class: "lbw-table lbt-trials", "data-testid": "llmbench-tune-trials" });
  root.append(...status.nodes, budget, stop, h("div", { class: "lbt-blocks" }, [best, verdict]),
    h("div", { class: "lbt-charts" }, [history, pareto]), count, h("div", { class: "lbt-trial-box" }, [table]));
  el.appendChild(root);

  const sort = { key: "number", dir: "desc" };  // newest first
  let headSig = "";
  let rowsSig = null;  // what of the snapshot the charts and the table show

  function updateSnapshot() {
    const snap = model.get("snapshot") || {};
    status.update(root, snap, snap.name || "parameter search", metaText(snap));
    budget.replaceChildren(...budgetBlock(snap));
    stop.hidden = !snap.stop_reason;
    stop.textContent = snap.stop_reason ? `Stopped: ${snap.stop_reason}` : "";
    best.replaceChildren(...bestBlock(snap));
    best.setAttribute("data-trial", snap.best ? String(snap.best.number) : "");
    const v = verdictBlock(snap);
    verdict.replaceChildren(...v.nodes);
    verdict.className = `lbt-block lbt-verdict ${v.cls}`.trim();
    if (v.verdict) verdict.setAttribute("data-verdict", v.verdict);
    else verdict.removeAttribute("data-verdict");
    if (v.significant !== null && v.significant !== undefined) verdict.setAttribute("data-significant", String(v.significant));
    if (rowsSigOf(snap) !== rowsSig) updateRows();  // the rows themselves change only with `rows`
  }

  function figure(node, chart) {
    node.replaceChildren(h("figcaption", { class: "lbw-muted", text: chart.caption }), chart.node);
  }

  function updateRows() {
    const snap = model.get("snapshot") || {};
    const rows = model.get("rows") || [];
    rowsSig = rowsSigOf(snap);
    figure(history, historyChart(snap, rows));
    const two = (snap.objectives || []).length === 2;
    pareto.hidden = !two;
    if (two) figure(pareto, paretoChart(snap, rows));
    const states = Object.entries(snap.states || {}).map(([s, n]) => `${n} ${s}`);
    count.textContent = `${rows.length} trial${rows.length === 1 ? "" : "s"}${states.length ? `: ${states.join(" · ")}` : ""}`
      + (rows.length > MAX_LISTED ? ` · the first ${MAX_LISTED} in this order are listed` : "");
    count.setAttribute("data-rows", String(rows.length));
    renderTable(snap, rows);
  }

  function renderTable(snap, rows) {
    const cols = columns(snap, rows);
    const sigNow = JSON.stringify(cols.map((c) => c.key));
    if (sigNow !== headSig) {
      headSig = sigNow;
      table.replaceChildren(
        h("caption", { class: "lbt-caption", text: "Trials (trial 0 is the baseline; click a heading to sort)" }),
        h("thead", {}, [h("tr", {}, cols.map((c) => h("th", { scope: "col", class: c.num ? "num" : "", "data-key": c.key,
          "aria-sort": "none" }, [h("button", { type: "button", class: "lbt-sort", "data-sort": c.key, text: c.label,
          "aria-label": `Sort by ${c.label}` })])))]),
        h("tbody", {}),
      );
    }
    for (const th of table.tHead.rows[0].cells) {
      const active = th.getAttribute("data-key") === sort.key;
      th.setAttribute("aria-sort", active ? (sort.dir === "asc" ? "ascending" : "descending") : "none");
    }
    const front = new Set((snap.objectives || []).length > 1 ? snap.pareto || [] : []);
    const bestNumber = snap.best ? snap.best.number : null;
    const sorted = [...rows].sort(compareRows(sort.key, sort.dir)).slice(0, MAX_LISTED);
    let html = "";
    for (const r of sorted) {
      const marks = [];
      if (r.baseline) marks.push(["lbt-chip-baseline", "baseline"]);
      if (r.number === bestNumber) marks.push(["lbt-chip-best", "★ best"]);
      if (front.has(r.number)) marks.push(["lbt-chip-front", "front"]);
      const cls = [`lbt-row-${slug(r.state)}`, r.baseline ? "lbt-row-baseline" : "", r.number === bestNumber ? "lbt-row-best" : ""].join(" ").trim();
      html += `<tr data-trial="${esc(r.number)}" data-state="${esc(r.state)}" class="${cls}">${cols.map((c) => cellHtml(c, r, marks)).join("")}</tr>`;
    }
    if (!sorted.length) html = `<tr class="lbt-empty-row"><td colspan="${cols.length}">No trial yet.</td></tr>`;
    table.tBodies[0].innerHTML = html;
  }

  function onSort(event) {
    const button = event.target.closest("button.lbt-sort");
    if (!button) return;
    const key = button.getAttribute("data-sort");
    sort.dir = sort.key === key && sort.dir === "desc" ? "asc" : "desc";
    sort.key = key;
    renderTable(model.get("snapshot") || {}, model.get("rows") || []);
  }

  table.addEventListener("click", onSort);
  updateSnapshot();
  model.on("change:snapshot", updateSnapshot);
  model.on("change:rows", updateRows);
  return () => {
    table.removeEventListener("click", onSort);
    model.off("change:snapshot", updateSnapshot);
    model.off("change:rows", updateRows);
  };
}

export default { render };
