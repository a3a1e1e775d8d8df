"""The ``sweep`` flags, shared by ``llmbench sweep`` and ``%llmbench sweep``.

The bench flags (``jobs.flags``) say what to load; these say how: ``--rates`` or
``--concurrencies`` for a sweep, ``--search --low R [--high R]`` for an SLO search, and
``--slo`` for the targets every step is decided against.
"""

from __future__ import annotations

import argparse
from typing import Any

from llmbench_jupyter.core.errors import InputError
from llmbench_jupyter.jobs.flags import _positive_float, _positive_int, add_bench_arguments


def add_sweep_arguments(p: argparse.ArgumentParser) -> None:
    add_bench_arguments(p)
    loads = p.add_mutually_exclusive_group()
    loads.add_argument("--rates", help="request rates to sweep (req/s, open loop): 10,20,40 "
                       "or start:stop:step")  # fmt: skip
    loads.add_argument("--concurrencies", help="concurrencies to sweep (closed loop): 1,4,16")
    loads.add_argument(
        "--search", action="store_true", help="bisect the rate for the highest one meeting --slo"
    )
    p.add_argument("--low", type=_positive_float, help="--search: lowest rate (it must pass)")
    p.add_argument(
        "--high", type=_positive_float, help="--search: highest rate (default: double from --low)"
    )
    p.add_argument("--tolerance", type=_positive_float, default=0.05,
                   help="--search: stop when high/low - 1 <= this (default 0.05)")  # fmt: skip
    p.add_argument("--slo", help="targets, e.g. ttft_ms=500,tpot_ms=50,error_rate=0.01 (p99)")
    p.add_argument("--requests", type=_positive_int,
                   help="measured requests per step batch (default: --runs; --search: the "
                   "fewest that can pass a p99 target, 299 at 95%%)")  # fmt: skip
    p.add_argument("--max-requests", type=_positive_int,
                   help="a step's cap: more batches while undecided (default: --requests; "
                   "--search: 3x)")  # fmt: skip
    p.add_argument("--confidence", type=float, default=0.95,
                   help="confidence of each pass/fail decision (default 0.95)")  # fmt: skip


def sweep_options(args: argparse.Namespace) -> dict[str, Any]:
    """Parsed ``sweep`` flags as :func:`jobs.sweep.build_sweep_spec` options."""
    from llmbench_jupyter.jobs.flags import stored_profile
    from llmbench_jupyter.jobs.specs import BENCH_OPTIONS

    if args.rate is not None:
        raise InputError("sweep: --rate is one load; give --rates (or --search) instead")
    if not (args.rates or args.concurrencies or args.search):
        raise InputError("sweep: give --rates, --concurrencies or --search (with --slo, --low)")
    if not args.search and (args.low or args.high):
        raise InputError("sweep: --low and --high go with --search")
    options = {n: getattr(args, n) for n in BENCH_OPTIONS if n not in ("rate", "runs")}
    options["profile"] = stored_profile(args)
    options = {k: v for k, v in options.items() if v is not None}
    options.update(
        mode="concurrency" if args.concurrencies else "rate",
        loads=args.concurrencies or args.rates,
        search=args.search, low=args.low, high=args.high, tolerance=args.tolerance,
        slo=args.slo, confidence=args.confidence,
        requests=args.requests or (None if args.search else args.runs),
        max_requests=args.max_requests,
    )  # fmt: skip
    return options
