"""Cold start: what a whole ``llmbench bench`` process costs next to a bare aiohttp script.

    .venv/bin/python benchmarks/cold_start.py [--reps 3] [--no-kernel] [--json FILE]
                                              [--package-dir DIR]

One simulated endpoint (its own process, started once) serves every client. Each client
is a fresh interpreter, timed from just before it is spawned to its exit:

- ``bare``: ``benchmarks/_bare_stream.py``, aiohttp and nothing else (the floor);
- ``llmbench --no-save``: ``python -m llmbench_jupyter bench --api-base URL --model M
  --runs N --warmup 0 --concurrency C --no-save --output f.jsonl``;
- ``llmbench store``: the same without ``--no-save``, on a SQLite store that already
  exists at the current schema (made by an unmeasured run first).

Workloads: 1 request, and 640 requests over 64 streams. Figures per client: whole-process
CPU (user + system, from ``wait4``), wall time, and the time from spawn to the first
request's send, on one monotonic clock: the client's own send stamp (the record's
``send_mono_ns``; the bare script prints its own) and the simulated endpoint's arrival
stamp for that response (``/sim/sendlog``). Reps are interleaved, order rotated; the
figures judged are the best of ``--reps`` (a shared machine's disturbances only add), the
median is printed too. In fresh Jupyter kernels (jupyter_client): ``%load_ext
llmbench_jupyter`` (request → reply), and the first ``lj.bench()`` from its request to the
first send, unsaved and on the existing store. Then ``-X importtime`` of the one-request
``--no-save`` run: where its import time goes.

``--package-dir`` measures another checkout of the package (its directory goes first on
``PYTHONPATH`` of the llmbench processes and kernels), e.g. the commit before a change,
with this venv's dependencies. Bytecode is written and warmed by one unmeasured run of
each command, so figures are those of an installed package. Exit code 0 even when a target
FAILs: this is a measurement, not a test (2 when the run itself cannot start).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
#: The simulator's own "fast" model: TTFT ~30 ms, 128 one-token chunks 4 ms apart.
MODEL = "sim-fast"
MAX_TOKENS = 256
WORKLOADS = ((1, 1), (640, 64))  # (requests, streams)
FIRST_SEND_NO_SAVE_S, FIRST_SEND_STORE_S = 0.5, 1.0
CPU_RATIO_640 = 1.2
LOAD_EXT_S, KERNEL_FIRST_SEND_S = 0.5, 1.0  # judged on the best of --reps fresh kernels


@dataclass(frozen=True)
class Setup:
    """What every measured process shares: the endpoint, a scratch dir, the package, model."""

    sim_url: str
    tmp: Path
    package_dir: Path | None
    model: str


def _env(tmp: Path, package_dir: Path | None, db: Path | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["XDG_DATA_HOME"] = str(tmp / "xdg")
    # run in the scratch dir: ``-m`` puts the working directory first on sys.path, where a
    # checkout would shadow the package measured (--package-dir)
    env["LLMBENCH_CWD"] = str(tmp)
    env.pop("LLMBENCH_DB_URL", None)
    if db is not None:
        env["LLMBENCH_DB_URL"] = f"sqlite:///{db}"
    if package_dir is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(package_dir), env.get("PYTHONPATH")]))
    return env


def _spawn(cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Run ``cmd``; its CPU from wait4, wall and spawn stamp on perf_counter_ns."""
    start = time.perf_counter_ns()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=env["LLMBENCH_CWD"]
    )
    out, err = proc.communicate(timeout=600)
    end = time.perf_counter_ns()
    # communicate() reaped the child; its rusage is in RUSAGE_CHILDREN's growth
    return {
        "start_ns": start,
        "wall_s": (end - start) / 1e9,
        "code": proc.returncode,
        "stdout": out.decode(errors="replace"),
        "stderr": err.decode(errors="replace"),
    }


def _children_cpu() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _arrival(sim_root: str, response_id: str | None) -> int | None:
    if not response_id:
        return None
    try:
        with urllib.request.urlopen(f"{sim_root}/sim/sendlog/{response_id}", timeout=10) as r:
            return int(json.loads(r.read())["arrived_ns"])
    except Exception:
        return None


