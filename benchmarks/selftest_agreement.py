"""Does ``llmbench selftest`` agree with timing_accuracy.py's independent measurement?

One simulated endpoint (its own process). At each stream count, repetitions alternate:
``llmbench selftest -c N --json`` (the product's self-test, a subprocess) and
timing_accuracy.py's ``llmbench bench`` row (the product in a subprocess, its records
scored against the send log by timing_accuracy's own code, ``score_accuracy``). The
medians of TTFT error p99 are compared: they agree within 1 ms or 25% (of the
independent figure). Chunk-gap p99 is printed beside timing_accuracy's ITL error p99.

    .venv/bin/python benchmarks/selftest_agreement.py [--reps 3] [--json FILE]

Also prints how long the default self-test takes (wall time of the CLI, and the
self-test's own duration). Exit code 0 even when they disagree: this is a measurement.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing_accuracy import ROOT, _child_env, run_cli, score_accuracy

STREAMS = (1, 32)
#: Requests per stream of timing_accuracy's row (its full plan: 30 at 1 stream, 2 at 32).
ACCURACY_ROUNDS = {1: 30, 32: 2}


def selftest_cli(url: str | None, streams: int) -> tuple[dict[str, Any], float]:
    exe = shutil.which("llmbench", path=str(Path(sys.executable).parent)) or "llmbench"
    cmd = [exe, "selftest", "-c", str(streams), "--json"] + (["--sim-url", url] if url else [])
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_child_env(), timeout=240)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"selftest exit {proc.returncode}: {proc.stderr.strip()[-300:]}")
    summary: dict[str, Any] = json.loads(proc.stdout)
    return summary, wall


def agree(selftest: float, independent: float) -> bool:
    return abs(selftest - independent) <= max(1.0, 0.25 * independent)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=3, help="repetitions per stream count")
    parser.add_argument("--json", metavar="FILE", help="save the figures as JSON")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from llmbench_jupyter.sim.process import sim_process

    print(f"selftest_agreement ({os.cpu_count()} CPUs; {args.reps} repetitions)", flush=True)
    figures: dict[str, Any] = {"streams": {}}
    # the default self-test as a user runs it: its own simulator, nothing else running
    summary, wall = selftest_cli(None, 1)
    figures["default"] = {"cli_wall_s": wall, "duration_s": summary["duration_s"]}
    print(f"  default self-test: {summary['duration_s']:.2f} s measured by itself, "
          f"{wall:.2f} s for the whole `llmbench selftest` command", flush=True)  # fmt: skip
    with sim_process(seed=0) as url:
        for streams in STREAMS:
            runs: list[dict[str, Any]] = []
            for _ in range(args.reps):
                mine, _wall = selftest_cli(url, streams)
                reqs = run_cli(url, streams, streams * ACCURACY_ROUNDS[streams])
                theirs = score_accuracy(url, reqs)
                runs.append({"selftest": mine, "timing_accuracy": theirs})
            med = {
                "selftest_ttft_p99": statistics.median(
                    r["selftest"]["ttft_err_p99_ms"] for r in runs
                ),
                "accuracy_ttft_p99": statistics.median(
                    r["timing_accuracy"]["ttft_err_p99_ms"] for r in runs
                ),
                "selftest_gap_p99": statistics.median(
                    r["selftest"]["gap_err_p99_ms"] for r in runs
                ),
                "accuracy_itl_p99": statistics.median(
                    r["timing_accuracy"]["itl_abs_err_p99_ms"] for r in runs
                ),
                "selftest_bound": statistics.median(r["selftest"]["bound_ms"] for r in runs),
            }
            med["agree"] = agree(med["selftest_ttft_p99"], med["accuracy_ttft_p99"])
            # the bound against the larger of timing_accuracy's two error p99s
            med["accuracy_bound"] = max(med["accuracy_ttft_p99"], med["accuracy_itl_p99"])
            med["bound_agrees"] = agree(med["selftest_bound"], med["accuracy_bound"])
            figures["streams"][str(streams)] = {"median": med, "runs": runs}
            each = ", ".join(
                f"{r['selftest']['ttft_err_p99_ms']:.2f}/{r['timing_accuracy']['ttft_err_p99_ms']:.2f}"
                for r in runs
            )
            print(
                f"\n  {streams} stream(s) (medians of {args.reps}; each selftest/accuracy: {each})"
            )
            print(f"    TTFT error p99: self-test {med['selftest_ttft_p99']:.2f} ms, "
                  f"timing_accuracy {med['accuracy_ttft_p99']:.2f} ms -> "
                  f"{'AGREE' if med['agree'] else 'DISAGREE'} (within 1 ms or 25%)")  # fmt: skip
            print(f"    chunk-gap error p99: self-test {med['selftest_gap_p99']:.2f} ms, "
                  f"timing_accuracy ITL error p99 {med['accuracy_itl_p99']:.2f} ms; "
                  f"self-test bound {med['selftest_bound']:.2f} ms", flush=True)  # fmt: skip
            print(f"    bound (max of the two p99s): self-test {med['selftest_bound']:.2f} ms, "
                  f"timing_accuracy {med['accuracy_bound']:.2f} ms -> "
                  f"{'AGREE' if med['bound_agrees'] else 'DISAGREE'}", flush=True)  # fmt: skip
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2, default=str))
        print(f"figures saved to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
