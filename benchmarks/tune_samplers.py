"""Does TPE beat random search on the sim, and what does pruning save (issue 13).

``lj.tune`` on the shipped ``tuning-example`` suite against the simulated endpoint, whose
answers pass case i only when temperature <= t_i and top_p >= p_i: a known optimum (every
search case passes) in the corner of low temperature and high top_p. For each seed the
same search runs with TPE and with random search (the baseline from the same run), then
TPE with and without pruning; figures, baselines, ratios and verdicts are printed as a
table (benchmarks/README.md).

    .venv/bin/python benchmarks/tune_samplers.py [--seeds 10] [--budget 120]
        [--prune-budget 30] [--concurrency 20] [--prune-concurrency 2] [--holdout 0]
        [--json out.json] [--quick]

Exit code 0 even when a verdict fails (a measurement, not a test); 2 for invalid arguments.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import llmbench_jupyter as lj
from llmbench_jupyter.evals.suites import example_files
from llmbench_jupyter.jobs import JobManager, reset_manager
from llmbench_jupyter.jobs.tune import build_tune_spec
from llmbench_jupyter.sim import SimServer
from llmbench_jupyter.sim.rules import load_rules

SUITE = "tuning-example"
MODEL = "sim-fast"
#: The searched space: the optimum corner is a small share of it, so random search
#: needs tens of trials on average (the script prints the share and 1/share).
SPACE: dict[str, Any] = {"temperature": (0.0, 1.0), "top_p": (0.5, 1.0)}


# ----------------------------------------------------------------------------- the optimum
def optimum_share(seed: int, holdout: float, rules_path: str) -> tuple[float, dict[str, Any]]:
    """Share of ``SPACE`` where every search case of this seed's split passes, and that
    box. For each search case, the first rule that applies to its request whatever the
    parameters (model, last user message, system prompt, as ``sim.rules.find_rule``) is
    the one that answers it right (the suite is written so); if it has ``params``, the
    case passes only inside their [low, high] ranges. The box is the intersection of those
    ranges, clipped to the space."""
    spec, _ = build_tune_spec(SUITE, MODEL, space=SPACE, seed=seed, holdout=holdout)
    rules = load_rules(rules_path)
    dists = spec.built.distributions
    box = {name: (float(d.low), float(d.high)) for name, d in dists.items()}  # type: ignore[attr-defined]
    search_cases, _ = spec.split()
    model, system = spec.target.api_model, spec.system_prompt or ""
    for case in search_cases:
        text = str(case.messages[-1]["content"])
        rule = next(
            r
            for r in rules
            if r.tool_result is None
            and (r.model is None or r.model.search(model))
            and (r.match is None or r.match.search(text))
            and (r.system is None or r.system.search(system))
        )
        for name, want in rule.params:
            low, high = want if isinstance(want, tuple) else (want, want)
            if name in box:
                box[name] = (max(box[name][0], float(low)), min(box[name][1], float(high)))
    share = 1.0
    for name, (low, high) in box.items():
        full = float(dists[name].high - dists[name].low)  # type: ignore[attr-defined]
        share *= max(0.0, high - low) / full
    return share, {k: [round(v[0], 6), round(v[1], 6)] for k, v in box.items()}


def censored_mean(share: float, budget: int) -> float:
    """E[min(G, budget + 1)] for G geometric with success probability ``share``: what
    random search's mean is expected to be when "not found" counts as budget + 1."""
    return (1 - (1 - share) ** (budget + 1)) / share if share > 0 else budget + 1.0


# ----------------------------------------------------------------------------- one search
def first_optimum(trials: Sequence[dict[str, Any]]) -> int | None:
    """The number of the first search trial (number >= 1; the baseline does not count)
    whose pass rate is 1.0."""
    for row in sorted(trials, key=lambda r: r["number"]):
        values = row.get("values")
        if row["number"] >= 1 and row["state"] == "complete" and values and values[0] == 1.0:
            return int(row["number"])
    return None


