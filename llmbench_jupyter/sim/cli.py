"""Run the simulated endpoint as a process: ``python -m llmbench_jupyter.sim`` / ``llmbench sim``.

The first stdout line is the base URL (flushed), so a parent process can spawn the sim with
``--port 0`` and read where it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from llmbench_jupyter.core.errors import LLMBenchError
from llmbench_jupyter.sim.server import SimServer


async def _serve(
    host: str, port: int, seed: int, rules: str | None, require_key: str | None
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # not main thread
            loop.add_signal_handler(sig, stop.set)
    async with SimServer(
        host=host, port=port, seed=seed, rules=rules, require_key=require_key
    ) as srv:
        print(srv.base_url, flush=True)
        print("models: " + ", ".join(srv.model_names()) + ", sim:key=val,...", flush=True)
        await stop.wait()


def run_forever(
    host: str = "127.0.0.1",
    port: int = 8765,
    seed: int = 0,
    rules: str | None = None,
    require_key: str | None = None,
) -> None:
    """Serve until Ctrl-C or SIGTERM. Raises LLMBenchError/OSError on bad rules or a busy port."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(host, port, seed, rules, require_key))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m llmbench_jupyter.sim",
        description="Simulated OpenAI/Anthropic-compatible LLM endpoint with scripted timing.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rules", metavar="FILE", help="YAML/JSON scripted responses")
    parser.add_argument(
        "--require-key", metavar="KEY", help="reject requests without this API key (401)"
    )
    args = parser.parse_args(argv)
    try:
        run_forever(args.host, args.port, args.seed, args.rules, args.require_key)
    except LLMBenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(
            f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1
    return 0
