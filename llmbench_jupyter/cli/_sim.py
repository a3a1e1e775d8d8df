"""``llmbench sim``: serve the simulated OpenAI/Anthropic-compatible endpoint."""

from __future__ import annotations

import argparse


def cmd_sim(args: argparse.Namespace) -> int:
    from llmbench_jupyter.sim import run_forever

    run_forever(args.host, args.port, args.seed, args.rules, args.require_key)
    return 0