def run_client(kind: str, n: int, streams: int, setup: Setup) -> dict[str, Any]:
    """One fresh process of ``kind`` (bare | no-save | store) doing ``n`` requests."""
    sim_url, tmp, package_dir = setup.sim_url, setup.tmp, setup.package_dir
    sim_root = sim_url.rsplit("/v1", 1)[0]
    if kind == "bare":
        cmd = [
            sys.executable,
            str(HERE / "_bare_stream.py"),
            sim_url,
            setup.model,
            str(n),
            str(streams),
            str(MAX_TOKENS),
        ]
        env = _env(tmp, None)
    else:
        out = tmp / f"{kind}.jsonl"
        cmd = [
            sys.executable,
            "-m",
            "llmbench_jupyter",
            "bench",
            "--api-base",
            sim_url,
            "--model",
            setup.model,
            "--runs",
            str(n),
            "--warmup",
            "0",
            "--concurrency",
            str(streams),
            "--max-tokens",
            str(MAX_TOKENS),
            "--output",
            str(out),
        ]
        if kind == "no-save":
            cmd.append("--no-save")
        env = _env(tmp, package_dir, tmp / "store.db" if kind == "store" else None)
    cpu0 = _children_cpu()
    r = _spawn(cmd, env)
    r["cpu_s"] = _children_cpu() - cpu0
    if r["code"] != 0:
        raise RuntimeError(f"{kind} exited {r['code']}: {r['stderr'][-1500:]}")
    if kind == "bare":
        got = json.loads(r["stdout"].strip().splitlines()[-1])
        send_ns, rid, done = got["first_send_ns"], got["first_response_id"], got["requests"]
    else:
        records = [json.loads(line) for line in out.read_text().splitlines()]
        first = min(records, key=lambda rec: rec["send_mono_ns"])
        send_ns, rid, done = first["send_mono_ns"], first.get("response_id"), len(records)
        r["client_bound"] = "CLIENT-BOUND" in r["stdout"]
        r["overhead_line"] = next(
            (ln for ln in r["stdout"].splitlines() if ln.startswith("client overhead")), ""
        )
    if done != n:
        raise RuntimeError(f"{kind}: {done} of {n} requests done")
    arrived = _arrival(sim_root, rid)
    r["first_send_s"] = (send_ns - r["start_ns"]) / 1e9
    r["first_arrival_s"] = None if arrived is None else (arrived - r["start_ns"]) / 1e9
    for key in ("stdout", "stderr", "start_ns"):
        r.pop(key)
    return r


# --------------------------------------------------------------------------- kernels


