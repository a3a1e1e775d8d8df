"""Kernel memory against hostile endpoints: RSS growth while benchmarking endless bodies.

The hostile endpoint is the built-in sim in its own process (``sim:hostile=<kind>``); the
benchmark runs here, in this process, as it would in a notebook kernel, through
``llmbench_jupyter.arun`` (the public entry point). A sampler thread reads this process's
RSS from /proc every 5 ms, so the peak is the true peak, not the end state.

Rows: a healthy run of the same size is the baseline. Each hostile kind is printed with
its peak growth over the RSS when it started, and the peak over the kernel's RSS before
the first hostile run (freed memory is not always given back, so this is the figure that
adds up). Budget (issue 10): both within 300 MB. Exit code 0 always: a measurement.

    .venv/bin/python benchmarks/hostile_memory.py [--runs 4] [--concurrency 1,4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import threading
import time

import llmbench_jupyter as lj
from llmbench_jupyter.core.targets import adhoc
from llmbench_jupyter.sim.process import sim_process

BUDGET_MB = 300
KINDS = ("endless_error", "endless_line", "endless_body")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/statm") as fh:
        return int(fh.read().split()[1]) * _PAGE / 2**20


class PeakSampler:
    """Highest RSS seen while the ``with`` block runs."""

    def __enter__(self) -> PeakSampler:
        self.start = self.peak = rss_mb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss_mb())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb())


def measure(url: str, model: str, runs: int, concurrency: int) -> tuple[float, float, str, float]:
    spec = lj.BenchSpec(
        targets=[adhoc(url, model)], runs=runs, warmup=0, concurrency=concurrency, timeout_s=60
    )
    started = time.perf_counter()
    with PeakSampler() as sampler:
        result = asyncio.run(lj.arun(spec, save=False))
    seconds = time.perf_counter() - started
    outcomes = sorted({r.error_category or "ok" for r in result.records})
    return sampler.start, sampler.peak - sampler.start, ",".join(outcomes), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--concurrency", default="1,4")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    print(f"pid {os.getpid()}  RSS at start {rss_mb():.0f} MB  budget +{BUDGET_MB} MB\n")
    print(f"{'endpoint':<15}{'conc':>5}{'start MB':>10}{'peak +MB':>10}{'over kernel':>12}"
          f"{'s':>7}  outcome  verdict")  # fmt: skip
    with sim_process() as url:
        measure(url, "sim:ttft=1,itl=0,out=64", 2, 1)  # warm imports and pools
        kernel = rss_mb()
        for conc in levels:
            start, grew, outcome, secs = measure(url, "sim:ttft=1,itl=0,out=2000", args.runs, conc)
            print(f"{'healthy (base)':<15}{conc:>5}{start:>10.0f}{grew:>10.1f}"
                  f"{start + grew - kernel:>12.1f}{secs:>7.1f}  {outcome}")  # fmt: skip
            for kind in KINDS:
                start, grew, outcome, secs = measure(url, f"sim:hostile={kind}", args.runs, conc)
                over = start + grew - kernel
                ok = "PASS" if max(grew, over) <= BUDGET_MB else "FAIL"
                print(f"{kind:<15}{conc:>5}{start:>10.0f}{grew:>10.1f}{over:>12.1f}{secs:>7.1f}"
                      f"  {outcome}  {ok}")  # fmt: skip
        print(f"\nkernel RSS before the hostile runs {kernel:.0f} MB, at the end {rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
