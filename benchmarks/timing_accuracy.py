"""Prove llmbench's timing accuracy and CPU cost against a bare aiohttp client, same run.

Every client runs in its own fresh subprocess against one simulated endpoint (another
process). The sim logs a ``perf_counter_ns`` stamp just before writing each chunk
(CLOCK_MONOTONIC, comparable across processes), so a client's error is exactly
``client arrival stamp - server send stamp``. A bare client measured in the same run is
the baseline: it shows what loopback delivery and this machine's load cost by themselves.

    .venv/bin/python benchmarks/timing_accuracy.py [--quick] [--json FILE]

Exit code 0 even when a target FAILs: this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
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
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ACCURACY_MODEL = "sim:ttft=50,itl=10,tpc=1,out=40,role=1,jitter=0.2"
CPU_MODEL = "sim:ttft=0,itl=0,tpc=1,out={out},role=1,jitter=0"
CLIENTS = ("bare-aiohttp", "llmbench-core", "litellm")
CLI_ROW = "llmbench-cli"
CONTENT_KINDS = ("answer", "reasoning", "tool")
MESSAGES = [{"role": "user", "content": "Say something."}]
WORKER_TIMEOUT_S = 240

# (streams, rounds): each round starts `streams` requests at once and waits for all of them
PLANS: dict[str, dict[str, Any]] = {
    "full": {"accuracy": [[1, 30], [16, 3], [32, 2], [64, 2]], "cpu_streams": [1, 8],
             # litellm is ~30x slower per chunk: fewer chunks keep the run bounded, and its
             # fixed per-request cost (~13 ms) still adds < 10 us per chunk at 2000 chunks
             "cpu_out": {"bare-aiohttp": 20000, "llmbench-core": 20000, "litellm": 2000},
             "cpu_reps": 3},
    "quick": {"accuracy": [[1, 10], [16, 1], [64, 1]], "cpu_streams": [1, 8],
              "cpu_out": {"bare-aiohttp": 5000, "llmbench-core": 5000, "litellm": 1000},
              "cpu_reps": 1},
}

# A request function: (model, max_tokens) -> (response_id, absolute content-chunk stamps in ns)
RequestFn = Callable[[str, int | None], Coroutine[Any, Any, tuple[str | None, list[int]]]]
CloseFn = Callable[[], Coroutine[Any, Any, None]]


# ---------------------------------------------------------------------------- worker side
async def _bare_client(url: str) -> tuple[RequestFn, CloseFn]:
    """The minimal correct streaming client: stamp on arrival, split SSE, keep content chunks."""
    from time import perf_counter_ns

    import aiohttp

    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0),
                                    timeout=aiohttp.ClientTimeout(total=120))
    endpoint = url + "/chat/completions"

    async def request(model: str, max_tokens: int | None) -> tuple[str | None, list[int]]:
        payload: dict[str, Any] = {"model": model, "messages": MESSAGES, "stream": True}
        if max_tokens is not None:
            payload["max_tokens"] = max_tokens
        stamps: list[int] = []
        rid = None
        buf = b""
        async with session.post(endpoint, data=json.dumps(payload).encode(),
                                headers={"Content-Type": "application/json"}) as resp:
            resp.raise_for_status()
            async for data in resp.content.iter_any():
                now = perf_counter_ns()
                *events, buf = (buf + data).split(b"\n\n")
                for event in events:
                    if not event.startswith(b"data:"):
                        continue
                    body = event[5:].strip()
                    if body == b"[DONE]":
                        continue
                    obj = json.loads(body)
                    rid = rid or obj.get("id")
                    for choice in obj.get("choices") or ():
                        if (choice.get("delta") or {}).get("content"):
                            stamps.append(now)
        return rid, stamps

    return request, session.close


async def _llmbench_client(url: str, litellm: bool
                           ) -> tuple[RequestFn, CloseFn]:
    """llmbench's real path: a transport's ``stream`` then ``measure.fill_record``."""
    import uuid

    from llmbench_jupyter.core.measure import fill_record
    from llmbench_jupyter.core.records import RequestRecord
    from llmbench_jupyter.core.tokens import get_tokenizer
    from llmbench_jupyter.core.transports import RequestSpec

    session: Any = None
    if litellm:
        from llmbench_jupyter.core.transports import litellm as transport

        transport.load_litellm()
    else:
        from llmbench_jupyter.core.transports import openai as transport  # type: ignore[no-redef]
        from llmbench_jupyter.core.transports.http import make_session

        session = make_session()
    stream = transport.stream
    tokenizers: dict[str, Any] = {}

    async def request(model: str, max_tokens: int | None) -> tuple[str | None, list[int]]:
        tokenizer = tokenizers.get(model) or tokenizers.setdefault(model, get_tokenizer(model))
        spec = RequestSpec(url=url + "/chat/completions", api_model=model, messages=MESSAGES,
                           max_tokens=max_tokens, api_key="sim",
                           litellm_model=f"openai/{model}" if litellm else None,
                           api_base=url if litellm else None)
        send_ns, result = await stream(session, spec)
        record = fill_record(RequestRecord(request_id=uuid.uuid4().hex), result,
                             origin_ns=send_ns, tokenizer=tokenizer)
        if record.status != "ok":
            raise RuntimeError(f"{record.error_category}: {record.error_message}")
        # Stamps as the product reports them; its TTFT must be the first content chunk.
        if record.ttft_ms is None or abs(record.ttft_ms - record.chunk_times_ms[0]) > 1e-3:
            raise RuntimeError(f"ttft_ms {record.ttft_ms} is not chunk_times_ms[0]")
        return record.response_id, [send_ns + round(t * 1e6) for t in record.chunk_times_ms]

    async def close() -> None:
        if session is not None:
            await session.close()

    return request, close


async def _make_client(client: str, url: str) -> tuple[RequestFn, CloseFn]:
    if client == "bare-aiohttp":
        return await _bare_client(url)
    return await _llmbench_client(url, litellm=client == "litellm")


async def _accuracy_round(request: RequestFn, streams: int) -> list[dict[str, Any]]:
    """Start ``streams`` requests at once (a burst), wait for all of them."""
    got = await asyncio.gather(*(request(ACCURACY_MODEL, None) for _ in range(streams)))
    return [{"id": rid, "stamps": stamps} for rid, stamps in got]


async def _cpu_run(request: RequestFn, streams: int, n_out: int) -> dict[str, Any]:
    """Client CPU per content chunk while ``streams`` streams arrive as fast as possible."""
    import gc

    model = CPU_MODEL.format(out=n_out)
    gc.collect()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    got = await asyncio.gather(*(request(model, None) for _ in range(streams)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    chunks = sum(len(stamps) for _, stamps in got)
    return {"chunks": chunks, "cpu_s": cpu, "wall_s": wall, "out": n_out,
            "us_per_chunk": cpu / chunks * 1e6, "chunks_per_s": chunks / wall}


def worker_main(client: str, url: str) -> int:
    """Serve commands (one JSON line each on stdin) until EOF; answer one JSON line each.

    A long-lived worker lets the parent interleave clients round by round, so load from
    elsewhere on the machine hits every client alike, while imports stay out of the way.
    """
    out = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    sys.stdout = sys.stderr  # nothing a library prints can corrupt the answers
    with asyncio.Runner() as runner:
        request, close = runner.run(_make_client(client, url))
        # warm-up: connection, lazy imports, tokenizer, first-call paths
        runner.run(request(ACCURACY_MODEL, None))
        runner.run(request(CPU_MODEL.format(out=200), None))
        out.write('{"ready": true}\n')
        out.flush()
        for line in sys.stdin:
            cmd = json.loads(line)
            answer: Any
            if cmd["op"] == "round":
                answer = runner.run(_accuracy_round(request, cmd["streams"]))
            else:
                answer = runner.run(_cpu_run(request, cmd["streams"], cmd["out"]))
            out.write(json.dumps(answer) + "\n")
            out.flush()
        runner.run(close())
    return 0


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
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=errlog, text=True, env=_child_env())
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
            raise RuntimeError(f"{self.client} worker died (exit {self.proc.returncode}): "
                               + (errs[-1] if errs else " | ".join(lines[-2:]))[:300])
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
        cmd = [exe, "bench", "--api-base", url, "--model", ACCURACY_MODEL, "--runs", str(n),
               "--concurrency", str(streams), "--warmup", "1", "--no-save",
               "--output", str(out)]
        proc = subprocess.run(cmd, capture_output=True, text=True, env=_child_env(),
                              timeout=WORKER_TIMEOUT_S, cwd=tmp)
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
            if rec.get("ttft_ms") is not None and stamps and \
                    abs(origin + rec["ttft_ms"] * 1e6 - stamps[0]) > 1000:
                raise RuntimeError("ttft_ms disagrees with chunk_times_ms[0]")
            reqs.append({"id": rec.get("response_id"), "stamps": stamps,
                         "status": rec.get("status")})
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
        itl_err += [abs((got[i + 1] - got[i]) - (sent[i + 1] - sent[i])) / 1e6
                    for i in range(len(got) - 1)]
    return {"requests": len(reqs), "failed": failed, "role_as_ttft": role_ttft,
            "role_chunk_sent": role_sent,
            "chunk_count_mismatch": mismatched,
            "ttft_err_p50_ms": percentile(ttft_err, 50),
            "ttft_err_p99_ms": percentile(ttft_err, 99),
            "ttft_err_max_ms": max(ttft_err, default=math.nan),
            "itl_abs_err_p99_ms": percentile(itl_err, 99), "itl_pairs": len(itl_err)}


def measure(plan: dict[str, Any], url: str, skip_cli: bool, log: Callable[[str], None]
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
                    raw.setdefault(CLI_ROW, {})[str(streams)] = run_cli(url, streams,
                                                                        streams * rounds)
                except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
                    errors[f"{CLI_ROW} @ {streams}"] = str(exc)
            log(f"  accuracy, {streams} stream(s) × {rounds} round(s): "
                f"{time.perf_counter() - t0:.1f} s")
        t0 = time.perf_counter()
        for _ in range(plan["cpu_reps"]):
            for streams in plan["cpu_streams"]:
                for client in list(workers):
                    run = ask(client, {"op": "cpu", "streams": streams,
                                       "out": plan["cpu_out"][client]})
                    best = figures["cpu"].setdefault(client, {}).get(str(streams))
                    # the least disturbed repetition: the others carry this machine's noise
                    if run is not None and (best is None
                                            or run["us_per_chunk"] < best["us_per_chunk"]):
                        figures["cpu"][client][str(streams)] = run
        log(f"  CPU per chunk, {plan['cpu_reps']} repetition(s): {time.perf_counter() - t0:.1f} s")
    for client, by_streams in raw.items():
        figures["accuracy"][client] = {s: score_accuracy(url, reqs)
                                       for s, reqs in by_streams.items()}
    return figures


# ---------------------------------------------------------------------------- report
def _fmt(value: Any, spec: str = ".2f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return format(value, spec)


def _get(figures: dict[str, Any], section: str, client: str, streams: int, key: str) -> Any:
    return figures[section].get(client, {}).get(str(streams), {}).get(key)


def report(figures: dict[str, Any], plan: dict[str, Any]) -> list[str]:
    acc_streams = [s for s, _ in plan["accuracy"]]
    all_streams = sorted({*acc_streams, *plan["cpu_streams"]})
    header = (f"{'client':<14}{'streams':>8}{'reqs':>6}{'TTFT err p50':>14}{'p99':>9}"
              f"{'|ITL err| p99':>15}{'role=TTFT':>11}{'CPU µs/chunk':>14}{'chunks/s':>11}")
    lines = ["", "Timing error = client arrival stamp − server send stamp (ms); "
             "CPU = client process time / content chunks", "", header, "-" * len(header)]
    for client in (*CLIENTS, CLI_ROW):
        for s in all_streams:
            acc = figures["accuracy"].get(client, {}).get(str(s))
            cpu = figures["cpu"].get(client, {}).get(str(s))
            if acc is None and cpu is None:
                continue
            acc = acc or {}
            cpu = cpu or {}
            role = acc.get("role_as_ttft")
            lines.append(
                f"{client:<14}{s:>8}{_fmt(acc.get('requests'), 'd'):>6}"
                f"{_fmt(acc.get('ttft_err_p50_ms')):>14}{_fmt(acc.get('ttft_err_p99_ms')):>9}"
                f"{_fmt(acc.get('itl_abs_err_p99_ms')):>15}{_fmt(role, 'd'):>11}"
                f"{_fmt(cpu.get('us_per_chunk'), '.1f'):>14}"
                f"{_fmt(cpu.get('chunks_per_s'), ',.0f'):>11}")
    notes = []
    for client, by_s in figures["accuracy"].items():
        for s, acc in by_s.items():
            if acc["role_chunk_sent"] != acc["requests"] - acc["failed"]:
                notes.append(f"{client} @ {s}: the sim sent a role chunk first in only "
                             f"{acc['role_chunk_sent']} requests")
            if acc["failed"] or acc["chunk_count_mismatch"]:
                notes.append(f"{client} @ {s}: {acc['failed']} failed, "
                             f"{acc['chunk_count_mismatch']} with a chunk count unlike the "
                             "server's")
    for client, by_s in figures["cpu"].items():
        out = next(iter(by_s.values()))["out"]
        notes.append(f"{client} CPU runs: {out} content chunks per request")
    lines += ["", *[f"  note: {n}" for n in notes]]
    for what, err in figures["errors"].items():
        lines.append(f"  ERROR {what}: {err}")
    return lines


def verdicts(figures: dict[str, Any], plan: dict[str, Any]
             ) -> tuple[list[str], list[dict[str, Any]]]:
    """Ratios against the bare client of this run, and PASS/FAIL for each target."""
    bare, core, lite = CLIENTS
    lines = ["", "Ratios (same run)"]
    checks: list[dict[str, Any]] = []

    def check(name: str, value: float | None, limit: float | None, ok: bool | None) -> None:
        verdict = "n/a" if ok is None else ("PASS" if ok else "FAIL")
        checks.append({"target": name, "value": value, "limit": limit, "verdict": verdict})

    for s in plan["cpu_streams"]:
        b, c = (_get(figures, "cpu", x, s, "us_per_chunk") for x in (bare, core))
        li = _get(figures, "cpu", lite, s, "us_per_chunk")
        r1 = c / b if b and c else None
        r2 = li / c if li and c else None
        lines.append(f"  {s} stream(s): llmbench CPU / bare = {_fmt(r1)}×, "
                     f"litellm CPU / llmbench = {_fmt(r2, '.1f')}×")
        check(f"llmbench CPU/chunk ≤ 2× bare ({s} stream(s))", r1, 2.0,
              None if r1 is None else r1 <= 2.0)
        check(f"litellm CPU/chunk ≥ 10× llmbench ({s} stream(s))", r2, 10.0,
              None if r2 is None else r2 >= 10.0)
    p99 = _get(figures, "accuracy", core, 1, "ttft_err_p99_ms")
    check("llmbench TTFT error p99 ≤ 3 ms at 1 stream", p99, 3.0,
          None if p99 is None else p99 <= 3.0)
    for s in (s for s, _ in plan["accuracy"] if 32 <= s <= 64):
        b99 = _get(figures, "accuracy", bare, s, "ttft_err_p99_ms")
        c99 = _get(figures, "accuracy", core, s, "ttft_err_p99_ms")
        limit = 1.5 * b99 + 2.0 if b99 is not None else None
        lines.append(f"  {s} streams: llmbench TTFT p99 {_fmt(c99)} ms vs 1.5×bare+2 = "
                     f"{_fmt(limit)} ms (bare p99 {_fmt(b99)} ms)")
        check(f"llmbench TTFT p99 ≤ 1.5×bare p99 + 2 ms at {s} streams", c99, limit,
              None if c99 is None or limit is None else c99 <= limit)
    role = {c: sum(a["role_as_ttft"] for a in by_s.values())
            for c, by_s in figures["accuracy"].items()}
    check("no client takes TTFT at the role chunk (llmbench core and CLI)",
          role.get(core, 0) + role.get(CLI_ROW, 0) if core in role else None, 0,
          None if core not in role else role.get(core, 0) + role.get(CLI_ROW, 0) == 0)
    lines.append("  requests timed at the role chunk: "
                 + ", ".join(f"{c} {n}" for c, n in role.items()))
    lines += ["", "Targets"]
    for c in checks:
        value = _fmt(c["value"]) if isinstance(c["value"], float) else _fmt(c["value"], "")
        lines.append(f"  {c['verdict']:<5} {c['target']}  (measured {value}"
                     + (f", limit {_fmt(float(c['limit']))})" if c["limit"] is not None else ")"))
    return lines, checks


def _no_nan(value: Any) -> Any:
    """JSON has no NaN: a figure that could not be measured is saved as null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    return value


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
    print(f"timing_accuracy ({name} run; {os.cpu_count()} CPUs; python {sys.version.split()[0]})",
          flush=True)
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
        payload = {"plan": name, "sim_model": ACCURACY_MODEL, "figures": figures,
                   "checks": checks, "python": sys.version, "cpus": os.cpu_count()}
        Path(args.json).write_text(json.dumps(_no_nan(payload), indent=2, default=str))
        print(f"raw figures saved to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