def search(srv: SimServer, *, sampler: str, seed: int, budget: int, prune: bool,
           concurrency: int, holdout: float) -> dict[str, Any]:  # fmt: skip
    sent_before = sum(srv.stats["endpoint"].values())
    started = time.perf_counter()
    job = lj.tune(
        SUITE, MODEL, space=SPACE, sampler=sampler, seed=seed, budget={"trials": budget},
        holdout=holdout, prune=prune, concurrency=concurrency, save=False, display=False,
        sim_url=srv.base_url,
    )  # fmt: skip
    result = job.wait(1800)
    seconds = time.perf_counter() - started
    rows = sorted(result.trials, key=lambda r: r["number"])
    found = first_optimum(rows)
    requests = [int(r.get("n_requests") or 0) for r in rows]
    until = (
        sum(n for r, n in zip(rows, requests, strict=True) if r["number"] <= found)
        if found is not None
        else None
    )
    return {
        "sampler": sampler,
        "seed": seed,
        "prune": prune,
        "budget": budget,
        "trials_run": len(rows),
        "found_at": found,
        "requests_total": sum(requests),
        "requests_until_found": until,
        "requests_sent_to_sim": sum(srv.stats["endpoint"].values()) - sent_before,
        "pruned": sum(1 for r in rows if r["state"] == "pruned"),
        "pruned_requests": [int(r["n_requests"] or 0) for r in rows if r["state"] == "pruned"],
        "trial_requests": int(rows[0].get("planned_requests") or 0),  # a whole trial's
        "failed": sum(1 for r in rows if r["state"] == "fail"),
        "best_pass_rate": max((r["values"][0] for r in rows if r.get("values")), default=None),
        "stop_reason": result.stop_reason,
        "seconds": round(seconds, 2),
    }


def trials_to_optimum(runs: list[dict[str, Any]]) -> list[int]:
    """Per run, the trial number of the first optimum; budget + 1 when never found."""
    return [r["found_at"] if r["found_at"] is not None else r["budget"] + 1 for r in runs]


def requests_to_optimum(runs: list[dict[str, Any]]) -> list[int]:
    """Per run, requests spent up to and including the first optimal trial (the baseline
    included); the whole budget's requests when never found."""
    return [
        r["requests_until_found"] if r["found_at"] is not None else r["requests_total"]
        for r in runs
    ]


# ----------------------------------------------------------------------------- the table
class Table:
    """Rows of (figure, value, baseline, ratio, verdict), printed under one header."""

    def __init__(self, title: str, value: str, baseline: str, ratio: str) -> None:
        self.title, self.heads = title, (value, baseline, ratio)
        self.rows: list[dict[str, Any]] = []

    def add(self, figure: str, value: Any, baseline: Any, ratio: str = "",
            ok: bool | None = None) -> None:  # fmt: skip
        self.rows.append({"figure": figure, "value": value, "baseline": baseline,
                          "ratio": ratio, "pass": ok})  # fmt: skip

    def print(self) -> None:
        v, b, r = self.heads
        print(f"\n== {self.title} ==")
        print(f"{'figure':<50}{v:>16}{b:>18}{r:>15}  verdict")
        for row in self.rows:
            verdict = {True: "PASS", False: "FAIL", None: ""}[row["pass"]]
            print(f"{row['figure']:<50}{show(row['value']):>16}{show(row['baseline']):>18}"
                  f"{row['ratio']:>15}  {verdict}")  # fmt: skip


def show(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.1f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else ""


def mean(xs: Sequence[float]) -> float:
    return float(statistics.mean(xs))


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs))


def saved(on: float, off: float) -> str:
    return f"{1 - on / off:.1%}" if off else ""


