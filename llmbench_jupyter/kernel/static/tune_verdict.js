// The end of a search, for the tune widget (concatenated after common.js, before
// tune_widget.js): a suite search's held-out test, a workload search's confirmation.

function confirmationBlock(snap) {
  const head = h("div", { class: "lbt-block-title", text: "Confirmation" });
  const held = snap.holdout || {};
  if (!held.verdict) {
    let text = "When the search ends, the baseline and the best run again, fresh and interleaved (baseline, best, best, baseline).";
    if (FINAL.has(snap.state)) text = NOT_RUN[snap.state] || `Not run: the search is ${snap.state}.`;
    return { cls: "", nodes: [head, h("div", { class: "lbw-muted lbt-verdict-text", text })] };
  }
  const c = held.compare || {};
  const o = c.metric || held.objective || "";
  const nodes = [head, h("div", { class: "lbt-verdict-text", text: held.verdict })];
  if (isNum(c.median_a) && isNum(c.median_b)) {
    nodes.push(h("div", { class: "lbw-muted", text:
      `${o} median: baseline ${objText(o, c.median_a)}, best (trial ${held.best_trial}) ${objText(o, c.median_b)}, over ${c.n_a} + ${c.n_b} fresh requests` }));
  }
  if (isNum(c.diff_ci_low)) {
    nodes.push(h("div", { class: "lbw-muted", text: `difference ${objText(o, c.diff)}, bootstrap 95% CI ${ciText(c.diff_ci_low, c.diff_ci_high, o)}` }));
  }
  let cls = "lbt-verdict-neutral";
  if (held.verdict.startsWith("significant improvement")) cls = "lbt-verdict-good";
  else if (held.verdict.startsWith("significantly worse")) cls = "lbt-verdict-bad";
  return { cls, nodes, verdict: held.verdict, significant: isNum(c.diff_ci_low) ? Boolean(c.significant) : null };
}

function verdictBlock(snap) {
  if (snap.kind === "bench") return confirmationBlock(snap);
  const head = h("div", { class: "lbt-block-title", text: "Held-out test" });
  const held = snap.holdout || {};
  const n = (snap.split || {}).holdout || 0;
  if (!held.verdict) {
    let text = `When the search ends, the baseline and the best trial run once on ${n} held-out cases the search never saw.`;
    if (!n) text = "No held-out cases (holdout=0): the best score is on the cases it was chosen on.";
    else if (FINAL.has(snap.state)) text = NOT_RUN[snap.state] || `Not run: the search is ${snap.state}.`;
    return { cls: "", nodes: [head, h("div", { class: "lbw-muted lbt-verdict-text", text })] };
  }
  const test = held.mcnemar;
  const headline = test ? `${held.verdict}: p ${pText(test.p_value)}, ${test.cases} cases` : held.verdict;
  const nodes = [head, h("div", { class: "lbt-verdict-text", text: headline })];
  const b = held.best || {};
  const a = held.baseline || {};
  if (isNum(b.passed) && isNum(a.passed)) {
    nodes.push(h("div", { class: "lbw-muted", text:
      `best (trial ${held.best_trial}) passed ${b.passed} of ${b.cases}, the baseline ${a.passed} of ${a.cases}` }));
  }
  if (test) {
    nodes.push(h("div", { class: "lbw-muted", text:
      `exact McNemar test: ${test.b_only} cases only the best passed, ${test.a_only} only the baseline` }));
  }
  let cls = "lbt-verdict-neutral";
  if (held.verdict.startsWith("significant improvement")) cls = "lbt-verdict-good";
  else if (held.verdict.startsWith("significantly worse")) cls = "lbt-verdict-bad";
  return { cls, nodes, verdict: held.verdict, significant: test ? test.significant : null };
}