def _kernel(env: dict[str, str]) -> Any:
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="python3")
    km.start_kernel(
        env=env, cwd=env["LLMBENCH_CWD"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    kc = km.blocking_client()
    kc.start_channels()
    kc.wait_for_ready(timeout=120)
    return km, kc


def _execute(kc: Any, code: str, **exprs: str) -> dict[str, str]:
    msg_id = kc.execute(code, user_expressions=exprs)
    while True:
        reply = kc.get_shell_msg(timeout=300)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    content = reply["content"]
    if content["status"] != "ok":
        raise RuntimeError(f"kernel: {code!r}: {content.get('ename')}: {content.get('evalue')}")
    return {k: v["data"]["text/plain"] for k, v in content.get("user_expressions", {}).items()}


def kernel_figures(setup: Setup) -> dict[str, float]:
    """Fresh kernels: ``%load_ext`` time, and the first ``lj.bench()``'s request → first send."""
    sim_url, tmp, package_dir = setup.sim_url, setup.tmp, setup.package_dir
    out: dict[str, float] = {}
    km, kc = _kernel(_env(tmp, package_dir))
    try:
        _execute(kc, "1")
        t0 = time.perf_counter()
        _execute(kc, "%load_ext llmbench_jupyter")
        out["load_ext_s"] = time.perf_counter() - t0
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    for label, save, db in (("no_save", False, None), ("store", True, tmp / "store.db")):
        km, kc = _kernel(_env(tmp, package_dir, db))
        try:
            _execute(kc, "1")
            t0 = time.perf_counter_ns()
            _execute(
                kc,
                "import llmbench_jupyter as lj\n"
                f"job = lj.bench(model={setup.model!r}, api_base={sim_url!r}, runs=1, warmup=0, "
                f"save={save})",
            )
            returned = time.perf_counter_ns()
            got = _execute(kc, "r = await job", send="r.records[0].send_mono_ns")
            out[f"bench_{label}_first_send_s"] = (int(got["send"]) - t0) / 1e9
            out[f"bench_{label}_returned_s"] = (returned - t0) / 1e9
        finally:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
    return out


# --------------------------------------------------------------------------- imports


def import_profile(setup: Setup, top: int) -> list[str]:
    """``-X importtime`` of a one-request ``--no-save`` run: self time summed by package."""
    sim_url, tmp, package_dir = setup.sim_url, setup.tmp, setup.package_dir
    cmd = [
        sys.executable,
        "-X",
        "importtime",
        "-m",
        "llmbench_jupyter",
        "bench",
        "--api-base",
        sim_url,
        "--model",
        setup.model,
        "--runs",
        "1",
        "--warmup",
        "0",
        "--no-save",
    ]
    env = _env(tmp, package_dir)
    r = subprocess.run(
        cmd, capture_output=True, text=True, env=env, cwd=env["LLMBENCH_CWD"], check=True
    )
    by_package: Counter[str] = Counter()
    for line in r.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if m:
            parts = m.group(2).split(".")
            name = ".".join(parts[:2]) if parts[0] == "llmbench_jupyter" else parts[0]
            by_package[name] += int(m.group(1))
    total = sum(by_package.values())
    lines = [f"total {total / 1000:.0f} ms of imports in the process"]
    lines += [f"{us / 1000:7.1f} ms  {name}" for name, us in by_package.most_common(top)]
    return lines


# --------------------------------------------------------------------------- report


def _best(rows: list[dict[str, Any]], key: str) -> float:
    return min(r[key] for r in rows if r.get(key) is not None)


def _median(rows: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in rows if r.get(key) is not None)


def report(fig: dict[str, Any]) -> None:
    runs: dict[str, list[dict[str, Any]]] = fig["runs"]
    print(
        f"\ncold start, {fig['reps']} reps each (best / median); model {fig['model']}; "
        f"load average before: {fig['loadavg']}"
    )
    head = f"{'client':<22}{'requests':>9}{'CPU s':>16}{'wall s':>16}{'first send s':>16}"
    print(head + f"{'sim arrival s':>16}")
    for key, rows in runs.items():
        kind, n = key.rsplit("@", 1)
        cells = [
            f"{_best(rows, k):7.3f} /{_median(rows, k):6.3f}"
            for k in ("cpu_s", "wall_s", "first_send_s", "first_arrival_s")
        ]
        print(f"{kind:<22}{n:>9}" + "".join(f"{c:>16}" for c in cells))
    print("\nratios to the bare script (best of each):")
    for n, _ in WORKLOADS:
        bare = runs[f"bare@{n}"]
        for kind in ("no-save", "store"):
            rows = runs.get(f"{kind}@{n}")
            if rows:
                print(
                    f"  llmbench {kind:<8} {n:>4} requests: CPU "
                    f"{_best(rows, 'cpu_s') / _best(bare, 'cpu_s'):.2f}x, wall "
                    f"{_best(rows, 'wall_s') / _best(bare, 'wall_s'):.2f}x"
                )
    one = runs["no-save@1"]
    bound = sum(bool(r.get("client_bound")) for r in one)
    print(
        f"\none-request --no-save runs flagged CLIENT-BOUND: {bound} of {len(one)}; "
        f"e.g. {one[0].get('overhead_line', '')!r}"
    )
    k: dict[str, float] = {}
    if fig.get("kernel"):
        kernels: list[dict[str, float]] = fig["kernel"]
        k = {key: min(d[key] for d in kernels) for key in kernels[0]}
        med = {key: statistics.median(d[key] for d in kernels) for key in kernels[0]}

        def both(key: str) -> str:
            return f"{k[key]:.3f} / {med[key]:.3f} s"

        print(
            f"\nfresh kernels, {len(kernels)} of each (best / median): %load_ext "
            f"{both('load_ext_s')}; first lj.bench() request → first send: "
            f"{both('bench_no_save_first_send_s')} unsaved, {both('bench_store_first_send_s')} "
            f"on the existing store (the cell returned after {both('bench_no_save_returned_s')}"
            f" and {both('bench_store_returned_s')})"
        )
    print("\nimport time of a one-request --no-save run, self time by package:")
    for line in fig["imports"]:
        print("  " + line)
    print()
    checks = [
        ("first send, --no-save", _best(one, "first_send_s"), FIRST_SEND_NO_SAVE_S, "s"),
        (
            "first send, store on a current database",
            _best(runs["store@1"], "first_send_s"),
            FIRST_SEND_STORE_S,
            "s",
        ),
        (
            "CPU for 640 requests vs bare",
            _best(runs["no-save@640"], "cpu_s") / _best(runs["bare@640"], "cpu_s"),
            CPU_RATIO_640,
            "x",
        ),
        ("one-request runs flagged client-bound", float(bound), 0.5, ""),
    ]
    if k:
        checks += [
            ("%load_ext llmbench_jupyter", k["load_ext_s"], LOAD_EXT_S, "s"),
            (
                "first lj.bench() in a fresh kernel to first send",
                k["bench_no_save_first_send_s"],
                KERNEL_FIRST_SEND_S,
                "s",
            ),
        ]
    for name, value, limit, unit in checks:
        verdict = "PASS" if value < limit or (unit == "x" and value <= limit) else "FAIL"
        print(
            f"{verdict}: {name}: {value:.3f}{unit} (target {'≤' if unit == 'x' else '<'} "
            f"{limit:g}{unit})"
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3, help="fresh processes per client and load")
    ap.add_argument("--no-kernel", action="store_true", help="skip the Jupyter kernel figures")
    ap.add_argument("--package-dir", type=Path, help="measure the package in this directory")
    ap.add_argument("--model", default=MODEL, help=f"simulated model (default {MODEL})")
    ap.add_argument("--top", type=int, default=12, help="packages listed in the import profile")
    ap.add_argument("--json", type=Path, help="also write every figure to this file")
    args = ap.parse_args()
    if args.reps < 1:
        ap.error("--reps must be >= 1")
    pkg = args.package_dir.resolve() if args.package_dir else None
    if pkg is not None and not (pkg / "llmbench_jupyter" / "__init__.py").is_file():
        ap.error(f"--package-dir {pkg}: no llmbench_jupyter package there")

    from llmbench_jupyter.sim.process import sim_process

    fig: dict[str, Any] = {
        "reps": args.reps,
        "model": args.model,
        "loadavg": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }
    with tempfile.TemporaryDirectory(prefix="llmbench-cold-start-") as tmp_name:
        tmp = Path(tmp_name)
        try:
            with sim_process(seed=0) as sim_url:
                setup = Setup(sim_url, tmp, pkg, args.model)
                kinds = ("bare", "no-save", "store")
                for kind in kinds:  # unmeasured: bytecode, disk cache, the store's schema
                    run_client(kind, 1, 1, setup)
                runs: dict[str, list[dict[str, Any]]] = {}
                for rep in range(args.reps):
                    for n, streams in WORKLOADS:
                        order = kinds[rep % 3 :] + kinds[: rep % 3]
                        for kind in order:
                            if kind == "store" and n > 1:
                                continue  # the store's cost at start is the question
                            r = run_client(kind, n, streams, setup)
                            runs.setdefault(f"{kind}@{n}", []).append(r)
                fig["runs"] = {k: runs[k] for k in sorted(runs, key=_order)}
                fig["kernel"] = (
                    [] if args.no_kernel else [kernel_figures(setup) for _ in range(args.reps)]
                )
                fig["imports"] = import_profile(setup, args.top)
        except Exception as exc:
            print(f"cold_start: the run could not complete: {exc}", file=sys.stderr)
            return 2
    report(fig)
    if args.json:
        args.json.write_text(json.dumps(fig, indent=2))
    return 0


def _order(key: str) -> tuple[int, int]:
    kind, n = key.rsplit("@", 1)
    return int(n), ("bare", "no-save", "store").index(kind)


if __name__ == "__main__":
    sys.exit(main())