def compare_samplers(tpe: list[dict[str, Any]], rnd: list[dict[str, Any]], budget: int,
                     expected: float) -> Table:  # fmt: skip
    t, r = trials_to_optimum(tpe), trials_to_optimum(rnd)
    table = Table(f"TPE vs random search, {len(t)} seeds, budget {budget} trials",
                  "TPE", "random (baseline)", "random / TPE")  # fmt: skip
    mt, mr = mean(t), mean(r)
    table.add(f"trials to the optimum, mean (not found = {budget + 1})", mt, mr, ratio(mr, mt),
              mt < mr)  # fmt: skip
    table.add("trials to the optimum, median", median(t), median(r), ratio(median(r), median(t)))
    table.add("trials to the optimum, min-max", f"{min(t)}-{max(t)}", f"{min(r)}-{max(r)}")
    found_t = sum(x["found_at"] is not None for x in tpe)
    found_r = sum(x["found_at"] is not None for x in rnd)
    table.add(f"found the optimum within {budget} trials", f"{found_t}/{len(t)}",
              f"{found_r}/{len(r)}")  # fmt: skip
    pairs = list(zip(t, r, strict=True))
    fewer, ties = sum(a < b for a, b in pairs), sum(a == b for a, b in pairs)
    table.add("seeds where TPE needed fewer / as many / more", f"{fewer} / {ties} / "
              f"{len(pairs) - fewer - ties}", "")  # fmt: skip
    table.add("random search's expected mean (from the rules)", "", expected)
    return table


def compare_pruning(on: list[dict[str, Any]], off: list[dict[str, Any]], budget: int) -> Table:
    table = Table(f"TPE with pruning vs without, {len(on)} seeds, budget {budget} trials",
                  "pruned", "unpruned (base)", "share saved")  # fmt: skip
    t_on, t_off = trials_to_optimum(on), trials_to_optimum(off)
    table.add(f"trials to the optimum, mean (not found = {budget + 1})", mean(t_on), mean(t_off))
    q_on, q_off = requests_to_optimum(on), requests_to_optimum(off)
    table.add("requests until the optimum, mean per search", mean(q_on), mean(q_off),
              saved(mean(q_on), mean(q_off)), mean(q_on) < mean(q_off))  # fmt: skip
    table.add("requests until the optimum, median", median(q_on), median(q_off),
              saved(median(q_on), median(q_off)))  # fmt: skip
    a_on = mean([r["requests_total"] for r in on])
    a_off = mean([r["requests_total"] for r in off])
    table.add("requests over the whole budget, mean per search", a_on, a_off, saved(a_on, a_off),
              a_on < a_off)  # fmt: skip
    n_on, n_off = (sum(r["trials_run"] - 1 for r in rs) for rs in (on, off))
    p_on, p_off = (sum(r["pruned"] for r in rs) for rs in (on, off))
    table.add("search trials pruned", f"{p_on}/{n_on}", f"{p_off}/{n_off}")
    spent = [n for r in on for n in r["pruned_requests"]]
    whole = max((r["trial_requests"] for r in on), default=0)
    if spent:
        table.add("requests of a pruned trial, mean (whole trial)", mean(spent), whole,
                  saved(mean(spent), whole))  # fmt: skip
    f_on = sum(r["found_at"] is not None for r in on)
    f_off = sum(r["found_at"] is not None for r in off)
    table.add(f"found the optimum within {budget} trials", f"{f_on}/{len(on)}",
              f"{f_off}/{len(off)}", "", f_on == len(on))  # fmt: skip
    return table


