"""How far the client scales with worker processes: 1 worker vs 2, in one run.

Two measurements against one simulated endpoint in its own process:

1. **Throughput.** A zero-delay model that writes many chunks per syscall
   (``batch=64``, so the server costs far less per chunk than the client and the client
   is the bottleneck) at the same total streams, 1 worker then 2, alternated over
   ``--reps`` repetitions. Requests/s and chunks/s per configuration, whether the one
   worker was client-bound, and the ratio 2 workers / 1 worker (target >= 1.8x on 2
   cores, a machine where nothing else runs).
   Each repetition also measures **the machine's own ceiling**: the same pure-Python CPU
   work in 1 process, then in 2 at once (nothing shared, no server): no client can scale
   better than that, and on a shared virtual machine it is below 2.0.
2. **Fidelity.** TTFT error against the server's own send log (the send stamp of the
   first content chunk, perf_counter_ns = CLOCK_MONOTONIC, comparable across processes)
   at equal total streams, 1 worker vs 2. Target: the 2-worker p99 error within 1.5x of
   the single-process p99 (+0.5 ms, the loopback floor, so two sub-millisecond figures
   are not judged by their ratio alone).

    .venv/bin/python benchmarks/throughput.py [--quick] [--reps N] [--json FILE]

Exit code 0 even when a target FAILs: this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
THROUGHPUT_MODEL = "sim:ttft=0,itl=0,out={out},role=1,jitter=0,batch=64"
ACCURACY_MODEL = "sim:ttft=50,itl=10,tpc=1,out=40,role=1,jitter=0.2"
PLANS = {
    "full": {"streams": 32, "runs": 160, "out": 2000, "acc_streams": 64, "acc_runs": 320},
    "quick": {"streams": 32, "runs": 96, "out": 1000, "acc_streams": 64, "acc_runs": 128},
}


def _spec(url: str, model: str, runs: int, streams: int, workers: int, out: int) -> Any:
    from llmbench_jupyter.core.targets import adhoc
    from llmbench_jupyter.core.workload import BenchSpec

    return BenchSpec(
        targets=[adhoc(url, model)],
        runs=runs,
        warmup=streams,  # one per stream: every connection is open before timing
        concurrency=streams,
        max_tokens=out + 10,
        workers=workers,
    )


def _sim_cpu_s() -> float:
    """CPU seconds used so far by the simulated endpoint (a child of this process)."""
    import psutil

    for child in psutil.Process().children():
        try:
            if "llmbench_jupyter.sim" in child.cmdline():
                t = child.cpu_times()
                return float(t.user + t.system)
        except psutil.Error:
            continue
    return float("nan")


def run_throughput(url: str, plan: dict[str, Any], workers: int) -> dict[str, Any]:
    from llmbench_jupyter.core.workload import arun

    model = THROUGHPUT_MODEL.format(out=plan["out"])
    spec = _spec(url, model, plan["runs"], plan["streams"], workers, plan["out"])
    sim0, wall0 = _sim_cpu_s(), time.perf_counter()
    result = asyncio.run(arun(spec))
    sim_share = (_sim_cpu_s() - sim0) / (time.perf_counter() - wall0)
    measured = [r for r in result.measured if r.status == "ok" and r.send_mono_ns]
    start = min(r.send_mono_ns or 0 for r in measured) / 1e6
    end = max((r.send_mono_ns or 0) / 1e6 + (r.e2e_ms or 0) for r in measured)
    window_s = (end - start) / 1000
    chunks = sum(r.n_chunks or 0 for r in measured)
    o = result.overhead
    per = (o.get("workers") or {}).get("per_worker") or [o]
    return {
        "workers": workers,
        "ok": len(measured),
        "errors": result.error_count,
        "window_s": window_s,
        "requests_per_s": len(measured) / window_s,
        "chunks_per_s": chunks / window_s,
        "cpu_share": [w.get("client_cpu_share") for w in per],
        "loop_lag_p99_ms": [w.get("loop_lag_p99_ms") for w in per],
        "client_bound": [bool(w.get("client_bound")) for w in per],
        "sim_cpu_share": sim_share,  # over the whole call, worker start-up included
        # CPU per content chunk: every worker's measured phase, and the sim's whole call
        "client_us_per_chunk": sum(w.get("client_cpu_s") or 0 for w in per) / chunks * 1e6,
        "sim_us_per_chunk": sim_share * (time.perf_counter() - wall0) / chunks * 1e6,
    }


def fetch_sendlog(url: str, response_id: str) -> dict[str, Any]:
    import urllib.request

    base = url.removesuffix("/").removesuffix("/v1")
    with urllib.request.urlopen(f"{base}/sim/sendlog/{response_id}", timeout=10) as resp:
        entry: dict[str, Any] = json.loads(resp.read())
        return entry


def percentile(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(values, q)) if values else float("nan")


def run_accuracy(url: str, plan: dict[str, Any], workers: int) -> dict[str, Any]:
    """TTFT error = client stamp of the first content chunk - the server's send stamp."""
    from llmbench_jupyter.core.workload import arun

    spec = _spec(url, ACCURACY_MODEL, plan["acc_runs"], plan["acc_streams"], workers, 40)
    result = asyncio.run(arun(spec))
    errors = []
    for r in result.measured:
        if r.status != "ok" or r.ttft_ms is None or not r.response_id or r.send_mono_ns is None:
            continue
        chunks = fetch_sendlog(url, r.response_id)["chunks"]
        sent = next(c["sent_ns"] for c in chunks if c["kind"] in ("answer", "reasoning", "tool"))
        errors.append((r.send_mono_ns + r.ttft_ms * 1e6 - sent) / 1e6)
    o = result.overhead
    return {
        "workers": workers,
        "requests": len(errors),
        "ttft_err_p50_ms": percentile(errors, 50),
        "ttft_err_p99_ms": percentile(errors, 99),
        "ttft_err_max_ms": max(errors, default=float("nan")),
        "ttft_err_min_ms": min(errors, default=float("nan")),
        "clock_error_bound_us": (o.get("clock") or {}).get("error_bound_ns_max", 0) / 1000,
        "clock_offset_us": (o.get("clock") or {}).get("offset_ns_max_abs", 0) / 1000,
    }


