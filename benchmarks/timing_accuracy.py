"""Prove llmbench's timing accuracy and CPU cost against a bare aiohttp client, same run.

Every client runs in its own fresh subprocess against one simulated endpoint (another
process). The sim logs a ``perf_counter_ns`` stamp just before writing each chunk
(CLOCK_MONOTONIC, comparable across processes), so a client's error is exactly
``client arrival stamp - server send stamp``. A bare client measured in the same run is
the baseline: it shows what loopback delivery and this machine's load cost by themselves.

    .venv/bin/python benchmarks/timing_accuracy.py [--quick] [--json FILE]

Exit code 0 even when a target FAILs: this is a measurement, not a test.
The clients run by the workers are in ``_timing_clients.py``, the report in
``_timing_report.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _timing_clients import ACCURACY_MODEL, CLI_ROW, CLIENTS, worker_main
from _timing_report import _no_nan, report, verdicts

ROOT = Path(__file__).resolve().parent.parent
CONTENT_KINDS = ("answer", "reasoning", "tool")
WORKER_TIMEOUT_S = 240

# (streams, rounds): each round starts `streams` requests at once and waits for all of them
PLANS: dict[str, dict[str, Any]] = {
    "full": {
        "accuracy": [[1, 30], [16, 3], [32, 2], [64, 2]],
        "cpu_streams": [1, 8],
        # litellm is ~30x slower per chunk: fewer chunks keep the run bounded, and its
        # fixed per-request cost (~13 ms) still adds < 10 us per chunk at 2000 chunks
        "cpu_out": {"bare-aiohttp": 20000, "llmbench-core": 20000, "litellm": 2000},
        "cpu_reps": 3,
    },
    "quick": {
        "accuracy": [[1, 10], [16, 1], [64, 1]],
        "cpu_streams": [1, 8],
        "cpu_out": {"bare-aiohttp": 5000, "llmbench-core": 5000, "litellm": 1000},
        "cpu_reps": 1,
    },
}


# ---------------------------------------------------------------------------- parent side
def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_TELEMETRY="False")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


class Worker:
    """One client in its own fresh interpreter, driven one command at a time."""

    def __init__(self, client: str, url: str, errlog: Any):
        self.client = client
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", client, "--url", url]
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=errlog,
            text=True,
            env=_child_env(),
        )
        self.errlog = errlog

    def ask(self, cmd: dict[str, Any] | None = None) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if cmd is not None:
            self.proc.stdin.write(json.dumps(cmd) + "\n")
            self.proc.stdin.flush()
        # answers are whole lines written at once, so the pipe is readable iff one is ready
        if not select.select([self.proc.stdout], [], [], WORKER_TIMEOUT_S)[0]:
            self.proc.kill()
            raise RuntimeError(f"{self.client} worker gave no answer in {WORKER_TIMEOUT_S} s")
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait(timeout=WORKER_TIMEOUT_S)
            self.errlog.seek(0)
            lines = self.errlog.read().strip().splitlines()
            # the exception line, not the "Unclosed client session" noise printed after it
            errs = [ln for ln in lines if not ln.startswith(" ") and "Error" in ln.split(":")[0]]
            raise RuntimeError(
                f"{self.client} worker died (exit {self.proc.returncode}): "
                + (errs[-1] if errs else " | ".join(lines[-2:]))[:300]
            )
        return json.loads(line)

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_cli(url: str, streams: int, n: int) -> list[dict[str, Any]]:
    """The product end to end: ``llmbench bench`` in a subprocess, JSONL records back."""
    exe = shutil.which("llmbench", path=str(Path(sys.executable).parent)) or "llmbench"
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.jsonl"
        cmd = [
            exe,
            "bench",
            "--api-base",
            url,
            "--model",
            ACCURACY_MODEL,
            "--runs",
            str(n),
            "--concurrency",
            str(streams),
            "--warmup",
            "1",
            "--no-save",
            "--output",
            str(out),
        ]
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env=_child_env(), timeout=WORKER_TIMEOUT_S, cwd=tmp
        )
        if proc.returncode != 0 or not out.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:]
            raise RuntimeError(f"exit {proc.returncode}: {' | '.join(tail)[:200]}")
        reqs = []
        for line in out.read_text().splitlines():
            rec = json.loads(line)
            origin = rec["send_mono_ns"]
            if rec.get("time_origin") == "intended":
                origin -= round(rec.get("send_lag_ms", 0.0) * 1e6)
            stamps = [origin + round(t * 1e6) for t in rec.get("chunk_times_ms") or []]
            if (
                rec.get("ttft_ms") is not None
                and stamps
                and abs(origin + rec["ttft_ms"] * 1e6 - stamps[0]) > 1000
            ):
                raise RuntimeError("ttft_ms disagrees with chunk_times_ms[0]")
            reqs.append(
                {"id": rec.get("response_id"), "stamps": stamps, "status": rec.get("status")}
            )
        return reqs


def fetch_sendlog(url: str, response_id: str) -> dict[str, Any]:
    base = url.removesuffix("/").removesuffix("/v1")
    with urllib.request.urlopen(f"{base}/sim/sendlog/{response_id}", timeout=10) as resp:
        entry: dict[str, Any] = json.loads(resp.read())
        return entry


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default method), NaN for no values."""
    if not values:
        return math.nan
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def score_accuracy(url: str, reqs: list[dict[str, Any]]) -> dict[str, Any]:
    """Compare each request's client stamps with the server's send log."""
    ttft_err, itl_err = [], []
    role_ttft = mismatched = failed = role_sent = 0
    for req in reqs:
        if not req.get("id") or not req["stamps"] or req.get("status", "ok") != "ok":
            failed += 1
            continue
        chunks = fetch_sendlog(url, req["id"])["chunks"]
        role_sent += chunks[0]["kind"] == "role"  # the trap was armed: a content-free chunk first
        sent = [c["sent_ns"] for c in chunks if c["kind"] in CONTENT_KINDS]
        got = req["stamps"]
        ttft_err.append((got[0] - sent[0]) / 1e6)
        if got[0] < sent[0]:  # arrived before the first content chunk was sent: the role chunk
            role_ttft += 1
        if len(got) != len(sent):
            mismatched += 1
            continue
        itl_err += [
            abs((got[i + 1] - got[i]) - (sent[i + 1] - sent[i])) / 1e6 for i in range(len(got) - 1)
        ]
    return {
        "requests": len(reqs),
        "failed": failed,
        "role_as_ttft": role_ttft,
        "role_chunk_sent": role_sent,
        "chunk_count_mismatch": mismatched,
        "ttft_err_p50_ms": percentile(ttft_err, 50),
        "ttft_err_p99_ms": percentile(ttft_err, 99),
        "ttft_err_max_ms": max(ttft_err, default=math.nan),
        "itl_abs_err_p99_ms": percentile(itl_err, 99),
        "itl_pairs": len(itl_err),
    }


