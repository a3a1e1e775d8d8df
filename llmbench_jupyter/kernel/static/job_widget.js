// Live view of one llmbench job (anywidget ESM: common.js, then this file).
//
// Everything shown comes from the `snapshot` trait that the kernel builds from
// llmbench_jupyter.stats: this file only lays out and formats numbers, it never
// computes a metric. DOM contract (browser tests rely on it): the root carries
// data-testid="llmbench-job" with data-state / data-done / data-total; the cancel
// button is data-testid="llmbench-cancel"; the live charts are inline SVG inside
// data-testid="llmbench-chart-ttft" and data-testid="llmbench-chart-decode"; a run with
// a timing self-test shows its bound in data-testid="llmbench-timing-bound".

const SVG_NS = "http://www.w3.org/2000/svg";
// Categorical colours readable on light and dark backgrounds.
const PALETTE = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b", "#9d755d"];

function s(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

function fmt(v) {
  if (!isNum(v)) return "—";
  const a = Math.abs(v);
  const digits = a >= 100 ? 0 : a >= 10 ? 1 : 2;
  return v.toLocaleString(undefined, { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function fmtTier(tokens) {
  if (!isNum(tokens)) return "?";
  if (tokens < 1000) return String(tokens);
  const k = tokens / 1000;
  return `${Number.isInteger(k) ? k : k.toFixed(1)}k`;
}

function clip(text, max) {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

// Labels of targets: display names, with the provider added when two targets share one.
function targetLabels(targets) {
  const count = {};
  for (const t of targets) count[t.display_name] = (count[t.display_name] || 0) + 1;
  const out = {};
  for (const t of targets) {
    out[t.key] = count[t.display_name] > 1 ? `${t.provider}/${t.display_name}` : t.display_name;
  }
  return out;
}

// Rows of the chart: one group per target; one bar per target, or per tier when tiered.
function chartGroups(snap, field) {
  const targets = snap.targets || [];
  const labels = targetLabels(targets);
  if ((snap.tier_count || 1) > 1) {
    const tiers = [...new Set((snap.tiers || []).map((r) => r.context_tier))].sort((a, b) => a - b);
    const groups = targets.map((t) => ({
      label: labels[t.key],
      bars: tiers.map((tier, i) => {
        const row = (snap.tiers || []).find((r) => r.key === t.key && r.context_tier === tier);
        return { value: row ? row[field] : null, color: PALETTE[i % PALETTE.length] };
      }),
    }));
    const legend = tiers.map((tier, i) => ({ label: `ctx ${fmtTier(tier)}`, color: PALETTE[i % PALETTE.length] }));
    return { groups, legend };
  }
  const groups = targets.map((t, i) => ({
    label: labels[t.key],
    bars: [{ value: t[field], color: PALETTE[i % PALETTE.length] }],
  }));
  return { groups, legend: [] };
}

function barChart(snap, field, unit) {
  const { groups, legend } = chartGroups(snap, field);
  const W = 380, LABEL = 112, VALUE = 64, BAR = 14, GAP = 3, GROUP_GAP = 8;
  const legendH = legend.length ? 20 : 0;
  const plotW = W - LABEL - VALUE;
  let max = 0;
  for (const g of groups) for (const b of g.bars) if (isNum(b.value) && b.value > max) max = b.value;
  const svg = s("svg", { class: "lbj-svg", role: "img", "aria-label": `${field} per model` });
  let x = LABEL;
  legend.forEach((item) => {
    svg.appendChild(s("rect", { x, y: 4, width: 10, height: 10, rx: 2, fill: item.color }));
    svg.appendChild(s("text", { x: x + 14, y: 13, class: "lbj-svg-legend" }, item.label));
    x += 22 + 7 * item.label.length;
  });
  let y = legendH + 2;
  for (const g of groups) {
    const gh = g.bars.length * BAR + (g.bars.length - 1) * GAP;
    const label = s("text", { x: LABEL - 8, y: y + gh / 2 + 4, "text-anchor": "end", class: "lbj-svg-label" }, clip(g.label, 17));
    label.appendChild(s("title", {}, g.label));
    svg.appendChild(label);
    g.bars.forEach((b, i) => {
      const by = y + i * (BAR + GAP);
      const ok = isNum(b.value);
      const w = ok && max > 0 ? Math.max(1, (plotW * b.value) / max) : 0;
      svg.appendChild(s("rect", { x: LABEL, y: by, width: plotW, height: BAR, class: "lbj-svg-track" }));
      if (ok) {
        const bar = s("rect", { x: LABEL, y: by, width: w, height: BAR, rx: 2, fill: b.color });
        bar.appendChild(s("title", {}, `${g.label}: ${fmt(b.value)} ${unit}`));
        svg.appendChild(bar);
      }
      svg.appendChild(s("text", { x: LABEL + (ok ? w : 0) + 5, y: by + BAR - 3, class: "lbj-svg-value" }, ok ? fmt(b.value) : "—"));
    });
    y += gh + GROUP_GAP;
  }
  const H = Math.max(y, legendH + 24);
  svg.appendChild(s("line", { x1: LABEL, x2: LABEL, y1: legendH, y2: H - GROUP_GAP + 2, class: "lbj-svg-axis" }));
  svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
  svg.setAttribute("width", W);
  svg.setAttribute("height", H);
  return svg;
}

function chartBox(testid, title, note) {
  const body = h("div", { class: "lbj-chart-body" });
  const box = h("figure", { class: "lbj-chart", "data-testid": testid }, [
    h("figcaption", {}, [h("span", { class: "lbj-chart-title", text: title }), h("span", { class: "lbw-muted", text: note })]),
    body,
  ]);
  return { box, body };
}

function targetTable(snap) {
  const cols = [
    ["Target", ""], ["Progress", ""], ["Sent", "num"], ["Errors", "num"],
    ["TTFT p50 (ms)", "num"], ["Decode p50 (tok/s)", "num"], ["TPOT p50 (ms)", "num"],
  ];
  const head = h("tr", {}, cols.map(([c, cls]) => h("th", { class: cls, text: c })));
  const labels = targetLabels(snap.targets || []);
  const rows = (snap.targets || []).map((t) =>
    h("tr", { "data-target": t.key }, [
      h("td", { class: "lbw-target", title: t.key, text: labels[t.key] }),
      h("td", { class: "lbj-cell-bar" }, [progressBar(t.done, t.total, t.state)]),
      h("td", { class: "num", text: `${t.done}/${t.total}` }),
      h("td", { class: `num${t.errors ? " lbw-bad" : ""}`, text: String(t.errors) }),
      h("td", { class: "num", text: fmt(t.ttft_ms_p50) }),
      h("td", { class: "num", text: fmt(t.decode_tps_p50) }),
      h("td", { class: "num", text: fmt(t.tpot_ms_p50) }),
    ]),
  );
  return h("table", { class: "lbw-table" }, [h("thead", {}, [head]), h("tbody", {}, rows)]);
}

function render({ model, el }) {
  const root = h("div", { class: "llmbench-widget llmbench-job", "data-testid": "llmbench-job" });
  // `done` counts every request sent; "requests" means measured ones, as in the summary
  const status = jobStatus(model, {
    metaClass: "lbj-run",
    unit: (snap) => isNum(snap.requests)
      ? `sent: ${snap.requests} requests + ${snap.warmup_requests || 0} warm-up`
      : "sent",
  });
  const bound = h("div", { class: "lbj-bound", "data-testid": "llmbench-timing-bound", hidden: true });
  const tableBox = h("div", { class: "lbw-table-box" });
  const ttft = chartBox("llmbench-chart-ttft", "TTFT p50", "ms · lower is better");
  const decode = chartBox("llmbench-chart-decode", "Decode speed p50", "tok/s · higher is better");
  const charts = h("div", { class: "lbj-charts" }, [ttft.box, decode.box]);
  root.append(...status.nodes, bound, tableBox, charts);
  el.appendChild(root);

  function update() {
    const snap = model.get("snapshot") || {};
    const runId = snap.run_id ? `run ${String(snap.run_id).slice(0, 8)}` : "";
    status.update(root, snap, snap.name || `${snap.kind || "bench"} job`, runId);
    const timing = snap.timing_selftest;
    bound.hidden = !(timing && timing.text);
    bound.className = `lbj-bound${timing && timing.too_loaded ? " lbj-bound-warn" : ""}`;
    bound.textContent = timing && timing.text ? `Timing self-test: ${timing.text}` : "";
    if (timing && timing.too_loaded) bound.title = String(timing.too_loaded);
    tableBox.replaceChildren(targetTable(snap));
    ttft.body.replaceChildren(barChart(snap, "ttft_ms_p50", "ms"));
    decode.body.replaceChildren(barChart(snap, "decode_tps_p50", "tok/s"));
  }

  update();
  model.on("change:snapshot", update);
  return () => model.off("change:snapshot", update);
}

export default { render };
