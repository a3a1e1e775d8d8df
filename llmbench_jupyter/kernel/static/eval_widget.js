// Live view of one llmbench tool-calling eval job (anywidget ESM: common.js, then this file).
//
// Two traits: `snapshot` (progress and per-target rates, ≤10 updates/s) and `rows`
// (one entry per case attempt, ≤1 update/s). Every figure comes from the kernel, which
// computed it in llmbench_jupyter.stats / evals.scoring: this file only lays out,
// filters and sorts. Everything from a model or a suite is text: it goes through
// textContent or esc() before it reaches the DOM.
//
// DOM contract (browser tests rely on it): root data-testid="llmbench-eval" with
// data-state / data-done / data-total; cancel button data-testid="llmbench-cancel";
// tables data-testid="llmbench-eval-targets", "llmbench-eval-categories",
// "llmbench-eval-cases" (one <tr data-case> per shown row; the error-type cell is
// td.lbe-etype with class lbe-err-<type>); filters data-testid="llmbench-eval-filter-
// target|failures|etype|search"; data-testid="llmbench-eval-count" has data-shown (rows
// passing the filters), data-listed (of those, in the DOM so far) and data-total; the
// button that lists the next chunk is data-testid="llmbench-eval-more".

const ERROR_LABELS = {
  wrong_tool: "wrong tool",
  missing_call: "missing call",
  extra_call: "extra call",
  wrong_value: "wrong value",
  hallucinated_param: "hallucinated param",
  missing_param: "missing param",
  type_error: "type error",
  parse_error: "parse error",
  api_error: "API error",
  wrong_order: "wrong order",
};
// Widths in em: the case table has a fixed layout (see renderCases).
const COLUMNS = [
  { key: "target", label: "Target", sortable: true, width: 9 },
  { key: "case_id", label: "Case", sortable: true, width: 9 },
  { key: "category", label: "Category", sortable: true, width: 7 },
  { key: "attempt", label: "Attempt", sortable: true, num: true, width: 6 },
  { key: "outcome", label: "Outcome", sortable: true, width: 9 },
  { key: "error_type", label: "Error type", sortable: true, width: 10 },
  { key: "expected", label: "Expected calls", width: 16 },
  { key: "actual", label: "Actual calls", width: 16 },
  { key: "explanation", label: "Explanation", width: 18 },
];
const SEARCH_DEBOUNCE_MS = 120;
// Case rows put in the DOM at a time (see renderCases).
const CHUNK = 200;