def measure(
    plan: dict[str, Any], url: str, skip_cli: bool, log: Callable[[str], None]
) -> dict[str, Any]:
    """Interleave the clients round by round (accuracy) and run by run (CPU)."""
    figures: dict[str, Any] = {"accuracy": {}, "cpu": {}, "errors": {}}
    errors: dict[str, str] = figures["errors"]
    raw: dict[str, dict[str, list[dict[str, Any]]]] = {}
    with contextlib.ExitStack() as stack:
        workers: dict[str, Worker] = {}
        for client in CLIENTS:  # all start (and import) at once, before anything is timed
            errlog = stack.enter_context(tempfile.TemporaryFile(mode="w+"))
            workers[client] = Worker(client, url, errlog)
            stack.callback(workers[client].stop)
        t0 = time.perf_counter()
        for client, worker in list(workers.items()):
            try:
                worker.ask()  # {"ready": true} after imports and warm-up
            except (RuntimeError, ValueError) as exc:
                errors[client] = str(exc)
                del workers[client]
        log(f"  workers ready in {time.perf_counter() - t0:.1f} s: {', '.join(workers)}")
        if not workers:
            return figures

        def ask(client: str, cmd: dict[str, Any]) -> Any:
            try:
                return workers[client].ask(cmd)
            except (RuntimeError, ValueError) as exc:
                errors[client] = str(exc)
                del workers[client]
                return None

        for streams, rounds in plan["accuracy"]:
            t0 = time.perf_counter()
            for r in range(rounds):
                order = list(workers)  # rotated, so no client always follows another
                k = r % max(len(order), 1)
                for client in order[k:] + order[:k]:
                    got = ask(client, {"op": "round", "streams": streams})
                    if got is not None:
                        raw.setdefault(client, {}).setdefault(str(streams), []).extend(got)
            if not skip_cli:
                try:
                    raw.setdefault(CLI_ROW, {})[str(streams)] = run_cli(
                        url, streams, streams * rounds
                    )
                except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
                    errors[f"{CLI_ROW} @ {streams}"] = str(exc)
            log(
                f"  accuracy, {streams} stream(s) × {rounds} round(s): "
                f"{time.perf_counter() - t0:.1f} s"
            )
        t0 = time.perf_counter()
        for _ in range(plan["cpu_reps"]):
            for streams in plan["cpu_streams"]:
                for client in list(workers):
                    run = ask(
                        client, {"op": "cpu", "streams": streams, "out": plan["cpu_out"][client]}
                    )
                    best = figures["cpu"].setdefault(client, {}).get(str(streams))
                    # the least disturbed repetition: the others carry this machine's noise
                    if run is not None and (
                        best is None or run["us_per_chunk"] < best["us_per_chunk"]
                    ):
                        figures["cpu"][client][str(streams)] = run
        log(f"  CPU per chunk, {plan['cpu_reps']} repetition(s): {time.perf_counter() - t0:.1f} s")
    for client, by_streams in raw.items():
        figures["accuracy"][client] = {
            s: score_accuracy(url, reqs) for s, reqs in by_streams.items()
        }
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests and chunks")
    parser.add_argument("--json", metavar="FILE", help="save raw figures and verdicts as JSON")
    parser.add_argument("--no-cli", action="store_true", help="skip the `llmbench bench` row")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker_main(args.worker, args.url)

    sys.path.insert(0, str(ROOT))

    def terminate(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)  # unwind, so the sim and the workers are stopped

    signal.signal(signal.SIGTERM, terminate)
    from llmbench_jupyter.core.errors import LLMBenchError
    from llmbench_jupyter.sim.process import sim_process

    name = "quick" if args.quick else "full"
    plan = PLANS[name]
    started = time.perf_counter()
    print(
        f"timing_accuracy ({name} run; {os.cpu_count()} CPUs; python {sys.version.split()[0]})",
        flush=True,
    )
    try:
        with sim_process(seed=0) as url:  # stopped on exit, error or Ctrl-C
            print(f"  sim at {url}; accuracy model {ACCURACY_MODEL}", flush=True)
            figures = measure(plan, url, args.no_cli, lambda m: print(m, flush=True))
    except LLMBenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    lines = report(figures, plan)
    more, checks = verdicts(figures, plan)
    print("\n".join(lines + more))
    print(f"\ntotal time {time.perf_counter() - started:.0f} s")
    if args.json:
        payload = {
            "plan": name,
            "sim_model": ACCURACY_MODEL,
            "figures": figures,
            "checks": checks,
            "python": sys.version,
            "cpus": os.cpu_count(),
        }
        Path(args.json).write_text(json.dumps(_no_nan(payload), indent=2, default=str))
        print(f"raw figures saved to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