# ----------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=10, help="seeds 0..N-1 (default 10)")
    parser.add_argument("--budget", type=int, default=120, help="trials per search, TPE vs random")
    parser.add_argument("--prune-budget", type=int, default=30, help="trials per pruning search")
    parser.add_argument("--concurrency", type=int, default=20,
                        help="cases in flight, TPE vs random (20: a whole trial)")  # fmt: skip
    parser.add_argument("--prune-concurrency", type=int, default=2,
                        help="cases in flight when pruning (low: it acts early)")  # fmt: skip
    parser.add_argument("--holdout", type=float, default=0.0,
                        help="held-out share (0: all 20 cases searched)")  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write every figure and run here")
    parser.add_argument("--quick", action="store_true", help="3 seeds, budgets 60 and 12")
    args = parser.parse_args()
    if args.quick:
        args.seeds, args.budget, args.prune_budget = 3, 60, 12
    if min(args.seeds, args.budget, args.prune_budget, args.concurrency,
           args.prune_concurrency) < 1 or not 0 <= args.holdout < 1:  # fmt: skip
        print("seeds, budgets and concurrencies must be >= 1, holdout in [0, 1)", file=sys.stderr)
        return 2
    seeds = list(range(args.seeds))
    _, rules = example_files(SUITE)
    shares = {s: optimum_share(s, args.holdout, str(rules)) for s in seeds}
    share = statistics.mean(v[0] for v in shares.values())
    expected = statistics.mean(censored_mean(v[0], args.budget) for v in shares.values())
    miss = statistics.mean((1 - v[0]) ** args.budget for v in shares.values())
    print(f"tune_samplers: {SUITE} on {MODEL}, space {SPACE}, holdout {args.holdout}, "
          f"seeds {seeds[0]}..{seeds[-1]}, {os.cpu_count()} CPUs, "
          f"Python {sys.version.split()[0]}")  # fmt: skip
    boxes = {json.dumps(v[1]) for v in shares.values()}
    print(f"  optimum (every search case passes): {' or '.join(sorted(boxes))}, "
          f"{share:.2%} of the space -> random search needs 1/share = {1 / share:.0f} trials "
          f"on average; with not-found counted as {args.budget + 1}: {expected:.1f}; "
          f"it misses within {args.budget} trials with probability {miss:.1%}")  # fmt: skip

    reset_manager(JobManager(None, owner="tune-samplers-bench"))  # nothing stored anywhere
    srv = SimServer(rules=str(rules)).start_in_thread()
    started = time.perf_counter()
    runs: dict[str, list[dict[str, Any]]] = {"tpe": [], "random": [], "prune": [], "no_prune": []}
    try:
        print(f"\n  TPE vs random: budget {args.budget} trials, concurrency {args.concurrency}")
        for s in seeds:
            for sampler in ("tpe", "random"):
                runs[sampler].append(search(srv, sampler=sampler, seed=s, budget=args.budget,
                                            prune=False, concurrency=args.concurrency,
                                            holdout=args.holdout))  # fmt: skip
            t, r = runs["tpe"][-1], runs["random"][-1]
            print(f"  seed {s}: trials to the optimum TPE {t['found_at'] or 'not found'}, "
                  f"random {r['found_at'] or 'not found'} ({t['seconds']:.0f} s + "
                  f"{r['seconds']:.0f} s)")  # fmt: skip
        print(f"\n  TPE pruned vs not: budget {args.prune_budget} trials, "
              f"concurrency {args.prune_concurrency}")  # fmt: skip
        for s in seeds:
            for key, prune in (("prune", True), ("no_prune", False)):
                runs[key].append(search(srv, sampler="tpe", seed=s, budget=args.prune_budget,
                                        prune=prune, concurrency=args.prune_concurrency,
                                        holdout=args.holdout))  # fmt: skip
            p, n = runs["prune"][-1], runs["no_prune"][-1]
            print(f"  seed {s}: pruned: optimum at trial {p['found_at'] or 'not found'}, "
                  f"{p['requests_until_found'] or '-'} requests until then, "
                  f"{p['requests_total']} in all ({p['pruned']} trials pruned); unpruned: "
                  f"trial {n['found_at'] or 'not found'}, {n['requests_until_found'] or '-'}, "
                  f"{n['requests_total']} ({p['seconds']:.0f}+{n['seconds']:.0f} s)")  # fmt: skip
    finally:
        srv.stop_thread()
        reset_manager(None)
    mismatch = [r for rs in runs.values() for r in rs
                if r["requests_total"] != r["requests_sent_to_sim"]]  # fmt: skip
    print(
        f"\n  requests booked by the trials = requests the sim received: "
        f"{'yes, in every search' if not mismatch else f'NO in {len(mismatch)} searches'}"
    )
    failed = sum(r["failed"] for rs in runs.values() for r in rs)
    if failed:
        print(f"  {failed} trials failed (API errors or no value)")

    tables = [
        compare_samplers(runs["tpe"], runs["random"], args.budget, expected),
        compare_pruning(runs["prune"], runs["no_prune"], args.prune_budget),
    ]
    for table in tables:
        table.print()
    total = time.perf_counter() - started
    print(f"\ntotal {total:.0f} s (searches only)")
    if args.json:
        out = {
            "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "space": {k: list(v) for k, v in SPACE.items()},
            "optimum": {str(s): {"share": v[0], "box": v[1]} for s, v in shares.items()},
            "random_expected_mean": expected,
            "tables": {t.title: t.rows for t in tables},
            "runs": runs,
            "seconds": round(total, 1),
        }
        args.json.write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
