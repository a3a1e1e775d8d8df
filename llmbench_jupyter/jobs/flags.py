"""The ``bench`` and ``eval`` flags, defined once below both surfaces that parse them.

The CLI (``llmbench bench|eval``) and the notebook magics (``%llmbench bench|eval``) add
the same argparse arguments from here, so a flag, default or validation message can never
differ between them; surfaces never import each other, so the definitions live in the
jobs layer next to :mod:`.specs`, which turns the parsed options into specs.
"""

from __future__ import annotations

import argparse
import math
from typing import Any


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v.strip().replace("_", "")) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"found {text!r}, expected comma-separated token counts such as 0,1000,8000"
        ) from None
    if not values or any(v < 0 for v in values):
        raise argparse.ArgumentTypeError(f"found {text!r}, expected integers >= 0")
    return values


def _int_at_least(minimum: int) -> Any:
    """An argparse type for integers >= ``minimum`` with a message saying what was found."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"found {text!r}, expected an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"found {value}, expected an integer >= {minimum}")
        return value

    return parse


_positive_int = _int_at_least(1)
_non_negative_int = _int_at_least(0)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"found {text!r}, expected a number") from None
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"found {text}, expected a number > 0")
    return value


def add_bench_arguments(p: argparse.ArgumentParser) -> None:
    """The bench flags; the notebook magic reuses this so both surfaces take the same flags."""
    p.add_argument(
        "--config",
        help="config file (default: $LLMBENCH_CONFIG, ./config.yaml, then the packaged one)",
    )
    p.add_argument(
        "--provider",
        "-p",
        action="append",
        help="provider name from the config (repeatable; default local-sim); with "
        "--api-base, a stable name for that endpoint (default its host:port)",
    )
    p.add_argument(
        "--model",
        "-m",
        action="append",
        help="model id, or provider/model "
        "(repeatable); with --api-base, the model name the server serves",
    )
    p.add_argument(
        "--api-base",
        help="ad-hoc OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 (no config needed)",
    )
    p.add_argument("--api-key", help="API key for --api-base (prefer an env var in config)")
    p.add_argument(
        "--kind",
        choices=("openai", "anthropic", "litellm"),
        default="openai",
        help="protocol of --api-base (default openai)",
    )
    p.add_argument(
        "--runs", "-n", type=_positive_int, help="measured requests per target and context tier"
    )
    p.add_argument("--warmup", type=_non_negative_int, help="unmeasured requests first")
    p.add_argument(
        "--context-tiers", type=_int_list, help="padding sizes in tokens, e.g. 0,1000,32000"
    )
    p.add_argument(
        "--max-tokens",
        type=_positive_int,
        help="output token cap per request (default from config)",
    )
    p.add_argument(
        "--temperature", type=float, help="sampling temperature (default from config, 0)"
    )
    p.add_argument(
        "--concurrency",
        "-c",
        type=_positive_int,
        help="requests in flight per target (default from config, 1); with --rate a cap "
        "on requests in flight (1 = no cap)",
    )
    p.add_argument("--rate", type=_positive_float, help="open-loop Poisson arrivals per second")
    p.add_argument(
        "--arrivals",
        choices=("poisson", "constant"),
        help="with --rate: Poisson arrivals (default) or constant, 1/rate apart",
    )
    p.add_argument(
        "--workers",
        type=_positive_int,
        help="client processes sharing the load (default: automatic, one unless the load "
        "would make one process client-bound and cores are free)",
    )
    p.add_argument("--prompt", help="prompt text (default from config)")
    p.add_argument("--prompt-template", help="named prompt template from the config")
    p.add_argument(
        "--seed", type=int, default=0, help="seed of prompt padding and arrival times (default 0)"
    )
    p.add_argument("--timeout", type=_positive_float, help="per-request timeout in seconds")
    p.add_argument("--name", help="a label for the stored run")
    add_profile_argument(p)
    p.add_argument("--no-save", action="store_true", help="do not store the run")
    p.add_argument("--db", help="database URL (default: $LLMBENCH_DB_URL or the local SQLite)")
    p.add_argument("--output", "-o", help="write one JSON record per measured request (JSONL)")
    p.add_argument(
        "--include-warmup", action="store_true", help="also write warm-up requests to --output"
    )
    p.add_argument("--sim-url", help="use this running simulated endpoint for local-sim")
    p.add_argument(
        "--selftest",
        action=argparse.BooleanOptionalAction,
        help="run the timing self-test first and store its error bound with the run "
        "(default: defaults.selftest in the config, off)",
    )
    p.add_argument("--verbose", "-v", action="store_true", help="print every request")


def spec_from_args(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """Resolve parsed ``bench`` flags into a BenchSpec and a config snapshot."""
    from llmbench_jupyter.jobs.specs import BENCH_OPTIONS, build_bench_spec

    options = {name: getattr(args, name) for name in BENCH_OPTIONS}
    options["profile"] = stored_profile(args)
    return build_bench_spec(**options)


def add_profile_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--profile", help="apply this model profile (its parameters and system prompt) to its model"
    )


def stored_profile(args: argparse.Namespace) -> Any:
    """``--profile NAME`` looked up in the ``--db`` store (the default one without it)."""
    if not getattr(args, "profile", None):
        return None
    from llmbench_jupyter.jobs.specs import load_profile
    from llmbench_jupyter.store import open_store

    return load_profile(args.profile, open_store(getattr(args, "db", None)))


def add_eval_arguments(ev: argparse.ArgumentParser) -> None:
    """The ``eval`` flags, shared by the CLI and ``%llmbench eval``."""
    ev.add_argument(
        "--suite",
        default="example",
        help="suite file (YAML/JSON), or 'example' for the shipped 44-case suite",
    )
    ev.add_argument("--config", help="config file (as for bench)")
    ev.add_argument(
        "--provider",
        "-p",
        action="append",
        help="provider name (repeatable); with --api-base, a stable name for that endpoint",
    )
    ev.add_argument("--model", "-m", action="append", help="model id or provider/model")
    ev.add_argument("--api-base", help="ad-hoc OpenAI-compatible base URL")
    ev.add_argument("--api-key", help="API key for --api-base")
    ev.add_argument("--k", type=_positive_int, default=1, help="attempts per case (default 1)")
    ev.add_argument(
        "--mode",
        choices=("default", "bfcl"),
        default="default",
        help="scoring rules: optimal pairing (default) or BFCL parity",
    )
    ev.add_argument("--concurrency", "-c", type=_positive_int, default=4)
    ev.add_argument("--timeout", type=_positive_float, default=60.0)
    ev.add_argument(
        "--sim-rules",
        help="rules file for the simulated endpoint (default: the "
        "example suite's rules when --suite is 'example')",
    )
    ev.add_argument("--output", "-o", help="write one JSON record per case attempt (JSONL)")
    ev.add_argument("--name", help="a label for this eval run")
    add_profile_argument(ev)
    ev.add_argument("--judge", help="a configured model that grades each answer (provider/model)")
    ev.add_argument(
        "--judge-threshold",
        type=float,
        help="judge only cases whose case value is below this (0–1); default: every case",
    )
    ev.add_argument(
        "--report", action="store_true", help="ask the judge for a cross-case report per model"
    )
    ev.add_argument("--db", help="store URL (default $LLMBENCH_DB_URL or the local SQLite file)")
    ev.add_argument("--no-save", action="store_true", help="do not store the run")


def eval_options(args: argparse.Namespace) -> dict[str, Any]:
    """The parsed ``eval`` flags as ``specs.build_eval_spec`` options (CLI and magic alike)."""
    from llmbench_jupyter.jobs.specs import EVAL_OPTIONS

    options = {name: getattr(args, name) for name in EVAL_OPTIONS if hasattr(args, name)}
    options["profile"] = stored_profile(args)
    return options
