"""``llmbench selftest``: this machine's timing error, measured now against the simulator.

Shaped like the benchmark about to run: give the same ``--provider``/``--model`` (and
``--concurrency``) as to ``bench`` and the test copies its streams and its simulated
model's chunking, or set the shape with the flags. The measuring is
``jobs.selftest``'s; this prints it. Also the line a run's summary shows of its stored
self-test (:func:`selftest_line`).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from llmbench_jupyter.jobs.flags import _positive_float, _positive_int


def add_selftest_parser(sub: Any) -> None:
    p = sub.add_parser(
        "selftest",
        help="measure this machine's timing error against the simulated endpoint",
        description="Run the simulated endpoint with its send log, shaped like your "
        "benchmark, and report how late the client stamped TTFT and chunk gaps (p50, p99, "
        "max), its CPU share and loop lag, and whether the machine is too loaded.",
    )
    p.add_argument("--config", help="config file (for --provider/--model)")
    p.add_argument("--provider", "-p", action="append",
                   help="copy the shape of this benchmark's targets (as for bench)")  # fmt: skip
    p.add_argument("--model", "-m", action="append", help="as for bench")
    p.add_argument("--concurrency", "-c", type=_positive_int,
                   help="streams in flight (default: the benchmark's, else 1)")  # fmt: skip
    p.add_argument("--workers", type=_positive_int, help="client processes (default 1)")
    p.add_argument("--tokens-per-chunk", type=_positive_int, help="default 1")
    p.add_argument("--itl", type=float, help="inter-token gap in ms (default 10)")
    p.add_argument("--ttft", type=float, help="simulated TTFT in ms (default 50)")
    p.add_argument("--reasoning", action="store_true", help="stream reasoning chunks first")
    p.add_argument("--seconds", type=_positive_float, help="measuring time (default 1.8)")
    p.add_argument(
        "--limit-ms",
        type=_positive_float,
        help="call the machine too loaded above this error p99 (default 10)",
    )
    p.add_argument("--sim-url", help="a running simulated endpoint to use")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")


def selftest_from_args(args: argparse.Namespace) -> Any:
    """The SelftestSpec the flags ask for (copying a benchmark's shape when one is named)."""
    from llmbench_jupyter.jobs.selftest import SelftestSpec

    changes = {
        name: value
        for name, value in (
            ("concurrency", args.concurrency),
            ("workers", args.workers),
            ("tokens_per_chunk", args.tokens_per_chunk),
            ("itl_ms", args.itl),
            ("ttft_ms", args.ttft),
            ("reasoning", args.reasoning or None),
            ("seconds", args.seconds),
            ("limit_ms", args.limit_ms),
        )
        if value is not None
    }
    if args.provider or args.model:
        from llmbench_jupyter.jobs.specs import build_bench_spec

        spec, _ = build_bench_spec(config=args.config, provider=args.provider, model=args.model)
        return SelftestSpec.for_bench(spec, **changes)
    return SelftestSpec(**changes)


def cmd_selftest(args: argparse.Namespace) -> int:
    from llmbench_jupyter.jobs.selftest import run_selftest

    report = run_selftest(selftest_from_args(args), sim_url=args.sim_url)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(repr(report))
    if report.bound_ms is None:
        print("error: no self-test request completed", file=sys.stderr)
        return 1
    return 0


def selftest_line(overhead: dict[str, Any] | None) -> str | None:
    """``timing self-test: timing error ≤ … ms p99 …`` for a run that carries one."""
    from llmbench_jupyter.stats import bound_text

    text = bound_text((overhead or {}).get("timing_selftest"))
    return None if text is None else f"timing self-test: {text}"
