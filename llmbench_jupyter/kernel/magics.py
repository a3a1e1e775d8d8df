"""``%llmbench`` / ``%%llmbench``: the notebook's command line (``%load_ext llmbench_jupyter``).

Modelled on jupyter-ai's ``%ai`` and jupysql's ``%sql``: arguments are parsed in one place
(``bench`` reuses the CLI's own flag definitions, so the two can never drift), bad input
raises ``UsageError`` with the usage line instead of a traceback, and results are rich
objects (Job widget, DataFrames, BenchResult) with text fallbacks. Every number shown
comes from the public API (``bench``, ``results``): the magic computes nothing itself.

Subcommands::

    %llmbench bench [CLI bench flags]      start a benchmark job, show its widget
    %llmbench eval [CLI eval flags]        start a tool-calling eval job, show its widget
    %llmbench tune [CLI tune flags]        start a parameter search, show its widget
    %llmbench sweep [CLI sweep flags]      a load sweep or SLO search (--search), as a job
    %llmbench jobs                         this session's jobs
    %llmbench cancel ID                    cancel a job (id or prefix)
    %llmbench results [ID]                 run history, or one stored run
    %llmbench leaderboard [--by ...]       ranking over stored runs
    %llmbench publish ID [--undo]          share one of your runs with every hub user
    %llmbench sim start [--port N] | stop  an in-process simulated endpoint

``-o NAME`` (any subcommand) also stores the value in the user namespace. In a
``%%llmbench`` cell the body is a YAML mapping of bench options (flag names, underscored).
"""

from __future__ import annotations

import argparse
import json
import shlex
import threading
from collections.abc import Callable
from typing import Any, NoReturn

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

from llmbench_jupyter.core.errors import LLMBenchError, scrub
from llmbench_jupyter.core.private_files import write_atomic

SUBCOMMANDS = (
    "bench", "eval", "tune", "sweep", "jobs", "cancel", "results", "leaderboard", "publish",
    "sim",
)  # fmt: skip
#: Eval flags that only make sense for the CLI process, with what to do instead.
_EVAL_NOT_IN_KERNEL = {
    "db": "the kernel's jobs use $LLMBENCH_DB_URL (set it before the kernel starts)",
    "output": "use result.to_pandas() (the store's column names) once the job is done",
    "report": "run `await result.judge_report(judge)` on the finished result",
}
#: Bench flags that only make sense for the CLI process, with what to do instead.
_NOT_IN_KERNEL = {
    "db": "the kernel's jobs use $LLMBENCH_DB_URL (set it before the kernel starts)",
    "verbose": "the widget shows progress; use job.to_pandas() for every request",
}