const ESC = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const ESC_RE = /[&<>"']/g;

/** Text made safe for innerHTML, in element content and in quoted attributes alike. */
function esc(value) {
  return value === null || value === undefined ? "" : String(value).replace(ESC_RE, (c) => ESC[c]);
}

// The one rounding rule for percentages (analysis.display.pct_points in Python): half up,
// on the same double-precision value, so 0.625 is "63%" in the widget, the CLI and reprs.
function pctPoints(rate) {
  return Math.floor(100 * rate + 0.5);
}

function pct(rate) {
  return isNum(rate) ? `${pctPoints(rate)}%` : "N/A";
}

/** "72% [60–81%]" from a {rate, ci_low, ci_high} stat; "N/A" when it did not run. */
function rateText(stat) {
  if (!stat || !isNum(stat.rate)) return "N/A";
  if (!isNum(stat.ci_low) || !isNum(stat.ci_high)) return pct(stat.rate);
  return `${pct(stat.rate)} [${pctPoints(stat.ci_low)}–${pctPoints(stat.ci_high)}%]`;
}

/** A target's pass rate (or macro rate) as a {rate, ci_low, ci_high, successes, n} stat,
 * from the snapshot's flat summary fields (analysis.eval_result.SUMMARY_FIELDS). */
function rateOf(t, name) {
  const stat = { rate: t[`${name}_rate`], ci_low: t[`${name}_ci_low`], ci_high: t[`${name}_ci_high`] };
  if (name === "pass") Object.assign(stat, { successes: t.passed, n: t.attempts });
  return stat;
}

function countText(stat) {
  return stat && isNum(stat.successes) && isNum(stat.n) ? `${stat.successes}/${stat.n} attempts passed` : "";
}

function fixed(v, digits = 2) {
  return isNum(v) ? v.toFixed(digits) : "—";
}

/** A CSS-class-safe form of an error type (unknown types still get their own class). */
function slug(text) {
  return String(text).toLowerCase().replace(/[^a-z0-9_-]/g, "-");
}

function errorLabel(type) {
  return ERROR_LABELS[type] || String(type).replace(/_/g, " ");
}

/** The header's meta line: suite, cases, k, mode and run. */
function metaText(snap) {
  const suite = snap.suite || {};
  const metaParts = [];
  if (suite.name) metaParts.push(`${suite.name}${isNum(suite.version) ? ` v${suite.version}` : ""}`);
  if (isNum(suite.n_cases)) metaParts.push(`${suite.n_cases} cases`);
  if (isNum(snap.k)) metaParts.push(`k=${snap.k}`);
  if (snap.mode) metaParts.push(`${snap.mode} mode`);
  if (snap.run_id) metaParts.push(`run ${String(snap.run_id).slice(0, 8)}`);
  return metaParts.join(" · ");
}

/** A horizontal 0–100% track with the CI as a band and the rate as a tick. */
function ciBar(stat) {
  if (!stat || !isNum(stat.rate)) return h("span", { class: "lbe-na", text: "N/A" });
  const clamp = (v) => Math.max(0, Math.min(100, v * 100));
  const lo = isNum(stat.ci_low) ? clamp(stat.ci_low) : clamp(stat.rate);
  const hi = isNum(stat.ci_high) ? clamp(stat.ci_high) : clamp(stat.rate);
  return h("div", {
    class: "lbe-ci",
    role: "img",
    "aria-label": `pass rate ${rateText(stat)} (95% confidence interval)`,
    title: `${rateText(stat)} ${countText(stat)}`.trim(),
  }, [
    h("div", { class: "lbe-ci-band", style: `left:${lo}%;width:${Math.max(hi - lo, 0.5)}%` }),
    h("div", { class: "lbe-ci-mark", style: `left:${clamp(stat.rate)}%` }),
  ]);
}

/** Display names of targets, with the key when two targets share one. */
function targetLabels(targets) {
  const count = {};
  for (const t of targets) count[t.display_name] = (count[t.display_name] || 0) + 1;
  const out = {};
  for (const t of targets) {
    out[t.key] = t.display_name && count[t.display_name] === 1 ? t.display_name : t.key;
  }
  return out;
}

function targetState(t, jobState) {
  if (isNum(t.total) && t.total > 0 && t.done >= t.total) return "done";
  return FINAL.has(jobState) ? jobState : "running";
}

function summaryTable(snap, labels) {
  const targets = snap.targets || [];
  const judge = targets.some((t) => isNum(t.judge_mean));
  const cols = [
    ["Target", ""], ["Progress", ""], ["Attempts", "num"], ["Errors", "num"],
    ["Pass rate (95% CI)", "num"], ["", ""], ["Macro rate", "num"], ["Tool F1", "num"],
    ["Arg. accuracy", "num"],
  ];
  if (judge) cols.push(["Judge mean", "num"]);
  const head = h("tr", {}, cols.map(([c, cls], i) =>
    h("th", { scope: "col", class: cls, text: c, "aria-label": i === 5 ? "Pass rate chart" : null })));
  const rows = targets.map((t) => {
    const cells = [
      h("th", { scope: "row", class: "lbw-target", title: t.key, text: labels[t.key] || t.key }),
      h("td", { class: "lbe-cell-bar" }, [progressBar(t.done || 0, t.total || 0, targetState(t, snap.state), `${t.key} progress`)]),
      h("td", { class: "num", text: `${t.done || 0}/${t.total || 0}` }),
      h("td", { class: `num${t.errors ? " lbw-bad" : ""}`, text: String(t.errors || 0) }),
      h("td", { class: "num lbe-rate", title: countText(rateOf(t, "pass")), text: rateText(rateOf(t, "pass")) }),
      h("td", { class: "lbe-cell-ci" }, [ciBar(rateOf(t, "pass"))]),
      h("td", { class: "num", text: rateText(rateOf(t, "macro")) }),
      h("td", { class: "num", text: fixed(t.tool_f1) }),
      h("td", { class: "num", text: fixed(t.argument_accuracy) }),
    ];
    if (judge) cells.push(h("td", { class: "num", text: fixed(t.judge_mean) }));
    return h("tr", { "data-target": t.key }, cells);
  });
  return h("table", { class: "lbw-table", "data-testid": "llmbench-eval-targets" }, [
    h("caption", { class: "lbe-caption", text: "Pass rate per target (micro average, Wilson 95% CI)" }),
    h("thead", {}, [head]),
    h("tbody", {}, rows),
  ]);
}

function categoryTable(snap, labels) {
  const cats = snap.categories || [];
  const targets = snap.targets || [];
  const head = h("tr", {}, [
    h("th", { scope: "col", text: "Target" }),
    ...cats.map((c) => h("th", { scope: "col", class: "num", text: c })),
  ]);
  const rows = targets.map((t) =>
    h("tr", { "data-target": t.key }, [
      h("th", { scope: "row", class: "lbw-target", title: t.key, text: labels[t.key] || t.key }),
      ...cats.map((c) => {
        const stat = (t.categories || {})[c];
        const ran = stat && isNum(stat.rate);
        return h("td", {
          class: ran ? "num" : "num lbe-na",
          "data-category": c,
          title: ran ? countText(stat) : "not run yet",
          text: rateText(stat),
        });
      }),
    ]),
  );
  return h("table", { class: "lbw-table", "data-testid": "llmbench-eval-categories" }, [
    h("caption", { class: "lbe-caption", text: "Pass rate by category" }),
    h("thead", {}, [head]),
    h("tbody", {}, rows),
  ]);
}

function callsHtml(lines, empty) {
  if (!Array.isArray(lines) || lines.length === 0) return `<span class="lbw-muted">${empty}</span>`;
  let out = "";
  for (const line of lines) out += `<code class="lbe-call">${esc(line)}</code>`;
  return out;
}

/** One <tr> per row, as one string: the whole body goes in with a single innerHTML. */
function rowsHtml(rows, labels) {
  const parts = new Array(rows.length);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const passed = r.passed === true;
    const target = esc(labels[r.target] || r.target);
    let etype = '<td class="lbe-etype"><span class="lbw-muted">—</span></td>';
    if (r.error_type) {
      etype = `<td class="lbe-etype lbe-err lbe-err-${esc(slug(r.error_type))}" data-error-type="${esc(r.error_type)}">`
        + `<span class="lbe-chip">${esc(errorLabel(r.error_type))}</span></td>`;
    }
    let explanation = `<div class="lbe-expl" title="${esc(r.explanation)}">${esc(r.explanation)}</div>`;
    if (r.judge) {
      const j = r.judge;
      const verdict = j.passed === true ? "pass" : j.passed === false ? "fail" : "";
      explanation += `<div class="lbe-judge">judge: ${esc(j.status)}${isNum(j.score) ? ` · ${esc(j.score)}` : ""}`
        + `${verdict ? ` · ${verdict}` : ""}</div>`;
    }
    parts[i] = `<tr data-case="${esc(r.case_id)}" data-passed="${passed}"${passed ? "" : ' class="lbe-row-fail"'}>`
      + `<td class="lbw-target" title="${esc(r.target)}">${target}</td>`
      + `<td class="lbe-case">${esc(r.case_id)}</td>`
      + `<td>${esc(r.category)}</td>`
      + `<td class="num">${esc(r.attempt)}</td>`
      + `<td class="lbe-outcome ${passed ? "lbe-pass" : "lbe-fail"}"><span aria-hidden="true">${passed ? "✓" : "✗"}</span> ${esc(r.outcome)}</td>`
      + etype
      + `<td class="lbe-calls">${callsHtml(r.expected, "no call")}</td>`
      + `<td class="lbe-calls">${callsHtml(r.actual, "no call")}</td>`
      + `<td>${explanation}</td></tr>`;
  }
  return parts.join("");
}

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

