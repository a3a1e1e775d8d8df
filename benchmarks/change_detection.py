"""Change detection (issue 14): does ``lj.changes`` flag a provider that slowed down, and
leave a steady one alone?

Each trial is a fresh SQLite store holding a simulated history (``jobs.sim_history``):
``--days`` days of one benchmark run a day (``--requests`` requests each) against the
simulator with its clock set to the run's date, on a model with 20% jitter. In a "slow"
trial the model's TTFT and ITL grow by ``--factor`` from ``--recent`` days before the end;
in a "steady" trial they never change. ``changes("ttft_ms", days, recent)`` then runs with
its defaults (alpha 0.01, at least a 10% change). Printed: each trial's verdict, the
detection rate over the slow trials and the false-positive rate over the steady ones,
each with its Wilson 95% interval.

    .venv/bin/python benchmarks/change_detection.py [--trials 20] [--days 21] [--recent 7]
        [--factor 1.3] [--requests 8] [--json out.json]

Exit code 0 (a measurement, not a test); 2 for bad arguments.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from llmbench_jupyter.analysis.trends import changes
from llmbench_jupyter.jobs.sim_history import simulate_history
from llmbench_jupyter.stats import wilson_interval
from llmbench_jupyter.store import Store

END = datetime(2026, 11, 30, 12, tzinfo=UTC)
BASE = "sim:ttft=40,itl=2,out=8,jitter=0.2"


def trial(kind: str, seed: int, args: argparse.Namespace, root: Path) -> dict[str, object]:
    model = BASE
    if kind == "slow":
        start = (END - timedelta(days=args.recent)).isoformat()
        model += f",slow_after={start},slow={args.factor}"
    store = Store(f"sqlite:///{root / f'{kind}-{seed}.db'}")
    try:
        simulate_history(store, model, days=args.days, requests=args.requests, seed=seed,
                         end=END, provider=kind)  # fmt: skip
        row = changes("ttft_ms", days=args.days, recent_days=args.recent, store=store,
                      now=END).iloc[0]  # fmt: skip
    finally:
        store.close()
    return {"kind": kind, "seed": seed, "flagged": bool(row["flagged"]),
            "ratio": float(row["ratio"]), "p_value": float(row["p_value"])}  # fmt: skip


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--days", type=int, default=21)
    p.add_argument("--recent", type=int, default=7)
    p.add_argument("--factor", type=float, default=1.3)
    p.add_argument("--requests", type=int, default=8)
    p.add_argument("--json")
    args = p.parse_args()
    if args.trials < 1 or not 0 < args.recent < args.days or args.factor <= 0:
        print("need trials >= 1, 0 < recent < days and factor > 0", file=sys.stderr)
        return 2
    started = time.time()
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.trials):
            for kind in ("slow", "steady"):
                got = trial(kind, seed, args, Path(tmp))
                out.append(got)
                print(f"  {kind:6s} seed {seed:2d}: flagged {got['flagged']!s:5s} ratio "
                      f"{got['ratio']:.3f} p {got['p_value']:.2g}", flush=True)  # fmt: skip
    print(f"\n{args.trials} trials of each kind, {args.days} days (the last {args.recent} "
          f"recent), {args.requests} requests a run, slow-down x{args.factor}; "
          f"{time.time() - started:.0f} s")  # fmt: skip
    summary = {}
    for kind, label in (("slow", "detection rate"), ("steady", "false-positive rate")):
        hits = sum(1 for r in out if r["kind"] == kind and r["flagged"])
        lo, hi = wilson_interval(hits, args.trials)
        summary[kind] = {"flagged": hits, "trials": args.trials, "ci": [lo, hi]}
        print(f"{label:20s} {hits}/{args.trials} = {hits / args.trials:.0%} "
              f"(Wilson 95% CI {lo:.0%} to {hi:.0%})")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps({"trials": out, "summary": summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
