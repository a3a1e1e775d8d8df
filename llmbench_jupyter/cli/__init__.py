"""``llmbench``: the command-line surface. It parses, calls the engine, and prints.

Nothing here measures or aggregates: numbers come from the engine (``core.workload``, run
through ``jobs``) and ``stats``.
Exit codes: 0 success, 1 every measured request failed, 2 bad input, 130 interrupted.
One module per command (``_bench``, ``_sweep``, ``_eval``, ``_tune``, ``_profiles``, ``_suite``,
``_sim``, ``_results``), the parser in ``_parser`` and the printed tables in ``_tables``;
:func:`main` dispatches.
"""

from __future__ import annotations

import sys

from llmbench_jupyter.cli._bench import cmd_bench
from llmbench_jupyter.cli._eval import cmd_eval, cmd_eval_compare
from llmbench_jupyter.cli._experiments import cmd_calibrate, cmd_experiment
from llmbench_jupyter.cli._job import EXIT_ALL_FAILED, EXIT_INTERRUPTED, EXIT_USAGE
from llmbench_jupyter.cli._models import cmd_models
from llmbench_jupyter.cli._parser import build_parser
from llmbench_jupyter.cli._profiles import cmd_profile
from llmbench_jupyter.cli._results import cmd_results
from llmbench_jupyter.cli._schedules import cmd_schedule, cmd_scheduler
from llmbench_jupyter.cli._sim import cmd_sim
from llmbench_jupyter.cli._suite import cmd_suite
from llmbench_jupyter.cli._sweep import cmd_sweep
from llmbench_jupyter.cli._tables import eval_tables, summary_table
from llmbench_jupyter.cli._tune import cmd_tune
from llmbench_jupyter.core.errors import LLMBenchError, scrub
from llmbench_jupyter.jobs.flags import (
    add_bench_arguments,
    add_eval_arguments,
    eval_options,
    spec_from_args,
)

__all__ = [
    "EXIT_ALL_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_USAGE",
    "add_bench_arguments",
    "add_eval_arguments",
    "build_parser",
    "cmd_bench",
    "cmd_eval",
    "cmd_eval_compare",
    "cmd_profile",
    "cmd_results",
    "cmd_sim",
    "cmd_suite",
    "cmd_sweep",
    "cmd_tune",
    "eval_options",
    "eval_tables",
    "main",
    "spec_from_args",
    "summary_table",
]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "bench":
            return cmd_bench(args)
        if args.command == "sweep":
            return cmd_sweep(args)
        if args.command == "sim":
            return cmd_sim(args)
        if args.command == "eval":
            return cmd_eval(args)
        if args.command == "eval-compare":
            return cmd_eval_compare(args)
        if args.command == "suite":
            return cmd_suite(args)
        if args.command == "tune":
            return cmd_tune(args)
        if args.command == "profile":
            return cmd_profile(args)
        if args.command == "models":
            return cmd_models(args)
        if args.command == "schedule":
            return cmd_schedule(args)
        if args.command == "scheduler":
            return cmd_scheduler(args)
        if args.command == "experiment":
            return cmd_experiment(args)
        if args.command == "eval-calibrate":
            return cmd_calibrate(args)
        if args.command == "selftest":
            from llmbench_jupyter.cli._selftest import cmd_selftest

            return cmd_selftest(args)
        return cmd_results(args)
    except LLMBenchError as exc:
        print(f"error: {scrub(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