function sortValue(row, key) {
  if (key === "outcome") return row.passed === true ? 1 : 0;
  return row[key];
}

function compareRows(key, dir) {
  return (a, b) => {
    const x = sortValue(a, key);
    const y = sortValue(b, key);
    let c;
    if (x === null || x === undefined || x === "") c = y === null || y === undefined || y === "" ? 0 : 1;
    else if (y === null || y === undefined || y === "") c = -1;
    else if (typeof x === "number" && typeof y === "number") c = x - y;
    else c = collator.compare(String(x), String(y));
    return dir === "desc" ? -c : c;
  };
}

function setOptions(select, options, keep) {
  // rebuild only when the choices changed: a select being used keeps its state
  const sig = JSON.stringify(options);
  if (select.dataset.sig === sig) return;
  select.dataset.sig = sig;
  select.replaceChildren(...options.map(([value, text]) => h("option", { value, text })));
  select.value = options.some(([value]) => value === keep) ? keep : "";
}

function render({ model, el }) {
  const root = h("div", { class: "llmbench-widget llmbench-eval", "data-testid": "llmbench-eval" });
  const status = jobStatus(model, {
    metaClass: "lbe-meta",
    // what `done` counts: case attempts, with the cases and k they come from
    unit: (snap) => {
      const cases = (snap.suite || {}).n_cases;
      return isNum(cases) && isNum(snap.k) ? `attempts (${cases} cases × k=${snap.k})` : "attempts";
    },
    cancelLabel: "Cancel this eval job",
    errorRole: "alert",
    progressLabel: "eval progress",
    hideCancelWhenFinal: true,
    stateClass: slug,
  });
  const summaryBox = h("div", { class: "lbw-table-box" });
  const categoryBox = h("div", { class: "lbw-table-box" });

  const fTarget = h("select", { "aria-label": "Filter cases by target", "data-testid": "llmbench-eval-filter-target" });
  const fFailures = h("input", { type: "checkbox", "aria-label": "Show failures only", "data-testid": "llmbench-eval-filter-failures" });
  const fType = h("select", { "aria-label": "Filter cases by error type", "data-testid": "llmbench-eval-filter-etype" });
  const fSearch = h("input", { type: "search", placeholder: "Search case id", "aria-label": "Search case id", "data-testid": "llmbench-eval-filter-search" });
  const count = h("span", { class: "lbw-muted lbe-count", "aria-live": "polite", "data-testid": "llmbench-eval-count" });
  const filters = h("div", { class: "lbe-filters", role: "group", "aria-label": "Case filters" }, [
    fTarget,
    h("label", { class: "lbe-check" }, [fFailures, h("span", { text: "Failures only" })]),
    fType,
    fSearch,
    h("span", { class: "lbw-spacer" }),
    count,
  ]);

  const headCells = COLUMNS.map((col) => {
    if (!col.sortable) return h("th", { scope: "col", class: col.num ? "num" : "", text: col.label });
    const button = h("button", { type: "button", class: "lbe-sort", "data-sort": col.key, "aria-label": `Sort by ${col.label}` }, [
      h("span", { text: col.label }),
      h("span", { class: "lbe-sort-icon", "aria-hidden": "true" }),
    ]);
    return h("th", { scope: "col", class: col.num ? "num" : "", "data-key": col.key, "aria-sort": "none" }, [button]);
  });
  const tail = h("tbody", { class: "lbe-tail" });  // the "show more" or "no cases" row
  const caseTable = h("table", { class: "lbw-table lbe-cases", "data-testid": "llmbench-eval-cases" }, [
    h("caption", { class: "lbe-caption", text: "Cases (one row per attempt)" }),
    h("colgroup", {}, COLUMNS.map((col) => h("col", { style: `width:${col.width}em` }))),
    h("thead", {}, [h("tr", {}, headCells)]),
    tail,
  ]);
  const caseBox = h("div", { class: "lbe-case-box" }, [caseTable]);
  root.append(...status.nodes, summaryBox, categoryBox, filters, caseBox);
  el.appendChild(root);

  const sort = { key: null, dir: "asc" };
  let labels = {};
  let searchTimer = null;
  let started = false;
  let current = [];  // the filtered, sorted rows
  let listedCount = 0;  // how many of them are in the DOM
  let limit = CHUNK;  // kept across live refreshes, reset by a new filter or sort
  const observer = typeof IntersectionObserver === "function"
    ? new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) showMore();
    }, { root: caseBox, rootMargin: "0px 0px 300px 0px" })
    : null;

  function updateSnapshot() {
    const snap = model.get("snapshot") || {};
    status.update(root, snap, snap.name || "eval job", metaText(snap));
    const newLabels = targetLabels(snap.targets || []);
    const relabel = JSON.stringify(newLabels) !== JSON.stringify(labels);
    labels = newLabels;
    summaryBox.replaceChildren(summaryTable(snap, labels));
    categoryBox.replaceChildren(categoryTable(snap, labels));
    if (relabel && started) updateRows();
  }

  function filtered(rows) {
    const target = fTarget.value;
    const failures = fFailures.checked;
    const etype = fType.value;
    const needle = fSearch.value.trim().toLowerCase();
    const out = [];
    for (const r of rows) {
      if (target && r.target !== target) continue;
      if (failures && r.passed === true) continue;
      if (etype && r.error_type !== etype) continue;
      if (needle && !String(r.case_id).toLowerCase().includes(needle)) continue;
      out.push(r);
    }
    if (sort.key) out.sort(compareRows(sort.key, sort.dir));
    return out;
  }

  function updateFilters(rows) {
    const snap = model.get("snapshot") || {};
    const keys = (snap.targets || []).map((t) => t.key);
    const byType = {};
    for (const r of rows) {
      if (!keys.includes(r.target)) keys.push(r.target);
      if (r.error_type) byType[r.error_type] = (byType[r.error_type] || 0) + 1;
    }
    setOptions(fTarget, [["", "All targets"], ...keys.map((k) => [k, labels[k] || k])], fTarget.value);
    const types = Object.keys(byType).sort();
    setOptions(fType, [["", "All error types"], ...types.map((t) => [t, `${errorLabel(t)} (${byType[t]})`])], fType.value);
  }

  // The case table lists the filtered, sorted rows in chunks: the first CHUNK at once,
  // the next ones when the "more" row scrolls into view (or its button is pressed).
  // Layout, not script, is what costs (~0.3–0.6 ms per row), and rows refresh every
  // second while a job runs: a chunk keeps each refresh cheap at any number of rows.
  // The table's fixed layout (widths from the colgroup) lets an appended chunk be laid
  // out alone, instead of re-measuring every column of every row already listed.
  function renderCases(reset) {
    const rows = model.get("rows") || [];
    updateFilters(rows);
    current = filtered(rows);
    if (reset) {
      limit = CHUNK;
      caseBox.scrollTop = 0;
    }
    for (const old of caseTable.querySelectorAll("tbody.lbe-chunk")) old.remove();
    listedCount = 0;
    const listed = Math.min(limit, current.length);
    while (listedCount < listed) appendChunk(Math.min(listedCount + CHUNK, listed));
    tail.innerHTML = current.length
      ? moreHtml(listed)
      : `<tr class="lbe-empty"><td colspan="${COLUMNS.length}">${rows.length ? "No cases match the filters." : "No cases yet."}</td></tr>`;
    updateCount(rows.length);
    watchMore();
  }

  // Each chunk is its own <tbody>, so the browser lays out the new one without
  // revisiting the sections already listed.
  function appendChunk(upto) {
    const body = document.createElement("tbody");
    body.className = "lbe-chunk";
    body.innerHTML = rowsHtml(current.slice(listedCount, upto), labels);
    caseTable.insertBefore(body, tail);
    listedCount = upto;
  }

  function moreHtml(listed) {
    const left = current.length - listed;
    if (left <= 0) return "";
    const next = Math.min(CHUNK, left);
    return `<tr class="lbe-more"><td colspan="${COLUMNS.length}"><button type="button" class="lbe-more-button"`
      + ` data-testid="llmbench-eval-more">Show ${next} more (${left} not listed yet)</button></td></tr>`;
  }

  function showMore() {
    if (listedCount >= current.length) return;
    appendChunk(Math.min(listedCount + CHUNK, current.length));
    limit = Math.max(limit, listedCount);
    tail.innerHTML = moreHtml(listedCount);
    updateCount((model.get("rows") || []).length);
    watchMore();
  }

  function watchMore() {
    if (!observer) return;
    observer.disconnect();
    const more = tail.querySelector("tr.lbe-more");
    if (more) observer.observe(more);
  }

  function updateCount(total) {
    let text = `${current.length} of ${total} rows`;
    if (listedCount < current.length) text += ` · first ${listedCount} listed, scroll for more`;
    count.textContent = text;
    count.setAttribute("data-shown", String(current.length));
    count.setAttribute("data-listed", String(listedCount));
    count.setAttribute("data-total", String(total));
  }

  const updateRows = () => renderCases(false);
  const refilter = () => renderCases(true);

  function onSort(event) {
    const button = event.target.closest("button.lbe-sort");
    if (!button) return;
    const key = button.getAttribute("data-sort");
    sort.dir = sort.key === key && sort.dir === "asc" ? "desc" : "asc";
    sort.key = key;
    for (const th of headCells) {
      if (!th.hasAttribute("data-key")) continue;
      const active = th.getAttribute("data-key") === key;
      th.setAttribute("aria-sort", active ? (sort.dir === "asc" ? "ascending" : "descending") : "none");
    }
    refilter();
  }

  function onSearch() {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(refilter, SEARCH_DEBOUNCE_MS);
  }

  caseTable.tHead.addEventListener("click", onSort);
  tail.addEventListener("click", (event) => {
    if (event.target.closest("button.lbe-more-button")) showMore();
  });
  fTarget.addEventListener("change", refilter);
  fFailures.addEventListener("change", refilter);
  fType.addEventListener("change", refilter);
  fSearch.addEventListener("input", onSearch);

  updateSnapshot();
  updateRows();
  started = true;
  model.on("change:snapshot", updateSnapshot);
  model.on("change:rows", updateRows);
  return () => {
    clearTimeout(searchTimer);
    if (observer) observer.disconnect();
    model.off("change:snapshot", updateSnapshot);
    model.off("change:rows", updateRows);
  };
}

export default { render };