class _HelpShown(Exception):
    """``-h`` printed the help: nothing else to do."""


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser that raises UsageError (usage line + problem), never SystemExit."""

    def __init__(self, prog: str, **kwargs: Any) -> None:
        super().__init__(prog=prog, exit_on_error=False, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.format_usage().rstrip()}\n{self.prog}: error: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if status == 0:
            raise _HelpShown
        raise UsageError(message or f"{self.prog}: error")

    def parse(self, argv: list[str]) -> argparse.Namespace:
        try:
            return self.parse_args(argv)
        except argparse.ArgumentError as exc:
            self.error(str(exc))


def _bench_parser() -> _Parser:
    from llmbench_jupyter.jobs.flags import add_bench_arguments

    # "resolve" hands -o over to the magic's NAME option; --output FILE keeps the CLI meaning.
    parser = _Parser("%llmbench bench", conflict_handler="resolve")
    add_bench_arguments(parser)
    _add_out(parser)
    return parser


def _add_out(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o", dest="out_name", metavar="NAME", help="also store the value in this variable"
    )


def _simple_parser(name: str, add: Callable[[argparse.ArgumentParser], None] | None) -> _Parser:
    parser = _Parser(f"%llmbench {name}")
    if add is not None:
        add(parser)
    _add_out(parser)
    return parser


def _results_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_id", nargs="?", help="run id or prefix (default: list recent runs)")
    p.add_argument("--limit", type=int, default=50, help="runs listed (default 50)")
    p.add_argument("--all-owners", action="store_true", help="include other users' runs")


def _leaderboard_args(p: argparse.ArgumentParser) -> None:
    from llmbench_jupyter.analysis.results import RANK_BY

    p.add_argument("--by", choices=tuple(RANK_BY), default="decode_tps")
    p.add_argument("--runs", action="append", help="run id or prefix (repeatable)")
    p.add_argument("--context-tier", type=int)
    p.add_argument("--since-days", type=float)
    p.add_argument("--all-owners", action="store_true", help="include other users' runs")


def _sim_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("start", "stop"))
    p.add_argument("--port", type=int, default=0, help="port to listen on (default: any free)")
    p.add_argument("--seed", type=int, default=0)


def _usage() -> str:
    return (
        "usage: %llmbench {" + ",".join(SUBCOMMANDS) + "} ...\n"
        "  bench [CLI bench flags] | eval [CLI eval flags] | tune [CLI tune flags] | "
        "sweep [CLI sweep flags] | jobs | "
        "cancel ID | results [ID] | "
        "leaderboard [--by ...] | publish ID [--undo] | sim start [--port N] | sim stop\n"
        "  -o NAME stores the value in the user namespace; %llmbench SUBCOMMAND -h for help"
    )


def _bench_actions() -> dict[str, argparse.Action]:
    """The bench flags by destination name (the keys a ``%%llmbench`` YAML body may use)."""
    return {
        a.dest: a
        for a in _bench_parser()._actions
        if a.option_strings and a.dest not in ("help", "out_name")
    }


def bench_option_names() -> list[str]:
    """Keys a ``%%llmbench`` YAML body may use: the bench flags, underscored."""
    return list(_bench_actions())


def yaml_to_argv(body: str) -> list[str]:
    """Turn a YAML mapping of bench options into the equivalent bench flags.

    Going through the CLI parser means a YAML cell is validated exactly like a flag.
    """
    import yaml

    try:
        data = yaml.safe_load(body) if body.strip() else {}
    except yaml.YAMLError as exc:
        raise UsageError(f"%%llmbench: the cell is not valid YAML: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise UsageError(
            "%%llmbench: the cell must be a YAML mapping of bench options "
            f"(e.g. 'runs: 5'), got a {type(data).__name__}"
        )
    actions = _bench_actions()
    keys = {str(k).replace("-", "_"): v for k, v in data.items()}
    unknown = sorted(k for k in keys if k not in actions)
    if unknown:
        raise UsageError(
            f"%%llmbench: unknown option(s) {', '.join(unknown)}; valid options: "
            f"{', '.join(actions)}"
        )
    argv: list[str] = []
    for key, value in keys.items():
        action = actions[key]
        flag = next(s for s in action.option_strings if s.startswith("--"))
        if isinstance(action, argparse._StoreTrueAction):
            if not isinstance(value, bool):
                raise UsageError(f"%%llmbench: {key}: found {value!r}, expected true or false")
            if value:
                argv.append(flag)
        elif value is None:
            continue
        elif isinstance(action, argparse._AppendAction):
            for item in value if isinstance(value, list) else [value]:
                argv += [flag, str(item)]
        elif isinstance(value, list):
            argv += [flag, ",".join(str(v) for v in value)]
        elif isinstance(value, bool):
            raise UsageError(f"%%llmbench: {key}: found {value!r}, expected a value")
        else:
            argv += [flag, str(value)]
    return argv


def _write_jsonl_when_done(job: Any, path: str, include_warmup: bool) -> None:
    """``--output``: write the records once the job ends, from a thread (never blocks a cell).

    0600 and never through a link planted at the name (``write_atomic``).
    """

    def write() -> None:
        import logging

        try:
            result = job.wait()
            rows = [r for r in result.records if include_warmup or not r.is_warmup]
            write_atomic(path, "".join(json.dumps(r.to_dict()) + "\n" for r in rows))
        except (LLMBenchError, OSError) as exc:
            logging.getLogger(__name__).warning("--output %s not written: %s", path, exc)

    threading.Thread(target=write, name="llmbench-output", daemon=True).start()


@magics_class
class LLMBenchMagics(Magics):
    """The ``%llmbench`` line and ``%%llmbench`` cell magics."""

    def __init__(self, shell: Any = None) -> None:
        super().__init__(shell)
        self.sim: Any = None  # the SimServer started by `%llmbench sim start`

    @line_cell_magic
    def llmbench(self, line: str, cell: str | None = None) -> Any:
        """Benchmark LLM providers from a notebook; ``%llmbench -h`` lists subcommands."""
        try:
            if cell is not None:
                return self._cell(line, cell)
            return self._line(line)
        except _HelpShown:
            return None
        except LLMBenchError as exc:
            raise UsageError(f"{scrub(str(exc))}\n{_usage()}") from None

    # ------------------------------------------------------------ dispatch
    def _split(self, line: str) -> list[str]:
        try:
            return shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"%llmbench: cannot parse the line ({exc})\n{_usage()}") from None

    def _line(self, line: str) -> Any:
        argv = self._split(line)
        if not argv or argv[0] in ("-h", "--help"):
            if argv:
                print(_usage())
                return None
            raise UsageError(f"%llmbench: give a subcommand\n{_usage()}")
        command, rest = argv[0], argv[1:]
        if command not in SUBCOMMANDS:
            raise UsageError(f"%llmbench: unknown subcommand {command!r}\n{_usage()}")
        handler: Callable[[list[str]], tuple[Any, str | None, bool]] = getattr(
            self, f"_cmd_{command}"
        )
        value, out_name, show = handler(rest)
        if out_name:
            self._store(out_name, value)
        return value if show else None

    def _cell(self, line: str, cell: str) -> Any:
        argv = self._split(line)
        if argv and argv[0] == "bench":
            argv = argv[1:]
        parser = _Parser("%%llmbench")
        _add_out(parser)
        args = parser.parse(argv)
        value, _, show = self._cmd_bench(yaml_to_argv(cell))
        if args.out_name:
            self._store(args.out_name, value)
        return value if show else None

    def _store(self, name: str, value: Any) -> None:
        if not name.isidentifier():
            raise UsageError(f"-o {name}: expected a Python variable name\n{_usage()}")
        assert self.shell is not None  # magics are always registered on a shell
        self.shell.user_ns[name] = value

    # --------------------------------------------------------- subcommands
    def _cmd_bench(self, argv: list[str]) -> tuple[Any, str | None, bool]:
        from llmbench_jupyter.jobs.specs import BENCH_OPTIONS
        from llmbench_jupyter.kernel import api

        parser = _bench_parser()
        args = parser.parse(argv)
        for flag, instead in _NOT_IN_KERNEL.items():
            if getattr(args, flag):
                parser.error(f"--{flag} is not available in a notebook: {instead}")
        if args.include_warmup and not args.output:
            parser.error("--include-warmup only applies with --output FILE")
        sim_url = args.sim_url or (self.sim.base_url if self.sim is not None else None)
        options = {name: getattr(args, name) for name in BENCH_OPTIONS}
        try:
            # IPython displays the returned Job (its widget): bench() must not show it twice.
            job = api.bench(save=not args.no_save, sim_url=sim_url, display=False,
                            selftest=args.selftest, **options)  # fmt: skip
        except LLMBenchError as exc:
            parser.error(scrub(str(exc)))
        if api.in_kernel():
            from llmbench_jupyter.kernel import widget  # noqa: F401  (installs the hook that renders the Job)
        if args.output:
            _write_jsonl_when_done(job, args.output, args.include_warmup)
        return job, args.out_name, True

    def _cmd_eval(self, argv: list[str]) -> tuple[Any, str | None, bool]:
        from llmbench_jupyter.jobs.flags import add_eval_arguments, eval_options
        from llmbench_jupyter.kernel import api

        parser = _Parser("%llmbench eval", conflict_handler="resolve")
        add_eval_arguments(parser)
        _add_out(parser)
        args = parser.parse(argv)
        for flag, instead in _EVAL_NOT_IN_KERNEL.items():
            if getattr(args, flag):
                parser.error(f"--{flag} is not available in a notebook: {instead}")
        sim_url = self.sim.base_url if self.sim is not None and args.sim_rules is None else None
        options = eval_options(args)
        try:
            job = api.evaluate(
                options.pop("suite"),
                options.pop("model"),
                provider=options.pop("provider"),
                save=not args.no_save,
                sim_url=sim_url if args.suite != "example" else None,
                display=False,
                **options,
            )
        except LLMBenchError as exc:
            parser.error(scrub(str(exc)))
        if api.in_kernel():
            from llmbench_jupyter.kernel import widget  # noqa: F401  (installs the hook that renders the Job)
        return job, args.out_name, True

    def _cmd_tune(self, argv: list[str]) -> tuple[Any, str | None, bool]:
        from llmbench_jupyter.jobs.tune.flags import add_tune_arguments, tune_options
        from llmbench_jupyter.kernel import api

        parser = _Parser("%llmbench tune", conflict_handler="resolve")
        add_tune_arguments(parser)
        _add_out(parser)
        args = parser.parse(argv)
        if args.db:
            parser.error(f"--db is not available in a notebook: {_EVAL_NOT_IN_KERNEL['db']}")
        try:
            options = tune_options(args)
            start = api.tune_prompts if "proposer" in options else api.tune
            job = start(
                options.pop("suite"), options.pop("model"), provider=options.pop("provider"),
                save=not args.no_save, display=False, **options,
            )  # fmt: skip
        except LLMBenchError as exc:
            parser.error(scrub(str(exc)))
        if api.in_kernel():
            from llmbench_jupyter.kernel import widget  # noqa: F401  (installs the hook that renders the Job)
        return job, args.out_name, True

    def _cmd_sweep(self, argv: list[str]) -> tuple[Any, str | None, bool]:
        from llmbench_jupyter.jobs.sweep_flags import add_sweep_arguments, sweep_options
        from llmbench_jupyter.kernel import api

        parser = _Parser("%llmbench sweep", conflict_handler="resolve")
        add_sweep_arguments(parser)
        _add_out(parser)
        args = parser.parse(argv)
        for flag, instead in {**_NOT_IN_KERNEL, "output": _EVAL_NOT_IN_KERNEL["output"]}.items():
            if getattr(args, flag):
                parser.error(f"--{flag} is not available in a notebook: {instead}")
        sim_url = args.sim_url or (self.sim.base_url if self.sim is not None else None)
        try:
            options = sweep_options(args)
            provider, model = options.pop("provider", None), options.pop("model", None)
            job = api._submit_sweep(provider, model, not args.no_save, sim_url, False, options)
        except LLMBenchError as exc:
            parser.error(scrub(str(exc)))
        if api.in_kernel():
            from llmbench_jupyter.kernel import widget  # noqa: F401  (installs the hook that renders the Job)
        return job, args.out_name, True

    def _cmd_publish(self, argv: list[str]) -> tuple[Any, str | None, bool]:
        from llmbench_jupyter.analysis import results

        def add(p: argparse.ArgumentParser) -> None:
            p.add_argument("run_id", help="run id or a unique prefix")
            p.add_argument("--undo", action="store_true", help="make the run private again")

        args = _simple_parser("publish", add).parse(argv)
        run_id = results.publish(args.run_id, published=not args.undo)
        print(f"run {run_id[:8]} is " + ("private again" if args.undo else "published"))
        return run_id, args.out_name, False

    def _cmd_jobs(self, argv: list[str]) -> tuple[Any, str | None, bool]:
        import pandas as pd

        from llmbench_jupyter.kernel import api

        args = _simple_parser("jobs", None).parse(argv)
        keys = ("job_id", "name", "kind", "state", "run_id", "done", "total", "errors")
        rows = []
        for job in api.list_jobs():
            p = job.progress
            rows.append({k: p.get(k) for k in keys} | {"elapsed_s": p.get("elapsed_s")})
        return pd.DataFrame(rows, columns=[*keys, "elapsed_s"]), args.out_name, True

    def _cmd_cancel(self, argv: list[str]) -> tuple[Any, str | None, bool]:
        from llmbench_jupyter.jobs import get_manager

        def add(p: argparse.ArgumentParser) -> None:
            p.add_argument("job_id", help="job id or a unique prefix (see %%llmbench jobs)")

        args = _simple_parser("cancel", add).parse(argv)
        job = get_manager().get(args.job_id)
        cancelled = job.cancel()
        if cancelled:
            print(f"cancelling job {job.id[:8]}; its completed requests are kept")
        else:
            print(f"job {job.id[:8]} already finished ({job.state})")
        return cancelled, args.out_name, False

    def _cmd_results(self, argv: list[str]) -> tuple[Any, str | None, bool]:
        from llmbench_jupyter.analysis import results

        parser = _simple_parser("results", _results_args)
        args = parser.parse(argv)
        if args.run_id:
            return results.load(args.run_id), args.out_name, True
        if args.limit < 1:
            parser.error(f"--limit: found {args.limit}, expected an integer >= 1")
        return results.history(args.limit, all_owners=args.all_owners), args.out_name, True

    def _cmd_leaderboard(self, argv: list[str]) -> tuple[Any, str | None, bool]:
        from llmbench_jupyter.analysis import results

        args = _simple_parser("leaderboard", _leaderboard_args).parse(argv)
        board = results.leaderboard(
            by=args.by,
            runs=args.runs,
            context_tier=args.context_tier,
            since_days=args.since_days,
            all_owners=args.all_owners,
        )
        return board, args.out_name, True

    def _cmd_sim(self, argv: list[str]) -> tuple[Any, str | None, bool]:
        args = _simple_parser("sim", _sim_args).parse(argv)
        if args.action == "stop":
            if self.sim is None:
                print("no simulated endpoint is running")
            else:
                url = self.sim.base_url
                self.sim.stop_thread()
                self.sim = None
                print(f"stopped the simulated endpoint at {url}")
            return None, args.out_name, False
        if self.sim is not None:
            print(f"the simulated endpoint is already running at {self.sim.base_url}")
            return self.sim.base_url, args.out_name, False
        from llmbench_jupyter.sim import SimServer

        try:
            self.sim = SimServer(port=args.port, seed=args.seed).start_in_thread()
        except OSError as exc:
            self.sim = None
            raise UsageError(
                f"%llmbench sim start: cannot listen on port {args.port}: {exc}"
            ) from None
        print(
            f"simulated endpoint at {self.sim.base_url}; "
            "`%llmbench bench -p local-sim` uses it until `%llmbench sim stop`"
        )
        return self.sim.base_url, args.out_name, False


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics (``%load_ext llmbench_jupyter`` calls this via the package)."""
    ipython.register_magics(LLMBenchMagics)