def _fmt_row(row: dict[str, Any]) -> str:
    shares = "/".join(f"{s:.0%}" for s in row["cpu_share"])
    lags = "/".join(f"{x:.1f}" for x in row["loop_lag_p99_ms"] if x is not None)
    bound = "/".join("yes" if b else "no" for b in row["client_bound"])
    return (
        f"  {row['workers']} worker(s): {row['requests_per_s']:8.1f} req/s "
        f"{row['chunks_per_s']:10,.0f} chunks/s  ok={row['ok']} err={row['errors']}  "
        f"CPU {shares}  lag p99 {lags} ms  client-bound {bound}  sim CPU "
        f"{row['sim_cpu_share']:.0%}  us/chunk client {row['client_us_per_chunk']:.2f} sim "
        f"{row['sim_us_per_chunk']:.2f}  (load {row['load_average']})"
    )


def _spin(n: int) -> None:
    """Pure-Python CPU work (dict stores, small allocations), nothing shared."""
    d: dict[int, str] = {}
    for i in range(n):
        d[i & 1023] = str(i)


def cpu_ceiling(n: int = 8_000_000) -> float:
    """This machine's own scaling from 1 to 2 processes on work that shares nothing: the
    same spin in 1 child, in 2 children at once, then 2 and 1 again; 2 x T1 / T2 over the
    medians. A shared virtual machine gives less than 2.0 even here (the neighbours' load
    moves it from one second to the next), and no client can scale better than this."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")

    def timed(k: int) -> float:
        procs = [ctx.Process(target=_spin, args=(n,)) for _ in range(k)]
        t = time.perf_counter()
        for proc in procs:
            proc.start()
        for proc in procs:
            proc.join()
        return time.perf_counter() - t

    t1, t2a, t2b, t1b = timed(1), timed(2), timed(2), timed(1)
    return 2 * statistics.median([t1, t1b]) / statistics.median([t2a, t2b])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer and shorter requests")
    parser.add_argument("--reps", type=int, default=5, help="alternations of 1 and 2 workers")
    parser.add_argument("--json", metavar="FILE", help="save every figure as JSON")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from llmbench_jupyter.sim.process import sim_process

    name = "quick" if args.quick else "full"
    plan = PLANS[name]
    started = time.perf_counter()
    load = os.getloadavg()
    print(f"throughput ({name}; {os.cpu_count()} CPUs; load average {load[0]:.2f} at start)")
    figures: dict[str, Any] = {"plan": name, "throughput": [], "accuracy": []}
    with sim_process(seed=0) as url:
        print(f"  sim at {url}")
        print(f"throughput: {THROUGHPUT_MODEL.format(out=plan['out'])}, "
              f"{plan['streams']} streams, {plan['runs']} requests")  # fmt: skip
        for rep in range(args.reps):
            order = (1, 2) if rep % 2 == 0 else (2, 1)
            for workers in order:
                row = run_throughput(url, plan, workers)
                row["rep"], row["load_average"] = rep, round(os.getloadavg()[0], 2)
                figures["throughput"].append(row)
                print(_fmt_row(row), flush=True)
            ceiling = cpu_ceiling()
            figures.setdefault("cpu_ceiling", []).append(ceiling)
            print(f"  machine: 2 processes of pure CPU work run {ceiling:.2f}x one", flush=True)
        print(f"TTFT accuracy: {ACCURACY_MODEL}, {plan['acc_streams']} streams, "
              f"{plan['acc_runs']} requests")  # fmt: skip
        for workers in (1, 2, 2, 1):
            acc = run_accuracy(url, plan, workers)
            figures["accuracy"].append(acc)
            print(
                f"  {workers} worker(s): TTFT err p50 {acc['ttft_err_p50_ms']:.2f} ms, p99 "
                f"{acc['ttft_err_p99_ms']:.2f} ms, max {acc['ttft_err_max_ms']:.2f} ms, "
                f"min {acc['ttft_err_min_ms']:.2f} ms (n={acc['requests']}); clock offset "
                f"{acc['clock_offset_us']:.0f} us, bound {acc['clock_error_bound_us']:.0f} us",
                flush=True,
            )
    verdicts(figures)
    print(f"\ntotal time {time.perf_counter() - started:.0f} s; load average now "
          f"{os.getloadavg()[0]:.2f}")  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
        print(f"figures saved to {args.json}")
    return 0


def verdicts(figures: dict[str, Any]) -> None:
    rows = figures["throughput"]
    one = [r["requests_per_s"] for r in rows if r["workers"] == 1]
    two = [r["requests_per_s"] for r in rows if r["workers"] == 2]
    bound_one = any(r["client_bound"][0] for r in rows if r["workers"] == 1)
    # each repetition measures 1 and 2 workers back to back: its ratio sees the same
    # neighbours' load, so the median of those ratios is the figure judged
    pairs = [
        next(r["requests_per_s"] for r in rows if r["rep"] == rep and r["workers"] == 2)
        / next(r["requests_per_s"] for r in rows if r["rep"] == rep and r["workers"] == 1)
        for rep in sorted({r["rep"] for r in rows})
    ]
    med = statistics.median(pairs)
    best = max(two) / max(one)
    ok = med >= 1.8
    print(
        f"\nrequests/s, 2 workers / 1 worker: per repetition "
        f"{', '.join(f'{p:.2f}x' for p in pairs)}; median {med:.2f}x; best 2-worker / best "
        f"1-worker {best:.2f}x (1 worker client-bound: {'yes' if bound_one else 'no'}) -> "
        f"{'PASS' if ok else 'FAIL'} (target >= 1.8x)"
    )
    ceilings = figures.get("cpu_ceiling") or []
    if ceilings:
        top = statistics.median(ceilings)
        print(
            f"the machine's own ceiling, 2 processes of pure CPU work / 1, per repetition "
            f"{', '.join(f'{c:.2f}x' for c in ceilings)}; median {top:.2f}x -> the workers "
            f"reach {med / top:.0%} of what this machine gives any two processes"
        )
        figures["ceiling_median"] = top
    # what the same per-chunk costs allow on an idle machine of this many cores: one worker
    # is capped by its one core, two by min(their two cores, all cores shared with the sim)
    cores = os.cpu_count() or 1
    c1 = statistics.median(r["client_us_per_chunk"] for r in rows if r["workers"] == 1)
    c2 = statistics.median(r["client_us_per_chunk"] for r in rows if r["workers"] == 2)
    sim = statistics.median(r["sim_us_per_chunk"] for r in rows)
    ideal = min(2 / c2, cores / (c2 + sim)) / (1 / c1)
    print(
        f"CPU per chunk (medians): client {c1:.2f} us with 1 worker, {c2:.2f} us with 2 "
        f"({c2 / c1 - 1:+.0%}); sim {sim:.2f} us -> ratio an idle {cores}-core machine allows "
        f"with these costs: {ideal:.2f}x (a projection, not a measurement)"
    )
    figures["projection"] = {"client_us_1": c1, "client_us_2": c2, "sim_us": sim,
                             "ideal_ratio": ideal}  # fmt: skip
    acc = figures["accuracy"]
    p99_1 = statistics.median(a["ttft_err_p99_ms"] for a in acc if a["workers"] == 1)
    p99_2 = statistics.median(a["ttft_err_p99_ms"] for a in acc if a["workers"] == 2)
    limit = 1.5 * p99_1 + 0.5
    print(
        f"TTFT error p99 (median of runs): 1 worker {p99_1:.2f} ms, 2 workers {p99_2:.2f} ms "
        f"= {p99_2 / p99_1:.2f}x -> {'PASS' if p99_2 <= limit else 'FAIL'} "
        f"(limit 1.5x + 0.5 ms = {limit:.2f} ms)"
    )
    figures["verdicts"] = {"rps_ratio_median": med, "rps_ratio_best": best, "rps_ratios": pairs,
                           "ttft_p99_1": p99_1, "ttft_p99_2": p99_2}  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
